/**
 * Many Telegram accounts in one process. Each session has at most one client at a time; its
 * status (API.md) is persisted with lastError. Sessions that were connected come back after a
 * restart; lost connections are retried with exponential backoff and jitter; a watchdog probes
 * connections that may have died silently; the update state is persisted and caught up with
 * getDifference after every reconnect and restart.
 *
 * The parts: session-registry.ts (sessions in memory, rows, status machine, update state),
 * login.ts (code, 2FA, QR, import/export), connections.ts (reconnects, recovery, watchdog).
 */
import { Api } from 'teleproto';
import { AppError } from '../../lib/errors.js';
import type { EventType } from '../../lib/events.js';
import type { AccountClient, TelegramAccount } from '../../telegram/account.js';
import { Connections } from './connections.js';
import { LoginFlows, type QrPayload } from './login.js';
import {
  SessionRegistry,
  sessionView,
  type Managed,
  type SessionManagerOptions,
  type UpdateListener,
} from './session-registry.js';
import type { SessionStatus, SessionView } from './sessions.schema.js';
import type { SessionsService } from './sessions.service.js';

export type { SessionManagerOptions, UpdateListener } from './session-registry.js';

export class SessionManager implements SessionsService {
  private readonly r: SessionRegistry;
  private readonly login: LoginFlows;
  private readonly connections: Connections;

  constructor(deps: SessionManagerOptions) {
    this.r = new SessionRegistry(deps, {
      onUpdates: (m, account, updates) => this.onUpdates(m, account, updates),
      onConnectionState: (m, account, state) => this.connections.onConnectionState(m, account, state),
      onSignedOut: (m, account, error) => void this.connections.signedOut(m, account, error),
    });
    this.login = new LoginFlows(this.r);
    this.connections = new Connections(this.r);
  }

  /** Listens to every update of every session, live and caught up (the events module uses this). */
  onUpdate(listener: UpdateListener): void {
    this.r.listeners.push(listener);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Reconnects the sessions that were connected when the process last stopped. */
  async start(): Promise<void> {
    // A QR login lives in memory (its token, its timer): one interrupted by a restart is over.
    const ownership = this.r.deps.ownership;
    for (const row of await this.r.deps.repo.list(null)) {
      if (row.status === 'qr_pending' && !(await ownership?.runElsewhere(row.id))) {
        await this.r.setStatus(row.id, 'failed', {
          lastError: {
            code: 'QR_LOGIN_INTERRUPTED',
            message: 'TeleFlow restarted during the QR login; start a new one',
          },
        });
      }
    }
    // In a cluster the sessions come back through their leases (src/modules/cluster/).
    const rows = ownership ? [] : await this.r.deps.repo.listAutoConnect();
    this.connections.startWatchdog();
    const queue = [...rows];
    const worker = async () => {
      for (let row = queue.shift(); row; row = queue.shift()) {
        if (this.r.closing) return;
        await this.connections.reconnect(row.id).catch(() => undefined);
      }
    };
    void Promise.all(Array.from({ length: this.r.o.startupConcurrency }, worker));
  }

  async close(): Promise<void> {
    this.r.closing = true;
    this.connections.stopWatchdog();
    await Promise.all(
      [...this.r.sessions.values()].map(async (m) => {
        this.connections.cancelReconnect(m);
        if (m.qr) clearTimeout(m.qr.refreshTimer);
        await this.r.withLock(m, async () => {
          await this.r.flush(m);
          await this.r.dropClient(m);
        });
        const row = await this.r.deps.repo.find(m.id);
        if (row && (row.status === 'connected' || row.status === 'connecting')) {
          await this.r.deps.repo.update(m.id, { status: 'disconnected', updated_at: this.r.now() });
        }
      }),
    );
    this.r.sessions.clear();
  }

  // ---------------------------------------------------------------- reads

  async list(scope: string[] | null): Promise<SessionView[]> {
    return (await this.r.deps.repo.list(scope)).map(sessionView);
  }

  async get(id: string): Promise<SessionView> {
    return this.r.get(id);
  }

  async countByStatus(): Promise<Record<string, number>> {
    return this.r.deps.repo.countByStatus();
  }

  /** The sessions this process runs (a client open, a reconnect or a QR login under way). */
  async owned(): Promise<{ id: string; status: SessionStatus }[]> {
    const ids = [...this.r.sessions.values()]
      .filter((m) => m.account || m.reconnectTimer || m.qr)
      .map((m) => m.id);
    const rows = await this.r.deps.repo.list(ids);
    return rows.map((row) => ({ id: row.id, status: row.status as SessionStatus }));
  }

  /** The connected account of a session, for the message and chat services. */
  async account(id: string): Promise<TelegramAccount> {
    const live = this.r.sessions.get(id);
    const ownership = this.r.deps.ownership;
    if (live?.status === 'connected' && live.account?.self && (!ownership || ownership.mayRun(id))) {
      return live.account;
    }
    const row = await this.r.row(id);
    const m = this.r.sessions.get(id);
    if (
      ['code_sent', 'password_required', 'qr_pending', 'logged_out'].includes(row.status) ||
      !row.user_json
    ) {
      throw new AppError('SESSION_NOT_AUTHORIZED', `The session is not signed in (status ${row.status})`);
    }
    if (row.status !== 'connected' || !m?.account?.self || (ownership && !ownership.mayRun(id))) {
      throw new AppError(
        'SESSION_NOT_CONNECTED',
        `The session is not connected (status ${row.status})`,
        undefined,
        5,
      );
    }
    return m.account;
  }

  // ---------------------------------------------------------------- logins (login.ts)

  create(input: { phone: string; name?: string }): Promise<SessionView> {
    return this.login.create(input);
  }

  verifyCode(id: string, code: string): Promise<SessionView> {
    return this.login.verifyCode(id, code);
  }

  verifyPassword(id: string, password: string): Promise<SessionView> {
    return this.login.verifyPassword(id, password);
  }

  startQrLogin(input: { name?: string }): Promise<{ session: SessionView; qr: QrPayload }> {
    return this.login.startQrLogin(input);
  }

  /** The current QR of a pending QR login (the token is refreshed as it expires). */
  currentQr(id: string): Promise<QrPayload> {
    return this.login.currentQr(id);
  }

  importSession(input: { sessionString: string; name?: string }): Promise<SessionView> {
    return this.login.importSession(input);
  }

  exportSession(id: string): Promise<{ sessionString: string }> {
    return this.login.exportSession(id);
  }

  // ---------------------------------------------------------------- connect / disconnect / delete

  async connect(id: string): Promise<SessionView> {
    const row = await this.r.row(id);
    if (!row.user_json || row.status === 'logged_out' || !row.session_secret) {
      throw new AppError('SESSION_NOT_AUTHORIZED', `The session is not signed in (status ${row.status})`);
    }
    await this.r.deps.repo.update(id, { auto_connect: 1, updated_at: this.r.now() });
    if (row.status !== 'connected' || !this.r.sessions.get(id)?.account) {
      await this.connections.reconnect(id).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'SESSION_NOT_AUTHORIZED') throw err;
      });
    }
    return this.get(id);
  }

  async disconnect(id: string): Promise<SessionView> {
    const row = await this.r.row(id);
    const m = this.r.managed(id);
    this.connections.cancelReconnect(m);
    if (m.qr) clearTimeout(m.qr.refreshTimer);
    await this.r.withLock(m, async () => {
      await this.r.flush(m);
      await this.r.dropClient(m);
    });
    await this.r.deps.repo.update(id, { auto_connect: 0, updated_at: this.r.now() });
    if (row.status === 'connected' || row.status === 'connecting') {
      await this.r.setStatus(id, 'disconnected', { reason: 'requested' });
    }
    await this.r.deps.ownership?.release(id);
    return this.get(id);
  }

  /** A cluster gave this instance the session's lease: connect it. */
  resume(id: string): Promise<void> {
    return this.connections.reconnect(id);
  }

  /**
   * A cluster took the session's lease away (or it can no longer be trusted): the client is
   * dropped at once, without waiting for calls in progress; the row is the new owner's.
   */
  /**
   * Gives a running session to another instance (cluster rebalancing), while its lease is
   * still held: its update state is saved, its client disconnected, and it is forgotten here;
   * the caller then gives the lease back. The row keeps its status: the next owner connects it.
   * Only a connected, signed-in session moves: a sign-in under way (code, password, QR) keeps
   * its state in this process, and false says the session stays.
   */
  async handOver(id: string): Promise<boolean> {
    const m = this.r.sessions.get(id);
    if (!m || m.status !== 'connected' || !m.account?.self || m.qr) return false;
    this.connections.cancelReconnect(m);
    await this.r.withLock(m, async () => {
      await this.r.flush(m);
      await this.r.dropClient(m);
    });
    clearTimeout(m.stateSaveTimer);
    m.stateSaveTimer = undefined;
    this.r.sessions.delete(id);
    return true;
  }

  async relinquish(id: string): Promise<void> {
    const m = this.r.sessions.get(id);
    if (!m) return;
    this.connections.cancelReconnect(m);
    if (m.qr) clearTimeout(m.qr.refreshTimer);
    clearTimeout(m.stateSaveTimer);
    m.stateSaveTimer = undefined;
    this.r.sessions.delete(id);
    await this.r.dropClient(m);
    // A connect under way when the lease went: its client is dropped as soon as it is done.
    await this.r.withLock(m, () => this.r.dropClient(m));
  }

  /** Logs the account out of Telegram (best effort) and forgets the session. */
  async remove(id: string): Promise<void> {
    const row = await this.r.row(id);
    const m = this.r.managed(id);
    this.connections.cancelReconnect(m);
    if (m.qr) clearTimeout(m.qr.refreshTimer);
    await this.r.withLock(m, async () => {
      try {
        let account = m.account;
        if (!account && row.user_json && row.session_secret && row.status !== 'logged_out') {
          account = await this.r.openClient(m, this.r.deps.box.decrypt(row.session_secret));
        }
        if (account) await account.rawInvoke(new Api.auth.LogOut());
      } catch (err) {
        this.r.deps.log.info(
          { err: String(err), sessionId: id },
          'log out from Telegram failed; forgetting anyway',
        );
      }
      await this.r.dropClient(m);
    });
    this.r.sessions.delete(id);
    const last = sessionView((await this.r.deps.repo.find(id)) ?? row);
    await this.r.deps.repo.delete(id);
    await this.r.deps.ownership?.release(id);
    await this.r.publish('session.deleted', id, { session: last });
  }

  // ---------------------------------------------------------------- updates

  private onUpdates(m: Managed, account: AccountClient, updates: Api.TypeUpdates): void {
    this.r.deps.log.trace(
      { sessionId: m.id, updates: updates.className, current: m.account === account },
      'updates',
    );
    if (m.account !== account) return;
    if (this.login.takeLoginToken(m, account, updates)) return;
    account.tracker?.feed(updates, 'live');
  }

  /** Writes a session's update state and peer cache now (instead of within 250 ms). */
  async persist(id: string): Promise<void> {
    const m = this.r.sessions.get(id);
    if (m) await this.r.flush(m);
  }

  /**
   * Records an event; resolves true once it is committed, false (logged) if it could not be.
   * The API routes await it, so an answer means its event is in the log: a crash after the
   * answer cannot lose the event. It never rejects, so a failed write does not turn an action
   * Telegram has carried out into an error.
   */
  publish(type: EventType, sessionId: string | null, data: Record<string, unknown>): Promise<boolean> {
    return this.r.publish(type, sessionId, data);
  }
}
