/**
 * What the parts of the SessionManager share: the sessions of the process in memory (one
 * client at most each, behind a lock per session), their stored rows and the status machine of
 * API.md, the update state and peer cache persisted as updates arrive, and event publishing.
 * The login flows (login.ts) and the connection keeping (connections.ts) work through it.
 */
import type { Logger } from 'pino';
import { Api } from 'teleproto';
import type { Clock } from '../../lib/clock.js';
import type { SecretBox } from '../../lib/crypto.js';
import { AppError, notFound } from '../../lib/errors.js';
import { messageEventKey, type EventPublisher, type EventType } from '../../lib/events.js';
import type { FloodWaitMetrics } from '../../lib/metrics.js';
import { AccountClient, type ConnectionState } from '../../telegram/account.js';
import { messageView } from '../../telegram/convert.js';
import type { TelegramEndpoint } from '../../telegram/endpoint.js';
import { PeerCache } from '../../telegram/peer-cache.js';
import { UpdateTracker, type UpdateContext, type UpdateState } from '../../telegram/update-tracker.js';
import type { SessionRow, SessionsRepository } from './sessions.repository.js';
import type { SessionStatus, SessionView } from './sessions.schema.js';

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
  metrics?: FloodWaitMetrics;
  /** Set in a cluster (src/modules/cluster/): which sessions this instance may run. */
  ownership?: SessionOwnership;
}

/** A cluster's say over the sessions of this instance (leases with fencing). */
export interface SessionOwnership {
  /** Takes (or confirms) this instance's lease on the session; false: another instance runs it. */
  claim(id: string): Promise<boolean>;
  /** Whether this instance may use the session's client now (checked before each use). */
  mayRun(id: string): boolean;
  /** Gives the lease up (the session was disconnected on purpose). */
  release(id: string): Promise<void>;
  /** Writes the session's row only while its lease is ours (fencing epoch); false: not written. */
  writeFenced(id: string, patch: Partial<SessionRow>): Promise<boolean>;
  /** Whether another live instance runs the session. */
  runElsewhere(id: string): Promise<boolean>;
}

type Tunables = Required<
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

export interface QrState {
  token: Buffer;
  expiresAt: Date;
  refreshTimer?: NodeJS.Timeout;
  deadline: number;
}

export interface Managed {
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

/** Where what a session's client reports goes (the manager wires these to its parts). */
export interface ClientHooks {
  onUpdates(m: Managed, account: AccountClient, updates: Api.TypeUpdates): void;
  onConnectionState(m: Managed, account: AccountClient, state: ConnectionState): void;
  onSignedOut(m: Managed, account: AccountClient, error: { code: string; message: string }): void;
}

export class SessionRegistry {
  readonly sessions = new Map<string, Managed>();
  readonly listeners: UpdateListener[] = [];
  closing = false;
  readonly o: Tunables;

  constructor(
    readonly deps: SessionManagerOptions,
    private readonly hooks: ClientHooks,
  ) {
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

  // ---------------------------------------------------------------- clients

  managed(id: string): Managed {
    let m = this.sessions.get(id);
    if (!m) {
      m = { id, attempts: 0, lock: Promise.resolve(), pendingRecords: new Set() };
      this.sessions.set(id, m);
    }
    return m;
  }

  withLock<T>(m: Managed, fn: () => Promise<T>): Promise<T> {
    const run = m.lock.then(fn, fn);
    m.lock = run.catch(() => undefined);
    return run;
  }

  async openClient(m: Managed, sessionString: string): Promise<AccountClient> {
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
      onUpdates: (updates) => this.hooks.onUpdates(m, account, updates),
      onConnectionState: (state) => this.hooks.onConnectionState(m, account, state),
      onSignedOut: (error) => this.hooks.onSignedOut(m, account, error),
      onFloodWait: (seconds) => this.deps.metrics?.floodWait(m.id, seconds),
    });
    m.account = account;
    await account.open(sessionString);
    return account;
  }

  async dropClient(m: Managed): Promise<void> {
    const account = m.account;
    m.account = undefined;
    this.disarmRecovery(m);
    if (account) await account.close();
  }

  disarmRecovery(m: Managed): void {
    clearTimeout(m.recoveryTimer);
    m.recoveryTimer = undefined;
  }

  /** A login that failed at its first step: the session is forgotten. */
  async discard(m: Managed): Promise<void> {
    await this.withLock(m, () => this.dropClient(m)).catch(() => undefined);
    this.sessions.delete(m.id);
    await this.deps.repo.delete(m.id);
    await this.deps.ownership?.release(m.id);
  }

  // ---------------------------------------------------------------- updates and their state

  attachTracker(m: Managed, account: AccountClient, state: UpdateState): void {
    account.tracker = new UpdateTracker({
      state,
      invoke: (req) => account.rawInvoke(req),
      inputChannel: (id) => account.inputChannel(id),
      ingestEntities: (users, chats, messages) => account.remember(users, chats, messages),
      knowsPeer: (id) => m.peers?.has(id) ?? false,
      dispatch: (update, ctx) => this.dispatch(m, account, update, ctx),
      onStateChanged: () => this.scheduleStateSave(m),
      log: this.deps.log.child({ sessionId: m.id }),
    });
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
  async flush(m: Managed): Promise<void> {
    clearTimeout(m.stateSaveTimer);
    m.stateSaveTimer = undefined;
    const account = m.account;
    const now = this.now();
    if (m.peers) await this.deps.repo.upsertPeers(m.peers.takeDirty(m.id, now));
    if (account?.tracker && account.self) {
      // The state as of now, saved once the events of every update it covers are recorded.
      const state = JSON.stringify(account.tracker.state);
      if (m.pendingRecords.size > 0) await Promise.all([...m.pendingRecords]);
      const patch = { ...(m.stateFrozen ? {} : { update_state_json: state }), ...this.sealed(account) };
      const ownership = this.deps.ownership;
      if (!ownership) await this.deps.repo.update(m.id, patch);
      else if (!(await ownership.writeFenced(m.id, patch))) {
        this.deps.log.warn({ sessionId: m.id }, 'update state not saved: the session is run elsewhere now');
      }
    }
  }

  // ---------------------------------------------------------------- rows and the status machine

  sealed(account: AccountClient): { session_secret?: string; key_version?: number } {
    const s = account.sessionString();
    return s ? { session_secret: this.deps.box.encrypt(s), key_version: this.deps.box.version } : {};
  }

  async row(id: string): Promise<SessionRow> {
    const row = await this.deps.repo.find(id);
    if (!row) throw notFound('SESSION_NOT_FOUND', 'Session');
    return row;
  }

  async get(id: string): Promise<SessionView> {
    return sessionView(await this.row(id));
  }

  wrongStep(row: SessionRow, expected: SessionStatus): AppError {
    if (row.status === 'connected' || row.status === 'disconnected' || row.status === 'connecting')
      return new AppError('CONFLICT', `The session is already signed in (status ${row.status})`);
    return new AppError('CONFLICT', `This step needs status ${expected}; the session is ${row.status}`);
  }

  async setStatus(
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

  now(): string {
    return this.deps.clock.now().toISOString();
  }

  /** The row of a login that has just started: connecting, nothing known yet. */
  insertNew(
    id: string,
    name: string | null,
    phone: string | null,
    now: string,
    sealed: { session_secret: string | null; key_version: number | null } = {
      session_secret: null,
      key_version: null,
    },
  ): Promise<void> {
    return this.insertRow({
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

  /** A new session is run by the instance that creates it (in a cluster: it takes the lease). */
  private async insertRow(row: SessionRow): Promise<void> {
    await this.deps.repo.insert(row);
    if (this.deps.ownership && !(await this.deps.ownership.claim(row.id))) {
      throw new AppError('SESSION_NOT_CONNECTED', 'The new session could not be claimed', undefined, 5);
    }
  }

  /** See SessionManager.publish. */
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

/** A stored session as API.md shows it. */
export function sessionView(row: SessionRow): SessionView {
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

/** Message events the API services publish through publish() for their own calls. */
const FROM_API = new Set<EventType>(['message.sent', 'message.edited', 'message.deleted']);
