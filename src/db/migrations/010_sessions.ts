import type { Kysely } from 'kysely';
import type { MigrationFactory } from '../migrate.js';

/** Telegram accounts, their peer cache and the idempotency records of the sending routes. */
export const sessions: MigrationFactory = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('tg_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text')
      .addColumn('phone', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('user_json', 'text')
      .addColumn('session_secret', 'text')
      .addColumn('key_version', 'integer')
      .addColumn('phone_code_hash', 'text')
      .addColumn('auto_connect', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_error_json', 'text')
      .addColumn('update_state_json', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('tg_peers')
      .addColumn('session_id', 'text', (c) => c.notNull().references('tg_sessions.id').onDelete('cascade'))
      .addColumn('peer_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('access_hash', 'text')
      .addColumn('username', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('tg_peers_pk', ['session_id', 'peer_id'])
      .execute();
    await db.schema.createIndex('tg_peers_username').on('tg_peers').columns(['session_id', 'username']).execute();
    await db.schema
      .createTable('idempotency_keys')
      .addColumn('scope_key', 'text', (c) => c.primaryKey())
      .addColumn('request_hash', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('response_json', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('idempotency_keys').execute();
    await db.schema.dropTable('tg_peers').execute();
    await db.schema.dropTable('tg_sessions').execute();
  },
});
