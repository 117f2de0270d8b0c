/**
 * Recovery from dropped connections with TeleFlow's production timings (a watchdog that runs
 * once a minute, 30 s call timeout), so nothing here is rescued by a quick watchdog.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:net';
import { after, before, test } from 'node:test';
import {
  createTelegramTestApp,
  eventsOf,
  signIn,
  startTestSandbox,
  waitFor,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';

const production = {
  sessionManager: {
    reconnectBaseMs: 1000,
    reconnectMaxMs: 60_000,
    watchdogIntervalMs: 60_000,
    callTimeoutMs: 30_000,
  },
};

let sbx: TestSandbox;
let t: TelegramTestApp;
let other: TelegramTestApp;

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx, production);
  other = await createTelegramTestApp(sbx, production);
});

after(async () => {
  await other?.close();
  await t?.close();
  await sbx?.close();
});

async function statusOf(app: TelegramTestApp, sessionId: string): Promise<string> {
  return (await app.call('GET', `/api/v1/sessions/${sessionId}`)).body.data.status;
}

/** Within `ms`: connected, gets a message a sandbox user sends, and sends one itself. */
async function assertRecovered(
  app: TelegramTestApp,
  session: { sessionId: string; phone: string },
  from: { phone: string },
  ms: number,
  label: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  const left = () => Math.max(1, deadline - Date.now());
  await waitFor(
    async () => (await statusOf(app, session.sessionId)) === 'connected',
    left(),
    `${label}: connected`,
  );
  const sent = await sbx.control('POST', '/messages', { from: from.phone, to: session.phone, text: label });
  await waitFor(
    async () =>
      (await eventsOf(app, session.sessionId, 'message.received')).some(
        (e) => e.message.id === sent.copies[session.phone],
      ),
    left(),
    `${label}: message received`,
  );
  const send = await app.call('POST', '/api/v1/messages/send', {
    sessionId: session.sessionId,
    chatId: 'me',
    text: `${label}: alive`,
  });
  assert.equal(send.status, 200, `${label}: ${JSON.stringify(send.body)}`);
  assert.ok(Date.now() <= deadline, `${label}: recovered, but after more than ${ms} ms`);
}

test('after an export, an import on a second instance (one key, two clients), disconnect/connect and a restart, a drop of every connection is survived', async () => {
  const alice = await signIn(t, sbx);
  const bob = await signIn(t, sbx);
  const exported = await t.call('POST', `/api/v1/sessions/${alice.sessionId}/export`);
  assert.equal(exported.status, 200, JSON.stringify(exported.body));
  const imported = await other.call('POST', '/api/v1/sessions/import', {
    sessionString: exported.body.data.sessionString,
    name: 'twin',
  });
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  const twin = { sessionId: imported.body.data.id as string, phone: alice.phone };

  assert.equal((await t.call('POST', `/api/v1/sessions/${alice.sessionId}/disconnect`)).status, 200);
  const connected = await t.call('POST', `/api/v1/sessions/${alice.sessionId}/connect`);
  assert.equal(connected.body.data.status, 'connected', JSON.stringify(connected.body));
  t = await t.restart();
  await waitFor(async () => (await statusOf(t, alice.sessionId)) === 'connected', 10_000, 'alice back');
  await waitFor(async () => (await statusOf(t, bob.sessionId)) === 'connected', 10_000, 'bob back');

  // What one client of the key sends is not pushed to the other (same key): the other one
  // sees a pts gap at the next update and catches up, so catch-ups run around the drop.
  const fromTwin = await other.call('POST', '/api/v1/messages/send', {
    sessionId: twin.sessionId,
    chatId: 'me',
    text: 'from the second instance',
  });
  assert.equal(fromTwin.status, 200, JSON.stringify(fromTwin.body));
  await sbx.control('POST', '/messages', { from: bob.phone, to: alice.phone, text: 'gap' });

  const { dropped } = await sbx.control('POST', '/connections/drop', {});
  assert.ok(dropped >= 3, `every connection dropped (${dropped})`);
  // Calls made while the library is re-establishing the connection (it waits 1 s first).
  await new Promise((r) => setTimeout(r, 200));
  const started = Date.now();
  const early = await Promise.all(
    [1, 2, 3].map((n) =>
      t.call('POST', '/api/v1/messages/send', {
        sessionId: alice.sessionId,
        chatId: 'me',
        text: `early ${n}`,
      }),
    ),
  );
  for (const res of early) assert.ok([200, 503].includes(res.status), JSON.stringify(res.body));
  assert.ok(Date.now() - started < 10_000, `early calls answered after ${Date.now() - started} ms`);
  await Promise.all([
    assertRecovered(t, alice, bob, 30_000, 'restarted instance'),
    assertRecovered(other, twin, bob, 30_000, 'second instance'),
  ]);
});

test('calls made while the library re-establishes a dropped connection are answered once it is back', async () => {
  const carol = await signIn(t, sbx);
  await sbx.control('POST', '/connections/drop', { phone: carol.phone });
  // The library notices the drop at once and reconnects a second later: the calls fall in between.
  await new Promise((r) => setTimeout(r, 200));
  const started = Date.now();
  const results = await Promise.all(
    [1, 2, 3].map((n) =>
      t.call('POST', '/api/v1/messages/send', { sessionId: carol.sessionId, chatId: 'me', text: `n${n}` }),
    ),
  );
  const took = Date.now() - started;
  // Before: only the first of them reached the server; the others waited for the 30 s timeout.
  for (const res of results) assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.ok(took < 10_000, `answered after ${took} ms`);
});

test('a catch-up that fails after the library reconnected gets the session a new client, not a stuck status', async () => {
  const dave = await signIn(t, sbx);
  const erin = await signIn(t, sbx);
  await sbx.control('POST', '/faults', {
    error: 'PERSISTENT_TIMESTAMP_OUTDATED',
    method: 'updates.getDifference',
    phone: dave.phone,
    count: 1,
  });
  try {
    await sbx.control('POST', '/connections/drop', { phone: dave.phone });
    // The library reconnects within about a second; its catch-up then meets the fault.
    await waitFor(
      async () => (await sbx.control('GET', '/faults')).faults.length === 0,
      10_000,
      'the catch-up after the reconnect',
    );
    // Before: "connecting" for good; the watchdog's probe succeeded and changed nothing.
    await assertRecovered(t, dave, erin, 10_000, 'after a failed catch-up');
  } finally {
    await sbx.control('DELETE', '/faults');
  }
});

test('when the library gives up reconnecting (nothing listens for a while), TeleFlow brings the session back without the watchdog', async () => {
  const frank = await signIn(t, sbx);
  const gina = await signIn(t, sbx);
  const listener = (sbx.sandbox.server as unknown as { server: Server }).server;
  const { port, address } = listener.address() as { port: number; address: string };
  await new Promise<void>((resolve) => {
    listener.close(() => resolve());
    void sbx.control('POST', '/connections/drop', {});
  });
  // The library tries twice, 500 ms apart, then stops; the watchdog would come in a minute.
  await new Promise((r) => setTimeout(r, 4000));
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(port, address, () => resolve());
  });
  await assertRecovered(t, frank, gina, 15_000, 'after the server came back');
});

test('a client closed while the library waits to reconnect it leaves no connection behind', async () => {
  // A sandbox of its own: the connection count must not move with the other tests' sessions.
  const own = await startTestSandbox();
  const app = await createTelegramTestApp(own, production);
  try {
    const hank = await signIn(app, own);
    // The listener of the account's home DC (DC 2 when none is given), where its session lives.
    const server = own.sandbox.servers.get(2)!;
    assert.equal(server.connectionCount, 1);
    await own.control('POST', '/connections/drop', { phone: hank.phone });
    // The library reconnects a second after it notices; the session is disconnected before that.
    await new Promise((r) => setTimeout(r, 200));
    const off = await app.call('POST', `/api/v1/sessions/${hank.sessionId}/disconnect`);
    assert.equal(off.body.data.status, 'disconnected');
    await new Promise((r) => setTimeout(r, 2500));
    // Before: the planned reconnect opened a connection for the closed client (it sends
    // nothing, so only the count shows it), and nothing ever closed it.
    assert.equal(server.connectionCount, 0, 'connections left open');
  } finally {
    await app.close();
    await own.close();
  }
});
