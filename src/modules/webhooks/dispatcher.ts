import type { FastifyBaseLogger } from 'fastify';
import type { Transaction } from 'kysely';
import type { Database } from '../../db/types.js';
import type { Clock } from '../../lib/clock.js';
import type { SecretBox } from '../../lib/crypto.js';
import type { DeliveryMetrics } from '../../lib/metrics.js';
import { envelopeJson } from '../events/events.service.js';
import { OPEN_STATUSES, type QueuedDelivery, type WebhooksRepository } from './webhooks.repository.js';
import type { AttemptResult, WebhookSender } from './sender.js';

export interface DispatcherDeps {
  repo: WebhooksRepository;
  sender: WebhookSender;
  secrets: SecretBox;
  clock: Clock;
  log: FastifyBaseLogger;
  /** Delays before the 2nd, 3rd... attempt. */
  retryScheduleMs: number[];
  maxConsecutiveFailures: number;
  pollIntervalMs: number;
  metrics?: DeliveryMetrics;
  /** Set in a cluster: which instance runs each webhook's queue (see LaneGate). */
  gate?: LaneGate;
}

/**
 * Several instances (src/modules/cluster/webhook-leases.ts): a lane runs only while its
 * instance holds the webhook, starts an attempt only while that will last, and writes outcomes
 * only while it still holds it (`fence` throws otherwise).
 */
export interface LaneGate {
  acquire(webhookId: string): Promise<boolean>;
  mayAttempt(webhookId: string): boolean;
  release(webhookId: string): Promise<void>;
  fence(trx: Transaction<Database>, webhookId: string): Promise<void>;
}

const BATCH = 100;
/** Up to +10 % on each retry delay, so many failing deliveries do not retry in lockstep. */
const JITTER = 0.1;
/** How long a shutdown waits for attempts in flight before abandoning them (they stay open). */
const STOP_GRACE_MS = 3000;
const ERROR_BACKOFF_MS = 1000;

interface Outcome {
  id: number;
  status: 'succeeded' | 'failed' | 'dead';
  attempts: number;
  next: string | null;
  result: AttemptResult;
  at: string;
}

/** The body and headers' identity of one delivery. */
function bodyOf(d: QueuedDelivery): { body: string; messageId: string; eventType: string } | null {
  if (d.payload !== null) {
    const id = (JSON.parse(d.payload) as { id: string }).id;
    return { body: d.payload, messageId: id, eventType: d.event_type };
  }
  if (d.event_id === null || d.e_data === null || d.e_created_at === null || d.e_type === null) return null;
  return {
    body: envelopeJson(d.event_id, d.e_type, d.e_session_id, d.e_created_at, d.e_data),
    messageId: String(d.event_id),
    eventType: d.e_type,
  };
}

/**
 * One worker per webhook with open deliveries. It sends them one at a time in delivery order
 * (deliveries are created in event order), so event N+1 never reaches a receiver before N has
 * succeeded or died: at-least-once, in order per webhook. The head of the queue waiting for a
 * retry holds back the ones behind it.
 */
class Lane {
  running: Promise<void> | null = null;
  private dirty = false;
  /** Deliveries were queued again: re-read the queue before the next send, older ones may come first. */
  private requeued = false;
  private wake: (() => void) | null = null;
  private secretCache: { sealed: string; plain: string } | null = null;
  private unsaved: Outcome[] = [];
  private consecutiveToSave: number | null = null;

  constructor(
    private readonly webhookId: string,
    private readonly d: DispatcherDeps,
    private readonly isStopping: () => boolean,
  ) {}

  /** New work; `urgent` also cuts short a wait for a retry or a batch (a redelivery may now come first). */
  kick(urgent: boolean): void {
    this.dirty = true;
    if (urgent) {
      this.requeued = true;
      this.wake?.();
    }
    this.running ??= this.run()
      .catch(async (err: unknown) => {
        this.unsaved = [];
        this.consecutiveToSave = null;
        // Deleted while an attempt was in flight: its rows are gone, nothing to retry.
        if (!(await this.d.repo.getWebhook(this.webhookId).catch(() => true))) return;
        // A database error must not kill the worker for good: log it and try again shortly.
        this.d.log.error({ err, webhookId: this.webhookId }, 'webhook worker failed; retrying');
        await new Promise<void>((resolve) => {
          this.dirty = true;
          setTimeout(resolve, ERROR_BACKOFF_MS).unref();
        });
      })
      .finally(() => {
        this.running = null;
        if (this.dirty && !this.isStopping()) this.kick(false);
      });
  }

  interrupt(): void {
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private secretOf(sealed: string): string {
    if (this.secretCache?.sealed !== sealed)
      this.secretCache = { sealed, plain: this.d.secrets.decrypt(sealed) };
    return this.secretCache.plain;
  }

  private async run(): Promise<void> {
    const gate = this.d.gate;
    if (!gate) return this.runQueue();
    this.dirty = false;
    if (!(await gate.acquire(this.webhookId))) return;
    try {
      await this.runQueue();
    } finally {
      await gate.release(this.webhookId);
    }
  }

  private async runQueue(): Promise<void> {
    const log = this.d.log.child({ webhookId: this.webhookId });
    while (!this.isStopping()) {
      this.dirty = false;
      const webhook = await this.d.repo.getWebhook(this.webhookId);
      if (!webhook || webhook.enabled !== 1) return;
      this.requeued = false;
      const queue = await this.d.repo.queue(this.webhookId, BATCH);
      if (queue.length === 0) {
        if (this.dirty) continue;
        return;
      }
      const secret = this.secretOf(webhook.secret_enc);
      try {
        if (await this.sendBatch(webhook, queue, secret, webhook.consecutive_failures, log)) return;
      } finally {
        await this.flush();
      }
    }
  }

  /** Sends a batch in order; true when the lane should stop (shutdown or webhook disabled). */
  private async sendBatch(
    webhook: { url: string },
    queue: QueuedDelivery[],
    secret: string,
    consecutive: number,
    log: FastifyBaseLogger,
  ): Promise<boolean> {
    for (const delivery of queue) {
      if (this.isStopping()) return true;
      if (this.requeued) break;
      // The webhook's lease runs short (renewals failing): stop, the poll comes back to it.
      if (this.d.gate && !this.d.gate.mayAttempt(this.webhookId)) return true;
      const dueIn = delivery.next_attempt_at
        ? Date.parse(delivery.next_attempt_at) - this.d.clock.now().getTime()
        : 0;
      if (dueIn > 0) {
        await this.flush();
        await this.sleep(dueIn);
        break; // re-read: a redelivery or an edit may have changed the queue meanwhile
      }
      const startedAt = this.d.clock.now();
      const content = bodyOf(delivery);
      const result: AttemptResult = content
        ? await this.d.sender.send(webhook.url, {
            messageId: content.messageId,
            deliveryId: String(delivery.id),
            eventType: content.eventType,
            body: content.body,
            secret,
          })
        : {
            ok: false,
            statusCode: null,
            excerpt: null,
            error: 'the event is no longer in the log',
            durationMs: 0,
          };
      // Abandoned by a shutdown: leave it open, the next start sends it again.
      if (this.isStopping() && !result.ok) return true;
      const outcome = await this.record(delivery, result, consecutive, log);
      const dueAt = delivery.next_attempt_at ?? delivery.created_at;
      this.d.metrics?.deliveryAttempted(outcome.status, dueAt, startedAt);
      consecutive = outcome.consecutive;
      if (outcome.disabled) return true;
      if (outcome.retry) break;
    }
    return false;
  }

  /**
   * Works out what an attempt means and stores it. Successes are kept in memory and written
   * together (at the end of a batch, or before anything else is written): a crash in between only
   * means they are sent again, which at-least-once allows, and it saves a commit per delivery.
   */
  private async record(
    d: QueuedDelivery,
    result: AttemptResult,
    consecutive: number,
    log: FastifyBaseLogger,
  ): Promise<{ status: Outcome['status']; consecutive: number; retry: boolean; disabled: boolean }> {
    const now = this.d.clock.now();
    const attempts = d.attempts + 1;
    const schedule = this.d.retryScheduleMs;
    let status: Outcome['status'];
    let next: string | null = null;
    if (result.ok) status = 'succeeded';
    else if (attempts <= schedule.length) {
      status = 'failed';
      const delay = schedule[attempts - 1]! * (1 + Math.random() * JITTER);
      next = new Date(now.getTime() + delay).toISOString();
    } else status = 'dead';
    const outcome: Outcome = { id: d.id, status, attempts, next, result, at: now.toISOString() };

    const newConsecutive = status === 'succeeded' ? 0 : status === 'dead' ? consecutive + 1 : consecutive;
    const max = this.d.maxConsecutiveFailures;
    const disable = status === 'dead' && max > 0 && newConsecutive >= max;
    this.unsaved.push(outcome);
    if (newConsecutive !== consecutive) this.consecutiveToSave = newConsecutive;
    if (status === 'succeeded') return { status, consecutive: newConsecutive, retry: false, disabled: false };

    await this.flush(disable ? { at: outcome.at, count: newConsecutive } : undefined);
    log.debug({ deliveryId: d.id, attempts, status, error: result.error }, 'webhook delivery attempt failed');
    if (status === 'dead')
      log.info({ deliveryId: d.id, attempts }, 'webhook delivery dead after its last attempt');
    if (disable) {
      log.warn(
        { consecutiveFailures: newConsecutive },
        'webhook disabled after too many consecutive failed deliveries; PUT enabled:true to resume',
      );
    }
    return { status, consecutive: newConsecutive, retry: status === 'failed', disabled: disable };
  }

  /** Writes the outcomes not yet stored, and the webhook's failure count, in one transaction. */
  private async flush(disable?: { at: string; count: number }): Promise<void> {
    if (this.unsaved.length === 0 && this.consecutiveToSave === null && !disable) return;
    const outcomes = this.unsaved;
    const consecutive = this.consecutiveToSave;
    this.unsaved = [];
    this.consecutiveToSave = null;
    if (disable) this.d.repo.webhooksChanged();
    await this.d.repo.kysely.transaction().execute(async (trx) => {
      await this.d.gate?.fence(trx, this.webhookId);
      for (const o of outcomes) {
        await trx
          .updateTable('webhook_deliveries')
          .set({
            status: o.status,
            attempts: o.attempts,
            next_attempt_at: o.next,
            last_status_code: o.result.statusCode,
            last_response_excerpt: o.result.excerpt,
            last_error: o.result.error,
            last_duration_ms: o.result.durationMs,
            updated_at: o.at,
          })
          .where('id', '=', o.id)
          .execute();
      }
      for (let i = 0; i < outcomes.length; i += 100) {
        await trx
          .insertInto('webhook_attempts')
          .values(
            outcomes.slice(i, i + 100).map((o) => ({
              delivery_id: o.id,
              attempt: o.attempts,
              status_code: o.result.statusCode,
              response_excerpt: o.result.excerpt,
              error: o.result.error,
              duration_ms: o.result.durationMs,
              created_at: o.at,
            })),
          )
          .execute();
      }
      if (consecutive !== null || disable) {
        await trx
          .updateTable('webhooks')
          .set({
            ...(consecutive !== null ? { consecutive_failures: consecutive } : {}),
            ...(disable
              ? {
                  enabled: 0,
                  disabled_at: disable.at,
                  disabled_reason: `disabled after ${disable.count} consecutive failed deliveries`,
                  updated_at: disable.at,
                }
              : {}),
          })
          .where('id', '=', this.webhookId)
          .execute();
      }
    });
    if (disable) this.d.repo.webhooksChanged();
  }
}

/** Runs the lanes: wakes them on new deliveries, finds work on start-up and by polling, stops them on close. */
export class WebhookDispatcher {
  private readonly lanes = new Map<string, Lane>();
  private stopping = false;
  private started = false;
  private pollTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: DispatcherDeps) {}

  /** Shares the queues with the other instances of a cluster. */
  useGate(gate: LaneGate): void {
    this.deps.gate = gate;
  }

  kick(webhookId: string, urgent = false): void {
    // A process that never started the worker (a script publishing events) only writes deliveries.
    if (this.stopping || !this.started) return;
    let lane = this.lanes.get(webhookId);
    if (!lane) {
      lane = new Lane(webhookId, this.deps, () => this.stopping);
      this.lanes.set(webhookId, lane);
    }
    lane.kick(urgent);
  }

  /** Looks for open deliveries (left by a crash or written by another process) and starts their lanes. */
  async poll(): Promise<void> {
    const ids = await this.deps.repo.webhooksWithWork();
    for (const id of ids) if (!this.lanes.get(id)?.running) this.kick(id);
  }

  /**
   * Open deliveries of enabled webhooks, the earliest due time and the oldest event among them
   * (for /metrics).
   */
  async backlog(): Promise<{ open: number; oldestDueAt: string | null; oldestEventId: number | null }> {
    const row = await this.deps.repo.kysely
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
      .select((eb) => [
        eb.fn.countAll<number>().as('n'),
        eb.fn.min<string | null>(eb.fn.coalesce('d.next_attempt_at', 'd.created_at')).as('oldest'),
        eb.fn.min<number | null>('d.event_id').as('oldestEvent'),
      ])
      .where('d.status', 'in', [...OPEN_STATUSES])
      .where('w.enabled', '=', 1)
      .executeTakeFirst();
    const oldestEvent = row?.oldestEvent;
    return {
      open: Number(row?.n ?? 0),
      oldestDueAt: row?.oldest ?? null,
      oldestEventId: oldestEvent === null || oldestEvent === undefined ? null : Number(oldestEvent),
    };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const run = () =>
      void this.poll().catch((err: unknown) => this.deps.log.warn({ err }, 'webhook poll failed'));
    run();
    this.pollTimer = setInterval(run, this.deps.pollIntervalMs);
    this.pollTimer.unref();
  }

  /** Stops the lanes; attempts in flight get a short grace, then are left open for the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    const running = [...this.lanes.values()].map((lane) => {
      lane.interrupt();
      return lane.running;
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(running),
      new Promise((resolve) => {
        timer = setTimeout(resolve, STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    this.deps.sender.close();
    await Promise.allSettled(running);
  }
}
