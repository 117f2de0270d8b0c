import type { Kysely } from 'kysely';
import type { MigrationFactory } from '../migrate.js';

/**
 * Fewer index writes on every event, the write each send waits on: an insert touches the table
 * and each of its indexes (a b-tree page each in the write-ahead log).
 * - `events_created_at` goes: pruning finds the old events from the front of the log (ids grow
 *   with time; EventsService.prune), and nothing else searched by date.
 * - `events_dedup_key` becomes partial: most events have no dedup key, and SQLite indexes NULLs.
 *   Inserts name the same predicate in ON CONFLICT, on SQLite and PostgreSQL alike.
 * The new unique index is made before the old one is dropped, in the migration's transaction.
 */
export const eventLogIndexes: MigrationFactory = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createIndex('events_dedup_key_present')
      .unique()
      .on('events')
      .column('dedup_key')
      .where('dedup_key', 'is not', null)
      .execute();
    await db.schema.dropIndex('events_dedup_key').execute();
    await db.schema.dropIndex('events_created_at').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.createIndex('events_created_at').on('events').column('created_at').execute();
    await db.schema.createIndex('events_dedup_key').unique().on('events').column('dedup_key').execute();
    await db.schema.dropIndex('events_dedup_key_present').execute();
  },
});
