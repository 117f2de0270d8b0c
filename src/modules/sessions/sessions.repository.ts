import type { Kysely } from 'kysely';
import type { Database, TgPeersTable, TgSessionsTable } from '../../db/types.js';
import type { PeerStore } from '../../telegram/peer-cache.js';

export type SessionRow = TgSessionsTable;
export type PeerRow = TgPeersTable;

/** Persistence of sessions and their peer caches. */
export class SessionsRepository implements PeerStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: SessionRow): Promise<void> {
    await this.db.insertInto('tg_sessions').values(row).execute();
  }

  find(id: string): Promise<SessionRow | undefined> {
    return this.db.selectFrom('tg_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  list(ids: string[] | null): Promise<SessionRow[]> {
    let q = this.db.selectFrom('tg_sessions').selectAll().orderBy('created_at').orderBy('id');
    if (ids !== null) {
      if (ids.length === 0) return Promise.resolve([]);
      q = q.where('id', 'in', ids);
    }
    return q.execute();
  }

  listAutoConnect(): Promise<SessionRow[]> {
    return this.db.selectFrom('tg_sessions').selectAll().where('auto_connect', '=', 1).execute();
  }

  async update(id: string, patch: Partial<Omit<SessionRow, 'id' | 'created_at'>>): Promise<void> {
    await this.db.updateTable('tg_sessions').set(patch).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<boolean> {
    await this.db.deleteFrom('tg_peers').where('session_id', '=', id).execute();
    const res = await this.db.deleteFrom('tg_sessions').where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('tg_sessions')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  loadPeers(sessionId: string): Promise<PeerRow[]> {
    return this.db.selectFrom('tg_peers').selectAll().where('session_id', '=', sessionId).execute();
  }

  async upsertPeers(rows: PeerRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db
      .insertInto('tg_peers')
      .values(rows)
      .onConflict((oc) =>
        oc.columns(['session_id', 'peer_id']).doUpdateSet((eb) => ({
          kind: eb.ref('excluded.kind'),
          access_hash: eb.ref('excluded.access_hash'),
          username: eb.ref('excluded.username'),
          seen_chat_id: eb.ref('excluded.seen_chat_id'),
          seen_msg_id: eb.ref('excluded.seen_msg_id'),
          migrated_to: eb.ref('excluded.migrated_to'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }
}
