/**
 * One event log written by every instance of a cluster, read in one order.
 *
 * Writing: each group commit's first statement takes a transaction-level advisory lock, so the
 * next id is handed out only after the previous batch committed. Ids are then committed in the
 * order they are handed out, across instances: a reader that saw id 11 never later sees id 10
 * appear (a rolled-back batch leaves a gap, but one that never fills). The lock is held from
 * the first insert to the commit: one batch at a time in the whole cluster, as in one process
 * before. The same statement sends a NOTIFY (delivered at the commit, not at all on a rollback;
 * bus.ts); the next reads the newest committed id.
 *
 * Reading: every instance, on the others' notifications, reads the rows after the last id it
 * passed on and hands them to its listeners (streams) in id order: the log is the source of
 * truth, the notification only a wake-up. Its own batch goes to the listeners as it is when
 * they had everything before it, and is read back otherwise. After the LISTEN connection was
 * lost, the same read catches up. With no stream open on this instance nothing is read: the
 * instance only moves its place to the newest id (ids commit in order, so every event up to it
 * is there), and a stream opened later starts from there.
 */
import { sql, type Transaction } from 'kysely';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../../db/types.js';
import type { EventsService, SharedEventLog, StoredEvent } from '../events/events.service.js';
import { channelOf, type ClusterBus } from './bus.js';

/** The advisory lock's first key ("TFEV"); the second is the schema, so schemas stay apart. */
const LOCK_CLASS = 0x54464556;
const PAGE = 500;
const RETRY_MS = 1000;
const EVERY_EVENT = { types: null, sessionIds: null } as const;

export class ClusterEventLog implements SharedEventLog {
  /** The newest id this instance handed to its listeners. */
  private readId = 0;
  /** The newest committed id when the batch being written took its turn. */
  private batchAfter: number | undefined;
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private stopped = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly events: EventsService,
    private readonly bus: ClusterBus,
    private readonly schema: string | undefined,
    private readonly instanceId: string,
    private readonly log: FastifyBaseLogger,
  ) {
    // Another instance committed (its own notifications are heard as its commits).
    bus.on('events', (from) => {
      if (from !== instanceId) this.wake();
    });
    bus.onReconnected(() => this.wake());
  }

  /** Starts from the log's newest event: streams read older ones from the log themselves. */
  async start(): Promise<void> {
    this.stopped = false;
    this.readId = Math.max(this.readId, (await this.events.newest())?.id ?? 0);
    this.events.useSharedLog(this);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
  }

  async begin(trx: Transaction<Database>): Promise<void> {
    await sql`select pg_advisory_xact_lock(${LOCK_CLASS}, hashtext(current_schema())),
        pg_notify(${channelOf('events', this.schema)}, ${this.instanceId})`.execute(trx);
    // A statement of its own: one sees what was committed before it started, and this one must
    // start after the lock was granted, to see the batches committed while it was awaited.
    const row = await trx
      .selectFrom('events')
      .select((eb) => eb.fn.max('id').as('newest'))
      .executeTakeFirst();
    this.batchAfter = Number(row?.newest ?? 0);
  }

  committed(stored: StoredEvent[]): void {
    const after = this.batchAfter;
    this.batchAfter = undefined;
    if (!this.reading && !this.stopped && after === this.readId) {
      this.readId = stored[stored.length - 1]!.id;
      this.events.deliver(stored);
    } else this.wake();
  }

  /** The newest id this instance's listeners were handed (for /metrics: the lag behind the log). */
  lag(): { readId: number } {
    return { readId: this.readId };
  }

  /** Reads what is new; one read at a time, one more queued when woken meanwhile. */
  wake(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readNew()
      .catch((err: unknown) => {
        this.log.warn({ err }, 'cluster: reading the event log failed; trying again in a second');
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.wake(), RETRY_MS);
        this.retry.unref();
      })
      .finally(() => {
        this.reading = null;
        if (this.readAgain) {
          this.readAgain = false;
          this.wake();
        }
      });
  }

  private async readNew(): Promise<void> {
    for (;;) {
      this.readAgain = false;
      if (this.events.listenerCount === 0) {
        // Nobody to hand them to: skip the rows (reading and parsing them cost each instance
        // about a millisecond of CPU per event sent anywhere in the cluster).
        const newest = (await this.events.newest())?.id ?? 0;
        this.readId = Math.max(this.readId, newest);
        if (!this.readAgain) return;
        continue;
      }
      const page = await this.events.readAfter(this.readId, EVERY_EVENT, PAGE);
      if (page.length > 0) {
        this.readId = page[page.length - 1]!.id;
        this.events.deliver(page);
      }
      if (page.length < PAGE && !this.readAgain) return;
    }
  }
}
