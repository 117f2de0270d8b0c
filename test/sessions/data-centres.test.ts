/**
 * Accounts on different data centres (https://core.telegram.org/api/datacenter): the sandbox runs
 * five DCs, TeleFlow starts every new session on DC 2 and follows PHONE_MIGRATE_X (code and 2FA
 * sign-in) and auth.loginTokenMigrateTo (QR login) to the account's home DC; the session string
 * keeps that DC, so exports, imports, restarts and reconnects go straight there. A session whose
 * key was authorized on another DC meets USER_MIGRATE_X and is carried home by an authorization
 * transfer.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Api } from 'teleproto';
import { StringSession } from 'teleproto/sessions/index.js';
import { createSandboxClient } from '../helpers/sandbox-client.js';
import { closeClient } from '../helpers/sandbox.js';
import {
  createTelegramTestApp,
  newPhone,
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

/** The DCs the account's auth keys were created on (each key belongs to one DC). */
function keyDcs(userId: string): number[] {
  const world = sbx.sandbox.world;
  return world.keysOf(Number(userId)).map((key) => world.state.authKeyDcs?.[key.toString()] ?? 0);
}

async function sessionOf(app: TelegramTestApp, sessionId: string): Promise<Record<string, any>> {
  return (await app.call('GET', `/api/v1/sessions/${sessionId}`)).body.data;
}

async function sendToSelf(app: TelegramTestApp, sessionId: string, text: string): Promise<void> {
  const sent = await app.call('POST', '/api/v1/messages/send', { sessionId, chatId: 'me', text });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
}

async function exportedDc(app: TelegramTestApp, sessionId: string): Promise<number> {
  const exported = await app.call('POST', `/api/v1/sessions/${sessionId}/export`);
  assert.equal(exported.status, 200, JSON.stringify(exported.body));
  return new StringSession(exported.body.data.sessionString as string).dcId;
}

test('the sandbox answers five DCs on consecutive ports, DC 1 first', () => {
  const { dcs, port } = sbx.sandbox;
  assert.deepEqual(
    dcs.map((dc) => [dc.id, dc.port]),
    [1, 2, 3, 4, 5].map((id) => [id, port + id - 1]),
  );
});

for (const dc of [1, 2, 4]) {
  test(`DC ${dc}: sign-in by code lands on the home DC; export, reconnect after a drop`, async () => {
    const a = await signIn(t, sbx, { dc });
    assert.equal((await sessionOf(t, a.sessionId)).status, 'connected');
    assert.deepEqual(keyDcs(a.userId), [dc], 'one auth key, created on the home DC');
    await sendToSelf(t, a.sessionId, `hello from DC ${dc}`);
    assert.equal(await exportedDc(t, a.sessionId), dc, 'the session string names the home DC');

    await sbx.control('POST', '/connections/drop', { phone: a.phone });
    await waitFor(
      async () => {
        const sent = await t.call('POST', '/api/v1/messages/send', {
          sessionId: a.sessionId,
          chatId: 'me',
          text: 'after the drop',
        });
        return sent.status === 200;
      },
      10_000,
      'a send after the reconnect',
    );
    assert.deepEqual(keyDcs(a.userId), [dc], 'the reconnect reused the key on the home DC');
  });

  test(`DC ${dc}: 2FA sign-in`, async () => {
    const a = await signIn(t, sbx, { dc, password: 'correct horse' });
    assert.equal((await sessionOf(t, a.sessionId)).status, 'connected');
    assert.deepEqual(keyDcs(a.userId), [dc]);
    await sendToSelf(t, a.sessionId, '2FA done');
  });
}

for (const dc of [1, 4]) {
  test(`QR login accepted by an account of DC ${dc} (the client started on DC 2) -> connected there`, async () => {
    const phone = newPhone();
    const created = await sbx.control<{ id: string }>('POST', '/users', { phone, firstName: 'Qr', dc });
    const qr = await t.call('POST', '/api/v1/sessions/qr', { name: `qr on DC ${dc}` });
    assert.equal(qr.status, 201, JSON.stringify(qr.body));
    const sessionId = qr.body.data.session.id as string;
    await sbx.control('POST', '/login-tokens/accept', { phone, token: qr.body.data.qr.url });
    const done = await waitFor(
      async () => {
        const s = await sessionOf(t, sessionId);
        return s.status === 'connected' || s.status === 'failed' ? s : undefined;
      },
      8000,
      'the QR session signed in',
    );
    assert.equal(done.status, 'connected', JSON.stringify(done));
    assert.equal(done.user.id, created.id);
    assert.deepEqual(keyDcs(created.id), [dc], 'the session moved to the home DC with a new key');
    await sendToSelf(t, sessionId, 'signed in by QR');
    assert.equal(await exportedDc(t, sessionId), dc);
  });
}

test('restart and import: sessions of DCs 1, 2 and 4 come back on their DCs', async () => {
  const accounts = [];
  for (const dc of [1, 2, 4]) accounts.push({ dc, ...(await signIn(t, sbx, { dc })) });
  const restarted = await t.restart();
  t = restarted;
  for (const a of accounts) {
    const s = await waitFor(
      async () => {
        const row = await sessionOf(t, a.sessionId);
        return row.status === 'connected' ? row : undefined;
      },
      10_000,
      `session of DC ${a.dc} back`,
    );
    assert.equal(s.user.id, a.userId);
    await sendToSelf(t, a.sessionId, 'after the restart');
    assert.deepEqual(keyDcs(a.userId), [a.dc], 'no new key: the restart went straight to the home DC');
  }

  const other = await createTelegramTestApp(sbx);
  try {
    for (const a of accounts) {
      const exported = await t.call('POST', `/api/v1/sessions/${a.sessionId}/export`);
      await t.call('POST', `/api/v1/sessions/${a.sessionId}/disconnect`);
      const imported = await other.call('POST', '/api/v1/sessions/import', {
        sessionString: exported.body.data.sessionString,
      });
      assert.equal(imported.status, 201, JSON.stringify(imported.body));
      assert.equal(imported.body.data.status, 'connected');
      assert.equal(imported.body.data.user.id, a.userId);
      await sendToSelf(other, imported.body.data.id as string, 'imported');
      assert.deepEqual(keyDcs(a.userId), [a.dc]);
    }
  } finally {
    await other.close();
  }
});

/** A teleproto client of the test itself on the sandbox's DCs (a new session on `dcId`). */
function rawClient(opts: { session?: string; dcId?: number }) {
  return createSandboxClient({
    host: sbx.sandbox.host,
    port: sbx.sandbox.port,
    dcs: sbx.sandbox.dcs,
    publicKeyPem: sbx.sandbox.publicKeyPem,
    ...opts,
  });
}

/**
 * A session string for `homeString`'s account on DC `dc`: a new key there, signed in by
 * exporting the account's authorization at home and importing it (core.telegram.org/api/datacenter).
 */
async function authorizedAway(homeString: string, dc: number): Promise<string> {
  const home = rawClient({ session: homeString });
  const away = rawClient({ dcId: dc });
  try {
    await home.connect();
    const exported = await home.invoke(new Api.auth.ExportAuthorization({ dcId: dc }));
    await away.connect();
    await away.invoke(new Api.auth.ImportAuthorization({ id: exported.id, bytes: exported.bytes }));
    return String(away.session.save());
  } finally {
    await closeClient(home);
    await closeClient(away);
  }
}

test('a session string authorized away from home: USER_MIGRATE_4 moves it home, signed in', async () => {
  const home = await signIn(t, sbx, { dc: 4 });
  const homeString = (await t.call('POST', `/api/v1/sessions/${home.sessionId}/export`)).body.data
    .sessionString as string;
  const sessionString = await authorizedAway(homeString, 2);
  assert.equal(new StringSession(sessionString).dcId, 2);
  assert.deepEqual(keyDcs(home.userId).sort(), [2, 4], 'the home key and the key authorized on DC 2');

  // The first call on DC 2 is answered USER_MIGRATE_4: the session moves home with a new key,
  // signed in there by importing the account's authorization exported on DC 2.
  const imported = await t.call('POST', '/api/v1/sessions/import', { sessionString, name: 'moved home' });
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  assert.equal(imported.body.data.status, 'connected');
  assert.equal(imported.body.data.user.id, home.userId);
  const sessionId = imported.body.data.id as string;
  await sendToSelf(t, sessionId, 'sent after USER_MIGRATE_4');
  const history = await t.call('GET', `/api/v1/messages/history?sessionId=${sessionId}&chatId=me&limit=5`);
  assert.equal(history.status, 200, JSON.stringify(history.body));
  assert.ok(history.body.data.some((m: { text?: string }) => m.text === 'sent after USER_MIGRATE_4'));
  assert.equal(await exportedDc(t, sessionId), 4, 'the session string now names the home DC');
  const keys = keyDcs(home.userId).sort();
  assert.deepEqual(keys, [2, 4, 4], 'a second authorized key, on DC 4');

  t = await t.restart();
  await waitFor(
    async () => (await sessionOf(t, sessionId)).status === 'connected',
    10_000,
    'the moved session back after the restart',
  );
  await sendToSelf(t, sessionId, 'after the restart');
  assert.equal(await exportedDc(t, sessionId), 4);
  assert.deepEqual(keyDcs(home.userId).sort(), keys, 'the restart went straight to DC 4 with its key');
});
