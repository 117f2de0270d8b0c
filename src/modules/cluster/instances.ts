/**
 * The instances of a cluster: each writes a heartbeat row (id, internal URL) with every lease
 * renewal (every third of the lease TTL). For placing sessions an instance is live while it
 * has missed at most one heartbeat, so a dead one no longer counts by the time its leases run
 * out; as a request's destination, while its heartbeat is younger than the TTL. Its load is
 * the number of unexpired leases it holds, counted when asked (so placements made one after
 * another see each other at once).
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import { DB_NOW_MS } from './leases.js';

export interface LiveInstance {
  id: string;
  url: string;
  /** Sessions it runs (unexpired leases). */
  load: number;
}

export class Instances {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly self: { id: string; url: string },
    private readonly ttlMs: number,
  ) {}

  async heartbeat(): Promise<void> {
    await sql`insert into cluster_instances (id, url, started_at, heartbeat_at)
      values (${this.self.id}, ${this.self.url}, ${DB_NOW_MS}, ${DB_NOW_MS})
      on conflict (id) do update set url = excluded.url, heartbeat_at = excluded.heartbeat_at`.execute(
      this.db,
    );
  }

  /** Leaves the cluster (a clean shutdown, after its leases were released). */
  async leave(): Promise<void> {
    await this.db.deleteFrom('cluster_instances').where('id', '=', this.self.id).execute();
  }

  /** Live instances, least loaded first (ties: this one first, then by id). */
  async live(): Promise<LiveInstance[]> {
    const within = Math.floor((this.ttlMs * 2) / 3);
    const { rows } = await sql<{ id: string; url: string; load: number | string }>`
      select i.id, i.url,
             (select count(*) from cluster_leases l
               where l.owner = i.id and l.expires_at > ${DB_NOW_MS}) as load
        from cluster_instances i
       where i.heartbeat_at > ${DB_NOW_MS} - ${within}`.execute(this.db);
    return rows
      .map((r) => ({ id: r.id, url: r.url, load: Number(r.load) }))
      .sort(
        (a, b) =>
          a.load - b.load ||
          Number(b.id === this.self.id) - Number(a.id === this.self.id) ||
          a.id.localeCompare(b.id),
      );
  }

  /** The live instance other than this one that holds the session's unexpired lease, if any. */
  async ownerOf(sessionId: string): Promise<LiveInstance | undefined> {
    const { rows } = await sql<{ id: string; url: string }>`
      select i.id, i.url from cluster_leases l join cluster_instances i on i.id = l.owner
       where l.session_id = ${sessionId} and l.expires_at > ${DB_NOW_MS}
         and i.heartbeat_at > ${DB_NOW_MS} - ${this.ttlMs}`.execute(this.db);
    const row = rows[0];
    return row && row.id !== this.self.id ? { id: row.id, url: row.url, load: 0 } : undefined;
  }

  /**
   * Signed-in sessions that should be connected and that no instance runs: no lease, an
   * expired one (its instance stopped or died), or one under this instance's id (it restarted
   * after dying: the process that held it is gone). The caller skips those it holds.
   */
  async orphans(): Promise<string[]> {
    const { rows } = await sql<{ id: string }>`
      select s.id from tg_sessions s left join cluster_leases l on l.session_id = s.id
       where s.auto_connect = 1 and s.session_secret is not null and s.user_json is not null
         and s.status <> 'logged_out'
         and (l.owner is null or l.expires_at is null or l.expires_at < ${DB_NOW_MS}
              or l.owner = ${this.self.id})
       order by s.id`.execute(this.db);
    return rows.map((r) => r.id);
  }
}
