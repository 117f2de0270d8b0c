/**
 * The sandbox's control API over real HTTP: the fixed routes of API.md, the extra routes that
 * play other people, self-documentation at GET /, and 4xx JSON errors for bad input.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { Api } from 'teleproto';
import { clientFor, closeClient, control, startTestSandbox } from '../helpers/sandbox.js';
import type { Sandbox } from '../helpers/sandbox.js';

let sandbox: Sandbox;

before(async () => {
  sandbox = await startTestSandbox();
});

after(async () => {
  await sandbox.close();
});

test('GET / documents every route, including the fixed ones of API.md', async () => {
  const { status, body } = await control(sandbox, 'GET', '/');
  assert.equal(status, 200);
  const listed = body.routes.map((r: { method: string; path: string }) => `${r.method} ${r.path}`);
  for (const fixed of [
    'POST /users',
    'GET /codes',
    'POST /chats',
    'POST /messages',
    'POST /faults',
    'POST /connections/drop',
    'POST /login-tokens/accept',
  ]) {
    assert.ok(listed.includes(fixed), `${fixed} listed`);
  }
  assert.ok(body.routes.every((r: { description: string }) => r.description.length > 0));
  assert.ok(body.rpcMethods.includes('messages.SendMessage'));
});

test('POST /users creates a user; duplicates and bad bodies are 4xx JSON errors', async () => {
  const created = await control(sandbox, 'POST', '/users', {
    phone: '15557770001',
    firstName: 'Dora',
    username: 'dora_x',
  });
  assert.equal(created.status, 201);
  assert.deepEqual(Object.keys(created.body).sort(), ['dc', 'id', 'phone', 'username']);
  assert.equal(created.body.phone, '15557770001');
  assert.equal(created.body.dc, 2, 'home DC 2 when none is given');
  assert.equal(created.body.username, 'dora_x');

  const duplicate = await control(sandbox, 'POST', '/users', { phone: '15557770001' });
  assert.equal(duplicate.status, 400);
  assert.equal(duplicate.body.error.code, 'PHONE_NUMBER_OCCUPIED');
  const takenName = await control(sandbox, 'POST', '/users', { phone: '15557770009', username: 'dora_x' });
  assert.equal(takenName.body.error.code, 'USERNAME_OCCUPIED');

  for (const bad of [
    {},
    { phone: 12 },
    { phone: 'abc' },
    { phone: '15557770002', firstName: '' },
    { phone: '15557770002', dc: 6 },
    { phone: '15557770002', dc: 0 },
  ]) {
    const response = await control(sandbox, 'POST', '/users', bad);
    assert.equal(response.status, 400, JSON.stringify(bad));
    assert.equal(response.body.error.code, 'VALIDATION_FAILED');
    assert.equal(typeof response.body.error.message, 'string');
  }
  const notJson = await control(sandbox, 'POST', '/users', '{"phone": ');
  assert.equal(notJson.status, 400);
  assert.equal(notJson.body.error.code, 'INVALID_JSON');
  assert.equal((await control(sandbox, 'GET', '/nowhere')).status, 404);
  assert.equal((await control(sandbox, 'PUT', '/users')).status, 405);
  assert.equal((await control(sandbox, 'GET', '/users/15550000000')).status, 404);
});

test('GET /codes answers the last code sent, 400 without phone, 404 before any', async () => {
  assert.equal((await control(sandbox, 'GET', '/codes')).status, 400);
  assert.equal((await control(sandbox, 'GET', '/codes?phone=15557779999')).status, 404);
  sandbox.world.sendCode('9996640001');
  assert.deepEqual((await control(sandbox, 'GET', '/codes?phone=9996640001')).body, {
    phone: '9996640001',
    code: '44444',
  });
  const random = sandbox.world.sendCode('+1 555 777 0003');
  const read = await control(sandbox, 'GET', '/codes?phone=15557770003');
  assert.equal(read.body.code, random.code);
  assert.match(random.code, /^\d{5}$/);
});

test('chats, members, admins, invites and messages as any user', async () => {
  for (const phone of ['15557771001', '15557771002', '15557771003'])
    await control(sandbox, 'POST', '/users', { phone });
  const group = await control(sandbox, 'POST', '/chats', {
    type: 'group',
    title: 'G',
    owner: '15557771001',
    members: ['15557771002'],
  });
  assert.equal(group.status, 201);
  assert.match(group.body.id, /^-\d+$/);
  const supergroup = await control(sandbox, 'POST', '/chats', {
    type: 'supergroup',
    title: 'S',
    owner: '15557771001',
    username: 'super_s',
  });
  assert.match(supergroup.body.id, /^-100\d+$/);
  const channel = await control(sandbox, 'POST', '/chats', {
    type: 'channel',
    title: 'C',
    owner: '15557771001',
  });
  assert.match(channel.body.id, /^-100\d+$/);
  assert.equal(
    (await control(sandbox, 'POST', '/chats', { type: 'group', title: 'x', owner: '15550000000' })).status,
    404,
  );
  assert.equal(
    (await control(sandbox, 'POST', '/chats', { type: 'forum', title: 'x', owner: '15557771001' })).status,
    400,
  );

  const added = await control(sandbox, 'POST', `/chats/${group.body.id}/members`, { phone: '15557771003' });
  assert.equal(added.body.members.length, 3);
  const removed = await control(sandbox, 'DELETE', `/chats/${group.body.id}/members/15557771003`);
  assert.equal(removed.body.members.length, 2);
  const joined = await control(sandbox, 'POST', `/chats/${supergroup.body.id}/members`, {
    phone: '15557771002',
  });
  assert.equal(joined.body.members.length, 2);
  const promoted = await control(sandbox, 'POST', `/chats/${supergroup.body.id}/admins`, {
    phone: '15557771002',
    rights: { pinMessages: true, deleteMessages: true },
  });
  const member = promoted.body.members.find((m: { phone: string }) => m.phone === '15557771002');
  assert.deepEqual(member.rights, { pinMessages: true, deleteMessages: true });
  const invite = await control(sandbox, 'POST', `/chats/${channel.body.id}/invites`, {});
  assert.match(invite.body.link, /^https:\/\/t\.me\/\+/);

  const toUser = await control(sandbox, 'POST', '/messages', {
    from: '15557771001',
    to: '15557771002',
    text: 'direct',
  });
  assert.equal(toUser.status, 201);
  assert.equal(toUser.body.copies['15557771002'] > 0, true);
  const toUsername = await control(sandbox, 'POST', '/messages', {
    from: '15557771002',
    to: '@super_s',
    text: 'in the supergroup',
  });
  assert.equal(toUsername.body.chatId, supergroup.body.id);
  const toGroup = await control(sandbox, 'POST', '/messages', {
    from: '15557771002',
    to: group.body.id,
    text: 'in the group',
  });
  assert.equal(toGroup.status, 201);
  const bobId = toUser.body.copies['15557771002'];
  assert.equal(
    (
      await control(sandbox, 'POST', '/messages/edit', {
        by: '15557771001',
        chat: '15557771002',
        messageId: toUser.body.id,
        text: 'direct, edited',
      })
    ).status,
    200,
  );
  const notAuthor = await control(sandbox, 'POST', '/messages/edit', {
    by: '15557771002',
    chat: '15557771001',
    messageId: bobId,
    text: 'hijack',
  });
  assert.equal(notAuthor.status, 400);
  assert.equal(notAuthor.body.error.code, 'MESSAGE_AUTHOR_REQUIRED');
  assert.equal(
    (
      await control(sandbox, 'POST', '/messages/react', {
        by: '15557771002',
        chat: '15557771001',
        messageId: bobId,
        emoji: '🔥',
      })
    ).status,
    200,
  );
  assert.equal(
    (
      await control(sandbox, 'POST', '/messages/pin', {
        by: '15557771002',
        chat: '15557771001',
        messageId: bobId,
      })
    ).status,
    200,
  );
  assert.equal(
    (await control(sandbox, 'POST', '/messages/read', { by: '15557771002', chat: '15557771001' })).status,
    200,
  );
  assert.equal(
    (await control(sandbox, 'POST', '/typing', { from: '15557771001', to: '15557771002' })).status,
    200,
  );
  const deleted = await control(sandbox, 'POST', '/messages/delete', {
    by: '15557771001',
    chat: '15557771002',
    messageIds: [toUser.body.id],
  });
  assert.equal(deleted.body.ptsCount, 1);
  assert.equal(
    (await control(sandbox, 'POST', '/messages', { from: '15557771001', to: '@nobody_here', text: 'x' }))
      .status,
    404,
  );
  assert.equal(
    (await control(sandbox, 'POST', '/messages', { from: '15557771001', to: '15557771002', text: '' }))
      .status,
    400,
  );
  assert.equal(
    (
      await control(sandbox, 'POST', '/messages', {
        from: '15557771001',
        to: '15557771002',
        text: 'x'.repeat(5000),
      })
    ).status,
    400,
  );
  const gone = await control(sandbox, 'POST', '/messages/react', {
    by: '15557771002',
    chat: '15557771001',
    messageId: bobId,
    emoji: '🔥',
  });
  assert.equal(gone.body.error.code, 'MESSAGE_ID_INVALID');
});

test('profiles, status, 2FA, faults and connections', async () => {
  await control(sandbox, 'POST', '/users', { phone: '15557772001', firstName: 'Eve' });
  const patched = await control(sandbox, 'PATCH', '/users/15557772001', {
    firstName: 'Evelyn',
    username: 'evelyn',
  });
  assert.equal(patched.body.firstName, 'Evelyn');
  assert.equal(patched.body.username, 'evelyn');
  assert.equal(
    (await control(sandbox, 'POST', '/users/15557772001/status', { online: true })).body.online,
    true,
  );
  assert.equal(
    (await control(sandbox, 'POST', '/users/15557772001/password', { password: 'pw' })).body.twoFactor,
    true,
  );
  assert.equal((await control(sandbox, 'GET', '/users/15557772001')).body.twoFactor, true);

  assert.equal((await control(sandbox, 'POST', '/faults', { error: 'flood' })).status, 400);
  const fault = await control(sandbox, 'POST', '/faults', {
    error: 'FLOOD_WAIT_30',
    count: 2,
    method: 'messages.sendMessage',
  });
  assert.equal(fault.status, 201);
  assert.equal(fault.body.code, 420);
  assert.equal((await control(sandbox, 'POST', '/faults', { error: 'INTERNAL' })).body.code, 500);
  assert.equal(
    (await control(sandbox, 'POST', '/faults', { error: 'AUTH_KEY_UNREGISTERED' })).body.code,
    401,
  );
  assert.equal(
    (await control(sandbox, 'POST', '/faults', { error: 'CHAT_WRITE_FORBIDDEN', code: 403 })).body.code,
    403,
  );
  assert.equal((await control(sandbox, 'GET', '/faults')).body.faults.length, 4);
  await control(sandbox, 'DELETE', '/faults');
  assert.equal((await control(sandbox, 'GET', '/faults')).body.faults.length, 0);

  assert.deepEqual((await control(sandbox, 'POST', '/connections/drop', {})).body, { dropped: 0 });
  assert.equal((await control(sandbox, 'POST', '/connections/drop', { phone: '15550000000' })).status, 404);
  assert.equal((await control(sandbox, 'POST', '/connections/refuse', { ms: 0 })).status, 200);
  assert.equal((await control(sandbox, 'POST', '/connections/refuse', { ms: -1 })).status, 400);
});

/** A raw request (fetch refuses some of these paths and bodies), answered as status and JSON. */
function rawCall(
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const { port } = new URL(sandbox.controlUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('bad paths and bodies are 4xx JSON errors and the server stays up', async () => {
  for (const [method, path] of [
    ['GET', '/users/%E0%A4%A'],
    ['PATCH', '/users/%'],
    ['DELETE', '/chats/%zz/members/%E0'],
    ['POST', '/users/%C0%AF/status'],
  ]) {
    const answer = await rawCall(method, path, '{"online": true}', { 'content-type': 'application/json' });
    assert.equal(answer.status, 400, path);
    assert.equal(answer.body.error.code, 'BAD_PATH', path);
  }
  const deep = '['.repeat(200_000) + ']'.repeat(200_000);
  const nested = await rawCall('POST', '/users', deep, { 'content-type': 'application/json' });
  assert.equal(nested.status, 400);
  const deepObject = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
  assert.equal((await rawCall('POST', '/messages', deepObject)).status, 400);
  const huge = await rawCall('POST', '/users', Buffer.alloc(2 * 1024 * 1024, 0x20), {
    'content-type': 'application/json',
  });
  assert.equal(huge.status, 413);
  assert.equal(huge.body.error.code, 'PAYLOAD_TOO_LARGE');
  assert.equal((await rawCall('POST', '/users', '\u0000\xff{')).body.error.code, 'INVALID_JSON');
  assert.equal((await rawCall('POST', '/users', '[1, 2]')).body.error.code, 'VALIDATION_FAILED');
  assert.equal((await rawCall('GET', '/users//x')).status, 404);
  assert.equal((await rawCall('GET', '//sandbox/users')).status, 404);

  // Bytes that are not HTTP at all: a JSON 400, then the connection closes.
  const socket = createConnection({ host: '127.0.0.1', port: Number(new URL(sandbox.controlUrl).port) });
  socket.end('\x16\x03\x01 not http at all\r\n\r\n');
  let reply = '';
  socket.on('data', (d: Buffer) => (reply += d));
  await once(socket, 'close');
  assert.match(reply, /^HTTP\/1\.1 400 /);
  assert.equal(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).error.code, 'BAD_REQUEST');
  assert.equal((await control(sandbox, 'GET', '/')).status, 200, 'still serving');
});

test("POST /login-tokens/accept: a user accepts a waiting client's QR login", async () => {
  const phone = '15557773001';
  await control(sandbox, 'POST', '/users', { phone, firstName: 'Quinn' });
  const waiting = clientFor(sandbox);
  try {
    await waiting.connect();
    const exportToken = () =>
      waiting.invoke(new Api.auth.ExportLoginToken({ apiId: 12345, apiHash: 'x', exceptIds: [] }));
    const exported = await exportToken();
    assert.ok(exported instanceof Api.auth.LoginToken);
    const token = Buffer.from(exported.token).toString('base64url');

    const unknownUser = await control(sandbox, 'POST', '/login-tokens/accept', {
      phone: '15550000000',
      token,
    });
    assert.equal(unknownUser.status, 404);
    const unknownToken = await control(sandbox, 'POST', '/login-tokens/accept', { phone, token: 'AAAA' });
    assert.equal(unknownToken.status, 400);
    assert.equal(unknownToken.body.error.code, 'AUTH_TOKEN_INVALID');
    for (const bad of [{ phone }, { phone, token: 'not base64!' }, { phone, token: 5 }]) {
      const answer = await control(sandbox, 'POST', '/login-tokens/accept', bad);
      assert.equal(answer.body.error.code, 'VALIDATION_FAILED', JSON.stringify(bad));
    }

    // The whole tg://login URL is taken too.
    const accepted = await control(sandbox, 'POST', '/login-tokens/accept', {
      phone,
      token: `tg://login?token=${token}`,
    });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(accepted.body.accepted, true);
    const again = await control(sandbox, 'POST', '/login-tokens/accept', { phone, token });
    assert.equal(again.body.error.code, 'AUTH_TOKEN_ALREADY_ACCEPTED');

    const success = await exportToken();
    assert.ok(success instanceof Api.auth.LoginTokenSuccess);
    assert.equal((await waiting.getMe()).phone, phone);
  } finally {
    await closeClient(waiting);
  }
});
