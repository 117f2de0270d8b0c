import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type { SqliteSync } from '../../db/sqlite-sync.js';
import type { WebhookDeliveriesTable, WebhooksTable } from '../../db/types.js';
import type { Clock } from '../../lib/clock.js';
import { SecretBox } from '../../lib/crypto.js';
import { AppError, notFound } from '../../lib/errors.js';
import type { EventType } from '../../lib/events.js';
import { newId } from '../../lib/ids.js';
import type { DeliveryMetrics } from '../../lib/metrics.js';
import { expandEventPatterns } from '../events/events.schema.js';
import {
  matchesFilter,
  type EventFilter,
  type EventsService,
  type RecordHook,
  type StoredEvent,
} from '../events/events.service.js';
import { WebhookDispatcher } from './dispatcher.js';
import { WebhookSender } from './sender.js';
import { assertSafeWebhookUrl, UnsafeUrlError } from '../../lib/ssrf.js';
import { testEventEnvelope } from './test-event.js';
import type { DeliveryRow } from './webhooks.repository.js';
import { WebhooksRepository } from './webhooks.repository.js';
import {
  DEFAULT_TEST_EVENT_TYPE,
  type CreateWebhookInput,
  type DeliveryDetail,
  type DeliveryStatus,
  type DeliveryView,
  type RedeliverManyInput,
  type UpdateWebhookInput,
  type WebhookView,
} from './webhooks.schema.js';
import type { Db } from '../../db/index.js';

export interface WebhooksServiceDeps {
  db: Db;
  events: EventsService;
  clock: Clock;
  log: FastifyBaseLogger;
  encryptionKey: string;
  allowPrivate: boolean;
  retryScheduleMs: number[];
  timeoutMs: number;
  maxConsecutiveFailures: number;
  pollIntervalMs: number;
  retentionDays: number;
  userAgent: string;
  /** Which of these session ids exist (a filter naming an unknown session is refused). */
  existingSessionIds: (ids: string[]) => Promise<string[]>;
  metrics?: DeliveryMetrics;
}

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

function toView(row: WebhooksTable): WebhookView {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    sessionIds: row.session_ids === null ? null : (JSON.parse(row.session_ids) as string[]),
    enabled: row.enabled === 1,
    description: row.description,
    consecutiveFailures: row.consecutive_failures,
    disabledReason: row.disabled_reason,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function deliveryView(row: DeliveryRow): DeliveryView {
  const eventId =
    row.event_id !== null
      ? String(row.event_id)
      : ((JSON.parse(row.payload ?? '{}') as { id?: string }).id ?? '');
  return {
    id: String(row.id),
    webhookId: row.webhook_id,
    eventId,
    eventType: row.event_type as EventType,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastStatusCode: row.last_status_code,
    lastResponseExcerpt: row.last_response_excerpt,
    lastError: row.last_error,
    lastDurationMs: row.last_duration_ms,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * Webhooks: management, and the durable delivery queue. Deliveries are written in the same
 * transaction as the events they carry (a record hook on EventsService), so a crash after
 * publish() resolved never loses one; the dispatcher sends them and finds leftovers on start-up.
 */
export class WebhooksService {
  readonly repo: WebhooksRepository;
  readonly dispatcher: WebhookDispatcher;
  private readonly secrets: SecretBox;
  private readonly sender: WebhookSender;
  private readonly filterCache = new Map<string, EventFilter>();
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: WebhooksServiceDeps) {
    this.repo = new WebhooksRepository(deps.db.db);
    this.secrets = new SecretBox(deps.encryptionKey, 'webhook-secret');
    this.sender = new WebhookSender({
      timeoutMs: deps.timeoutMs,
      allowPrivate: deps.allowPrivate,
      userAgent: deps.userAgent,
    });
    this.dispatcher = new WebhookDispatcher({
      repo: this.repo,
      sender: this.sender,
      secrets: this.secrets,
      clock: deps.clock,
      log: deps.log,
      retryScheduleMs: deps.retryScheduleMs,
      maxConsecutiveFailures: deps.maxConsecutiveFailures,
      pollIntervalMs: deps.pollIntervalMs,
      metrics: deps.metrics,
    });
    deps.events.addRecordHook(
      (trx, events) => this.createDeliveries(trx, events),
      (sqlite, events) => this.createDeliveriesSync(sqlite, events),
    );
  }

  private filterOf(row: Pick<WebhooksTable, 'events' | 'session_ids'>): EventFilter {
    const key = `${row.events}|${row.session_ids ?? ''}`;
    let filter = this.filterCache.get(key);
    if (!filter) {
      filter = {
        types: expandEventPatterns(JSON.parse(row.events) as string[]),
        sessionIds: row.session_ids === null ? null : (JSON.parse(row.session_ids) as string[]),
      };
      if (this.filterCache.size > 1000) this.filterCache.clear();
      this.filterCache.set(key, filter);
    }
    return filter;
  }

  private async createDeliveries(
    trx: Parameters<RecordHook>[0],
    events: StoredEvent[],
  ): Promise<(() => void) | void> {
    const { rows, kick } = this.deliveriesFor(await this.repo.enabledWebhooks(trx), events);
    if (rows.length === 0) return;
    await this.repo.insertDeliveries(trx, rows);
    return kick;
  }

  /** createDeliveries on SQLite, synchronously (see EventsService.addRecordHook). */
  private createDeliveriesSync(sqlite: SqliteSync, events: StoredEvent[]): (() => void) | void {
    const { rows, kick } = this.deliveriesFor(this.repo.enabledWebhooksSync(sqlite), events);
    if (rows.length === 0) return;
    this.repo.insertDeliveriesSync(sqlite, rows);
    return kick;
  }

  /** The delivery rows for new events, and what wakes those webhooks' queues after the commit. */
  private deliveriesFor(
    webhooks: Pick<WebhooksTable, 'id' | 'events' | 'session_ids'>[],
    events: StoredEvent[],
  ): { rows: Omit<WebhookDeliveriesTable, 'id'>[]; kick: () => void } {
    const rows: Omit<WebhookDeliveriesTable, 'id'>[] = [];
    const touched = new Set<string>();
    const at = events[0]?.envelope.timestamp ?? this.deps.clock.now().toISOString();
    for (const event of events) {
      for (const w of webhooks) {
        if (!matchesFilter(this.filterOf(w), event)) continue;
        touched.add(w.id);
        rows.push({
          webhook_id: w.id,
          event_id: event.id,
          event_type: event.type,
          payload: null,
          status: 'pending' as const,
          attempts: 0,
          next_attempt_at: null,
          last_status_code: null,
          last_response_excerpt: null,
          last_error: null,
          last_duration_ms: null,
          created_at: at,
          updated_at: at,
        });
      }
    }
    return {
      rows,
      kick: () => {
        for (const id of touched) this.dispatcher.kick(id);
      },
    };
  }

  /** A filter naming a session that does not exist would silently match nothing: 404 instead. */
  private async assertSessionsExist(ids: string[] | null | undefined): Promise<void> {
    if (!ids) return;
    const unique = [...new Set(ids)];
    const existing = new Set(await this.deps.existingSessionIds(unique));
    const missing = unique.find((id) => !existing.has(id));
    if (missing !== undefined)
      throw new AppError('SESSION_NOT_FOUND', `Session ${missing} not found`, { sessionId: missing });
  }

  private async checkedUrl(url: string): Promise<string> {
    try {
      return (await assertSafeWebhookUrl(url, this.deps.allowPrivate)).toString();
    } catch (err) {
      if (err instanceof UnsafeUrlError) {
        throw new AppError('VALIDATION_ERROR', `Webhook URL refused: ${err.message}`, [
          { field: 'body.url', message: err.message },
        ]);
      }
      throw err;
    }
  }

  /**
   * A key limited to some sessions sees only webhooks limited to sessions it may use; others
   * answer 404 as if they did not exist (tenant isolation, as for every session route).
   */
  private async row(id: string, scope: SessionScope): Promise<WebhooksTable> {
    const row = await this.repo.getWebhook(id);
    if (!row || !visibleTo(row, scope)) throw notFound('WEBHOOK_NOT_FOUND', 'Webhook');
    return row;
  }

  async list(scope: SessionScope = null): Promise<WebhookView[]> {
    return (await this.repo.listWebhooks()).filter((r) => visibleTo(r, scope)).map(toView);
  }

  async get(id: string, scope: SessionScope = null): Promise<WebhookView> {
    return toView(await this.row(id, scope));
  }

  async create(
    input: CreateWebhookInput,
    scope: SessionScope = null,
  ): Promise<WebhookView & { secret: string }> {
    // Sessions outside the caller's scope first, so the answer says nothing about their existence.
    const requested = scopedSessionIds(input.sessionIds, scope);
    if (input.sessionIds) await this.assertSessionsExist(requested);
    input = { ...input, sessionIds: requested ?? undefined };
    const url = await this.checkedUrl(input.url);
    const secret = input.secret ?? generateWebhookSecret();
    const at = this.deps.clock.now().toISOString();
    const row: WebhooksTable = {
      id: newId('wh'),
      url,
      events: JSON.stringify([...new Set(input.events)]),
      session_ids: input.sessionIds ? JSON.stringify([...new Set(input.sessionIds)]) : null,
      secret_enc: this.secrets.encrypt(secret),
      enabled: input.enabled === false ? 0 : 1,
      description: input.description ?? null,
      consecutive_failures: 0,
      disabled_reason: null,
      disabled_at: null,
      created_at: at,
      updated_at: at,
    };
    await this.repo.insertWebhook(row);
    this.deps.log.info({ webhookId: row.id }, 'webhook created');
    return { ...toView(row), secret };
  }

  async update(
    id: string,
    input: UpdateWebhookInput,
    scope: SessionScope = null,
  ): Promise<WebhookView & { secret?: string }> {
    await this.row(id, scope);
    if (input.sessionIds !== undefined) {
      const requested = input.sessionIds;
      input = { ...input, sessionIds: scopedSessionIds(requested, scope) };
      if (requested) await this.assertSessionsExist(input.sessionIds);
    }
    const patch: Partial<WebhooksTable> = { updated_at: this.deps.clock.now().toISOString() };
    if (input.url !== undefined) patch.url = await this.checkedUrl(input.url);
    if (input.events !== undefined) patch.events = JSON.stringify([...new Set(input.events)]);
    if (input.sessionIds !== undefined)
      patch.session_ids = input.sessionIds === null ? null : JSON.stringify([...new Set(input.sessionIds)]);
    if (input.description !== undefined) patch.description = input.description;
    if (input.secret !== undefined) patch.secret_enc = this.secrets.encrypt(input.secret);
    if (input.enabled === true) {
      Object.assign(patch, { enabled: 1, consecutive_failures: 0, disabled_reason: null, disabled_at: null });
    } else if (input.enabled === false) patch.enabled = 0;
    if (!(await this.repo.updateWebhook(id, patch))) throw notFound('WEBHOOK_NOT_FOUND', 'Webhook');
    this.dispatcher.kick(id, true);
    const view = toView(await this.row(id, scope));
    return input.secret !== undefined ? { ...view, secret: input.secret } : view;
  }

  async remove(id: string, scope: SessionScope = null): Promise<void> {
    await this.row(id, scope);
    if (!(await this.repo.deleteWebhook(id))) throw notFound('WEBHOOK_NOT_FOUND', 'Webhook');
    this.deps.log.info({ webhookId: id }, 'webhook deleted');
  }

  async listDeliveries(
    id: string,
    q: { status?: DeliveryStatus; limit: number; cursor?: string },
    scope: SessionScope = null,
  ): Promise<{ items: DeliveryView[]; nextCursor: string | null }> {
    await this.row(id, scope);
    let beforeId: number | undefined;
    if (q.cursor) {
      const decoded = Buffer.from(q.cursor, 'base64url').toString('utf8');
      if (!/^\d{1,18}$/.test(decoded))
        throw new AppError('VALIDATION_ERROR', 'Invalid cursor', [
          { field: 'querystring.cursor', message: 'invalid' },
        ]);
      beforeId = Number(decoded);
    }
    const rows = await this.repo.listDeliveries(id, { status: q.status, beforeId, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    const nextCursor =
      rows.length > q.limit ? Buffer.from(String(page.at(-1)!.id)).toString('base64url') : null;
    return { items: page.map(deliveryView), nextCursor };
  }

  async getDelivery(id: string, deliveryId: string, scope: SessionScope = null): Promise<DeliveryDetail> {
    await this.row(id, scope);
    const row = await this.repo.getDelivery(id, Number(deliveryId));
    if (!row) throw notFound('DELIVERY_NOT_FOUND', 'Delivery');
    const attempts = await this.repo.listAttempts(row.id);
    return {
      ...deliveryView(row),
      attemptLog: attempts.map((a) => ({
        attempt: a.attempt,
        statusCode: a.status_code,
        responseExcerpt: a.response_excerpt,
        error: a.error,
        durationMs: a.duration_ms,
        at: a.created_at,
      })),
    };
  }

  async redeliver(id: string, deliveryId: string, scope: SessionScope = null): Promise<DeliveryView> {
    await this.row(id, scope);
    const existing = await this.repo.getDelivery(id, Number(deliveryId));
    if (!existing) throw notFound('DELIVERY_NOT_FOUND', 'Delivery');
    const at = this.deps.clock.now().toISOString();
    // A finished delivery gets one more attempt now (a failure makes it dead again); an open one
    // is just moved forward and keeps its remaining retries.
    const finished = existing.status === 'succeeded' || existing.status === 'dead';
    const attempts = finished
      ? Math.max(existing.attempts, this.deps.retryScheduleMs.length)
      : existing.attempts;
    await this.repo.kysely
      .updateTable('webhook_deliveries')
      .set({ status: 'failed', next_attempt_at: at, attempts, updated_at: at })
      .where('id', '=', existing.id)
      .execute();
    this.dispatcher.kick(id, true);
    return deliveryView((await this.repo.getDelivery(id, existing.id))!);
  }

  /**
   * Queues again the dead (or failed) deliveries of a webhook, optionally only those created at or
   * after `since`. They keep their place in the queue (delivery order is event order), so the
   * worker sends them oldest first; a dead one gets one more attempt, as a single redelivery does.
   */
  async redeliverMany(id: string, input: RedeliverManyInput, scope: SessionScope = null): Promise<number> {
    await this.row(id, scope);
    const at = this.deps.clock.now().toISOString();
    const lastAttempt = this.deps.retryScheduleMs.length;
    let q = this.repo.kysely
      .updateTable('webhook_deliveries')
      .set({
        status: 'failed',
        next_attempt_at: at,
        updated_at: at,
        ...(input.status === 'dead'
          ? {
              attempts: sql<number>`case when attempts < ${lastAttempt} then ${lastAttempt} else attempts end`,
            }
          : {}),
      })
      .where('webhook_id', '=', id)
      .where('status', '=', input.status);
    if (input.since !== undefined) q = q.where('created_at', '>=', new Date(input.since).toISOString());
    const result = await q.executeTakeFirst();
    const count = Number(result.numUpdatedRows);
    if (count > 0) this.dispatcher.kick(id, true);
    this.deps.log.info({ webhookId: id, count, status: input.status }, 'webhook deliveries queued again');
    return count;
  }

  async sendTest(
    id: string,
    body: { type?: EventType; data?: Record<string, unknown> },
    scope: SessionScope = null,
  ): Promise<DeliveryView> {
    await this.row(id, scope);
    const at = this.deps.clock.now().toISOString();
    const type = body.type ?? DEFAULT_TEST_EVENT_TYPE;
    const envelope = testEventEnvelope(type, at, body.data);
    const deliveryId = await this.repo.insertDelivery({
      webhook_id: id,
      event_id: null,
      event_type: type,
      payload: JSON.stringify(envelope),
      status: 'pending',
      attempts: 0,
      next_attempt_at: null,
      last_status_code: null,
      last_response_excerpt: null,
      last_error: null,
      last_duration_ms: null,
      created_at: at,
      updated_at: at,
    });
    this.dispatcher.kick(id);
    return deliveryView((await this.repo.getDelivery(id, deliveryId))!);
  }

  async prune(): Promise<number> {
    const cutoff = new Date(
      this.deps.clock.now().getTime() - this.deps.retentionDays * 86_400_000,
    ).toISOString();
    return this.repo.pruneDeliveries(cutoff);
  }

  start(pruneIntervalMs: number): void {
    this.dispatcher.start();
    if (this.pruneTimer) return;
    this.pruneTimer = setInterval(() => {
      this.prune().catch((err: unknown) => this.deps.log.warn({ err }, 'delivery pruning failed'));
    }, pruneIntervalMs);
    this.pruneTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
    await this.dispatcher.stop();
  }
}

/** The sessions a caller may use: null for all (see plugins/auth.ts sessionScope). */
export type SessionScope = string[] | null;

function visibleTo(row: WebhooksTable, scope: SessionScope): boolean {
  if (scope === null) return true;
  if (row.session_ids === null) return false;
  return (JSON.parse(row.session_ids) as string[]).every((id) => scope.includes(id));
}

/**
 * The sessions a webhook created or changed by this caller is limited to: a limited key's
 * webhook defaults to its own sessions and may not name others (they answer 404, as elsewhere).
 */
function scopedSessionIds(
  requested: string[] | null | undefined,
  scope: SessionScope,
): string[] | null | undefined {
  if (scope === null) return requested;
  if (requested === undefined || requested === null) return [...scope];
  const foreign = requested.find((id) => !scope.includes(id));
  if (foreign !== undefined) throw notFound('SESSION_NOT_FOUND', 'Session');
  return requested;
}
