import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ROLE_RANK } from '../../src/modules/auth/auth.service.js';
import {
  createTelegramTestApp,
  signIn,
  startTestSandbox,
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

interface KeyInfo {
  id: string;
  key: string;
  role: string;
  sessionIds: string[] | null;
}

async function createKey(headers: Record<string, string>, body: Record<string, unknown>) {
  return t.call('POST', '/api/v1/auth/keys', { name: 'k', ...body }, headers);
}

async function newKey(body: Record<string, unknown>): Promise<KeyInfo> {
  const res = await createKey({}, body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.data as KeyInfo;
}

test('a key limited to one session cannot reach beyond it through key management', async () => {
  const a = await signIn(t, sbx);
  const b = await signIn(t, sbx);
  const limitedAdmin = await newKey({ role: 'admin', sessionIds: [a.sessionId] });
  const otherAdmin = await newKey({ role: 'admin' });
  const keyOfB = await newKey({ role: 'viewer', sessionIds: [b.sessionId] });
  const keyOfBoth = await newKey({ role: 'viewer', sessionIds: [a.sessionId, b.sessionId] });
  const viewerOfA = await newKey({ role: 'viewer', sessionIds: [a.sessionId] });
  const asLimited = { 'x-api-key': limitedAdmin.key };

  // Without sessionIds it gets a key limited to its own sessions, not an unlimited one.
  const created = await createKey(asLimited, { role: 'admin' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(created.body.data.sessionIds, [a.sessionId]);
  const child = { 'x-api-key': created.body.data.key as string };
  assert.equal((await t.call('GET', `/api/v1/sessions/${b.sessionId}`, undefined, child)).status, 404);
  const exportB = await t.call('POST', `/api/v1/sessions/${b.sessionId}/export`, undefined, child);
  assert.equal(exportB.status, 404);
  assert.equal(exportB.body.error.code, 'SESSION_NOT_FOUND');
  const exportA = await t.call('POST', `/api/v1/sessions/${a.sessionId}/export`, undefined, child);
  assert.equal(exportA.status, 200, 'its own session stays fully usable');
  const listed = await t.call('GET', '/api/v1/sessions', undefined, child);
  assert.deepEqual(
    listed.body.data.map((s: { id: string }) => s.id),
    [a.sessionId],
  );

  // Sessions outside its own are "not found", alone or mixed with its own.
  for (const sessionIds of [[b.sessionId], [a.sessionId, b.sessionId]]) {
    const res = await createKey(asLimited, { role: 'viewer', sessionIds });
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'SESSION_NOT_FOUND');
  }

  // It lists only keys within its sessions: not the other admin, not keys reaching session B.
  const list = await t.call('GET', '/api/v1/auth/keys', undefined, asLimited);
  assert.equal(list.status, 200);
  const ids = new Set(list.body.data.map((k: { id: string }) => k.id));
  assert.deepEqual(ids, new Set([limitedAdmin.id, viewerOfA.id, created.body.data.id]));
  const all = await t.call('GET', '/api/v1/auth/keys');
  for (const k of [otherAdmin, keyOfB, keyOfBoth]) {
    assert.ok(
      all.body.data.some((x: { id: string }) => x.id === k.id),
      'an unlimited admin lists every key',
    );
  }

  // Deleting any other key answers as if it did not exist, and leaves it working.
  for (const id of [otherAdmin.id, keyOfB.id, keyOfBoth.id, 'key_bootstrap']) {
    const res = await t.call('DELETE', `/api/v1/auth/keys/${id}`, undefined, asLimited);
    assert.equal(res.status, 404, `${id}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'API_KEY_NOT_FOUND');
  }
  const stillThere = await t.call('GET', '/api/v1/auth/me', undefined, { 'x-api-key': otherAdmin.key });
  assert.equal(stillThere.status, 200);
  const deleted = await t.call('DELETE', `/api/v1/auth/keys/${viewerOfA.id}`, undefined, asLimited);
  assert.equal(deleted.status, 200, 'a key within its sessions can be deleted');
});

test('sessionIds must be a non-empty list of existing sessions, for every creator', async () => {
  const a = await signIn(t, sbx);
  const limited = { 'x-api-key': (await newKey({ role: 'admin', sessionIds: [a.sessionId] })).key };
  const keyCount = async () =>
    (await t.app.services.db.db.selectFrom('api_keys').select('id').execute()).length;
  const keysBefore = await keyCount();
  for (const headers of [{}, limited]) {
    const empty = await createKey(headers, { role: 'viewer', sessionIds: [] });
    assert.equal(empty.status, 400, JSON.stringify(empty.body));
    assert.equal(empty.body.error.code, 'VALIDATION_ERROR');
    assert.ok(
      empty.body.error.details.some((d: { field: string }) => d.field === 'body.sessionIds'),
      JSON.stringify(empty.body.error.details),
    );
    const unknown = await createKey(headers, { role: 'viewer', sessionIds: [a.sessionId, 'ses_nope'] });
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    assert.equal(unknown.body.error.code, 'SESSION_NOT_FOUND');
  }
  const deletedSession = await signIn(t, sbx);
  assert.equal((await t.call('DELETE', `/api/v1/sessions/${deletedSession.sessionId}`)).status, 200);
  const gone = await createKey({}, { role: 'viewer', sessionIds: [deletedSession.sessionId] });
  assert.equal(gone.status, 404);
  const fine = await createKey({}, { role: 'viewer', sessionIds: [a.sessionId, a.sessionId] });
  assert.equal(fine.status, 201);
  assert.deepEqual(fine.body.data.sessionIds, [a.sessionId], 'duplicates are dropped');
  assert.equal(await keyCount(), keysBefore + 1, 'no refused request stored a key');
});

test('no key creates a key with a role above its own', async () => {
  // The route is for admins only (operators and viewers get 403 before it runs); the service
  // holds the rule for every caller all the same.
  const auth = t.app.services.auth;
  const asOperator = await t.keyFor('operator');
  assert.equal((await createKey({ 'x-api-key': asOperator }, { role: 'viewer' })).status, 403);
  const operator = await auth.authenticate(asOperator);
  for (const role of ['admin', 'operator', 'viewer'] as const) {
    const attempt = auth.createKey(operator, { name: 'x', role });
    if (ROLE_RANK[role] > ROLE_RANK.operator) {
      await assert.rejects(attempt, (err: { code?: string }) => err.code === 'FORBIDDEN', role);
    } else {
      assert.equal((await attempt).role, role);
    }
  }
});
