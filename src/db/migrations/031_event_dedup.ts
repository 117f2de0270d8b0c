import type { Kysely } from 'kysely';
import type { MigrationFactory } from '../migrate.js';

/**
 * What an event reports (an update, a message) as a key: the log holds at most one event per
 * key, so an update that comes back after a crash (the catch-up replays what the saved update
 * state does not cover) is not recorded again. Null for events without one; NULLs never clash.
 */
export const eventDedup: MigrationFactory = () => ({
  async up(db: Kysely<any>) {
    await db.schema.alterTable('events').addColumn('dedup_key', 'text').execute();
    await db.schema.createIndex('events_dedup_key').unique().on('events').column('dedup_key').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('events_dedup_key').execute();
    await db.schema.alterTable('events').dropColumn('dedup_key').execute();
  },
});
