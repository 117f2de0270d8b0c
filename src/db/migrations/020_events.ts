import type { Kysely } from 'kysely';
import type { MigrationFactory } from '../migrate.js';

/** The durable event log: ids increase with time (on SQLite without AUTOINCREMENT since 040). */
export const events: MigrationFactory = (dialect) => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('events')
      .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
        dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('session_id', 'text')
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('events_created_at').on('events').column('created_at').execute();
    await db.schema.createIndex('events_session_id').on('events').columns(['session_id', 'id']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('events').execute();
  },
});
