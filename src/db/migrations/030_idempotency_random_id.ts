import type { Kysely } from 'kysely';
import type { MigrationFactory } from '../migrate.js';

/**
 * Idempotency records remember what a send gave Telegram before the call goes out: the random
 * ids (Telegram deduplicates by them), the chat, when the first attempt was made, and which
 * process runs it, so a retry after a crash resends the same random ids instead of waiting.
 */
export const idempotencyRandomId: MigrationFactory = () => ({
  async up(db: Kysely<any>) {
    for (const column of ['owner', 'random_ids', 'chat_id', 'sent_at'])
      await db.schema.alterTable('idempotency_keys').addColumn(column, 'text').execute();
  },
  async down(db: Kysely<any>) {
    for (const column of ['sent_at', 'chat_id', 'random_ids', 'owner'])
      await db.schema.alterTable('idempotency_keys').dropColumn(column).execute();
  },
});
