/**
 * Webhook deliveries shared by the instances of a cluster. Each webhook's queue is sent in
 * order by one worker (src/modules/webhooks/dispatcher.ts); in a cluster the worker runs on the
 * instance holding the webhook's lease (table webhook_leases, migration 037), so a delivery is
 * never attempted by two instances at once and the order per webhook holds.
 *
 * - A worker takes the lease when it has work (free, expired, or already ours) and gives it
 *   back when its queue is empty, so the webhooks spread over the instances with work.
 * - Held leases are renewed every third of the cluster lease TTL. The webhook lease lasts that
 *   TTL plus the attempt timeout, and an attempt starts only while the lease is trusted for
 *   longer than one attempt can take: another instance takes over only after the attempt ended.
 * - Outcomes are written only under the epoch the lease was taken with (`fence`).
 * - A worker that finds the lease held elsewhere wakes its holder (NOTIFY `deliveries`); an
 *   instance that died leaves its leases to expire, and the other instances' polls take over.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../../db/types.js';
import type { LaneGate } from '../webhooks/dispatcher.js';
import type { ClusterBus } from './bus.js';
import { DB_NOW_MS } from './leases.js';

/** Time kept in hand beyond the attempt timeout before an attempt may start. */
const SAFETY_MS = 1000;
/** How long after giving a lease back a worker still answers a wake-up for it. */
const RECENT_MS = 2000;

export class WebhookLeases implements LaneGate {
  /** Held leases: the epoch taken and the local time up to which the lease is relied on. */
  private readonly held = new Map<string, { epoch: number; trustedUntil: number }>();
  private readonly ttlMs: number;
  private renewTimer?: NodeJS.Timeout;
  private wakeHolder: (webhookId: string) => void = () => {};
  /** When this instance last gave each lease back (local time). */
  private readonly released = new Map<string, number>();

  constructor(
    private readonly o: {
      db: Kysely<Database>;
      bus: ClusterBus;
      instanceId: string;
      clusterLeaseTtlMs: number;
      attemptTimeoutMs: number;
      log: FastifyBaseLogger;
    },
  ) {
    this.ttlMs = o.clusterLeaseTtlMs + o.attemptTimeoutMs + SAFETY_MS;
  }

  /**
   * Another instance queued work for a webhook whose lease it found taken: the holder's worker
   * runs again. So does, once, the worker of an instance that gave the lease back a moment ago
   * (the other found it taken just before): it takes the lease again, or wakes the new holder.
   */
  start(kick: (webhookId: string) => void): void {
    this.o.bus.on('deliveries', (payload) => {
      const { from, webhookId } = JSON.parse(payload) as { from: string; webhookId: string };
      if (from === this.o.instanceId) return;
      if (this.held.has(webhookId)) return kick(webhookId);
      // Once per release, so two instances that both gave it back never wake each other in turn.
      const releasedAt = this.released.get(webhookId);
      this.released.delete(webhookId);
      if (releasedAt !== undefined && Date.now() - releasedAt < RECENT_MS) kick(webhookId);
    });
    this.wakeHolder = (webhookId) =>
      void this.o.bus
        .notify(this.o.db, 'deliveries', JSON.stringify({ from: this.o.instanceId, webhookId }))
        .catch(() => undefined);
    const period = Math.max(500, Math.floor(this.o.clusterLeaseTtlMs / 3));
    this.renewTimer = setInterval(() => void this.renew(), period);
    this.renewTimer.unref();
  }

  stop(): void {
    clearInterval(this.renewTimer);
  }

  holds(webhookId: string): boolean {
    return this.held.has(webhookId);
  }

  async acquire(webhookId: string): Promise<boolean> {
    if (this.mayAttempt(webhookId)) return true;
    const sent = Date.now();
    const { rows } = await sql<{ epoch: number }>`
      insert into webhook_leases as l (webhook_id, owner, expires_at, epoch)
      values (${webhookId}, ${this.o.instanceId}, ${DB_NOW_MS} + ${this.ttlMs}, 1)
      on conflict (webhook_id) do update
         set owner = excluded.owner, expires_at = excluded.expires_at, epoch = l.epoch + 1
       where l.owner is null or l.expires_at < ${DB_NOW_MS} or l.owner = ${this.o.instanceId}
      returning epoch`.execute(this.o.db);
    const row = rows[0];
    if (!row) {
      this.held.delete(webhookId);
      this.wakeHolder(webhookId);
      return false;
    }
    this.held.set(webhookId, { epoch: Number(row.epoch), trustedUntil: sent + this.ttlMs });
    return true;
  }

  /** Whether an attempt may start now: the lease will outlast it. */
  mayAttempt(webhookId: string): boolean {
    const lease = this.held.get(webhookId);
    return lease !== undefined && lease.trustedUntil - Date.now() > this.o.attemptTimeoutMs + SAFETY_MS;
  }

  async release(webhookId: string): Promise<void> {
    const lease = this.held.get(webhookId);
    if (!lease) return;
    this.held.delete(webhookId);
    this.released.set(webhookId, Date.now());
    if (this.released.size > 1000) this.released.delete(this.released.keys().next().value!);
    await sql`update webhook_leases set owner = null, expires_at = null
       where webhook_id = ${webhookId} and owner = ${this.o.instanceId} and epoch = ${lease.epoch}`.execute(
      this.o.db,
    );
  }

  /** Refuses a write of outcomes (throws) unless the lease is still ours under its epoch. */
  async fence(trx: Transaction<Database>, webhookId: string): Promise<void> {
    const lease = this.held.get(webhookId);
    const { rows } = await sql<{ ok: number }>`select 1 as ok from webhook_leases
       where webhook_id = ${webhookId} and owner = ${this.o.instanceId} and epoch = ${lease?.epoch ?? -1}
       for update`.execute(trx);
    if (rows.length === 0) throw new Error(`the delivery queue of webhook ${webhookId} was taken over`);
  }

  private async renew(): Promise<void> {
    const ids = [...this.held.keys()];
    if (ids.length === 0) return;
    const sent = Date.now();
    try {
      const { rows } = await sql<{ webhook_id: string; epoch: number }>`
        update webhook_leases set expires_at = ${DB_NOW_MS} + ${this.ttlMs}
         where owner = ${this.o.instanceId} and webhook_id in (${sql.join(ids)})
        returning webhook_id, epoch`.execute(this.o.db);
      const renewed = new Map(rows.map((r) => [r.webhook_id, Number(r.epoch)]));
      for (const id of ids) {
        const lease = this.held.get(id);
        if (!lease) continue;
        if (renewed.get(id) === lease.epoch) lease.trustedUntil = sent + this.ttlMs;
        else this.held.delete(id);
      }
    } catch (err) {
      // The leases keep their old trust and run out by the clock.
      this.o.log.warn({ err }, 'cluster: renewing webhook leases failed');
    }
  }
}
