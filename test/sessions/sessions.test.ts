import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Api } from 'teleproto';
import { EVENT_DATA_SCHEMAS } from '../../src/modules/events/events.schema.js';
import { createSandboxClient } from '../helpers/sandbox-client.js';
import {
  createTelegramTestApp,
  eventsOf,
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

test('sign-in by code: code_sent, then connected with the user; list, get and session events', async () => {
  const phone = newPhone();
  const user = await sbx.control('POST', '/users', { phone, firstName: 'Ada', username: 'ada_code' });
  const start = await t.call('POST', '/api/v1/sessions', { phone: `+${phone}`, name: 'Ada' });
  assert.equal(start.status, 201);
  assert.equal(start.body.data.status, 'code_sent');
  assert.equal(start.body.data.user, null);
  assert.equal(start.body.data.name, 'Ada');
  const sessionId = start.body.data.id;

  const { code } = await sbx.control('GET', `/codes?phone=${phone}`);
  const verified = await t.call('POST', '/api/v1/sessions/verify-code', { sessionId, code });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  assert.equal(verified.body.data.status, 'connected');
  assert.deepEqual(verified.body.data.user, {
    id: user.id,
    firstName: 'Ada',
    lastName: null,
    username: 'ada_code',
    phone,
  });
  assert.equal(verified.body.data.lastError, null);

  const one = await t.call('GET', `/api/v1/sessions/${sessionId}`);
  assert.equal(one.body.data.status, 'connected');
  const list = await t.call('GET', '/api/v1/sessions');
  assert.ok(list.body.data.some((s: { id: string }) => s.id === sessionId));

  const again = await t.call('POST', '/api/v1/sessions/verify-code', { sessionId, code });
  assert.equal(again.status, 409, 'a signed-in session cannot verify a code again');

  for (const type of ['session.created', 'session.authorized', 'session.connected'] as const) {
    await waitFor(async () => (await eventsOf(t, sessionId, type)).length === 1, 3000, type);
  }
});

test('wrong code -> 400 PHONE_CODE_INVALID and the session waits for the right one', async () => {
  const phone = newPhone();
  await sbx.control('POST', '/users', { phone, firstName: 'Wrong' });
  const start = await t.call('POST', '/api/v1/sessions', { phone });
  const sessionId = start.body.data.id;
  const { code } = await sbx.control('GET', `/codes?phone=${phone}`);
  const wrong = code === '11111' ? '22222' : '11111';
  const bad = await t.call('POST', '/api/v1/sessions/verify-code', { sessionId, code: wrong });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'PHONE_CODE_INVALID');
  const still = await t.call('GET', `/api/v1/sessions/${sessionId}`);
  assert.equal(still.body.data.status, 'code_sent');
  assert.equal(still.body.data.lastError.code, 'PHONE_CODE_INVALID');
  const good = await t.call('POST', '/api/v1/sessions/verify-code', { sessionId, code });
  assert.equal(good.body.data.status, 'connected');
});

test('expired code -> 400 PHONE_CODE_EXPIRED', async () => {
  const short = await startTestSandbox({ world: { codeTtlSeconds: 1 } });
  const app = await createTelegramTestApp(short);
  try {
    const phone = newPhone();
    await short.control('POST', '/users', { phone, firstName: 'Late' });
    const start = await app.call('POST', '/api/v1/sessions', { phone });
    const { code } = await short.control('GET', `/codes?phone=${phone}`);
    await new Promise((r) => setTimeout(r, 2100));
    const late = await app.call('POST', '/api/v1/sessions/verify-code', {
      sessionId: start.body.data.id,
      code,
    });
    assert.equal(late.status, 400);
    assert.equal(late.body.error.code, 'PHONE_CODE_EXPIRED');
  } finally {
    await app.close();
    await short.close();
  }
});

test('2FA: password_required, a wrong password -> 400 PASSWORD_INVALID, the right one -> connected', async () => {
  const phone = newPhone();
  await sbx.control('POST', '/users', { phone, firstName: 'Tfa', password: 'correct horse' });
  const start = await t.call('POST', '/api/v1/sessions', { phone });
  const sessionId = start.body.data.id;
  const { code } = await sbx.control('GET', `/codes?phone=${phone}`);
  const verified = await t.call('POST', '/api/v1/sessions/verify-code', { sessionId, code });
  assert.equal(verified.body.data.status, 'password_required');
  const bad = await t.call('POST', '/api/v1/sessions/verify-password', {
    sessionId,
    password: 'battery staple',
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'PASSWORD_INVALID');
  const good = await t.call('POST', '/api/v1/sessions/verify-password', {
    sessionId,
    password: 'correct horse',
  });
  assert.equal(good.status, 200);
  assert.equal(good.body.data.status, 'connected');
  assert.equal(good.body.data.user.phone, phone);
});

test('a new phone number signs up and the session works', async () => {
  const phone = newPhone();
  const start = await t.call('POST', '/api/v1/sessions', { phone, name: 'Newbie' });
  const { code } = await sbx.control('GET', `/codes?phone=${phone}`);
  const verified = await t.call('POST', '/api/v1/sessions/verify-code', {
    sessionId: start.body.data.id,
    code,
  });
  assert.equal(verified.body.data.status, 'connected');
  assert.equal(verified.body.data.user.firstName, 'Newbie');
});

test('export (admin only) then import: the imported session is the same account, connected', async () => {
  const a = await signIn(t, sbx);
  const operator = await t.keyFor('operator');
  const denied = await t.call('POST', `/api/v1/sessions/${a.sessionId}/export`, undefined, {
    'x-api-key': operator,
  });
  assert.equal(denied.status, 403);
  const exported = await t.call('POST', `/api/v1/sessions/${a.sessionId}/export`);
  assert.equal(exported.status, 200);
  const sessionString = exported.body.data.sessionString as string;
  assert.match(sessionString, /^1[A-Za-z0-9+/=]+$/, 'GramJS StringSession format');

  // One session per auth key: importing a key this TeleFlow already holds is a conflict.
  const twice = await t.call('POST', '/api/v1/sessions/import', { sessionString, name: 'copy' });
  assert.equal(twice.status, 409, JSON.stringify(twice.body));
  assert.equal(twice.body.error.details.sessionId, a.sessionId);

  // Moved to another TeleFlow: disconnected here, imported there.
  await t.call('POST', `/api/v1/sessions/${a.sessionId}/disconnect`);
  const other = await createTelegramTestApp(sbx);
  try {
    const imported = await other.call('POST', '/api/v1/sessions/import', { sessionString, name: 'copy' });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    assert.equal(imported.body.data.status, 'connected');
    assert.equal(imported.body.data.user.id, a.userId);
    assert.equal(imported.body.data.name, 'copy');
    const sent = await other.call('POST', '/api/v1/messages/send', {
      sessionId: imported.body.data.id,
      chatId: 'me',
      text: 'from the import',
    });
    assert.equal(sent.status, 200);
    const reexported = await other.call('POST', `/api/v1/sessions/${imported.body.data.id}/export`);
    assert.equal(reexported.body.data.sessionString, sessionString);
  } finally {
    await other.close();
  }

  // The session string is sealed at rest, never stored in the clear.
  const row = await t.app.services.db.db
    .selectFrom('tg_sessions')
    .select(['session_secret', 'key_version'])
    .where('id', '=', a.sessionId)
    .executeTakeFirstOrThrow();
  assert.ok(row.session_secret?.startsWith('v1.'));
  assert.ok(!row.session_secret!.includes(sessionString.slice(1, 40)));

  const garbage = await t.call('POST', '/api/v1/sessions/import', { sessionString: 'not-a-session-string' });
  assert.equal(garbage.status, 400);
  assert.equal(garbage.body.error.code, 'VALIDATION_ERROR');
});

test('QR login: qr_pending with a tg://login URL and a PNG; accepted by a signed-in app -> connected', async () => {
  const a = await signIn(t, sbx);
  const qr = await t.call('POST', '/api/v1/sessions/qr', { name: 'by qr' });
  assert.equal(qr.status, 201, JSON.stringify(qr.body));
  assert.equal(qr.body.data.session.status, 'qr_pending');
  assert.match(qr.body.data.qr.url, /^tg:\/\/login\?token=[A-Za-z0-9_-]+$/);
  assert.match(qr.body.data.qr.dataUrl, /^data:image\/png;base64,/);
  assert.ok(Date.parse(qr.body.data.qr.expiresAt) > Date.now());
  const sessionId = qr.body.data.session.id;

  // The phone that scans: a teleproto client on account A's exported key.
  const exported = await t.call('POST', `/api/v1/sessions/${a.sessionId}/export`);
  const phoneApp = createSandboxClient({
    host: sbx.sandbox.host,
    port: sbx.sandbox.port,
    // The exported key belongs to the account's DC: dial each DC at its own port.
    dcs: sbx.sandbox.dcs,
    publicKeyPem: sbx.sandbox.publicKeyPem,
    session: exported.body.data.sessionString,
  });
  try {
    await phoneApp.connect();
    const token = Buffer.from(new URL(qr.body.data.qr.url).searchParams.get('token')!, 'base64url');
    await phoneApp.invoke(new Api.auth.AcceptLoginToken({ token }));
  } finally {
    await phoneApp.destroy();
  }
  const done = await waitFor(
    async () => {
      const s = await t.call('GET', `/api/v1/sessions/${sessionId}`);
      return s.body.data.status === 'connected' ? s.body.data : undefined;
    },
    5000,
    'QR session connected',
  );
  assert.equal(done.user.id, a.userId);
});

test('disconnect -> 503 on use and no reconnect; connect -> connected again', async () => {
  const a = await signIn(t, sbx);
  const off = await t.call('POST', `/api/v1/sessions/${a.sessionId}/disconnect`);
  assert.equal(off.status, 200);
  assert.equal(off.body.data.status, 'disconnected');
  const send = await t.call('POST', '/api/v1/messages/send', {
    sessionId: a.sessionId,
    chatId: 'me',
    text: 'x',
  });
  assert.equal(send.status, 503);
  assert.equal(send.body.error.code, 'SESSION_NOT_CONNECTED');
  assert.ok(send.headers['retry-after']);
  await waitFor(
    async () => (await eventsOf(t, a.sessionId, 'session.disconnected')).length === 1,
    3000,
    'event',
  );
  const on = await t.call('POST', `/api/v1/sessions/${a.sessionId}/connect`);
  assert.equal(on.status, 200);
  assert.equal(on.body.data.status, 'connected');
  const ok = await t.call('POST', '/api/v1/messages/send', {
    sessionId: a.sessionId,
    chatId: 'me',
    text: 'back',
  });
  assert.equal(ok.status, 200);
});

test('a session logged out elsewhere moves to logged_out with lastError; its calls answer 409', async () => {
  const a = await signIn(t, sbx);
  await sbx.control('POST', `/users/${a.phone}/logout`);
  const send = await t.call('POST', '/api/v1/messages/send', {
    sessionId: a.sessionId,
    chatId: 'me',
    text: 'x',
  });
  assert.ok([409, 503].includes(send.status), JSON.stringify(send.body));
  const s = await waitFor(
    async () => {
      const r = await t.call('GET', `/api/v1/sessions/${a.sessionId}`);
      return r.body.data.status === 'logged_out' ? r.body.data : undefined;
    },
    5000,
    'logged_out',
  );
  assert.ok(s.lastError.code);
  const again = await t.call('POST', '/api/v1/messages/send', {
    sessionId: a.sessionId,
    chatId: 'me',
    text: 'x',
  });
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'SESSION_NOT_AUTHORIZED');
  const connect = await t.call('POST', `/api/v1/sessions/${a.sessionId}/connect`);
  assert.equal(connect.status, 409);
});

test('DELETE logs the account out of Telegram and forgets the session', async () => {
  const a = await signIn(t, sbx);
  const before = await sbx.control('GET', `/users/${a.phone}`);
  const del = await t.call('DELETE', `/api/v1/sessions/${a.sessionId}`);
  assert.equal(del.status, 200);
  assert.equal((await t.call('GET', `/api/v1/sessions/${a.sessionId}`)).status, 404);
  const afterUser = await sbx.control('GET', `/users/${a.phone}`);
  assert.equal(
    afterUser.authorizations,
    before.authorizations - 1,
    'the authorization is gone from Telegram',
  );
  await waitFor(
    async () => (await eventsOf(t, a.sessionId, 'session.deleted')).length === 1,
    3000,
    'deleted event',
  );
  assert.equal((await t.call('DELETE', `/api/v1/sessions/${a.sessionId}`)).status, 404);
});

test('bad input on the session routes -> 4xx envelope', async () => {
  const cases: [string, string, unknown, number][] = [
    ['POST', '/api/v1/sessions', {}, 400],
    ['POST', '/api/v1/sessions', { phone: 12345 }, 400],
    ['POST', '/api/v1/sessions', { phone: '+1555', extra: true }, 400],
    ['POST', '/api/v1/sessions/verify-code', { sessionId: 'ses_nope', code: '12345' }, 404],
    ['POST', '/api/v1/sessions/verify-code', { sessionId: 'ses_nope' }, 400],
    ['POST', '/api/v1/sessions/verify-password', { sessionId: 'ses_nope', password: 'x' }, 404],
    ['POST', '/api/v1/sessions/verify-password', { sessionId: 'ses_nope', password: 5 }, 400],
    ['POST', '/api/v1/sessions/import', {}, 400],
    ['POST', '/api/v1/sessions/import', { sessionString: 'x'.repeat(100_000) }, 400],
    ['POST', '/api/v1/sessions/qr', { name: 5 }, 400],
    ['GET', '/api/v1/sessions/ses_nope', undefined, 404],
    ['DELETE', '/api/v1/sessions/ses_nope', undefined, 404],
    ['POST', '/api/v1/sessions/ses_nope/connect', undefined, 404],
    ['POST', '/api/v1/sessions/ses_nope/disconnect', undefined, 404],
    ['POST', '/api/v1/sessions/ses_nope/export', undefined, 404],
  ];
  for (const [method, url, body, status] of cases) {
    const res = await t.call(method as 'GET', url, body);
    assert.equal(
      res.status,
      status,
      `${method} ${url} ${JSON.stringify(body)?.slice(0, 60)}: ${JSON.stringify(res.body)}`,
    );
    assert.equal(res.body.success, false);
    assert.ok(res.body.error.code);
  }
});

test('every session event published matches its documented data schema', async () => {
  const events = await t.app.services.events.readAfter(0, { types: null, sessionIds: null }, 10_000);
  const types = new Set(events.map((e) => e.type));
  for (const type of [
    'session.created',
    'session.authorized',
    'session.connected',
    'session.disconnected',
    'session.deleted',
  ])
    assert.ok(types.has(type as never), `no ${type} event`);
  for (const e of events) {
    const result = EVENT_DATA_SCHEMAS[e.type].safeParse(e.envelope.data);
    assert.ok(result.success, `${e.type}: ${JSON.stringify(result.error?.issues)}`);
  }
});

test('QR login: the token refreshes as it expires; GET /sessions/:id/qr shows the current one', async () => {
  const quick = await startTestSandbox({ world: { loginTokenTtlSeconds: 1 } });
  const app = await createTelegramTestApp(quick);
  try {
    const a = await signIn(app, quick);
    const qr = await app.call('POST', '/api/v1/sessions/qr', {});
    assert.equal(qr.status, 201, JSON.stringify(qr.body));
    const sessionId = qr.body.data.session.id;
    const first = qr.body.data.qr.url;
    const refreshed = await waitFor(
      async () => {
        const cur = await app.call('GET', `/api/v1/sessions/${sessionId}/qr`);
        return cur.status === 200 && cur.body.data.url !== first ? cur.body.data : undefined;
      },
      5000,
      'a refreshed token',
    );
    assert.match(refreshed.dataUrl, /^data:image\/png;base64,/);
    assert.equal((await app.call('GET', `/api/v1/sessions/${sessionId}`)).body.data.status, 'qr_pending');

    const exported = await app.call('POST', `/api/v1/sessions/${a.sessionId}/export`);
    const phoneApp = createSandboxClient({
      host: quick.sandbox.host,
      port: quick.sandbox.port,
      dcs: quick.sandbox.dcs,
      publicKeyPem: quick.sandbox.publicKeyPem,
      session: exported.body.data.sessionString,
    });
    try {
      await phoneApp.connect();
      const current = (await app.call('GET', `/api/v1/sessions/${sessionId}/qr`)).body.data.url as string;
      const token = Buffer.from(new URL(current).searchParams.get('token')!, 'base64url');
      await phoneApp.invoke(new Api.auth.AcceptLoginToken({ token }));
    } finally {
      await phoneApp.destroy();
    }
    await waitFor(
      async () => (await app.call('GET', `/api/v1/sessions/${sessionId}`)).body.data.status === 'connected',
      5000,
      'connected by the refreshed token',
    );
    const none = await app.call('GET', `/api/v1/sessions/${sessionId}/qr`);
    assert.equal(none.status, 409, 'no QR once signed in');
  } finally {
    await app.close();
    await quick.close();
  }
});
