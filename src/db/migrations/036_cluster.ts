import type { Kysely } from 'kysely';
import type { MigrationFactory } from '../migrate.js';

/**
 * Several instances on one PostgreSQL (CLUSTER=true; the tables stay empty otherwise): the
 * instances alive (a heartbeat each) and one lease per session naming the instance that runs
 * it. Times are milliseconds on the database's clock, so the instances' clocks never meet.
 * `epoch` grows by one at every takeover: an owner writes the session's rows only under the
 * epoch it took, so one that lost its lease cannot overwrite its successor's state.
 */
export const cluster: MigrationFactory = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('cluster_instances')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('cluster_leases')
      .addColumn('session_id', 'text', (c) => c.primaryKey())
      .addColumn('owner', 'text')
      .addColumn('expires_at', 'bigint')
      .addColumn('epoch', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('cluster_leases_owner').on('cluster_leases').column('owner').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('cluster_leases').execute();
    await db.schema.dropTable('cluster_instances').execute();
  },
});
