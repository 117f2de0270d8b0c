/**
 * The sandbox's control API passed through TeleFlow for the dashboard (admin only): users with
 * their login codes, creating users and chats, sending as a user, accepting a QR login; the
 * sandbox's refusals become the contract's envelope.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestApp } from '../helpers/app.js';
import { newPhone, waitFor } from '../helpers/telegram.js';

test('sandbox routes: users and codes, create, send, chats and a QR login through TeleFlow', async () => {
  const t = await createTestApp({ env: { TELEGRAM_SANDBOX: 'true' } });
  const headers = { 'x-api-key': t.adminKey };
  const call = async (method: 'GET' | 'POST', url: string, payload?: unknown) => {
    const res = await t.app.inject({
      method,
      url: `/api/v1${url}`,
      headers,
      ...(payload ? { payload } : {}),
    });
    return { status: res.statusCode, body: res.json() };
  };
  try {
    const [alice, bob, carol] = [newPhone(), newPhone(), newPhone()];
    const created = await call('POST', '/sandbox/users', {
      phone: alice,
      firstName: 'Alice',
      username: 'alice_tf',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.data.phone, alice);
    assert.equal(created.body.data.username, 'alice_tf');
    assert.equal(
      (await call('POST', '/sandbox/users', { phone: bob, firstName: 'Bob', password: 'pw' })).status,
      201,
    );

    // TeleFlow starts a sign-in for Alice: her code shows in the list and by phone.
    const start = await call('POST', '/sessions', { phone: alice });
    assert.equal(start.status, 201, JSON.stringify(start.body));
    const users = await call('GET', '/sandbox/users');
    assert.equal(users.status, 200);
    const listed = users.body.data.find((u: { phone: string }) => u.phone === alice);
    assert.match(listed.lastCode, /^\d{5}$/);
    assert.equal(listed.firstName, 'Alice');
    assert.equal(users.body.data.find((u: { phone: string }) => u.phone === bob).twoFactor, true);
    assert.equal(users.body.data.find((u: { phone: string }) => u.phone === bob).lastCode, null);
    const code = await call('GET', `/sandbox/codes?phone=${alice}`);
    assert.deepEqual(code.body.data, { phone: alice, code: listed.lastCode });
    const verified = await call('POST', '/sessions/verify-code', {
      sessionId: start.body.data.id,
      code: listed.lastCode,
    });
    assert.equal(verified.body.data.status, 'connected');

    // Bob writes to Alice: TeleFlow records it for her session.
    const sent = await call('POST', '/sandbox/messages', {
      from: bob,
      to: alice,
      text: 'hello from the sandbox',
    });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.equal(typeof sent.body.data.id, 'number');
    await waitFor(
      async () => {
        const rows = await t.app.services.events.readAfter(0, { types: null, sessionIds: null }, 1000);
        return rows.some(
          (e) => e.type === 'message.received' && JSON.stringify(e).includes('hello from the sandbox'),
        );
      },
      8000,
      'message.received for the sandbox message',
    );

    const group = await call('POST', '/sandbox/chats', {
      type: 'group',
      title: 'Team',
      owner: bob,
      members: [alice],
    });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    assert.match(group.body.data.id, /^-\d+$/);
    const channel = await call('POST', '/sandbox/chats', { type: 'channel', title: 'News', owner: bob });
    assert.match(channel.body.data.id, /^-100\d+$/);

    // A QR login accepted by Carol.
    assert.equal((await call('POST', '/sandbox/users', { phone: carol, firstName: 'Carol' })).status, 201);
    const qr = await call('POST', '/sessions/qr', { name: 'by qr' });
    assert.equal(qr.status, 201, JSON.stringify(qr.body));
    const accepted = await call('POST', '/sandbox/login-tokens/accept', {
      phone: carol,
      token: qr.body.data.qr.url,
    });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(accepted.body.data.accepted, true);
    await waitFor(
      async () =>
        (await call('GET', `/sessions/${qr.body.data.session.id}`)).body.data.status === 'connected',
      8000,
      'QR session connected',
    );

    // The sandbox's refusals in the contract's envelope.
    const unknownUser = await call('POST', '/sandbox/messages', {
      from: '15550000000',
      to: alice,
      text: 'x',
    });
    assert.equal(unknownUser.status, 404);
    assert.equal(unknownUser.body.error.code, 'USER_NOT_FOUND');
    const taken = await call('POST', '/sandbox/users', { phone: alice });
    assert.equal(taken.status, 400);
    assert.equal(taken.body.error.code, 'BAD_REQUEST');
    assert.equal(taken.body.error.details.sandboxCode, 'PHONE_NUMBER_OCCUPIED');
    const badToken = await call('POST', '/sandbox/login-tokens/accept', { phone: carol, token: 'AAAA' });
    assert.equal(badToken.status, 400, JSON.stringify(badToken.body));
    const invalid = await call('POST', '/sandbox/chats', { type: 'forum', title: '', owner: 'x' });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.code, 'VALIDATION_ERROR');
    const noCode = await call('GET', '/sandbox/codes?phone=15559999999');
    assert.equal(noCode.status, 400);
    assert.equal(noCode.body.error.details.sandboxCode, 'CODE_NOT_FOUND');

    // Admin only.
    const operator = await t.keyFor('operator');
    const refused = await t.app.inject({ url: '/api/v1/sandbox/users', headers: { 'x-api-key': operator } });
    assert.equal(refused.statusCode, 403);
  } finally {
    await t.close();
  }
});

test('sandbox routes answer 404 ROUTE_NOT_FOUND when no sandbox runs', async () => {
  const t = await createTestApp();
  try {
    for (const [method, url, payload] of [
      ['GET', '/api/v1/sandbox/users', undefined],
      ['POST', '/api/v1/sandbox/messages', { from: '15550000001', to: '15550000002', text: 'x' }],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: { 'x-api-key': t.adminKey }, payload });
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().error.code, 'ROUTE_NOT_FOUND');
    }
  } finally {
    await t.close();
  }
});
