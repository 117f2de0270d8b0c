import type { Kysely } from 'kysely';
import type { MigrationFactory } from '../migrate.js';

/**
 * Several instances on one PostgreSQL (CLUSTER=true): each keeps the files of its uploads on its
 * own disk, so an upload's row names the instance that holds its file, and the instance that
 * sends it fetches it from there over the internal channel (src/modules/cluster/uploads.ts).
 * Null for one process per database.
 */
export const uploadInstance: MigrationFactory = () => ({
  async up(db: Kysely<any>) {
    await db.schema.alterTable('media_uploads').addColumn('instance_id', 'text').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('media_uploads').dropColumn('instance_id').execute();
  },
});
