import type { Kysely, Transaction } from 'kysely';
import type { SqliteSync } from '../../db/sqlite-sync.js';
import type { Database, WebhookDeliveriesTable, WebhooksTable } from '../../db/types.js';

type Executor = Kysely<Database> | Transaction<Database>;
export type DeliveryRow = Omit<WebhookDeliveriesTable, 'id'> & { id: number };
/** A delivery with what is needed to send it: the event row, or the stored test payload. */
export type QueuedDelivery = DeliveryRow & {
  e_type: string | null;
  e_session_id: string | null;
  e_data: string | null;
  e_created_at: string | null;
};

/** Where a delivery is due: pending or failed (a retry is scheduled). */
export const OPEN_STATUSES = ['pending', 'failed'] as const;

type EnabledWebhook = Pick<WebhooksTable, 'id' | 'events' | 'session_ids'>;

/** Delivery rows per INSERT statement (SQLite binds at most 32,766 values in one). */
const DELIVERY_ROWS_PER_INSERT = 200;

/** How long the list of enabled webhooks is trusted without a change made through this process. */
export const ENABLED_WEBHOOKS_CACHE_MS = 2000;

export class WebhooksRepository {
  /** The enabled webhooks, read by every event batch; dropped on each change made here. */
  private enabledCache: { rows: EnabledWebhook[]; at: number } | undefined;
  /** Bumped on each change, so a read that overlapped one is not cached. */
  private generation = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly enabledCacheMs = ENABLED_WEBHOOKS_CACHE_MS,
  ) {}

  /** Called after each change made here (a cluster tells the other instances). */
  onChanged: (() => void) | null = null;

  /** Forgets the enabled webhooks: call before and after a write that changes webhook rows. */
  webhooksChanged(): void {
    this.forgetEnabled();
    this.onChanged?.();
  }

  /** Forgets the enabled webhooks (changed here, or by another instance). */
  forgetEnabled(): void {
    this.generation++;
    this.enabledCache = undefined;
  }

  /** Runs a write to webhook rows with the enabled list forgotten before and after it. */
  async changingWebhooks<T>(write: () => Promise<T>): Promise<T> {
    this.webhooksChanged();
    try {
      return await write();
    } finally {
      this.webhooksChanged();
    }
  }

  async insertWebhook(row: WebhooksTable): Promise<void> {
    await this.changingWebhooks(() => this.db.insertInto('webhooks').values(row).execute());
  }

  getWebhook(id: string, db: Executor = this.db): Promise<WebhooksTable | undefined> {
    return db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
  }

  listWebhooks(): Promise<WebhooksTable[]> {
    return this.db.selectFrom('webhooks').selectAll().orderBy('created_at').orderBy('id').execute();
  }

  /**
   * The enabled webhooks. Changes made through this repository are seen at once; changes made by
   * another process sharing the database within enabledCacheMs.
   */
  async enabledWebhooks(db: Executor): Promise<EnabledWebhook[]> {
    const cached = this.cachedEnabled();
    if (cached) return cached;
    const generation = this.generation;
    const rows = await this.enabledQuery(db).execute();
    if (generation === this.generation) this.enabledCache = { rows, at: Date.now() };
    return rows;
  }

  /** enabledWebhooks run synchronously on SQLite, inside the event batch's transaction. */
  enabledWebhooksSync(sqlite: SqliteSync): EnabledWebhook[] {
    const cached = this.cachedEnabled();
    if (cached) return cached;
    const rows = sqlite.execute(this.enabledQuery(this.db).compile());
    this.enabledCache = { rows, at: Date.now() };
    return rows;
  }

  private cachedEnabled(): EnabledWebhook[] | undefined {
    const cached = this.enabledCache;
    return cached && Date.now() - cached.at < this.enabledCacheMs ? cached.rows : undefined;
  }

  private enabledQuery(db: Executor) {
    return db.selectFrom('webhooks').select(['id', 'events', 'session_ids']).where('enabled', '=', 1);
  }

  async updateWebhook(id: string, patch: Partial<WebhooksTable>, db: Executor = this.db): Promise<boolean> {
    const res = await this.changingWebhooks(() =>
      db.updateTable('webhooks').set(patch).where('id', '=', id).executeTakeFirst(),
    );
    return Number(res.numUpdatedRows) > 0;
  }

  deleteWebhook(id: string): Promise<boolean> {
    return this.changingWebhooks(() =>
      this.db.transaction().execute(async (trx) => {
        // Explicit, so it does not depend on the SQLite foreign_keys pragma.
        const ids = trx.selectFrom('webhook_deliveries').select('id').where('webhook_id', '=', id);
        await trx.deleteFrom('webhook_attempts').where('delivery_id', 'in', ids).execute();
        await trx.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute();
        const res = await trx.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
        return Number(res.numDeletedRows) > 0;
      }),
    );
  }

  async insertDeliveries(db: Executor, rows: Omit<WebhookDeliveriesTable, 'id'>[]): Promise<void> {
    for (let i = 0; i < rows.length; i += DELIVERY_ROWS_PER_INSERT) {
      await db
        .insertInto('webhook_deliveries')
        .values(rows.slice(i, i + DELIVERY_ROWS_PER_INSERT))
        .execute();
    }
  }

  /** insertDeliveries run synchronously on SQLite, inside the event batch's transaction. */
  insertDeliveriesSync(sqlite: SqliteSync, rows: Omit<WebhookDeliveriesTable, 'id'>[]): void {
    for (let i = 0; i < rows.length; i += DELIVERY_ROWS_PER_INSERT) {
      sqlite.execute(
        this.db
          .insertInto('webhook_deliveries')
          .values(rows.slice(i, i + DELIVERY_ROWS_PER_INSERT))
          .compile(),
      );
    }
  }

  async insertDelivery(row: Omit<WebhookDeliveriesTable, 'id'>): Promise<number> {
    const r = await this.db
      .insertInto('webhook_deliveries')
      .values(row)
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(r.id);
  }

  /** The open deliveries of one webhook in delivery (= event) order. */
  async queue(webhookId: string, limit: number): Promise<QueuedDelivery[]> {
    const rows = await this.db
      .selectFrom('webhook_deliveries as d')
      .leftJoin('events as e', 'e.id', 'd.event_id')
      .selectAll('d')
      .select([
        'e.type as e_type',
        'e.session_id as e_session_id',
        'e.data as e_data',
        'e.created_at as e_created_at',
      ])
      .where('d.webhook_id', '=', webhookId)
      .where('d.status', 'in', [...OPEN_STATUSES])
      .orderBy('d.id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      ...r,
      id: Number(r.id),
      event_id: r.event_id === null ? null : Number(r.event_id),
    }));
  }

  /** Enabled webhooks that have open deliveries (work written by this or another process). */
  async webhooksWithWork(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
      .select('d.webhook_id')
      .distinct()
      .where('d.status', 'in', [...OPEN_STATUSES])
      .where('w.enabled', '=', 1)
      .execute();
    return rows.map((r) => r.webhook_id);
  }

  async getDelivery(webhookId: string, id: number): Promise<DeliveryRow | undefined> {
    const row = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('webhook_id', '=', webhookId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row
      ? { ...row, id: Number(row.id), event_id: row.event_id === null ? null : Number(row.event_id) }
      : undefined;
  }

  listAttempts(deliveryId: number) {
    return this.db
      .selectFrom('webhook_attempts')
      .selectAll()
      .where('delivery_id', '=', deliveryId)
      .orderBy('id')
      .execute();
  }

  async listDeliveries(
    webhookId: string,
    opts: { status?: WebhookDeliveriesTable['status']; beforeId?: number; limit: number },
  ): Promise<DeliveryRow[]> {
    let q = this.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId);
    if (opts.status) q = q.where('status', '=', opts.status);
    if (opts.beforeId !== undefined) q = q.where('id', '<', opts.beforeId);
    const rows = await q.orderBy('id', 'desc').limit(opts.limit).execute();
    return rows.map((r) => ({
      ...r,
      id: Number(r.id),
      event_id: r.event_id === null ? null : Number(r.event_id),
    }));
  }

  /** Finished deliveries (and their attempts) older than the cutoff. */
  async pruneDeliveries(cutoff: string): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const old = trx
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('created_at', '<', cutoff)
        .where('status', 'in', ['succeeded', 'dead']);
      await trx.deleteFrom('webhook_attempts').where('delivery_id', 'in', old).execute();
      const res = await trx
        .deleteFrom('webhook_deliveries')
        .where('created_at', '<', cutoff)
        .where('status', 'in', ['succeeded', 'dead'])
        .executeTakeFirst();
      return Number(res.numDeletedRows);
    });
  }

  get kysely(): Kysely<Database> {
    return this.db;
  }
}
