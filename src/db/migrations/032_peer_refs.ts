import type { Kysely } from 'kysely';
import type { MigrationFactory } from '../migrate.js';

/**
 * A peer Telegram sent only as a `min` object has no usable access hash: the chat and message
 * it was seen in name it instead (inputPeerUserFromMessage, https://core.telegram.org/api/min).
 * A basic group migrated to a supergroup keeps the supergroup's id, so its old id follows it.
 */
export const peerRefs: MigrationFactory = () => ({
  async up(db: Kysely<any>) {
    await db.schema.alterTable('tg_peers').addColumn('seen_chat_id', 'text').execute();
    await db.schema.alterTable('tg_peers').addColumn('seen_msg_id', 'integer').execute();
    await db.schema.alterTable('tg_peers').addColumn('migrated_to', 'text').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('tg_peers').dropColumn('migrated_to').execute();
    await db.schema.alterTable('tg_peers').dropColumn('seen_msg_id').execute();
    await db.schema.alterTable('tg_peers').dropColumn('seen_chat_id').execute();
  },
});
