/** `npm run sessions:rotate-key`: see rotate-key.ts for the rotation procedure. */
import { loadConfig, readDotEnv } from '../config.js';
import { openDatabase } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';
import { SecretBox } from '../lib/crypto.js';
import { rotateSessionKeys } from './rotate-key.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

const config = loadConfig({ ...readDotEnv(), ...process.env });
const database = openDatabase(config.databaseUrl);
try {
  await migrateToLatest(database);
  const box = new SecretBox(config.telegram.sessionKeys, 'session');
  const result = await rotateSessionKeys(database.db, box);
  say(
    `Session strings now sealed with key version ${box.version}: ${result.rotated} rotated, ` +
      `${result.alreadyCurrent} already current.`,
  );
  if (result.unreadable.length > 0) {
    say(
      `${result.unreadable.length} session(s) use a key version that is not configured ` +
        `(add it to SESSION_ENCRYPTION_OLD_KEYS): ${result.unreadable.join(', ')}`,
    );
    process.exitCode = 1;
  }
} finally {
  await database.close();
}
