import type SQLite from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import type { CompiledQuery, Kysely, Selectable, Transaction } from 'kysely';
import { SqliteSync } from '../../db/sqlite-sync.js';
import type { Database, EventsTable } from '../../db/types.js';
import type { Clock } from '../../lib/clock.js';
import { EVENT_TYPES, type EventPublisher, type EventType, type NewEvent } from '../../lib/events.js';
import type { EventLogMetrics } from '../../lib/metrics.js';
import { EVENT_DATA_SCHEMAS, type EventEnvelope } from './events.schema.js';

/** An event as recorded: its envelope and the envelope's JSON, serialised once for every consumer. */
export interface StoredEvent {
  id: number;
  type: EventType;
  sessionId: string | null;
  envelope: EventEnvelope;
  /** The exact bytes streams send and webhooks sign. */
  json: string;
}

/** What a consumer wants: null means no restriction. An empty session list matches nothing. */
export interface EventFilter {
  types: ReadonlySet<EventType> | null;
  sessionIds: readonly string[] | null;
}

export function matchesFilter(
  filter: EventFilter,
  event: { type: EventType; sessionId: string | null },
): boolean {
  if (filter.types && !filter.types.has(event.type)) return false;
  if (filter.sessionIds && (event.sessionId === null || !filter.sessionIds.includes(event.sessionId)))
    return false;
  return true;
}

/**
 * Runs inside the transaction that records a batch of events (the webhook module writes its
 * deliveries there, so an event is never recorded without them); the returned callback runs after
 * the commit. `trx` runs its queries inside that transaction.
 */
export type RecordHook = (trx: Kysely<Database>, events: StoredEvent[]) => Promise<(() => void) | void>;
/**
 * The same work as a RecordHook, done synchronously on SQLite: `sqlite` runs its queries inside
 * the batch's transaction. A hook without one makes every batch take Kysely's transaction.
 */
export type SqliteRecordHook = (sqlite: SqliteSync, events: StoredEvent[]) => (() => void) | void;
/** Called after each commit with the new events, in id order. */
export type EventListener = (events: StoredEvent[]) => void;

/**
 * One log written by several instances (src/modules/cluster/event-log.ts): each batch takes the
 * log's turn first (ids are then committed in the order they were handed out) and tells the
 * other instances; after the commit the listeners hear of its events in id order, after those
 * the other instances committed before it.
 */
export interface SharedEventLog {
  begin(trx: Transaction<Database>): Promise<void>;
  committed(stored: StoredEvent[]): void;
}

export interface EventsServiceDeps {
  db: Kysely<Database>;
  /**
   * The SQLite handle under `db` (SQLite only): a batch is then written synchronously, with
   * prepared statements, when no Kysely transaction is open on the handle (see writeBatchSync).
   */
  sqlite?: SQLite.Database;
  clock: Clock;
  log: FastifyBaseLogger;
  retentionDays: number;
  pruneIntervalMs: number;
  metrics?: EventLogMetrics;
}

interface Pending {
  event: NewEvent;
  at: string;
  dataJson: string;
  resolve: (e: StoredEvent) => void;
  reject: (err: unknown) => void;
}

/** Events written in one transaction at most: publishes that arrive together share one commit. */
const MAX_BATCH = 500;
const KNOWN_TYPES = new Set<string>(EVENT_TYPES);
/** A batch started within this many ms of the last write waits for the turn to end (see drain). */
const BATCH_WAIT_AFTER_MS = 0.5;
/** Events looked at per statement when pruning (see prune). */
const PRUNE_PAGE = 1000;
/** See checkShape. */
const SHAPE_CHECKS_IN_FULL = 100;
const SHAPE_CHECK_EVERY = 100;

export function envelopeJson(
  id: number,
  type: string,
  sessionId: string | null,
  at: string,
  dataJson: string,
): string {
  return `{"id":"${id}","type":"${type}","sessionId":${JSON.stringify(sessionId)},"timestamp":"${at}","data":${dataJson}}`;
}

function storedOf(r: Selectable<EventsTable>): StoredEvent {
  const id = Number(r.id);
  const type = r.type as EventType;
  return {
    id,
    type,
    sessionId: r.session_id,
    envelope: {
      id: String(id),
      type,
      sessionId: r.session_id,
      timestamp: r.created_at,
      data: JSON.parse(r.data) as Record<string, unknown>,
    },
    json: envelopeJson(id, type, r.session_id, r.created_at, r.data),
  };
}

/**
 * The event pipeline: every event is written to the durable log (with its webhook deliveries)
 * before anyone hears of it; then in-process listeners (streams, the webhook worker) are told, in
 * id order. Publishing is serialised in this process, so ids are handed out and committed in the
 * same order; that is what lets a stream resume after an id without missing anything.
 */
export class EventsService implements EventPublisher {
  private readonly queue: Pending[] = [];
  private draining: Promise<void> | null = null;
  /** When the last batch was written (performance.now()); see drain. */
  private lastWriteAt = -Infinity;
  /** How many events the last drain wrote (see drain). */
  private lastBatchSize = 0;
  private readonly hooks: { hook: RecordHook; sqlite?: SqliteRecordHook }[] = [];
  private readonly listeners = new Set<EventListener>();
  private readonly warnedTypes = new Set<string>();
  private pruneTimer: NodeJS.Timeout | null = null;
  /** See insert. */
  private insertQuery: CompiledQuery<{ id: number }> | undefined;
  /** Synchronous statements on the SQLite handle (SQLite only; see writeBatchSync). */
  private readonly sqlite: SqliteSync | undefined;
  /** Events of each type checked against their documented shape so far (see checkShape). */
  private readonly shapeChecks = new Map<string, number>();
  private shared: SharedEventLog | null = null;

  constructor(private readonly deps: EventsServiceDeps) {
    this.sqlite = deps.sqlite ? new SqliteSync(deps.sqlite) : undefined;
  }

  /** Several instances write this log (CLUSTER=true): see SharedEventLog. */
  useSharedLog(shared: SharedEventLog): void {
    this.shared = shared;
  }

  /**
   * Resolves once the event (and its webhook deliveries) is committed, or once it is known to be
   * in the log already under its dedup key (then nothing is written and nobody is told).
   */
  async publish(event: NewEvent): Promise<void> {
    await this.record(event);
  }

  /** Like publish, and returns the recorded event with its id (the earlier one for a repeated key). */
  record(event: NewEvent): Promise<StoredEvent> {
    if (!KNOWN_TYPES.has(event.type))
      return Promise.reject(new Error(`Unknown event type: ${String(event.type)}`));
    let dataJson: string;
    try {
      dataJson = JSON.stringify(event.data ?? {});
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.checkShape(event);
    return new Promise<StoredEvent>((resolve, reject) => {
      this.queue.push({ event, at: this.deps.clock.now().toISOString(), dataJson, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /**
   * A data shape other than the documented one is recorded anyway, and reported once per type.
   * The first 100 events of each type are checked, then one in 100: the check is a diagnostic
   * for a wrong shape (which every event of the code path that makes it has), not worth a full
   * parse of every event's data on the path every send waits on.
   */
  private checkShape(event: NewEvent): void {
    if (this.warnedTypes.has(event.type)) return;
    const seen = (this.shapeChecks.get(event.type) ?? 0) + 1;
    this.shapeChecks.set(event.type, seen);
    if (seen > SHAPE_CHECKS_IN_FULL && seen % SHAPE_CHECK_EVERY !== 0) return;
    const result = EVENT_DATA_SCHEMAS[event.type].safeParse(event.data);
    if (!result.success) {
      this.warnedTypes.add(event.type);
      this.deps.log.warn(
        { eventType: event.type, issues: result.error.issues.slice(0, 5) },
        'event data does not match its documented schema',
      );
    }
  }

  private async drain(): Promise<void> {
    try {
      // Under load the first batch waits for the rest of this turn of the event loop, so that
      // publishes caused by the same I/O (requests read together, answers Telegram sent in one
      // container) share its transaction. On SQLite the statements run synchronously: without
      // this wait a batch was written before the next publish could join it, one commit per
      // event. Without signs of load (the last batch held one event, written a while ago) the
      // batch is written at once: waiting would only add the rest of the turn (other sockets'
      // reads) to the publisher's latency.
      if (this.lastBatchSize > 1 || performance.now() - this.lastWriteAt < BATCH_WAIT_AFTER_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      let size = 0;
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        size += batch.length;
        await this.writeBatch(batch);
      }
      this.lastBatchSize = size;
      this.lastWriteAt = performance.now();
    } finally {
      this.draining = null;
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const afterCommit: (() => void)[] = [];
    /** What each publish resolves with: its new event, or the one already recorded under its key. */
    let results: StoredEvent[] = [];
    /** The events new to the log: only they reach hooks and listeners. */
    let stored: StoredEvent[] = [];
    try {
      if (this.canWriteSync()) {
        ({ results, stored } = this.writeBatchSync(this.sqlite!, batch, afterCommit));
      } else
        await this.deps.db.transaction().execute(async (trx) => {
          results = [];
          stored = [];
          afterCommit.length = 0;
          await this.shared?.begin(trx);
          for (const p of batch) {
            const event = await this.insert(trx, p);
            if (event) stored.push(event);
            results.push(event ?? (await this.recordedUnder(trx, p.event.dedupKey!)));
          }
          if (stored.length === 0) return;
          for (const { hook } of this.hooks) {
            const after = await hook(trx, stored);
            if (after) afterCommit.push(after);
          }
        });
    } catch (err) {
      this.deps.log.error({ err, count: batch.length }, 'could not record events');
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]!));
    if (stored.length === 0) return;
    this.deps.metrics?.eventsCommitted(stored);
    for (const after of afterCommit) {
      try {
        after();
      } catch (err) {
        this.deps.log.error({ err }, 'event post-commit callback failed');
      }
    }
    if (this.shared) this.shared.committed(stored);
    else this.deliver(stored);
  }

  /**
   * Whether a batch can be written synchronously (writeBatchSync): SQLite, one process on it, no
   * transaction open on the handle (a Kysely transaction between two of its statements: the batch
   * then waits for it through Kysely), and every hook able to write synchronously.
   */
  private canWriteSync(): boolean {
    return (
      this.sqlite !== undefined &&
      !this.shared &&
      !this.sqlite.handle.inTransaction &&
      this.hooks.every((h) => h.sqlite !== undefined)
    );
  }

  /**
   * writeBatch on SQLite, in one synchronous run: BEGIN, the inserts, the hooks' writes and
   * COMMIT with nothing else on the event loop in between, so no other query can land inside
   * the transaction and no turn of the loop is spent waiting for Kysely's connection (from the
   * publish to BEGIN: 26 µs through Kysely's connection, 12 µs without, measured between sends).
   */
  private writeBatchSync(
    sqlite: SqliteSync,
    batch: Pending[],
    afterCommit: (() => void)[],
  ): { results: StoredEvent[]; stored: StoredEvent[] } {
    const begin = sqlite.prepare('begin');
    const commit = sqlite.prepare('commit');
    // run() and the new rowid rather than RETURNING, which SQLite serves through a buffer of
    // its own (a few µs per event).
    const insert = sqlite.prepare(
      'insert into "events" ("type", "session_id", "data", "created_at", "dedup_key") values (?, ?, ?, ?, ?) ' +
        'on conflict ("dedup_key") where "dedup_key" is not null do nothing',
    );
    const results: StoredEvent[] = [];
    const stored: StoredEvent[] = [];
    begin.run();
    try {
      for (const p of batch) {
        const { changes, lastInsertRowid } = insert.run(
          p.event.type,
          p.event.sessionId,
          p.dataJson,
          p.at,
          p.event.dedupKey ?? null,
        );
        if (changes === 1) {
          const event = this.storedEvent(Number(lastInsertRowid), p);
          stored.push(event);
          results.push(event);
          continue;
        }
        const [earlier] = sqlite.execute(this.recordedUnderQuery(this.deps.db, p.event.dedupKey!).compile());
        if (!earlier) throw new Error(`No event under dedup key ${p.event.dedupKey}`);
        results.push(storedOf(earlier));
      }
      if (stored.length > 0) {
        for (const { sqlite: hook } of this.hooks) {
          const after = hook!(sqlite, stored);
          if (after) afterCommit.push(after);
        }
      }
      commit.run();
    } catch (err) {
      if (sqlite.handle.inTransaction) sqlite.prepare('rollback').run();
      afterCommit.length = 0;
      throw err;
    }
    return { results, stored };
  }

  /** Tells the listeners of events new to them, in id order. */
  deliver(stored: StoredEvent[]): void {
    for (const listener of this.listeners) {
      try {
        listener(stored);
      } catch (err) {
        this.deps.log.error({ err }, 'event listener failed');
      }
    }
  }

  /**
   * Inserts one event; undefined when its dedup key is in the log already (ON CONFLICT DO
   * NOTHING, on SQLite and PostgreSQL alike, also for a repeat within the same batch).
   */
  private async insert(trx: Transaction<Database>, p: Pending): Promise<StoredEvent | undefined> {
    // Compiled once and run with each event's values: building and compiling the query cost
    // more CPU than SQLite's insert. A null dedup key never conflicts (NULLs are distinct in a
    // unique index, on SQLite and PostgreSQL alike).
    this.insertQuery ??= trx
      .insertInto('events')
      .values({ type: '', session_id: null, data: '', created_at: '', dedup_key: null })
      .onConflict((oc) => oc.column('dedup_key').where('dedup_key', 'is not', null).doNothing())
      .returning('id')
      .compile();
    const query: CompiledQuery<{ id: number }> = {
      ...this.insertQuery,
      // In the order of the columns above.
      parameters: [p.event.type, p.event.sessionId, p.dataJson, p.at, p.event.dedupKey ?? null],
    };
    const { rows } = await trx.executeQuery(query);
    const row = rows[0];
    return row ? this.storedEvent(Number(row.id), p) : undefined;
  }

  private storedEvent(id: number, p: Pending): StoredEvent {
    return {
      id,
      type: p.event.type,
      sessionId: p.event.sessionId,
      envelope: {
        id: String(id),
        type: p.event.type,
        sessionId: p.event.sessionId,
        timestamp: p.at,
        data: p.event.data ?? {},
      },
      json: envelopeJson(id, p.event.type, p.event.sessionId, p.at, p.dataJson),
    };
  }

  private async recordedUnder(trx: Kysely<Database>, key: string): Promise<StoredEvent> {
    return storedOf(await this.recordedUnderQuery(trx, key).executeTakeFirstOrThrow());
  }

  /** The event already in the log under a dedup key (the Kysely and the synchronous path's). */
  private recordedUnderQuery(db: Kysely<Database>, key: string) {
    return db.selectFrom('events').selectAll().where('dedup_key', '=', key);
  }

  /** `sqlite`: the hook's synchronous form, for batches written synchronously on SQLite. */
  addRecordHook(hook: RecordHook, sqlite?: SqliteRecordHook): void {
    this.hooks.push({ hook, sqlite });
  }

  /** Listens to every event recorded from now on; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Recorded events after `afterId` that match the filter, oldest first. */
  async readAfter(afterId: number, filter: EventFilter, limit: number): Promise<StoredEvent[]> {
    if (filter.sessionIds && filter.sessionIds.length === 0) return [];
    let q = this.deps.db.selectFrom('events').selectAll().where('id', '>', afterId);
    if (filter.types && filter.types.size < EVENT_TYPES.length) q = q.where('type', 'in', [...filter.types]);
    if (filter.sessionIds) q = q.where('session_id', 'in', [...filter.sessionIds]);
    const rows = await q.orderBy('id').limit(limit).execute();
    return rows.map(storedOf);
  }

  /** The newest event in the log (for /metrics); undefined while the log is empty. */
  async newest(): Promise<{ id: number; createdAt: string } | undefined> {
    const row = await this.deps.db
      .selectFrom('events')
      .select(['id', 'created_at'])
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { id: Number(row.id), createdAt: row.created_at } : undefined;
  }

  async getById(id: number): Promise<StoredEvent | undefined> {
    const [event] = await this.readAfter(id - 1, { types: null, sessionIds: null }, 1);
    return event?.id === id ? event : undefined;
  }

  /**
   * Deletes events older than the retention period; returns how many. The log is written in time
   * order, so they are found at its front, by id (no index on the date: one less index write for
   * every event), PRUNE_PAGE at a time, each page its own short statement.
   * The newest event always stays, however old: on SQLite a new id is the highest id in the
   * table plus one (migration 040), and an emptied log would hand out ids from 1 again, behind
   * the ids streams resume after.
   */
  async prune(): Promise<number> {
    const cutoff = new Date(
      this.deps.clock.now().getTime() - this.deps.retentionDays * 86_400_000,
    ).toISOString();
    const newest = await this.newest();
    if (!newest) return 0;
    let pruned = 0;
    for (;;) {
      const front = await this.deps.db
        .selectFrom('events')
        .select(['id', 'created_at'])
        .where('id', '<', newest.id)
        .orderBy('id')
        .limit(PRUNE_PAGE)
        .execute();
      const old = front.filter((r) => r.created_at < cutoff);
      const last = old.at(-1);
      if (!last) break;
      // Dates a clock step put out of order are kept, and met again at the next prune.
      const res = await this.deps.db
        .deleteFrom('events')
        .where('id', '<=', last.id)
        .where('created_at', '<', cutoff)
        .executeTakeFirst();
      pruned += Number(res.numDeletedRows);
      if (old.length < front.length) break;
      // Other work runs between pages (SQLite runs each statement on this thread).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (pruned > 0) this.deps.log.info({ pruned, cutoff }, 'old events pruned');
    return pruned;
  }

  start(): void {
    if (this.pruneTimer) return;
    const run = () =>
      void this.prune().catch((err: unknown) => this.deps.log.warn({ err }, 'event pruning failed'));
    run();
    this.pruneTimer = setInterval(run, this.deps.pruneIntervalMs);
    this.pruneTimer.unref();
  }

  /** Stops pruning and waits for the events already published to be committed. */
  async stop(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
    while (this.draining) await this.draining;
  }
}
