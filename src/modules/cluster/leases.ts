/**
 * Session leases: which instance runs a session, until when. A lease is taken with one
 * conditional UPDATE (free, expired, or already ours), renewed every third of its TTL, and
 * released at a clean shutdown. Every takeover adds one to the lease's epoch (fencing): the
 * owner's writes of the session's state carry the epoch it took, so a paused owner that lost
 * the lease cannot overwrite what its successor wrote.
 *
 * Expiry is on the database's clock; locally each lease is trusted only until the moment the
 * renewal was *sent* plus the TTL minus a margin, so the holder stops using a session before
 * any other instance may take it, whatever the clocks say and however long the query took.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.js';

/** Milliseconds on the database's clock (the one all instances share). */
export const DB_NOW_MS = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;

export interface HeldLease {
  epoch: number;
  /** Local time (Date.now()) after which the lease is no longer relied on. */
  trustedUntil: number;
}

export class LeaseStore {
  /** The leases this instance holds, by session id. */
  readonly held = new Map<string, HeldLease>();

  constructor(
    private readonly db: Kysely<Database>,
    readonly instanceId: string,
    readonly ttlMs: number,
    /** How long before the database expiry the holder stops using the session. */
    readonly marginMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether this instance may use the session now (a lease held and trusted). */
  valid(sessionId: string): boolean {
    const lease = this.held.get(sessionId);
    return lease !== undefined && this.now() < lease.trustedUntil;
  }

  /**
   * Takes the session's lease if it is free, expired or ours (a restart under the same
   * INSTANCE_ID); answers whether this instance now holds it. A takeover raises the epoch.
   */
  async acquire(sessionId: string): Promise<boolean> {
    if (this.valid(sessionId)) return true;
    const sent = this.now();
    await sql`insert into cluster_leases (session_id, owner, expires_at, epoch)
      values (${sessionId}, null, null, 0) on conflict (session_id) do nothing`.execute(this.db);
    const { rows } = await sql<{ epoch: number }>`
      update cluster_leases
         set owner = ${this.instanceId}, expires_at = ${DB_NOW_MS} + ${this.ttlMs}, epoch = epoch + 1
       where session_id = ${sessionId}
         and (owner is null or expires_at is null or expires_at < ${DB_NOW_MS} or owner = ${this.instanceId})
      returning epoch`.execute(this.db);
    const row = rows[0];
    if (!row) return false;
    this.held.set(sessionId, { epoch: Number(row.epoch), trustedUntil: sent + this.ttlMs - this.marginMs });
    return true;
  }

  /**
   * Extends every held lease; answers (and forgets) the sessions whose lease is no longer ours
   * (taken over or gone). A failed query throws: the leases keep their old trust and run out by the clock.
   */
  async renew(): Promise<string[]> {
    const ids = [...this.held.keys()];
    if (ids.length === 0) return [];
    const sent = this.now();
    const { rows } = await sql<{ session_id: string; epoch: number }>`
      update cluster_leases set expires_at = ${DB_NOW_MS} + ${this.ttlMs}
       where owner = ${this.instanceId} and session_id in (${sql.join(ids)})
      returning session_id, epoch`.execute(this.db);
    const renewed = new Map(rows.map((r) => [r.session_id, Number(r.epoch)]));
    const lost: string[] = [];
    for (const id of ids) {
      const lease = this.held.get(id);
      if (!lease) continue;
      if (renewed.get(id) === lease.epoch) lease.trustedUntil = sent + this.ttlMs - this.marginMs;
      else {
        this.held.delete(id);
        lost.push(id);
      }
    }
    return lost;
  }

  /** The held sessions whose trust ran out (renewals failed for too long, or the process was paused). */
  expired(): string[] {
    const now = this.now();
    return [...this.held].filter(([, lease]) => now >= lease.trustedUntil).map(([id]) => id);
  }

  /** Forgets a lease locally (lost, or about to be released). */
  forget(sessionId: string): void {
    this.held.delete(sessionId);
  }

  /** Gives leases back (after their sessions disconnected): others may take them at once. */
  async release(sessionIds: string[]): Promise<void> {
    const mine = sessionIds.filter((id) => this.held.has(id));
    for (const id of mine) this.held.delete(id);
    if (mine.length === 0) return;
    await sql`update cluster_leases set owner = null, expires_at = null
       where owner = ${this.instanceId} and session_id in (${sql.join(mine)})`.execute(this.db);
  }

  /**
   * Runs `write` (an UPDATE of the session's rows) only while the lease is ours under the epoch
   * we took: `fence` is the condition to add to its WHERE. Answers false when nothing was written.
   */
  fence(sessionId: string): ReturnType<typeof sql<boolean>> | undefined {
    const lease = this.held.get(sessionId);
    if (!lease) return undefined;
    return sql<boolean>`exists (select 1 from cluster_leases where session_id = ${sessionId}
      and owner = ${this.instanceId} and epoch = ${lease.epoch})`;
  }
}
