/**
 * The metrics fed by what TeleFlow does, end to end: real sessions on the sandbox sending and
 * receiving, a FLOOD_WAIT injected through the sandbox's control API, webhook deliveries to a
 * real HTTP receiver, real SSE and WebSocket clients. Each test scrapes before and after and
 * checks the change.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { openSse, openWs } from '../helpers/stream-clients.js';
import {
  createTelegramTestApp,
  signIn,
  startTestSandbox,
  waitFor,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';
import { scrape, valueOf, type Sample } from './helpers.js';

const INSTANCE = 'node-b';
let sbx: TestSandbox;
let t: TelegramTestApp;
let base: string;
let alice: { sessionId: string; phone: string; userId: string };
let bob: { sessionId: string; phone: string; userId: string };

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx, {
    env: { INSTANCE_ID: INSTANCE, WEBHOOK_RETRY_SCHEDULE: '100ms', WEBHOOK_POLL_INTERVAL_MS: '200' },
  });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  base = `127.0.0.1:${(t.app.server.address() as AddressInfo).port}/api/v1`;
  alice = await signIn(t, sbx, { username: 'alice_metrics', firstName: 'Alice' });
  bob = await signIn(t, sbx, { username: 'bob_metrics', firstName: 'Bob' });
});

after(async () => {
  await t?.close();
  await sbx?.close();
});

const metrics = async (): Promise<Sample[]> => (await scrape(t.app, { 'x-api-key': t.adminKey })).samples;
const send = (sessionId: string, chatId: string, text: string) =>
  t.call('POST', '/api/v1/messages/send', { sessionId, chatId, text });

test('sends are counted per session and result; their events per type, with the commit delay', async () => {
  const before = await metrics();
  const sent = { session_id: alice.sessionId, result: 'ok' };
  for (const text of ['one', 'two', 'three']) {
    const res = await send(alice.sessionId, '@bob_metrics', text);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  const unknown = await send(alice.sessionId, '@nobody_metrics_here', 'lost');
  assert.equal(unknown.status, 404);
  // Bob's session records each as message.received.
  await waitFor(
    async () =>
      valueOf(await metrics(), 'teleflow_events_committed_total', { type: 'message.received' }) -
        valueOf(before, 'teleflow_events_committed_total', { type: 'message.received' }) >=
      3,
    10_000,
    "bob's message.received events",
  );

  const now = await metrics();
  const delta = (name: string, labels: Record<string, string> = {}) =>
    valueOf(now, name, labels) - valueOf(before, name, labels);
  assert.equal(delta('teleflow_sends_total', sent), 3);
  assert.equal(delta('teleflow_sends_total', { ...sent, result: 'CHAT_NOT_FOUND' }), 1);
  assert.equal(delta('teleflow_sends_total', { session_id: bob.sessionId, result: 'ok' }), 0);
  assert.equal(delta('teleflow_events_committed_total', { type: 'message.sent' }), 3);
  assert.ok(delta('teleflow_event_commit_delay_seconds_count') >= 6);
  const seconds = delta('teleflow_event_commit_delay_seconds_sum');
  assert.ok(seconds >= 0 && seconds < 5, `commit delays add up to ${seconds} s`);

  const [newest] = (
    await t.app.services.events.readAfter(0, { types: null, sessionIds: null }, 100_000)
  ).slice(-1);
  assert.equal(valueOf(now, 'teleflow_event_log_last_id'), newest!.id);
  assert.equal(
    valueOf(now, 'teleflow_event_log_last_timestamp_seconds'),
    Date.parse(newest!.envelope.timestamp) / 1000,
  );
});

test('a message arriving from Telegram is an event committed', async () => {
  const before = await metrics();
  await sbx.control('POST', '/messages', { from: bob.phone, to: alice.phone, text: 'from the outside' });
  const now = await waitFor(
    async () => {
      const m = await metrics();
      return valueOf(m, 'teleflow_events_committed_total', { type: 'message.received' }) >
        valueOf(before, 'teleflow_events_committed_total', { type: 'message.received' })
        ? m
        : undefined;
    },
    10_000,
    'message.received',
  );
  assert.ok(valueOf(now, 'teleflow_event_log_last_id') > valueOf(before, 'teleflow_event_log_last_id'));
});

test('FLOOD_WAIT: one slept through and one answered 429 are both counted, with their seconds', async () => {
  const before = await metrics();
  const session = { session_id: alice.sessionId };
  // Under FLOOD_SLEEP_THRESHOLD_SECONDS (10): the client waits 3 s and the send succeeds.
  await sbx.control('POST', '/faults', {
    error: 'FLOOD_WAIT_3',
    method: 'messages.sendMessage',
    phone: alice.phone,
    count: 1,
  });
  const started = Date.now();
  const slept = await send(alice.sessionId, '@bob_metrics', 'after a wait');
  assert.equal(slept.status, 200, JSON.stringify(slept.body));
  assert.ok(Date.now() - started >= 2900, 'the wait was slept through');
  let now = await metrics();
  assert.equal(
    valueOf(now, 'teleflow_flood_waits_total', session) -
      valueOf(before, 'teleflow_flood_waits_total', session),
    1,
  );
  assert.equal(
    valueOf(now, 'teleflow_flood_wait_seconds_total', session) -
      valueOf(before, 'teleflow_flood_wait_seconds_total', session),
    3,
  );
  assert.equal(valueOf(now, 'teleflow_flood_waits_total', { session_id: bob.sessionId }), 0);

  // Over the threshold: 429 FLOOD_WAIT, counted as a send result as well.
  await sbx.control('POST', '/faults', {
    error: 'FLOOD_WAIT_30',
    method: 'messages.sendMessage',
    phone: alice.phone,
    count: 1,
  });
  const refused = await send(alice.sessionId, '@bob_metrics', 'too soon');
  assert.equal(refused.status, 429, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, 'FLOOD_WAIT');
  now = await metrics();
  assert.equal(
    valueOf(now, 'teleflow_flood_waits_total', session) -
      valueOf(before, 'teleflow_flood_waits_total', session),
    2,
  );
  assert.equal(
    valueOf(now, 'teleflow_flood_wait_seconds_total', session) -
      valueOf(before, 'teleflow_flood_wait_seconds_total', session),
    33,
  );
  assert.equal(
    valueOf(now, 'teleflow_sends_total', { ...session, result: 'FLOOD_WAIT' }) -
      valueOf(before, 'teleflow_sends_total', { ...session, result: 'FLOOD_WAIT' }),
    1,
  );
});

test('webhook deliveries: attempts by result, dead ones, the delay from due to attempt and the open backlog', async () => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const good = await startWebhookReceiver({
    // The first answer waits until released, so the deliveries behind it stay open meanwhile.
    respond: async (n) => {
      if (n === 0) await held;
      return 200;
    },
  });
  const bad = await startWebhookReceiver({ respond: () => 500 });
  const hooks: string[] = [];
  try {
    for (const url of [good.url, bad.url]) {
      const res = await t.call('POST', '/api/v1/webhooks', {
        url,
        events: ['message.sent'],
        sessionIds: [alice.sessionId],
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      hooks.push(res.body.data.id as string);
    }
    const before = await metrics();
    for (const text of ['w1', 'w2', 'w3'])
      assert.equal((await send(alice.sessionId, 'me', text)).status, 200);

    // The good receiver holds the first; the other two wait behind it, in order.
    const during = await waitFor(
      async () => {
        const m = await metrics();
        return valueOf(m, 'teleflow_webhook_deliveries_open') >= 2 ? m : undefined;
      },
      10_000,
      'open deliveries',
    );
    assert.ok(valueOf(during, 'teleflow_webhook_delivery_backlog_seconds') >= 0);
    // The webhooks have read the log up to just before their oldest open delivery's event.
    const lastId = valueOf(during, 'teleflow_event_log_last_id');
    const webhooksAt = valueOf(during, 'teleflow_event_log_consumed_id', { consumer: 'webhooks' });
    assert.ok(webhooksAt > 0 && lastId - webhooksAt >= 2, `webhooks at ${webhooksAt} of ${lastId}`);
    assert.equal(valueOf(during, 'teleflow_event_log_consumed_id', { consumer: 'streams' }), lastId);
    release();
    await good.waitFor(3);
    // 1 attempt, 1 retry 100 ms later, then dead: 3 deliveries to the failing receiver.
    await bad.waitFor(6);
    const now = await waitFor(
      async () => {
        const m = await metrics();
        return valueOf(m, 'teleflow_webhook_deliveries_dead_total') -
          valueOf(before, 'teleflow_webhook_deliveries_dead_total') >=
          3 && valueOf(m, 'teleflow_webhook_deliveries_open') === 0
          ? m
          : undefined;
      },
      10_000,
      'dead deliveries',
    );
    const delta = (name: string, labels: Record<string, string> = {}) =>
      valueOf(now, name, labels) - valueOf(before, name, labels);
    assert.equal(delta('teleflow_webhook_delivery_attempts_total', { result: 'succeeded' }), 3);
    assert.equal(delta('teleflow_webhook_delivery_attempts_total', { result: 'failed' }), 3);
    assert.equal(delta('teleflow_webhook_delivery_attempts_total', { result: 'dead' }), 3);
    assert.equal(delta('teleflow_webhook_deliveries_dead_total'), 3);
    assert.equal(delta('teleflow_webhook_delivery_delay_seconds_count'), 9);
    // The two held back behind the first waited for it: their delay shows in the histogram.
    assert.ok(delta('teleflow_webhook_delivery_delay_seconds_sum') > 0);
    assert.equal(valueOf(now, 'teleflow_webhook_delivery_backlog_seconds'), 0);
    assert.equal(
      valueOf(now, 'teleflow_event_log_consumed_id', { consumer: 'webhooks' }),
      valueOf(now, 'teleflow_event_log_last_id'),
      'caught up',
    );
  } finally {
    release();
    for (const id of hooks) await t.call('DELETE', `/api/v1/webhooks/${id}`);
    await good.close();
    await bad.close();
  }
});

test('stream clients are counted by transport while connected', async () => {
  const headers = { 'x-api-key': t.adminKey };
  const sse = openSse(`http://${base}/events`, headers);
  const ws = openWs(`ws://${base}/ws`, headers);
  try {
    await ws.opened;
    const connected = await waitFor(
      async () => {
        const m = await metrics();
        return valueOf(m, 'teleflow_stream_clients', { transport: 'sse' }) === 1 ? m : undefined;
      },
      5000,
      'the SSE client',
    );
    assert.equal(valueOf(connected, 'teleflow_stream_clients', { transport: 'ws' }), 1);
  } finally {
    sse.es.close();
    ws.ws.close();
  }
  await waitFor(
    async () => {
      const m = await metrics();
      return (
        valueOf(m, 'teleflow_stream_clients', { transport: 'sse' }) === 0 &&
        valueOf(m, 'teleflow_stream_clients', { transport: 'ws' }) === 0
      );
    },
    5000,
    'the clients to be gone',
  );
});

test('sessions by status and owner, /health listing the ones this instance runs; no phone anywhere', async () => {
  const owned = { status: 'connected', owner: INSTANCE };
  let now = await metrics();
  assert.equal(valueOf(now, 'teleflow_sessions', owned), 2);
  let health = await t.app.inject({ url: '/health' });
  assert.equal(health.json().instance.id, INSTANCE);
  assert.deepEqual(
    (health.json().instance.sessions as { id: string; status: string }[]).sort((a, b) =>
      a.id.localeCompare(b.id),
    ),
    [
      { id: alice.sessionId, status: 'connected' },
      { id: bob.sessionId, status: 'connected' },
    ].sort((a, b) => a.id.localeCompare(b.id)),
  );

  assert.equal((await t.call('POST', `/api/v1/sessions/${bob.sessionId}/disconnect`)).status, 200);
  const scraped = await scrape(t.app, { 'x-api-key': t.adminKey });
  now = scraped.samples;
  assert.equal(valueOf(now, 'teleflow_sessions', owned), 1);
  assert.equal(valueOf(now, 'teleflow_sessions', { status: 'disconnected', owner: 'none' }), 1);
  health = await t.app.inject({ url: '/health' });
  assert.deepEqual(health.json().instance.sessions, [{ id: alice.sessionId, status: 'connected' }]);
  assert.equal(health.json().sessions.disconnected, 1);
  for (const phone of [alice.phone, bob.phone]) {
    assert.ok(!scraped.text.includes(phone), 'no phone in /metrics');
    assert.ok(!health.body.includes(phone), 'no phone in /health');
  }
});

test("a deleted session's series go with it", async () => {
  const carol = await signIn(t, sbx, { firstName: 'Carol' });
  assert.equal((await send(carol.sessionId, 'me', 'note to self')).status, 200);
  const labels = { session_id: carol.sessionId, result: 'ok' };
  assert.equal(valueOf(await metrics(), 'teleflow_sends_total', labels), 1);
  assert.equal((await t.call('DELETE', `/api/v1/sessions/${carol.sessionId}`)).status, 200);
  const now = await metrics();
  assert.ok(!now.some((s) => s.labels.session_id === carol.sessionId));
  assert.ok(
    now.some((s) => s.labels.session_id === alice.sessionId),
    "the others' stay",
  );
});
