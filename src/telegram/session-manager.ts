/**
 * Many Telegram accounts in one process. Each session has at most one client at a time; its
 * status (API.md) is persisted with lastError. Sessions that were connected come back after a
 * restart; lost connections are retried with exponential backoff and jitter; a watchdog probes
 * connections that may have died silently; the update state is persisted and caught up with
 * getDifference after every reconnect and restart.
 */
import QRCode from 'qrcode';
import type { Logger } from 'pino';
import { Api, errors, password as passwordHelpers } from 'teleproto';
import { StringSession } from 'teleproto/sessions/index.js';
import type { Clock } from '../lib/clock.js';
import type { SecretBox } from '../lib/crypto.js';
import { AppError, notFound } from '../lib/errors.js';
import { messageEventKey, type EventPublisher, type EventType } from '../lib/events.js';
import { newId } from '../lib/ids.js';
import type { SessionRow, SessionsRepository } from '../modules/sessions/sessions.repository.js';
import type { SessionStatus, SessionView } from '../modules/sessions/sessions.schema.js';
import { AccountClient, type ConnectionState, type TelegramAccount } from './account.js';
import { messageView, userView } from './convert.js';
import type { TelegramEndpoint } from './endpoint.js';
import { isConnectionError, isSignedOutError, telegramErrorName, toAppErrorFromTelegram } from './errors.js';
import { PeerCache } from './peer-cache.js';
import { UpdateTracker, type UpdateContext, type UpdateState } from './update-tracker.js';

export interface SessionManagerOptions {
  repo: SessionsRepository;
  endpoint: TelegramEndpoint;
  box: SecretBox;
  apiId: number;
  apiHash: string;
  clock: Clock;
  log: Logger;
  events?: EventPublisher;
  floodSleepThresholdSeconds?: number;
  /** Watchdog period: each connected session is probed with updates.getState this often. */
  watchdogIntervalMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  callTimeoutMs?: number;
  /**
   * How long the client library may take to bring a lost connection back (reconnected and
   * caught up) before the session's client is replaced by a new one.
   */
  recoveryTimeoutMs?: number;
  /** How long a QR login keeps refreshing its token before giving up. */
  qrLoginTtlMs?: number;
  /** How many sessions connect at once at start-up. */
  startupConcurrency?: number;
}

/**
 * Gets every update of every session. A listener that records something durable for an update
 * returns a promise that settles once it is recorded (true) or failed (false): the update state
 * (pts) is saved only after it, so a crash never skips an update whose events were not written.
 */
export type UpdateListener = (
  sessionId: string,
  update: Api.TypeUpdate,
  ctx: UpdateContext,
) => void | Promise<boolean>;

interface QrState {
  token: Buffer;
  expiresAt: Date;
  refreshTimer?: NodeJS.Timeout;
  deadline: number;
}

interface Managed {
  id: string;
  /** The stored status, mirrored in memory so the hot path (account()) needs no query. */
  status?: SessionStatus;
  account?: AccountClient;
  peers?: PeerCache;
  phoneCodeHash?: string;
  phone?: string;
  reconnectTimer?: NodeJS.Timeout;
  /** Armed when the library reports the connection lost; fires if it is not back in time. */
  recoveryTimer?: NodeJS.Timeout;
  attempts: number;
  qr?: QrState;
  /** Serializes open/close so there is never a second client for the session. */
  lock: Promise<unknown>;
  stateSaveTimer?: NodeJS.Timeout;
  probing?: boolean;
  /** Event writes caused by updates and not yet settled: the state save waits for them. */
  pendingRecords: Set<Promise<boolean>>;
  /** Set when an event write failed: the update state is no longer saved (a restart replays). */
  stateFrozen?: boolean;
}

export class SessionManager {
  private readonly sessions = new Map<string, Managed>();
  private readonly listeners: UpdateListener[] = [];
  private watchdog?: NodeJS.Timeout;
  private closing = false;
  private readonly o: Required<
    Pick<
      SessionManagerOptions,
      | 'floodSleepThresholdSeconds'
      | 'watchdogIntervalMs'
      | 'reconnectBaseMs'
      | 'reconnectMaxMs'
      | 'callTimeoutMs'
      | 'recoveryTimeoutMs'
      | 'qrLoginTtlMs'
      | 'startupConcurrency'
    >
  >;

  constructor(private readonly deps: SessionManagerOptions) {
    this.o = {
      floodSleepThresholdSeconds: deps.floodSleepThresholdSeconds ?? 10,
      watchdogIntervalMs: deps.watchdogIntervalMs ?? 60_000,
      reconnectBaseMs: deps.reconnectBaseMs ?? 1000,
      reconnectMaxMs: deps.reconnectMaxMs ?? 60_000,
      callTimeoutMs: deps.callTimeoutMs ?? 30_000,
      recoveryTimeoutMs: deps.recoveryTimeoutMs ?? 10_000,
      qrLoginTtlMs: deps.qrLoginTtlMs ?? 5 * 60_000,
      startupConcurrency: deps.startupConcurrency ?? 8,
    };
  }

  /** Listens to every update of every session, live and caught up (the events module uses this). */
  onUpdate(listener: UpdateListener): void {
    this.listeners.push(listener);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Reconnects the sessions that were connected when the process last stopped. */
  async start(): Promise<void> {
    // A QR login lives in memory (its token, its timer): one interrupted by a restart is over.
    for (const row of await this.deps.repo.list(null)) {
      if (row.status === 'qr_pending') {
        await this.setStatus(row.id, 'failed', {
          lastError: {
            code: 'QR_LOGIN_INTERRUPTED',
            message: 'TeleFlow restarted during the QR login; start a new one',
          },
        });
      }
    }
    const rows = await this.deps.repo.listAutoConnect();
    this.watchdog = setInterval(() => void this.watchdogTick(), this.o.watchdogIntervalMs);
    this.watchdog.unref();
    const queue = [...rows];
    const worker = async () => {
      for (let row = queue.shift(); row; row = queue.shift()) {
        if (this.closing) return;
        await this.reconnect(row.id).catch(() => undefined);
      }
    };
    void Promise.all(Array.from({ length: this.o.startupConcurrency }, worker));
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.watchdog) clearInterval(this.watchdog);
    await Promise.all(
      [...this.sessions.values()].map(async (m) => {
        this.cancelReconnect(m);
        if (m.qr) clearTimeout(m.qr.refreshTimer);
        await this.withLock(m, async () => {
          await this.flush(m);
          await this.dropClient(m);
        });
        const row = await this.deps.repo.find(m.id);
        if (row && (row.status === 'connected' || row.status === 'connecting')) {
          await this.deps.repo.update(m.id, { status: 'disconnected', updated_at: this.now() });
        }
      }),
    );
    this.sessions.clear();
  }

  // ---------------------------------------------------------------- reads

  async list(scope: string[] | null): Promise<SessionView[]> {
    return (await this.deps.repo.list(scope)).map((r) => this.view(r));
  }

  async get(id: string): Promise<SessionView> {
    return this.view(await this.row(id));
  }

  async countByStatus(): Promise<Record<string, number>> {
    return this.deps.repo.countByStatus();
  }

  /** The connected account of a session, for the message and chat services. */
  async account(id: string): Promise<TelegramAccount> {
    const live = this.sessions.get(id);
    if (live?.status === 'connected' && live.account?.self) return live.account;
    const row = await this.row(id);
    const m = this.sessions.get(id);
    if (
      ['code_sent', 'password_required', 'qr_pending', 'logged_out'].includes(row.status) ||
      !row.user_json
    ) {
      throw new AppError('SESSION_NOT_AUTHORIZED', `The session is not signed in (status ${row.status})`);
    }
    if (row.status !== 'connected' || !m?.account?.self) {
      throw new AppError(
        'SESSION_NOT_CONNECTED',
        `The session is not connected (status ${row.status})`,
        undefined,
        5,
      );
    }
    return m.account;
  }

  // ---------------------------------------------------------------- login by code

  async create(input: { phone: string; name?: string }): Promise<SessionView> {
    const phone = input.phone.replace(/[^0-9]/g, '');
    const now = this.now();
    const id = newId('ses');
    const m = this.managed(id);
    m.peers = new PeerCache();
    await this.insertNew(id, input.name ?? null, phone, now);
    try {
      await this.withLock(m, async () => {
        const account = await this.openClient(m, '');
        const sent = await account.rawInvoke(
          new Api.auth.SendCode({
            phoneNumber: phone,
            apiId: this.deps.apiId,
            apiHash: this.deps.apiHash,
            settings: new Api.CodeSettings({}),
          }),
        );
        if (!(sent instanceof Api.auth.SentCode))
          throw new AppError('CONFLICT', 'This account is already signed in');
        m.phoneCodeHash = sent.phoneCodeHash;
        m.phone = phone;
        await this.deps.repo.update(id, {
          status: 'code_sent',
          phone_code_hash: sent.phoneCodeHash,
          ...this.sealed(account),
          updated_at: this.now(),
        });
      });
    } catch (err) {
      await this.discard(m);
      throw toAppErrorFromTelegram(err);
    }
    const view = await this.get(id);
    await this.publish('session.created', id, { session: view });
    return view;
  }

  async verifyCode(id: string, code: string): Promise<SessionView> {
    const row = await this.row(id);
    if (row.status !== 'code_sent') throw this.wrongStep(row, 'code_sent');
    const m = this.managed(id);
    await this.withLock(m, async () => {
      const account = await this.loginClient(m, row);
      const phoneNumber = row.phone ?? '';
      const phoneCodeHash = row.phone_code_hash ?? '';
      try {
        let auth = await account.rawInvoke(
          new Api.auth.SignIn({ phoneNumber, phoneCodeHash, phoneCode: code }),
        );
        if (auth instanceof Api.auth.AuthorizationSignUpRequired) {
          auth = await account.rawInvoke(
            new Api.auth.SignUp({
              phoneNumber,
              phoneCodeHash,
              firstName: row.name ?? 'TeleFlow',
              lastName: '',
            }),
          );
        }
        await this.authorized(m, account, auth);
      } catch (err) {
        if (err instanceof errors.RPCError && err.errorMessage === 'SESSION_PASSWORD_NEEDED') {
          await this.setStatus(id, 'password_required', { lastError: null });
          return;
        }
        const mapped = toAppErrorFromTelegram(err);
        await this.setStatus(id, 'code_sent', { lastError: { code: mapped.code, message: mapped.message } });
        throw mapped;
      }
    });
    return this.get(id);
  }

  async verifyPassword(id: string, password: string): Promise<SessionView> {
    const row = await this.row(id);
    if (row.status !== 'password_required') throw this.wrongStep(row, 'password_required');
    const m = this.managed(id);
    await this.withLock(m, async () => {
      const account = await this.loginClient(m, row);
      try {
        const pwd = await account.rawInvoke(new Api.account.GetPassword());
        const check = await passwordHelpers.computeCheck(pwd, password);
        const auth = await account.rawInvoke(new Api.auth.CheckPassword({ password: check }));
        await this.authorized(m, account, auth);
      } catch (err) {
        const mapped = toAppErrorFromTelegram(err);
        await this.setStatus(id, 'password_required', {
          lastError: { code: mapped.code, message: mapped.message },
        });
        throw mapped;
      }
    });
    return this.get(id);
  }

  // ---------------------------------------------------------------- QR login

  async startQrLogin(input: { name?: string }): Promise<{
    session: SessionView;
    qr: { url: string; dataUrl: string; expiresAt: string };
  }> {
    const now = this.now();
    const id = newId('ses');
    const m = this.managed(id);
    m.peers = new PeerCache();
    await this.insertNew(id, input.name ?? null, null, now);
    try {
      await this.withLock(m, async () => {
        const account = await this.openClient(m, '');
        await this.deps.repo.update(id, { ...this.sealed(account), updated_at: this.now() });
        m.qr = { token: Buffer.alloc(0), expiresAt: new Date(), deadline: Date.now() + this.o.qrLoginTtlMs };
        await this.exportLoginToken(m, account);
      });
    } catch (err) {
      await this.discard(m);
      throw toAppErrorFromTelegram(err);
    }
    const session = await this.get(id);
    if (!m.qr || session.status !== 'qr_pending')
      return { session, qr: { url: '', dataUrl: '', expiresAt: now } };
    await this.publish('session.created', id, { session });
    return { session, qr: await this.qrPayload(m.qr) };
  }

  /** The current QR of a pending QR login (the token is refreshed as it expires). */
  async currentQr(id: string): Promise<{ url: string; dataUrl: string; expiresAt: string }> {
    const row = await this.row(id);
    const qr = this.sessions.get(id)?.qr;
    if (row.status !== 'qr_pending' || !qr || qr.token.length === 0)
      throw new AppError('CONFLICT', `No QR login is pending for this session (status ${row.status})`);
    return this.qrPayload(qr);
  }

  private async qrPayload(qr: QrState): Promise<{ url: string; dataUrl: string; expiresAt: string }> {
    const url = `tg://login?token=${qr.token.toString('base64url')}`;
    const dataUrl = await QRCode.toDataURL(url, { errorCorrectionLevel: 'M', margin: 2 });
    return { url, dataUrl, expiresAt: qr.expiresAt.toISOString() };
  }

  /** Asks for a (new) login token; a success answer means another client accepted it. */
  private async exportLoginToken(m: Managed, account: AccountClient): Promise<void> {
    const qr = m.qr;
    if (!qr) return;
    clearTimeout(qr.refreshTimer);
    let res: Api.auth.TypeLoginToken;
    try {
      res = await account.rawInvoke(
        new Api.auth.ExportLoginToken({ apiId: this.deps.apiId, apiHash: this.deps.apiHash, exceptIds: [] }),
      );
      if (res instanceof Api.auth.LoginTokenMigrateTo) {
        res = await account.rawInvoke(new Api.auth.ImportLoginToken({ token: res.token }));
      }
    } catch (err) {
      if (err instanceof errors.RPCError && err.errorMessage === 'SESSION_PASSWORD_NEEDED') {
        m.qr = undefined;
        await this.setStatus(m.id, 'password_required', { lastError: null });
        return;
      }
      throw err;
    }
    if (res instanceof Api.auth.LoginTokenSuccess) {
      m.qr = undefined;
      await this.authorized(m, account, res.authorization);
      return;
    }
    if (!(res instanceof Api.auth.LoginToken))
      throw new AppError('TELEGRAM_ERROR', 'Unexpected login token answer');
    qr.token = Buffer.from(res.token);
    qr.expiresAt = new Date(res.expires * 1000);
    await this.setStatus(m.id, 'qr_pending', { lastError: null });
    const refreshIn = Math.max(1000, res.expires * 1000 - Date.now());
    qr.refreshTimer = setTimeout(() => void this.refreshQr(m), refreshIn);
    qr.refreshTimer.unref();
  }

  private async refreshQr(m: Managed): Promise<void> {
    if (!m.qr || this.closing) return;
    if (Date.now() > m.qr.deadline) {
      m.qr = undefined;
      await this.withLock(m, () => this.dropClient(m));
      await this.setStatus(m.id, 'failed', {
        lastError: { code: 'QR_LOGIN_EXPIRED', message: 'Nobody accepted the QR login in time' },
      });
      return;
    }
    await this.withLock(m, async () => {
      if (m.account) await this.exportLoginToken(m, m.account);
    }).catch((err: unknown) => this.deps.log.warn({ err, sessionId: m.id }, 'QR token refresh failed'));
  }

  // ---------------------------------------------------------------- import / export

  async importSession(input: { sessionString: string; name?: string }): Promise<SessionView> {
    const key = authKeyOf(input.sessionString);
    if (!key) {
      throw new AppError('VALIDATION_ERROR', 'Not a GramJS StringSession', [
        { field: 'body.sessionString', message: 'not a valid StringSession with an auth key' },
      ]);
    }
    // Two clients on one auth key would fight (AUTH_KEY_DUPLICATED on Telegram): one session per key.
    for (const other of await this.deps.repo.list(null)) {
      if (!other.session_secret || other.status === 'logged_out') continue;
      let otherKey: Buffer | undefined;
      try {
        otherKey = authKeyOf(this.deps.box.decrypt(other.session_secret));
      } catch {
        continue;
      }
      if (otherKey?.equals(key)) {
        throw new AppError('CONFLICT', `This Telegram session is already here as ${other.id}`, {
          sessionId: other.id,
        });
      }
    }
    const now = this.now();
    const id = newId('ses');
    const m = this.managed(id);
    m.peers = new PeerCache();
    await this.insertNew(id, input.name ?? null, null, now, {
      session_secret: this.deps.box.encrypt(input.sessionString),
      key_version: this.deps.box.version,
    });
    try {
      await this.withLock(m, async () => {
        const account = await this.openClient(m, input.sessionString);
        let me: Api.User;
        try {
          me = await account.fetchSelf();
        } catch (err) {
          if (isSignedOutError(err))
            throw new AppError('SESSION_NOT_AUTHORIZED', 'This session string is not signed in', {
              telegramError: telegramErrorName(err),
            });
          throw err;
        }
        await this.deps.repo.update(id, { phone: me.phone ?? null, updated_at: this.now() });
        await this.authorized(m, account, new Api.auth.Authorization({ user: me }));
      });
    } catch (err) {
      await this.discard(m);
      throw toAppErrorFromTelegram(err);
    }
    return this.get(id);
  }

  async exportSession(id: string): Promise<{ sessionString: string }> {
    const row = await this.row(id);
    const m = this.sessions.get(id);
    const live = m?.account?.self ? m.account.sessionString() : '';
    const sessionString = live || (row.session_secret ? this.deps.box.decrypt(row.session_secret) : '');
    if (!sessionString || !row.user_json)
      throw new AppError('SESSION_NOT_AUTHORIZED', 'The session is not signed in: nothing to export');
    return { sessionString };
  }

  // ---------------------------------------------------------------- connect / disconnect / delete

  async connect(id: string): Promise<SessionView> {
    const row = await this.row(id);
    if (!row.user_json || row.status === 'logged_out' || !row.session_secret) {
      throw new AppError('SESSION_NOT_AUTHORIZED', `The session is not signed in (status ${row.status})`);
    }
    await this.deps.repo.update(id, { auto_connect: 1, updated_at: this.now() });
    if (row.status !== 'connected' || !this.sessions.get(id)?.account) {
      await this.reconnect(id).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'SESSION_NOT_AUTHORIZED') throw err;
      });
    }
    return this.get(id);
  }

  async disconnect(id: string): Promise<SessionView> {
    const row = await this.row(id);
    const m = this.managed(id);
    this.cancelReconnect(m);
    if (m.qr) clearTimeout(m.qr.refreshTimer);
    await this.withLock(m, async () => {
      await this.flush(m);
      await this.dropClient(m);
    });
    await this.deps.repo.update(id, { auto_connect: 0, updated_at: this.now() });
    if (row.status === 'connected' || row.status === 'connecting') {
      await this.setStatus(id, 'disconnected', { reason: 'requested' });
    }
    return this.get(id);
  }

  /** Logs the account out of Telegram (best effort) and forgets the session. */
  async remove(id: string): Promise<void> {
    const row = await this.row(id);
    const m = this.managed(id);
    this.cancelReconnect(m);
    if (m.qr) clearTimeout(m.qr.refreshTimer);
    await this.withLock(m, async () => {
      try {
        let account = m.account;
        if (!account && row.user_json && row.session_secret && row.status !== 'logged_out') {
          account = await this.openClient(m, this.deps.box.decrypt(row.session_secret));
        }
        if (account) await account.rawInvoke(new Api.auth.LogOut());
      } catch (err) {
        this.deps.log.info(
          { err: String(err), sessionId: id },
          'log out from Telegram failed; forgetting anyway',
        );
      }
      await this.dropClient(m);
    });
    this.sessions.delete(id);
    const last = this.view((await this.deps.repo.find(id)) ?? row);
    await this.deps.repo.delete(id);
    await this.publish('session.deleted', id, { session: last });
  }

  // ---------------------------------------------------------------- internals: clients

  private managed(id: string): Managed {
    let m = this.sessions.get(id);
    if (!m) {
      m = { id, attempts: 0, lock: Promise.resolve(), pendingRecords: new Set() };
      this.sessions.set(id, m);
    }
    return m;
  }

  private withLock<T>(m: Managed, fn: () => Promise<T>): Promise<T> {
    const run = m.lock.then(fn, fn);
    m.lock = run.catch(() => undefined);
    return run;
  }

  private async openClient(m: Managed, sessionString: string): Promise<AccountClient> {
    await this.dropClient(m);
    const log = this.deps.log.child({ sessionId: m.id });
    const account = new AccountClient({
      sessionId: m.id,
      endpoint: this.deps.endpoint,
      apiId: this.deps.apiId,
      apiHash: this.deps.apiHash,
      floodSleepThresholdSeconds: this.o.floodSleepThresholdSeconds,
      callTimeoutMs: this.o.callTimeoutMs,
      peers: m.peers ?? (m.peers = new PeerCache()),
      log,
      onUpdates: (updates) => this.onUpdates(m, account, updates),
      onConnectionState: (state) => this.onConnectionState(m, account, state),
      onSignedOut: (error) => void this.signedOut(m, account, error),
    });
    m.account = account;
    await account.open(sessionString);
    return account;
  }

  private async dropClient(m: Managed): Promise<void> {
    const account = m.account;
    m.account = undefined;
    this.disarmRecovery(m);
    if (account) await account.close();
  }

  /** A login step after a restart: the client is rebuilt from the stored (unauthorized) key. */
  private async loginClient(m: Managed, row: SessionRow): Promise<AccountClient> {
    if (m.account) return m.account;
    if (!row.session_secret) throw new AppError('CONFLICT', 'The login was interrupted; start a new one');
    m.peers ??= new PeerCache();
    return this.openClient(m, this.deps.box.decrypt(row.session_secret));
  }

  private async discard(m: Managed): Promise<void> {
    await this.withLock(m, () => this.dropClient(m)).catch(() => undefined);
    this.sessions.delete(m.id);
    await this.deps.repo.delete(m.id);
  }

  /** Sign-in finished: the account is connected, its state known, and it comes back after restarts. */
  private async authorized(
    m: Managed,
    account: AccountClient,
    auth: Api.auth.TypeAuthorization,
  ): Promise<void> {
    if (!(auth instanceof Api.auth.Authorization) || !(auth.user instanceof Api.User)) {
      throw new AppError('TELEGRAM_ERROR', 'Telegram did not return the signed-in user');
    }
    account.setSelf(auth.user);
    m.status = 'connected';
    const state: UpdateState = { channels: {} };
    this.attachTracker(m, account, state);
    await account.tracker!.initIfEmpty();
    const user = userView(auth.user);
    await this.deps.repo.update(m.id, {
      status: 'connected',
      user_json: JSON.stringify(user),
      phone: user.phone ?? m.phone ?? null,
      phone_code_hash: null,
      auto_connect: 1,
      last_error_json: null,
      update_state_json: JSON.stringify(state),
      ...this.sealed(account),
      updated_at: this.now(),
    });
    m.attempts = 0;
    await this.flush(m);
    const view = await this.get(m.id);
    await this.publish('session.authorized', m.id, { session: view });
    await this.publish('session.connected', m.id, { session: view });
  }

  private attachTracker(m: Managed, account: AccountClient, state: UpdateState): void {
    account.tracker = new UpdateTracker({
      state,
      invoke: (req) => account.rawInvoke(req),
      inputChannel: (id) => account.inputChannel(id),
      ingestEntities: (users, chats) => account.remember(users, chats),
      dispatch: (update, ctx) => this.dispatch(m, account, update, ctx),
      onStateChanged: () => this.scheduleStateSave(m),
      log: this.deps.log.child({ sessionId: m.id }),
    });
  }

  /**
   * (Re)connects a signed-in session now; on network failure retries later with backoff.
   * `replacing`: the client this is meant to replace; nothing is done when the session no
   * longer has that client (a disconnect or an earlier reconnect came first).
   */
  private async reconnect(id: string, replacing?: AccountClient): Promise<void> {
    const m = this.managed(id);
    if (replacing && m.account !== replacing) return;
    this.cancelReconnect(m);
    if (this.closing) return;
    await this.withLock(m, async () => {
      if (replacing && m.account !== replacing) return;
      const row = await this.deps.repo.find(id);
      if (!row || !row.auto_connect || !row.session_secret || !row.user_json) return;
      await this.setStatus(id, 'connecting', {});
      if (!m.peers) m.peers = new PeerCache(await this.deps.repo.loadPeers(id));
      // The live tracker's state is newer than the stored one (saves are debounced).
      const state: UpdateState =
        m.account?.tracker?.state ??
        (row.update_state_json ? (JSON.parse(row.update_state_json) as UpdateState) : { channels: {} });
      state.channels ??= {};
      try {
        const account = await this.openClient(m, this.deps.box.decrypt(row.session_secret));
        await account.fetchSelf();
        this.attachTracker(m, account, state);
        await account.tracker!.catchUp();
        m.attempts = 0;
        await this.setStatus(id, 'connected', { lastError: null, user: userView(account.self!) });
        await this.flush(m);
      } catch (err) {
        await this.dropClient(m);
        if (isSignedOutError(err)) {
          await this.markLoggedOut(m, {
            code: telegramErrorName(err)!,
            message: 'Telegram reports the session as signed out',
          });
          throw new AppError('SESSION_NOT_AUTHORIZED', 'The session was signed out', {
            telegramError: telegramErrorName(err),
          });
        }
        const mapped = toAppErrorFromTelegram(err);
        await this.setStatus(id, 'connecting', {
          lastError: { code: mapped.code, message: String((err as Error).message ?? err) },
        });
        this.scheduleReconnect(m);
        throw mapped;
      }
    });
  }

  /** Forgets a planned reconnect (the timer is cleared and unset, so a later one can be planned). */
  private cancelReconnect(m: Managed): void {
    clearTimeout(m.reconnectTimer);
    m.reconnectTimer = undefined;
  }

  private scheduleReconnect(m: Managed): void {
    if (this.closing || m.reconnectTimer) return;
    m.attempts += 1;
    const ceiling = Math.min(
      this.o.reconnectMaxMs,
      this.o.reconnectBaseMs * 2 ** Math.min(m.attempts - 1, 16),
    );
    // Full jitter: many sessions losing the same network do not come back in lockstep.
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.deps.log.info({ sessionId: m.id, attempt: m.attempts, delayMs: delay }, 'reconnect scheduled');
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
  private onConnectionState(m: Managed, account: AccountClient, state: ConnectionState): void {
    if (this.closing || m.account !== account || !account.self) return;
    if (state === 'lost') {
      void this.setStatus(m.id, 'connecting', {});
      this.armRecovery(m, account);
      return;
    }
    if (state === 'gone') {
      void this.setStatus(m.id, 'connecting', {});
      this.armRecovery(m, account);
      // Looked at again shortly: a connection that closed as soon as it opened has the library
      // start over by itself, and its flags say so only a moment later.
      setTimeout(() => {
        if (this.closing || m.account !== account || account.transportConnected || account.reconnecting)
          return;
        this.deps.log.info({ sessionId: m.id }, 'the client library gave up reconnecting: new client');
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
        this.disarmRecovery(m);
        await this.setStatus(m.id, 'connected', { lastError: null });
      })
      .catch((err: unknown) => {
        this.deps.log.warn({ err, sessionId: m.id }, 'catch-up after reconnect failed: new client');
        void this.reconnect(m.id, account).catch(() => undefined);
      });
  }

  private armRecovery(m: Managed, account: AccountClient): void {
    if (m.recoveryTimer) return;
    m.recoveryTimer = setTimeout(() => {
      m.recoveryTimer = undefined;
      if (this.closing || m.account !== account || m.status === 'connected') return;
      this.deps.log.info(
        { sessionId: m.id, afterMs: this.o.recoveryTimeoutMs },
        'connection not restored in time: new client',
      );
      void this.reconnect(m.id, account).catch(() => undefined);
    }, this.o.recoveryTimeoutMs);
    m.recoveryTimer.unref();
  }

  private disarmRecovery(m: Managed): void {
    clearTimeout(m.recoveryTimer);
    m.recoveryTimer = undefined;
  }

  /** Finds connections that died without the library noticing, or that it gave up on. */
  private async watchdogTick(): Promise<void> {
    for (const m of this.sessions.values()) {
      const account = m.account;
      if (!account?.self || m.probing || this.closing) continue;
      if (!account.transportConnected && !account.reconnecting) {
        this.deps.log.info({ sessionId: m.id }, 'watchdog: connection is gone, reconnecting');
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
            this.deps.log.info({ sessionId: m.id }, 'watchdog: probe failed, reconnecting');
            void this.reconnect(m.id, account).catch(() => undefined);
          }
        })
        .finally(() => {
          m.probing = false;
        });
    }
  }

  private async signedOut(
    m: Managed,
    account: AccountClient,
    error: { code: string; message: string },
  ): Promise<void> {
    if (m.account !== account) return;
    await this.withLock(m, () => this.dropClient(m));
    await this.markLoggedOut(m, error);
  }

  private async markLoggedOut(m: Managed, error: { code: string; message: string }): Promise<void> {
    this.cancelReconnect(m);
    await this.deps.repo.update(m.id, { auto_connect: 0, updated_at: this.now() });
    await this.setStatus(m.id, 'logged_out', { lastError: error });
  }

  // ---------------------------------------------------------------- updates

  private onUpdates(m: Managed, account: AccountClient, updates: Api.TypeUpdates): void {
    this.deps.log.trace(
      { sessionId: m.id, updates: updates.className, current: m.account === account },
      'updates',
    );
    if (m.account !== account) return;
    if (m.qr && containsLoginToken(updates)) {
      void this.withLock(m, () => this.exportLoginToken(m, account)).catch((err: unknown) =>
        this.deps.log.warn({ err, sessionId: m.id }, 'QR login completion failed'),
      );
      return;
    }
    account.tracker?.feed(updates, 'live');
  }

  private dispatch(m: Managed, account: AccountClient, update: Api.TypeUpdate, ctx: UpdateContext): void {
    for (const listener of this.listeners) {
      try {
        const recorded = listener(m.id, update, ctx);
        if (recorded) this.holdState(m, recorded);
      } catch (err) {
        this.deps.log.error({ err, sessionId: m.id }, 'update listener failed');
      }
    }
    if (ctx.source === 'own') return;
    if (
      (update instanceof Api.UpdateNewMessage || update instanceof Api.UpdateNewChannelMessage) &&
      update.message instanceof Api.Message &&
      !update.message.out
    ) {
      this.holdState(
        m,
        this.publish('message.received', m.id, {
          message: messageView(update.message, account.self ? account.self.id.toString() : ''),
          catchUp: ctx.source === 'difference',
        }),
      );
    }
  }

  /** The next state save waits for this event write (see UpdateListener). */
  private holdState(m: Managed, recorded: Promise<boolean>): void {
    const tracked = recorded.catch(() => false);
    m.pendingRecords.add(tracked);
    void tracked.then((ok) => {
      m.pendingRecords.delete(tracked);
      if (!ok && !m.stateFrozen) {
        m.stateFrozen = true;
        this.deps.log.error(
          { sessionId: m.id },
          'an event could not be recorded: the update state is no longer saved, so a restart replays from the last recorded point',
        );
      }
    });
  }

  private scheduleStateSave(m: Managed): void {
    if (m.stateSaveTimer) return;
    m.stateSaveTimer = setTimeout(() => {
      m.stateSaveTimer = undefined;
      void this.flush(m).catch((err: unknown) =>
        this.deps.log.warn({ err, sessionId: m.id }, 'state save failed'),
      );
    }, 250);
    m.stateSaveTimer.unref();
  }

  /** Writes the update state, new peers and the (possibly changed) session string. */
  private async flush(m: Managed): Promise<void> {
    clearTimeout(m.stateSaveTimer);
    m.stateSaveTimer = undefined;
    const account = m.account;
    const now = this.now();
    if (m.peers) await this.deps.repo.upsertPeers(m.peers.takeDirty(m.id, now));
    if (account?.tracker && account.self) {
      // The state as of now, saved once the events of every update it covers are recorded.
      const state = JSON.stringify(account.tracker.state);
      if (m.pendingRecords.size > 0) await Promise.all([...m.pendingRecords]);
      await this.deps.repo.update(m.id, {
        ...(m.stateFrozen ? {} : { update_state_json: state }),
        ...this.sealed(account),
      });
    }
  }

  /** Writes a session's update state and peer cache now (instead of within 250 ms). */
  async persist(id: string): Promise<void> {
    const m = this.sessions.get(id);
    if (m) await this.flush(m);
  }

  // ---------------------------------------------------------------- helpers

  private sealed(account: AccountClient): { session_secret?: string; key_version?: number } {
    const s = account.sessionString();
    return s ? { session_secret: this.deps.box.encrypt(s), key_version: this.deps.box.version } : {};
  }

  private async row(id: string): Promise<SessionRow> {
    const row = await this.deps.repo.find(id);
    if (!row) throw notFound('SESSION_NOT_FOUND', 'Session');
    return row;
  }

  private wrongStep(row: SessionRow, expected: SessionStatus): AppError {
    if (row.status === 'connected' || row.status === 'disconnected' || row.status === 'connecting')
      return new AppError('CONFLICT', `The session is already signed in (status ${row.status})`);
    return new AppError('CONFLICT', `This step needs status ${expected}; the session is ${row.status}`);
  }

  private async setStatus(
    id: string,
    status: SessionStatus,
    patch: {
      lastError?: { code: string; message: string } | null;
      user?: SessionView['user'];
      /** Why a connected session stops being so (session.disconnected's reason). */
      reason?: string;
    },
  ): Promise<void> {
    const managed = this.sessions.get(id);
    if (managed) managed.status = status;
    const before = await this.deps.repo.find(id);
    if (!before) return;
    await this.deps.repo.update(id, {
      status,
      ...(patch.lastError !== undefined
        ? { last_error_json: patch.lastError ? JSON.stringify(patch.lastError) : null }
        : {}),
      ...(patch.user ? { user_json: JSON.stringify(patch.user) } : {}),
      updated_at: this.now(),
    });
    if (before.status === status) return;
    if (status === 'connected' && before.status === 'connecting') {
      this.publish('session.connected', id, { session: await this.get(id) });
    } else if (before.status === 'connected' && status !== 'connected') {
      const reason =
        patch.reason ??
        (status === 'connecting'
          ? 'network'
          : status === 'logged_out'
            ? (patch.lastError?.code.toLowerCase() ?? 'logged_out')
            : status);
      this.publish('session.disconnected', id, { session: await this.get(id), reason });
    }
  }

  private view(row: SessionRow): SessionView {
    return {
      id: row.id,
      name: row.name,
      phone: row.phone,
      status: row.status as SessionStatus,
      user: row.user_json ? (JSON.parse(row.user_json) as SessionView['user']) : null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      lastError: row.last_error_json ? (JSON.parse(row.last_error_json) as SessionView['lastError']) : null,
    };
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  /** The row of a login that has just started: connecting, nothing known yet. */
  private insertNew(
    id: string,
    name: string | null,
    phone: string | null,
    now: string,
    sealed: { session_secret: string | null; key_version: number | null } = {
      session_secret: null,
      key_version: null,
    },
  ): Promise<void> {
    return this.deps.repo.insert({
      id,
      name,
      phone,
      status: 'connecting',
      user_json: null,
      ...sealed,
      phone_code_hash: null,
      auto_connect: 0,
      last_error_json: null,
      update_state_json: null,
      created_at: now,
      updated_at: now,
    });
  }

  /**
   * Records an event; resolves true once it is committed, false (logged) if it could not be.
   * The API routes await it, so an answer means its event is in the log: a crash after the
   * answer cannot lose the event. It never rejects, so a failed write does not turn an action
   * Telegram has carried out into an error.
   */
  publish(type: EventType, sessionId: string | null, data: Record<string, unknown>): Promise<boolean> {
    const events = this.deps.events;
    if (!events) return Promise.resolve(true);
    // What the API sends, edits and deletes is marked so; the same message's update (an echo,
    // or the catch-up after a crash) has the same key and is not recorded again.
    if (FROM_API.has(type) && data.source === undefined) data = { ...data, source: 'api' };
    const dedupKey = messageEventKey(type, sessionId, data);
    return events.publish({ type, sessionId, data, ...(dedupKey ? { dedupKey } : {}) }).then(
      () => true,
      (err: unknown) => {
        this.deps.log.error({ err, type, sessionId }, 'could not record event');
        return false;
      },
    );
  }
}

/** Message events the API services publish through publish() for their own calls. */
const FROM_API = new Set<EventType>(['message.sent', 'message.edited', 'message.deleted']);

/** How long after the library reports a failed reconnect TeleFlow checks whether it gave up. */
const GONE_RECHECK_MS = 1500;

function containsLoginToken(updates: Api.TypeUpdates): boolean {
  if (updates instanceof Api.UpdateShort) return updates.update instanceof Api.UpdateLoginToken;
  if (updates instanceof Api.Updates || updates instanceof Api.UpdatesCombined)
    return updates.updates.some((u) => u instanceof Api.UpdateLoginToken);
  return false;
}

/** The auth key inside a StringSession, or undefined when the string is not one. */
function authKeyOf(sessionString: string): Buffer | undefined {
  try {
    const key = (new StringSession(sessionString) as unknown as { _key?: Buffer })._key;
    return key && key.length > 0 ? Buffer.from(key) : undefined;
  } catch {
    return undefined;
  }
}
