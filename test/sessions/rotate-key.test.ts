import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SecretBox } from '../../src/lib/crypto.js';
import { rotateSessionKeys } from '../../src/telegram/rotate-key.js';
import { TEST_SECRETS } from '../helpers/app.js';
import {
  createTelegramTestApp,
  signIn,
  startTestSandbox,
  waitFor,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';

let sbx: TestSandbox;
let t: TelegramTestApp;

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx);
});

after(async () => {
  await t?.close();
  await sbx?.close();
});

test('key rotation re-encrypts session strings with the new version; TeleFlow reads them after a restart', async () => {
  const a = await signIn(t, sbx);
  const exported = (await t.call('POST', `/api/v1/sessions/${a.sessionId}/export`)).body.data.sessionString;
  const dataDir = t.dataDir;
  await t.close({ keepData: true });

  const newKey = 'rotated-encryption-key-abcdefghijklmnopqrstuvwxyz-0123';
  const env = {
    SESSION_ENCRYPTION_KEY: newKey,
    SESSION_ENCRYPTION_KEY_VERSION: '2',
    SESSION_ENCRYPTION_OLD_KEYS: `1:${TEST_SECRETS.SESSION_ENCRYPTION_KEY}`,
  };
  t = await createTelegramTestApp(sbx, { dataDir, env });
  const db = t.app.services.db.db;
  const box = new SecretBox({ 1: TEST_SECRETS.SESSION_ENCRYPTION_KEY, 2: newKey }, 'session');
  // The app may rewrite the row while reconnecting (with v2 already); rotation handles both.
  const result = await rotateSessionKeys(db, box);
  assert.equal(result.unreadable.length, 0);
  assert.equal(result.rotated + result.alreadyCurrent, 1);
  const row = await db
    .selectFrom('tg_sessions')
    .selectAll()
    .where('id', '=', a.sessionId)
    .executeTakeFirstOrThrow();
  assert.ok(row.session_secret!.startsWith('v2.'));
  assert.equal(row.key_version, 2);
  assert.equal(new SecretBox({ 2: newKey }, 'session').decrypt(row.session_secret!), exported);
  assert.equal((await rotateSessionKeys(db, box)).rotated, 0, 'running it again changes nothing');

  // Without the old key, the rotated rows are still readable: the session comes back.
  await t.close({ keepData: true });
  t = await createTelegramTestApp(sbx, {
    dataDir,
    env: { SESSION_ENCRYPTION_KEY: newKey, SESSION_ENCRYPTION_KEY_VERSION: '2' },
  });
  await waitFor(
    async () => (await t.call('GET', `/api/v1/sessions/${a.sessionId}`)).body.data.status === 'connected',
    8000,
    'connected with the new key only',
  );
});
