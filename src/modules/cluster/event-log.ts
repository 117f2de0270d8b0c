/**
 * One event log written by every instance of a cluster, read in one order.
 *
 * Writing: each group commit first takes a transaction-level advisory lock, so the next id is
 * handed out only after the previous batch committed. Ids are then committed in the order they
 * are handed out, across instances: a reader that saw id 11 never later sees id 10 appear (a
 * rolled-back batch leaves a gap, but one that never fills). The lock is held from the first
 * insert to the commit: one batch at a time in the whole cluster, as in one process before.
 *
 * Reading: the batch's last statement is a NOTIFY with its newest id, delivered at the commit
 * (bus.ts). Every instance, on its own commits and on others' notifications, reads the rows
 * after the last id it passed on and hands them to its listeners (streams) in id order: the
 * log is the source of truth, the notification only a wake-up. After the LISTEN connection was
 * lost, the same read catches up.
 */
import { sql, type Transaction } from 'kysely';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../../db/types.js';
import type { EventsService, SharedEventLog, StoredEvent } from '../events/events.service.js';
import type { ClusterBus } from './bus.js';

/** The advisory lock's first key ("TFEV"); the second is the schema, so schemas stay apart. */
const LOCK_CLASS = 0x54464556;
const PAGE = 500;
const RETRY_MS = 1000;
const EVERY_EVENT = { types: null, sessionIds: null } as const;

export class ClusterEventLog implements SharedEventLog {
  /** The newest id this instance handed to its listeners. */
  private readId = 0;
  /** The newest id known to be committed (from commits here and notifications). */
  private newestId = 0;
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private stopped = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly events: EventsService,
    private readonly bus: ClusterBus,
    private readonly log: FastifyBaseLogger,
  ) {
    bus.on('events', (payload) => this.wake(Number(payload) || 0));
    bus.onReconnected(() => this.wake(0));
  }

  /** Starts from the log's newest event: streams read older ones from the log themselves. */
  async start(): Promise<void> {
    this.stopped = false;
    const newest = (await this.events.newest())?.id ?? 0;
    this.readId = Math.max(this.readId, newest);
    this.newestId = Math.max(this.newestId, newest);
    this.events.useSharedLog(this);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
  }

  async lock(trx: Transaction<Database>): Promise<void> {
    await sql`select pg_advisory_xact_lock(${LOCK_CLASS}, hashtext(current_schema()))`.execute(trx);
  }

  async announce(trx: Transaction<Database>, newestId: number): Promise<void> {
    await this.bus.notify(trx, 'events', String(newestId));
  }

  committed(newestId: number): void {
    this.wake(newestId);
  }

  /** How far this instance's listeners are behind the newest committed event (for /metrics). */
  lag(): { newestId: number; readId: number } {
    return { newestId: this.newestId, readId: this.readId };
  }

  /** Reads what is new; one read at a time, one more queued when woken meanwhile. */
  wake(newestId: number): void {
    if (newestId > this.newestId) this.newestId = newestId;
    if (this.stopped) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readNew()
      .catch((err: unknown) => {
        this.log.warn({ err }, 'cluster: reading the event log failed; trying again in a second');
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.wake(0), RETRY_MS);
        this.retry.unref();
      })
      .finally(() => {
        this.reading = null;
        if (this.readAgain) {
          this.readAgain = false;
          this.wake(0);
        }
      });
  }

  private async readNew(): Promise<void> {
    for (;;) {
      this.readAgain = false;
      const page: StoredEvent[] = await this.events.readAfter(this.readId, EVERY_EVENT, PAGE);
      if (page.length > 0) {
        this.readId = page[page.length - 1]!.id;
        if (this.readId > this.newestId) this.newestId = this.readId;
        this.events.deliver(page);
      }
      if (page.length < PAGE && !this.readAgain) return;
    }
  }
}
