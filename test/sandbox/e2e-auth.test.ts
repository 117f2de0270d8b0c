/**
 * The real teleproto client against the sandbox over TCP: sign-up, sign-in by code, 2FA with
 * a wrong then a right password, QR login accepted by a second client, logOut, a restart with
 * the data dir keeping a saved session authorized, and an unknown method failing fast.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api } from 'teleproto';
import type { TelegramClient } from 'teleproto';
import {
  clientFor,
  closeClient,
  codeFor,
  control,
  saveSession,
  signedInClient,
  startTestSandbox,
  testPhone,
} from '../helpers/sandbox.js';
import type { Sandbox } from '../helpers/sandbox.js';

let sandbox: Sandbox;
let dataDir: string;
const clients: TelegramClient[] = [];
const track = (client: TelegramClient) => {
  clients.push(client);
  return client;
};

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'teleflow-sandbox-'));
  sandbox = await startTestSandbox({ dataDir });
});

after(async () => {
  for (const client of clients) await closeClient(client);
  await sandbox.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a new number signs up, then getMe answers that user', async () => {
  const phone = testPhone(3);
  const client = track(await signedInClient(sandbox, phone, { firstName: 'Newcomer' }));
  const me = await client.getMe();
  assert.equal(me.phone, phone);
  assert.equal(me.firstName, 'Newcomer');
  const fromControl = await control(sandbox, 'GET', `/users/${phone}`);
  assert.equal(fromControl.body.id, me.id.toString());
  assert.equal(fromControl.body.authorizations, 1);
});

test('sign-in by a random code read from the control API; a wrong code is refused first', async () => {
  const phone = '15551230001';
  const created = await control(sandbox, 'POST', '/users', {
    phone,
    firstName: 'Coder',
    username: 'coder_one',
  });
  assert.equal(created.status, 201);
  const client = track(clientFor(sandbox));
  const errors: string[] = [];
  let attempts = 0;
  await client.start({
    phoneNumber: phone,
    phoneCode: async () => {
      attempts++;
      if (attempts === 1) return '00000';
      const { body } = await control(sandbox, 'GET', `/codes?phone=${phone}`);
      return body.code as string;
    },
    onError: async (error: Error & { errorMessage?: string }) => {
      errors.push(error.errorMessage ?? error.message);
      return false;
    },
  });
  assert.deepEqual(errors, ['PHONE_CODE_INVALID']);
  const me = await client.getMe();
  assert.equal(me.username, 'coder_one');
});

test('2FA: a wrong password fails with PASSWORD_HASH_INVALID, the right one signs in (real SRP)', async () => {
  const phone = testPhone(4);
  await control(sandbox, 'POST', '/users', { phone, firstName: 'Secret', password: 'correct horse' });
  const client = track(clientFor(sandbox));
  const errors: string[] = [];
  const tries = ['wrong password', 'correct horse'];
  await client.start({
    phoneNumber: phone,
    phoneCode: async () => codeFor(phone),
    password: async () => tries.shift() ?? '',
    onError: async (error: Error & { errorMessage?: string }) => {
      errors.push(error.errorMessage ?? error.message);
      return false;
    },
  });
  assert.deepEqual(errors, ['PASSWORD_HASH_INVALID']);
  assert.equal((await client.getMe()).phone, phone);
});

test('QR login: a signed-in client accepts the token and the waiting client is signed in', async () => {
  const phone = testPhone(5);
  const owner = track(await signedInClient(sandbox, phone, { firstName: 'Owner' }));
  const waiting = track(clientFor(sandbox));
  await waiting.connect();
  // The raw calls of the QR flow (teleproto's signInUserWithQrCode leaves a 30 s timer behind).
  const loginTokenSeen = new Promise<void>((resolve) => {
    waiting.addEventHandler((update: unknown) => {
      if (update instanceof Api.UpdateLoginToken) resolve();
    });
  });
  const exported = await waiting.invoke(
    new Api.auth.ExportLoginToken({ apiId: 12345, apiHash: 'x', exceptIds: [] }),
  );
  assert.ok(exported instanceof Api.auth.LoginToken);
  assert.ok(exported.expires > Date.now() / 1000 && exported.expires <= Date.now() / 1000 + 31);
  const authorization = await owner.invoke(new Api.auth.AcceptLoginToken({ token: exported.token }));
  assert.ok(authorization instanceof Api.Authorization);
  await loginTokenSeen;
  const success = await waiting.invoke(
    new Api.auth.ExportLoginToken({ apiId: 12345, apiHash: 'x', exceptIds: [] }),
  );
  assert.ok(success instanceof Api.auth.LoginTokenSuccess);
  assert.equal(((success.authorization as Api.auth.Authorization).user as Api.User).phone, phone);
  assert.equal((await waiting.getMe()).phone, phone);
  await assert.rejects(
    owner.invoke(new Api.auth.AcceptLoginToken({ token: exported.token })),
    /AUTH_TOKEN_INVALID/,
  );
  const described = await control(sandbox, 'GET', `/users/${phone}`);
  assert.equal(described.body.authorizations, 2);
});

test('auth.logOut unregisters the key: later calls on that session fail', async () => {
  const phone = testPhone(6);
  const client = track(await signedInClient(sandbox, phone));
  const session = saveSession(client);
  await client.invoke(new Api.auth.LogOut());
  await closeClient(client);
  assert.equal((await control(sandbox, 'GET', `/users/${phone}`)).body.authorizations, 0);
  const again = track(clientFor(sandbox, session));
  const authorized = await Promise.race([
    (async () => {
      await again.connect();
      return again.checkAuthorization();
    })().catch(() => false),
    new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 8000).unref()),
  ]);
  assert.equal(authorized, false);
});

test('an unknown method fails within seconds with METHOD_NOT_SUPPORTED_BY_SANDBOX', async () => {
  const client = track(await signedInClient(sandbox, testPhone(7)));
  const started = Date.now();
  await assert.rejects(
    client.invoke(new Api.stickers.CheckShortName({ shortName: 'abc' })),
    (error: Error & { errorMessage?: string; code?: number }) => {
      assert.equal(error.errorMessage, 'METHOD_NOT_SUPPORTED_BY_SANDBOX');
      assert.equal(error.code, 400);
      return true;
    },
  );
  assert.ok(Date.now() - started < 3000);
});

test('after a sandbox restart with its data dir, a saved session reconnects authorized', async () => {
  const phone = testPhone(8);
  const client = await signedInClient(sandbox, phone, { firstName: 'Persistent' });
  await client.sendMessage('me', { message: 'remember me' });
  const session = saveSession(client);
  await closeClient(client);
  await sandbox.close();
  for (const c of clients.splice(0)) await closeClient(c);
  sandbox = await startTestSandbox({ dataDir });
  const resumed = track(clientFor(sandbox, session));
  await resumed.connect();
  const me = await resumed.getMe();
  assert.equal(me.firstName, 'Persistent');
  const history = await resumed.getMessages('me', { limit: 5 });
  assert.deepEqual(
    [...history].map((m) => m.message),
    ['remember me'],
  );
});
