import type { Kysely } from 'kysely';
import type { MigrationFactory } from '../migrate.js';

/**
 * Several instances on one PostgreSQL (CLUSTER=true; the tables stay empty otherwise): which
 * instance runs a webhook's ordered delivery queue, until when (ms on the database's clock).
 * `epoch` grows at every takeover, so outcomes written by an instance that lost the queue are
 * refused (src/modules/cluster/webhook-leases.ts). `cluster_state` holds what the instances
 * agree on by name: the bootstrap key in force (its hash; src/modules/cluster/bootstrap-key.ts).
 */
export const webhookLeases: MigrationFactory = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('webhook_leases')
      .addColumn('webhook_id', 'text', (c) => c.primaryKey())
      .addColumn('owner', 'text')
      .addColumn('expires_at', 'bigint')
      .addColumn('epoch', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createTable('cluster_state')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('cluster_state').execute();
    await db.schema.dropTable('webhook_leases').execute();
  },
});
