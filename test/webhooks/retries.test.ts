import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, parseDelays } from '../../src/config.js';
import type { NewEvent } from '../../src/lib/events.js';
import { createTestApp, TEST_SECRETS, type TestApp } from '../helpers/app.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const received = (n: number): NewEvent => ({
  type: 'message.received',
  sessionId: null,
  data: {
    message: {
      id: n,
      chatId: '777',
      senderId: '555',
      date: new Date().toISOString(),
      text: `m${n}`,
      out: false,
    },
  },
});

type Delivery = {
  id: string;
  eventId: string;
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  createdAt: string;
  updatedAt: string;
};

async function createWebhook(t: TestApp, url: string): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/webhooks',
    headers: { 'x-api-key': t.adminKey },
    payload: { url, events: ['*'] },
  });
  assert.equal(res.statusCode, 201, res.body);
  return (res.json() as { data: { id: string } }).data.id;
}

async function deliveries(t: TestApp, webhookId: string): Promise<Delivery[]> {
  const res = await t.app.inject({
    method: 'GET',
    url: `/api/v1/webhooks/${webhookId}/deliveries?limit=100`,
    headers: { 'x-api-key': t.adminKey },
  });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { data: Delivery[] }).data;
}

async function waitForDeliveries(
  t: TestApp,
  webhookId: string,
  done: (list: Delivery[]) => boolean,
  timeoutMs = 10_000,
): Promise<Delivery[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const list = await deliveries(t, webhookId);
    if (done(list)) return list;
    if (Date.now() > end) throw new Error(`timed out; deliveries: ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A loopback port nothing listens on (yet): a receiver that is down. */
async function downPort(): Promise<number> {
  const r = await startWebhookReceiver();
  await r.close();
  return r.port;
}

function redeliver(t: TestApp, webhookId: string, payload?: Record<string, unknown>) {
  return t.app.inject({
    method: 'POST',
    url: `/api/v1/webhooks/${webhookId}/deliveries/redeliver`,
    headers: { 'x-api-key': t.adminKey },
    ...(payload ? { payload } : {}),
  });
}

test('the default retry schedule keeps 1 s, 3 s, 10 s and goes on for about a day; h is a unit', (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-config-'));
  ctx.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { NODE_ENV: 'test', DATA_DIR: dir, ...TEST_SECRETS };
  const config = loadConfig(env);
  const schedule = config.webhooks.retryScheduleMs;
  assert.deepEqual(
    schedule.slice(0, 4),
    [1000, 3000, 10_000, 30_000],
    'the first delays are unchanged, the 4th is 30 s',
  );
  assert.ok(schedule.length >= 8, `${schedule.length} retries`);
  const total = schedule.reduce((a, b) => a + b, 0);
  assert.ok(total >= 20 * 3_600_000 && total <= 26 * 3_600_000, `retries span ${total / 3_600_000} h`);
  assert.ok(
    schedule.every((d, i) => i === 0 || d >= schedule[i - 1]!),
    'delays never shrink',
  );
  assert.deepEqual(parseDelays('200ms,2m,3h'), [200, 120_000, 10_800_000]);
  assert.deepEqual(
    loadConfig({ ...env, WEBHOOK_RETRY_SCHEDULE: '1s, 1h' }).webhooks.retryScheduleMs,
    [1000, 3_600_000],
  );
  assert.throws(() => loadConfig({ ...env, WEBHOOK_RETRY_SCHEDULE: '1d' }));
});

test('default schedule: a receiver down for the first four attempts gets the event at the fifth, 30 s later', async () => {
  // The worker reads due times from the app's clock; the test moves it instead of waiting.
  let offsetMs = 0;
  const clock = { now: () => new Date(Date.now() + offsetMs) };
  const t = await createTestApp({ clock });
  const port = await downPort();
  let receiver: WebhookReceiver | undefined;
  try {
    const hookId = await createWebhook(t, `http://127.0.0.1:${port}/hook`);
    const recorded = await t.app.services.events.record(received(1));
    const expected = [1000, 3000, 10_000, 30_000];
    for (let attempt = 1; attempt <= 4; attempt++) {
      const [d] = await waitForDeliveries(t, hookId, ([x]) => x?.attempts === attempt);
      assert.equal(d!.status, 'failed', `after attempt ${attempt} another is scheduled`);
      const delay = Date.parse(d!.nextAttemptAt!) - Date.parse(d!.updatedAt);
      const base = expected[attempt - 1]!;
      assert.ok(delay >= base && delay <= base * 1.1 + 1, `retry ${attempt} after ${delay} ms`);
      if (attempt === 4) break;
      offsetMs += delay;
      t.app.services.webhooks.dispatcher.kick(hookId, true);
    }
    // The receiver comes back (same port) before the 5th attempt is due.
    receiver = await startWebhookReceiver({ port });
    const [due] = await deliveries(t, hookId);
    offsetMs += Date.parse(due!.nextAttemptAt!) - clock.now().getTime() + 1;
    t.app.services.webhooks.dispatcher.kick(hookId, true);
    const [req] = await receiver.waitFor(1, 5000);
    assert.equal(req!.headers['webhook-id'], String(recorded.id));
    const [done] = await waitForDeliveries(t, hookId, ([x]) => x?.status === 'succeeded');
    assert.equal(done!.attempts, 5);
  } finally {
    await receiver?.close();
    await t.close();
  }
});

test('bulk redeliver: dead deliveries are queued again and arrive in event order; since limits them', async () => {
  const t = await createTestApp({
    env: { WEBHOOK_RETRY_SCHEDULE: '20ms', WEBHOOK_MAX_CONSECUTIVE_FAILURES: '0' },
  });
  const port = await downPort();
  let receiver: WebhookReceiver | undefined;
  try {
    const all = await createWebhook(t, `http://127.0.0.1:${port}/all`);
    const recent = await createWebhook(t, `http://127.0.0.1:${port}/recent`);
    const ev = t.app.services.events;
    const events = [await ev.record(received(1)), await ev.record(received(2)), await ev.record(received(3))];
    await new Promise((r) => setTimeout(r, 20));
    events.push(await ev.record(received(4)), await ev.record(received(5)));
    const allDead = (list: Delivery[]) => list.length === 5 && list.every((d) => d.status === 'dead');
    await waitForDeliveries(t, all, allDead);
    const dead = await waitForDeliveries(t, recent, allDead);

    // Nothing to do: not dead (succeeded/pending), or created before `since`.
    const none = await redeliver(t, all, { since: new Date(Date.now() + 60_000).toISOString() });
    assert.equal(none.statusCode, 202, none.body);
    assert.deepEqual(none.json().data, { count: 0 });

    receiver = await startWebhookReceiver({ port });
    const res = await redeliver(t, all);
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual(res.json().data, { count: 5 });
    const since = dead.find((d) => d.eventId === String(events[3]!.id))!.createdAt;
    const partial = await redeliver(t, recent, { status: 'dead', since });
    assert.deepEqual(partial.json().data, { count: 2 });

    const fromAll = await receiver.waitFor(5, 5000, (r) => r.url === '/all');
    assert.deepEqual(
      fromAll.map((r) => r.headers['webhook-id']),
      events.map((e) => String(e.id)),
      'in event order',
    );
    const fromRecent = await receiver.waitFor(2, 5000, (r) => r.url === '/recent');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      receiver.requests.filter((r) => r.url === '/recent').map((r) => r.headers['webhook-id']),
      events.slice(3).map((e) => String(e.id)),
    );
    assert.equal(fromRecent.length, 2);
    const after = await waitForDeliveries(t, all, (list) => list.every((d) => d.status === 'succeeded'));
    assert.ok(
      after.every((d) => d.attempts === 3),
      'two attempts that failed, then one more each',
    );
    assert.equal((await redeliver(t, all)).json().data.count, 0, 'nothing dead is left');

    for (const [payload, field] of [
      [{ status: 'succeeded' }, 'body.status'],
      [{ since: 'yesterday' }, 'body.since'],
      [{ extra: 1 }, 'body'],
    ] as const) {
      const bad = await redeliver(t, all, payload);
      assert.equal(bad.statusCode, 400, JSON.stringify(payload));
      assert.equal(bad.json().error.code, 'VALIDATION_ERROR');
      assert.ok(JSON.stringify(bad.json().error.details).includes(field), bad.body);
    }
    const missing = await redeliver(t, 'wh_missing');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'WEBHOOK_NOT_FOUND');
  } finally {
    await receiver?.close();
    await t.close();
  }
});

test('bulk redeliver of failed deliveries moves their scheduled retry to now', async () => {
  const t = await createTestApp({ env: { WEBHOOK_RETRY_SCHEDULE: '1h' } });
  let failing = true;
  const receiver = await startWebhookReceiver({ respond: () => (failing ? 503 : 200) });
  try {
    const hookId = await createWebhook(t, receiver.url);
    const recorded = await t.app.services.events.record(received(1));
    const [waiting] = await waitForDeliveries(t, hookId, ([d]) => d?.status === 'failed');
    assert.ok(Date.parse(waiting!.nextAttemptAt!) - Date.now() > 3_000_000, 'next attempt in an hour');
    failing = false;
    const res = await redeliver(t, hookId, { status: 'failed' });
    assert.deepEqual(res.json().data, { count: 1 });
    await receiver.waitFor(1, 5000, (r) => r.status === 200);
    const [done] = await waitForDeliveries(t, hookId, ([d]) => d?.status === 'succeeded');
    assert.equal(done!.attempts, 2);
    assert.equal(done!.eventId, String(recorded.id));
  } finally {
    await receiver.close();
    await t.close();
  }
});

test('bulk redeliver while newer deliveries are being sent: the old ones go next, before the rest', async () => {
  const t = await createTestApp({
    env: { WEBHOOK_RETRY_SCHEDULE: '20ms', WEBHOOK_MAX_CONSECUTIVE_FAILURES: '0' },
  });
  let down = true;
  const receiver = await startWebhookReceiver({
    respond: async () => {
      if (down) return 503;
      await new Promise((r) => setTimeout(r, 40)); // a slow receiver: the queue takes a while
      return 200;
    },
  });
  try {
    const hookId = await createWebhook(t, receiver.url);
    const ev = t.app.services.events;
    const old = [await ev.record(received(1)), await ev.record(received(2))];
    await waitForDeliveries(t, hookId, (list) => list.length === 2 && list.every((d) => d.status === 'dead'));
    down = false;
    const newer = await Promise.all(Array.from({ length: 20 }, (_, i) => ev.record(received(10 + i))));
    await receiver.waitFor(3, 5000, (r) => r.status === 200);
    const res = await redeliver(t, hookId);
    assert.deepEqual(res.json().data, { count: 2 });
    const ok = await receiver.waitFor(22, 10_000, (r) => r.status === 200);
    const order = ok.map((r) => String(r.headers['webhook-id']));
    const firstOld = order.indexOf(String(old[0]!.id));
    assert.equal(order[firstOld + 1], String(old[1]!.id), 'the old ones in event order');
    assert.ok(
      firstOld < order.indexOf(String(newer.at(-1)!.id)) - 5,
      `redelivered at ${firstOld} of ${order.length}: not after the whole waiting queue`,
    );
  } finally {
    await receiver.close();
    await t.close();
  }
});
