import { sql, type Kysely } from 'kysely';
import type { MigrationFactory } from '../migrate.js';

/**
 * SQLite: the event log's id becomes a plain rowid (no AUTOINCREMENT). AUTOINCREMENT keeps the
 * highest id ever handed out in `sqlite_sequence`, which every insert reads and every commit
 * writes: one of the three pages each event's commit put in the write-ahead log. Without it a
 * new id is the highest id in the table plus one, so ids still only grow as long as the newest
 * event stays: pruning never deletes it (EventsService.prune). PostgreSQL's sequence is left
 * as it is.
 *
 * SQLite cannot drop AUTOINCREMENT in place: the table is rebuilt (copied, dropped, renamed, its
 * indexes made again) in one transaction of its own, as SQLite migrations here run outside
 * one. Run again after a crash between its commit and the migration's record, it finds the
 * table rebuilt and does nothing.
 */
export const eventLogRowid: MigrationFactory = (dialect) => ({
  async up(db: Kysely<any>) {
    if (dialect !== 'sqlite' || !(await autoincrement(db))) return;
    await rebuild(db, 'integer primary key');
  },
  async down(db: Kysely<any>) {
    if (dialect !== 'sqlite' || (await autoincrement(db))) return;
    // The copy's ids set the new sequence (AUTOINCREMENT records the highest id inserted).
    await rebuild(db, 'integer primary key autoincrement');
  },
});

async function autoincrement(db: Kysely<any>): Promise<boolean> {
  const { rows } = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = 'events'`.execute(db);
  return /autoincrement/i.test(rows[0]?.sql ?? '');
}

async function rebuild(db: Kysely<any>, id: string): Promise<void> {
  await sql`begin immediate`.execute(db);
  try {
    await sql`create table "events_rebuilt" (
      "id" ${sql.raw(id)},
      "type" text not null,
      "session_id" text,
      "data" text not null,
      "created_at" text not null,
      "dedup_key" text
    )`.execute(db);
    await sql`insert into "events_rebuilt" ("id", "type", "session_id", "data", "created_at", "dedup_key")
      select "id", "type", "session_id", "data", "created_at", "dedup_key" from "events" order by "id"`.execute(db);
    await sql`drop table "events"`.execute(db);
    await sql`alter table "events_rebuilt" rename to "events"`.execute(db);
    await sql`create index "events_session_id" on "events" ("session_id", "id")`.execute(db);
    await sql`create unique index "events_dedup_key_present" on "events" ("dedup_key") where "dedup_key" is not null`.execute(
      db,
    );
    await sql`commit`.execute(db);
  } catch (err) {
    await sql`rollback`.execute(db);
    throw err;
  }
}
