/**
 * Keeping signed-in sessions connected: (re)connects with catch-up, TeleFlow's exponential
 * backoff with jitter after the library's own reconnects fail, a recovery deadline for those, a
 * watchdog that probes connections that may have died silently, and sign-outs Telegram reports.
 */
import { Api } from 'teleproto';
import { AppError } from '../../lib/errors.js';
import { isKeyRejection, type AccountClient, type ConnectionState } from '../../telegram/account.js';
import { userView } from '../../telegram/convert.js';
import {
  isConnectionError,
  isSignedOutError,
  telegramErrorName,
  toAppErrorFromTelegram,
} from '../../telegram/errors.js';
import { PeerCache } from '../../telegram/peer-cache.js';
import type { UpdateState } from '../../telegram/update-tracker.js';
import type { Managed, SessionRegistry } from './session-registry.js';

/** How long after the library reports a failed reconnect TeleFlow checks whether it gave up. */
const GONE_RECHECK_MS = 1500;

export class Connections {
  private watchdog?: NodeJS.Timeout;
  /** Sessions whose key the server answered -404 to once: the next -404 confirms it is gone. */
  private readonly keyDoubted = new Set<string>();

  constructor(private readonly r: SessionRegistry) {}

  /**
   * (Re)connects a signed-in session now; on network failure retries later with backoff.
   * `replacing`: the client this is meant to replace; nothing is done when the session no
   * longer has that client (a disconnect or an earlier reconnect came first).
   */
  async reconnect(id: string, replacing?: AccountClient): Promise<void> {
    const m = this.r.managed(id);
    if (replacing && m.account !== replacing) return;
    this.cancelReconnect(m);
    if (this.r.closing) return;
    await this.r.withLock(m, async () => {
      if (replacing && m.account !== replacing) return;
      const row = await this.r.deps.repo.find(id);
      if (!row || !row.auto_connect || !row.session_secret || !row.user_json) return;
      // In a cluster the instance holding the session's lease runs it, and no other.
      if (this.r.deps.ownership && !(await this.r.deps.ownership.claim(id))) return;
      await this.r.setStatus(id, 'connecting', {});
      if (!m.peers) m.peers = new PeerCache(await this.r.deps.repo.loadPeers(id));
      // The live tracker's state is newer than the stored one (saves are debounced).
      const state: UpdateState =
        m.account?.tracker?.state ??
        (row.update_state_json ? (JSON.parse(row.update_state_json) as UpdateState) : { channels: {} });
      state.channels ??= {};
      try {
        const account = await this.openConfirmingKey(m, this.r.deps.box.decrypt(row.session_secret));
        this.keyDoubted.delete(id);
        this.r.attachTracker(m, account, state);
        await account.tracker!.catchUp();
        m.attempts = 0;
        await this.r.setStatus(id, 'connected', { lastError: null, user: userView(account.self!) });
        await this.r.flush(m);
      } catch (err) {
        await this.r.dropClient(m);
        if (isSignedOutError(err)) {
          this.keyDoubted.delete(id);
          await this.markLoggedOut(m, {
            code: telegramErrorName(err)!,
            message: 'Telegram reports the session as signed out',
          });
          throw new AppError('SESSION_NOT_AUTHORIZED', 'The session was signed out', {
            telegramError: telegramErrorName(err),
          });
        }
        const mapped = toAppErrorFromTelegram(err);
        await this.r.setStatus(id, 'connecting', {
          lastError: { code: mapped.code, message: String((err as Error).message ?? err) },
        });
        this.scheduleReconnect(m);
        throw mapped;
      }
    });
  }

  /**
   * Opens a client with the stored key and asks who it is signed in as. Transport error -404 is
   * Telegram's answer to a key it does not know, but also to a packet it could not read
   * (core.telegram.org/mtproto/mtproto-transports#transport-errors): a first -404 is asked about
   * again on a fresh connection with the same key; only a second one (or AUTH_KEY_UNREGISTERED
   * from the call) means the key is gone and the session signed out.
   */
  private async openConfirmingKey(m: Managed, session: string): Promise<AccountClient> {
    const open = async () => {
      const account = await this.r.openClient(m, session);
      await account.fetchSelf();
      return account;
    };
    try {
      return await open();
    } catch (err) {
      if (!isKeyRejection(err) || this.keyDoubted.has(m.id)) throw err;
      this.keyDoubted.add(m.id);
      this.r.deps.log.warn({ sessionId: m.id }, 'Telegram answered -404: asking again on a fresh connection');
      await this.r.dropClient(m);
      return open();
    }
  }

  /** Forgets a planned reconnect (the timer is cleared and unset, so a later one can be planned). */
  cancelReconnect(m: Managed): void {
    clearTimeout(m.reconnectTimer);
    m.reconnectTimer = undefined;
  }

  private scheduleReconnect(m: Managed): void {
    if (this.r.closing || m.reconnectTimer) return;
    m.attempts += 1;
    const ceiling = Math.min(
      this.r.o.reconnectMaxMs,
      this.r.o.reconnectBaseMs * 2 ** Math.min(m.attempts - 1, 16),
    );
    // Full jitter: many sessions losing the same network do not come back in lockstep.
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.r.deps.log.info({ sessionId: m.id, attempt: m.attempts, delayMs: delay }, 'reconnect scheduled');
    m.reconnectTimer = setTimeout(() => {
      m.reconnectTimer = undefined;
      void this.reconnect(m.id).catch(() => undefined);
    }, delay);
    m.reconnectTimer.unref();
  }

  /**
   * The library's own reconnects. It gets a few tries: the session must be connected and caught
   * up within recoveryTimeoutMs of the loss. Otherwise (it gave up, its catch-up failed or never
   * ended, its flags stuck) the client is replaced by a new one, with TeleFlow's backoff.
   */
  onConnectionState(m: Managed, account: AccountClient, state: ConnectionState): void {
    if (this.r.closing || m.account !== account || !account.self) return;
    if (state === 'key-rejected') {
      // The fresh connection is the confirmation: a -404 there too signs the session out.
      this.keyDoubted.add(m.id);
      this.r.deps.log.warn(
        { sessionId: m.id },
        'Telegram answered -404: checking the key on a fresh connection',
      );
      void this.r.setStatus(m.id, 'connecting', {});
      void this.reconnect(m.id, account).catch(() => undefined);
      return;
    }
    if (state === 'lost') {
      void this.r.setStatus(m.id, 'connecting', {});
      this.armRecovery(m, account);
      return;
    }
    if (state === 'gone') {
      void this.r.setStatus(m.id, 'connecting', {});
      this.armRecovery(m, account);
      // Looked at again shortly: a connection that closed as soon as it opened has the library
      // start over by itself, and its flags say so only a moment later.
      setTimeout(() => {
        if (this.r.closing || m.account !== account || account.transportConnected || account.reconnecting)
          return;
        this.r.deps.log.info({ sessionId: m.id }, 'the client library gave up reconnecting: new client');
        void this.reconnect(m.id, account).catch(() => undefined);
      }, GONE_RECHECK_MS).unref();
      return;
    }
    // The library reconnected by itself: catch up on what arrived meanwhile.
    // No tracker yet: TeleFlow's own reconnect is under way and catches up itself.
    if (!account.tracker) return;
    account.tracker
      .catchUp()
      .then(async () => {
        if (m.account !== account || !account.transportConnected) return;
        this.r.disarmRecovery(m);
        await this.r.setStatus(m.id, 'connected', { lastError: null });
      })
      .catch((err: unknown) => {
        this.r.deps.log.warn({ err, sessionId: m.id }, 'catch-up after reconnect failed: new client');
        void this.reconnect(m.id, account).catch(() => undefined);
      });
  }

  private armRecovery(m: Managed, account: AccountClient): void {
    if (m.recoveryTimer) return;
    m.recoveryTimer = setTimeout(() => {
      m.recoveryTimer = undefined;
      if (this.r.closing || m.account !== account || m.status === 'connected') return;
      // A catch-up waiting out FLOOD_WAIT is not a stuck connection: a new client would only
      // spend more of the account's budget.
      if (account.transportConnected && account.tracker?.waitingOutFlood) {
        this.armRecovery(m, account);
        return;
      }
      this.r.deps.log.info(
        { sessionId: m.id, afterMs: this.r.o.recoveryTimeoutMs },
        'connection not restored in time: new client',
      );
      void this.reconnect(m.id, account).catch(() => undefined);
    }, this.r.o.recoveryTimeoutMs);
    m.recoveryTimer.unref();
  }

  startWatchdog(): void {
    this.watchdog = setInterval(() => void this.watchdogTick(), this.r.o.watchdogIntervalMs);
    this.watchdog.unref();
  }

  stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
  }

  /** Finds connections that died without the library noticing, or that it gave up on. */
  private async watchdogTick(): Promise<void> {
    for (const m of this.r.sessions.values()) {
      const account = m.account;
      if (!account?.self || m.probing || this.r.closing) continue;
      if (!account.transportConnected && !account.reconnecting) {
        this.r.deps.log.info({ sessionId: m.id }, 'watchdog: connection is gone, reconnecting');
        void this.reconnect(m.id, account).catch(() => undefined);
        continue;
      }
      if (account.reconnecting) continue;
      m.probing = true;
      account
        .rawInvoke(new Api.updates.GetState())
        .then(() => undefined)
        .catch((err: unknown) => {
          if (isSignedOutError(err)) {
            void this.signedOut(m, account, {
              code: telegramErrorName(err)!,
              message: 'Telegram reports the session as signed out',
            });
          } else if (isConnectionError(err) && m.account === account) {
            this.r.deps.log.info({ sessionId: m.id }, 'watchdog: probe failed, reconnecting');
            void this.reconnect(m.id, account).catch(() => undefined);
          }
        })
        .finally(() => {
          m.probing = false;
        });
    }
  }

  async signedOut(
    m: Managed,
    account: AccountClient,
    error: { code: string; message: string },
  ): Promise<void> {
    if (m.account !== account) return;
    await this.r.withLock(m, () => this.r.dropClient(m));
    await this.markLoggedOut(m, error);
  }

  private async markLoggedOut(m: Managed, error: { code: string; message: string }): Promise<void> {
    this.cancelReconnect(m);
    await this.r.deps.repo.update(m.id, { auto_connect: 0, updated_at: this.r.now() });
    await this.r.setStatus(m.id, 'logged_out', { lastError: error });
    await this.r.deps.ownership?.release(m.id);
  }
}
