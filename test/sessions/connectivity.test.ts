import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { TEST_SECRETS } from '../helpers/app.js';
import {
  createTelegramTestApp,
  eventsOf,
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

async function statusOf(sessionId: string): Promise<string> {
  return (await t.call('GET', `/api/v1/sessions/${sessionId}`)).body.data.status;
}

test('a long outage: the session retries with backoff until the server is back, then catches up', async () => {
  const a = await signIn(t, sbx);
  const b = await signIn(t, sbx);
  // Longer than the client library's own reconnect attempts: TeleFlow's backoff takes over.
  await sbx.control('POST', '/connections/refuse', { ms: 3000 });
  await sbx.control('POST', '/connections/drop', { phone: a.phone });
  await waitFor(async () => (await statusOf(a.sessionId)) === 'connecting', 3000, 'connecting');
  const during = await sbx.control('POST', '/messages', {
    from: b.phone,
    to: a.phone,
    text: 'during the outage',
  });
  const send = await t.call('POST', '/api/v1/messages/send', {
    sessionId: a.sessionId,
    chatId: 'me',
    text: 'x',
  });
  assert.equal(send.status, 503, 'calls while reconnecting answer 503');
  assert.equal(send.body.error.code, 'SESSION_NOT_CONNECTED');
  await waitFor(
    async () => (await statusOf(a.sessionId)) === 'connected',
    12_000,
    'connected after the outage',
  );
  await waitFor(
    async () =>
      (await eventsOf(t, a.sessionId, 'message.received')).some(
        (e) => e.message.id === during.copies[a.phone],
      ),
    5000,
    'message from the outage',
  );
  // Visible as events: session.connected is recorded as the reconnect completes, which the
  // status row can show a moment before.
  await waitFor(
    async () =>
      (await eventsOf(t, a.sessionId, 'session.disconnected')).length >= 1 &&
      (await eventsOf(t, a.sessionId, 'session.connected')).length >= 2,
    5000,
    'the outage is visible as events',
  );
});

test('TELEGRAM_SANDBOX=true starts the sandbox in-process (data in DATA_DIR/sandbox) and points sessions at it', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'teleflow-embedded-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    TELEGRAM_SANDBOX: 'true',
    ...TEST_SECRETS,
  });
  const app = await buildApp(config);
  try {
    await app.ready();
    const embedded = app.services.telegram.sandbox;
    assert.ok(embedded, 'the endpoint describes the embedded sandbox');
    assert.ok(existsSync(join(dataDir, 'sandbox', 'server-public.pem')));
    const headers = { 'x-api-key': config.apiKey };
    // Telegram's test-number convention: 99966XYYYY receives the code XXXXX.
    const phone = '9996621234';
    const start = await app.inject({ method: 'POST', url: '/api/v1/sessions', headers, payload: { phone } });
    assert.equal(start.statusCode, 201, start.body);
    const verify = await app.inject({
      method: 'POST',
      url: '/api/v1/sessions/verify-code',
      headers,
      payload: { sessionId: start.json().data.id, code: '22222' },
    });
    assert.equal(verify.statusCode, 200, verify.body);
    assert.equal(verify.json().data.status, 'connected');
    const res = await fetch(`${embedded.controlUrl}/users/${phone}`);
    assert.equal(res.status, 200, 'the control API of the embedded sandbox answers');
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the watchdog finds a connection that died silently and replaces it', async () => {
  const app = await createTelegramTestApp(sbx, {
    sessionManager: { watchdogIntervalMs: 300, callTimeoutMs: 1500 },
  });
  try {
    const a = await signIn(app, sbx);
    const b = await signIn(app, sbx);
    const keys = new Set(sbx.sandbox.world.keysOf(Number(a.userId)));
    type Listener = {
      connections: Set<{
        authKeyId?: bigint;
        socket: { pause(): void; write: (...args: unknown[]) => boolean };
      }>;
    };
    // The account's connections are on its home DC's listener.
    const connections = [...sbx.sandbox.servers.values()].flatMap((server) => [
      ...(server as unknown as Listener).connections,
    ]);
    const victims = connections.filter((c) => c.authKeyId !== undefined && keys.has(c.authKeyId));
    assert.ok(victims.length >= 1);
    // The TCP connection stays open but nothing goes through any more: no FIN, no RST.
    for (const c of victims) {
      c.socket.pause();
      c.socket.write = () => true;
    }
    const sent = await sbx.control('POST', '/messages', {
      from: b.phone,
      to: a.phone,
      text: 'into the void',
    });
    const received = await waitFor(
      async () =>
        (await eventsOf(app, a.sessionId, 'message.received')).find(
          (e) => e.message.id === sent.copies[a.phone],
        ),
      12_000,
      'message delivered over a new connection',
    );
    assert.equal(received.message.text, 'into the void');
    const send = await app.call('POST', '/api/v1/messages/send', {
      sessionId: a.sessionId,
      chatId: 'me',
      text: 'alive',
    });
    assert.equal(send.status, 200, JSON.stringify(send.body));
  } finally {
    await app.close();
  }
});

// Transport error -404: Telegram answers it for an auth key it does not know, but also for a
// packet it could not read. One -404 on a valid key leaves the session connected (TeleFlow asks
// again on a fresh connection); a key really forgotten is confirmed and the session logged_out.
const sessionOf = async (id: string) => (await t.call('GET', `/api/v1/sessions/${id}`)).body.data;
const sendToSelf = (sessionId: string, text: string) =>
  t.call('POST', '/api/v1/messages/send', { sessionId, chatId: 'me', text });

test('one -404 on a valid key: the key is asked about again on a fresh connection and the session stays signed in', async () => {
  const a = await signIn(t, sbx);
  await sbx.control('POST', '/connections/auth-key-not-found', { phone: a.phone, count: 1 });
  // The next packet of the session gets the -404; the call itself may fail with it.
  await sendToSelf(a.sessionId, 'meets the -404');
  const back = await waitFor(
    async () => {
      const s = await sessionOf(a.sessionId);
      assert.notEqual(s.status, 'logged_out', `not signed out: ${JSON.stringify(s.lastError)}`);
      return s.status === 'connected' ? s : undefined;
    },
    15_000,
    'connected again',
  );
  assert.equal(back.lastError, null);
  const ok = await sendToSelf(a.sessionId, 'after the -404');
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const reasons = (await eventsOf(t, a.sessionId, 'session.disconnected')).map((e) => e.reason);
  assert.ok(!reasons.includes('auth_key_unregistered'), `never signed out: ${reasons.join(', ')}`);
});

test('a key Telegram really forgot: -404 again on the fresh connection, the session is logged_out', async () => {
  const a = await signIn(t, sbx);
  await sbx.control('POST', '/connections/auth-key-not-found', { phone: a.phone, forget: true });
  const gone = await waitFor(
    async () => {
      const s = await sessionOf(a.sessionId);
      return s.status === 'logged_out' ? s : undefined;
    },
    15_000,
    'logged_out',
  );
  assert.equal(gone.lastError.code, 'AUTH_KEY_UNREGISTERED');
  const res = await sendToSelf(a.sessionId, 'x');
  assert.equal(res.status, 409);
});

test('AUTH_KEY_DUPLICATED (the key used from two places at once): logged_out with that reason, no retrying', async () => {
  const a = await signIn(t, sbx);
  // Telegram's verdict, injected (auth-key-duplicated.test.ts makes the sandbox reach it itself).
  await sbx.control('POST', '/faults', {
    error: 'AUTH_KEY_DUPLICATED',
    code: 406,
    method: 'messages.sendMessage',
    phone: a.phone,
  });
  const res = await sendToSelf(a.sessionId, 'x');
  assert.equal(res.status, 409, JSON.stringify(res.body));
  assert.equal(res.body.error.details?.telegramError, 'AUTH_KEY_DUPLICATED');
  const gone = await waitFor(
    async () => {
      const s = await sessionOf(a.sessionId);
      return s.status === 'logged_out' ? s : undefined;
    },
    5000,
    'logged_out',
  );
  assert.equal(gone.lastError.code, 'AUTH_KEY_DUPLICATED');
  assert.equal((await t.call('POST', `/api/v1/sessions/${a.sessionId}/connect`)).status, 409);
});
