import type { Kysely } from 'kysely';
import type { MigrationFactory } from '../migrate.js';

/**
 * The upload store's rows (the bytes live in DATA_DIR/uploads, named by their SHA-256), and the
 * files each session has already uploaded to Telegram, so they are re-sent by id, access hash
 * and file reference instead of uploaded again (https://core.telegram.org/api/file_reference).
 * Sizes fit an integer: Telegram's files stop at 2000 MiB, below 2^31 - 1 bytes.
 */
export const mediaUploads: MigrationFactory = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('media_uploads')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('size', 'integer', (c) => c.notNull())
      .addColumn('mime_type', 'text', (c) => c.notNull())
      .addColumn('file_name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('media_uploads_sha256').on('media_uploads').column('sha256').execute();
    await db.schema
      .createIndex('media_uploads_expires_at')
      .on('media_uploads')
      .column('expires_at')
      .execute();
    await db.schema
      .createTable('media_file_refs')
      .addColumn('session_id', 'text', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('media_type', 'text', (c) => c.notNull())
      .addColumn('tg_id', 'text', (c) => c.notNull())
      .addColumn('access_hash', 'text', (c) => c.notNull())
      .addColumn('file_reference', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('media_file_refs_pk', ['session_id', 'sha256', 'kind'])
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('media_file_refs').execute();
    await db.schema.dropTable('media_uploads').execute();
  },
});
