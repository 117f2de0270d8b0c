import type { Kysely } from 'kysely';
import type { MigrationFactory } from '../migrate.js';

/**
 * Several instances on one PostgreSQL (CLUSTER=true; the table stays empty otherwise): which
 * instance runs a webhook's ordered delivery queue, until when (ms on the database's clock).
 * `epoch` grows at every takeover, so outcomes written by an instance that lost the queue are
 * refused (src/modules/cluster/webhook-leases.ts).
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
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('webhook_leases').execute();
  },
});
