/**
 * Re-encrypts every stored session string with the newest SESSION_ENCRYPTION_KEY version.
 *
 * Rotation, step by step:
 *   1. Keep the old passphrase as SESSION_ENCRYPTION_OLD_KEYS="1:<old passphrase>".
 *   2. Put the new one in SESSION_ENCRYPTION_KEY and set SESSION_ENCRYPTION_KEY_VERSION=2.
 *   3. Run `npm run sessions:rotate-key` (safe while TeleFlow runs: each row is rewritten alone).
 *   4. Once it reports nothing left on old versions, drop SESSION_ENCRYPTION_OLD_KEYS.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import type { SecretBox } from '../lib/crypto.js';

export interface RotationResult {
  rotated: number;
  alreadyCurrent: number;
  /** Rows sealed with a version whose passphrase is not configured: left as they are. */
  unreadable: string[];
}

export async function rotateSessionKeys(db: Kysely<Database>, box: SecretBox): Promise<RotationResult> {
  const rows = await db
    .selectFrom('tg_sessions')
    .select(['id', 'session_secret'])
    .where('session_secret', 'is not', null)
    .execute();
  const result: RotationResult = { rotated: 0, alreadyCurrent: 0, unreadable: [] };
  for (const row of rows) {
    const sealed = row.session_secret!;
    if (box.versionOf(sealed) === box.version) {
      result.alreadyCurrent += 1;
      continue;
    }
    let plain: string;
    try {
      plain = box.decrypt(sealed);
    } catch {
      result.unreadable.push(row.id);
      continue;
    }
    // Only replace the value that was read: a concurrent update by the running server wins.
    const res = await db
      .updateTable('tg_sessions')
      .set({ session_secret: box.encrypt(plain), key_version: box.version })
      .where('id', '=', row.id)
      .where('session_secret', '=', sealed)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) > 0) result.rotated += 1;
  }
  return result;
}
