import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import type { Clock } from '../../lib/clock.js';
import type { FileRef } from '../../telegram/media-upload.js';

/**
 * Files each session has given Telegram, by their SHA-256 and the kind they were sent as, so the
 * same bytes go out again by Telegram's id instead of being uploaded again.
 */
export class FileRefRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async get(sessionId: string, sha256: string, kind: string): Promise<FileRef | undefined> {
    const row = await this.db
      .selectFrom('media_file_refs')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('sha256', '=', sha256)
      .where('kind', '=', kind)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      mediaType: row.media_type,
      id: row.tg_id,
      accessHash: row.access_hash,
      fileReference: Buffer.from(row.file_reference, 'base64'),
    };
  }

  async put(sessionId: string, sha256: string, kind: string, ref: FileRef): Promise<void> {
    const values = {
      media_type: ref.mediaType,
      tg_id: ref.id,
      access_hash: ref.accessHash,
      file_reference: ref.fileReference.toString('base64'),
      updated_at: this.clock.now().toISOString(),
    };
    await this.db
      .insertInto('media_file_refs')
      .values({ session_id: sessionId, sha256, kind, ...values })
      .onConflict((oc) => oc.columns(['session_id', 'sha256', 'kind']).doUpdateSet(values))
      .execute();
  }

  async delete(sessionId: string, sha256: string, kind: string): Promise<void> {
    await this.db
      .deleteFrom('media_file_refs')
      .where('session_id', '=', sessionId)
      .where('sha256', '=', sha256)
      .where('kind', '=', kind)
      .execute();
  }
}
