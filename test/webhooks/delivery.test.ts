import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createLogger } from '../../src/lib/logger.js';
import type { NewEvent } from '../../src/lib/events.js';
import { createTestApp, ensureSessions, type TestApp } from '../helpers/app.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

const message = (id: number, text = 'hello') => ({
  message: {
    id,
    chatId: '777',
    senderId: '555',
    date: new Date().toISOString(),
    text,
    out: false,
    media: null,
  },
});

function received(type: NewEvent['type'], sessionId: string | null, n: number): NewEvent {
  return { type, sessionId, data: message(n) };
}

async function createWebhook(t: TestApp, body: Record<string, unknown>) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/webhooks',
    headers: { 'x-api-key': t.adminKey },
    payload: body,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().data as { id: string; secret: string; enabled: boolean };
}

async function deliveries(t: TestApp, webhookId: string, query = '') {
  const res = await t.app.inject({
    method: 'GET',
    url: `/api/v1/webhooks/${webhookId}/deliveries${query}`,
    headers: { 'x-api-key': t.adminKey },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { data: Record<string, unknown>[]; meta: { nextCursor: string | null } };
}

/** The seed's snippet, verbatim in spirit: hex HMAC of the raw body with the whole secret, timing-safe. */
function verifySeedSignature(secret: string, rawBody: string, header: string): boolean {
  const expected = crypto.createHmac('sha256', secret).update(rawBody).digest('hex');
  const a = Buffer.from(expected);
  const b = Buffer.from(header);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

test('an event reaches the webhook as the exact envelope, with both signatures valid', async () => {
  const t = await createTestApp();
  const receiver = await startWebhookReceiver();
  try {
    const hook = await createWebhook(t, { url: receiver.url, events: ['message.*'] });
    assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{32}$/);
    const recorded = await t.app.services.events.record(received('message.received', 'sess_a', 1));
    const [req] = await receiver.waitFor(1);
    assert.ok(req);
    assert.equal(req.method, 'POST');
    assert.equal(req.headers['content-type'], 'application/json');
    const body = JSON.parse(req.body);
    assert.deepEqual(Object.keys(body), ['id', 'type', 'sessionId', 'timestamp', 'data']);
    assert.equal(body.id, String(recorded.id));
    assert.equal(body.type, 'message.received');
    assert.equal(body.sessionId, 'sess_a');
    assert.equal(body.timestamp, recorded.envelope.timestamp);
    assert.deepEqual(body.data, recorded.envelope.data);
    assert.equal(req.body, recorded.json, 'the body is the envelope JSON streams send too');

    assert.equal(req.headers['x-teleflow-event'], 'message.received');
    assert.equal(req.headers['webhook-id'], String(recorded.id));
    assert.ok(verifySeedSignature(hook.secret, req.body, String(req.headers['x-teleflow-signature'])));
    assert.ok(!verifySeedSignature(hook.secret + 'x', req.body, String(req.headers['x-teleflow-signature'])));
    const verified = new Webhook(hook.secret).verify(req.body, {
      'webhook-id': String(req.headers['webhook-id']),
      'webhook-timestamp': String(req.headers['webhook-timestamp']),
      'webhook-signature': String(req.headers['webhook-signature']),
    });
    assert.deepEqual(verified, body);
    assert.throws(() =>
      new Webhook(hook.secret).verify(req.body.replace('hello', 'hellO'), {
        'webhook-id': String(req.headers['webhook-id']),
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      }),
    );

    // The delivery record says so.
    let list = await deliveries(t, hook.id);
    for (let i = 0; i < 50 && list.data[0]?.status !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      list = await deliveries(t, hook.id);
    }
    assert.equal(list.data.length, 1);
    const d = list.data[0]!;
    assert.equal(d.status, 'succeeded');
    assert.equal(d.attempts, 1);
    assert.equal(d.lastStatusCode, 200);
    assert.equal(d.eventId, String(recorded.id));
    assert.equal(req.headers['x-teleflow-delivery-id'], d.id);
  } finally {
    await receiver.close();
    await t.close();
  }
});

test('a receiver failing twice gets 3 attempts about 1 s and 3 s apart (default schedule) and one successful record', async () => {
  const t = await createTestApp();
  const receiver = await startWebhookReceiver({ respond: (n) => (n < 2 ? 503 : 200) });
  try {
    const hook = await createWebhook(t, { url: receiver.url, events: ['*'] });
    await t.app.services.events.publish(received('message.sent', 's1', 1));
    const reqs = await receiver.waitFor(3, 8000);
    assert.deepEqual(
      reqs.map((r) => r.status),
      [503, 503, 200],
    );
    const gap1 = reqs[1]!.at - reqs[0]!.at;
    const gap2 = reqs[2]!.at - reqs[1]!.at;
    assert.ok(gap1 >= 950 && gap1 < 1500, `first retry after ${gap1} ms`);
    assert.ok(gap2 >= 2950 && gap2 < 3800, `second retry after ${gap2} ms`);
    const ids = new Set(reqs.map((r) => r.headers['webhook-id']));
    assert.equal(ids.size, 1, 'webhook-id is stable across retries');
    const timestamps = reqs.map((r) => Number(r.headers['webhook-timestamp']));
    assert.ok(timestamps[2]! >= timestamps[0]! + 3, 'each attempt is signed with its own timestamp');
    for (const r of reqs) {
      new Webhook(hook.secret).verify(r.body, r.headers as Record<string, string>);
    }

    await new Promise((r) => setTimeout(r, 100));
    const list = await deliveries(t, hook.id);
    assert.equal(list.data.length, 1, 'one delivery record');
    assert.equal(list.data[0]!.status, 'succeeded');
    assert.equal(list.data[0]!.attempts, 3);
    assert.equal(list.data[0]!.lastStatusCode, 200);
    const detail = await t.app.inject({
      method: 'GET',
      url: `/api/v1/webhooks/${hook.id}/deliveries/${String(list.data[0]!.id)}`,
      headers: { 'x-api-key': t.adminKey },
    });
    assert.equal(detail.statusCode, 200, detail.body);
    const log = detail.json().data.attemptLog as { attempt: number; statusCode: number; at: string }[];
    assert.deepEqual(
      log.map((a) => [a.attempt, a.statusCode]),
      [
        [1, 503],
        [2, 503],
        [3, 200],
      ],
    );
    const attempts = await t.app.services.db.db
      .selectFrom('webhook_attempts')
      .select(['attempt', 'status_code', 'duration_ms'])
      .orderBy('id')
      .execute();
    assert.deepEqual(
      attempts.map((a) => [a.attempt, a.status_code]),
      [
        [1, 503],
        [2, 503],
        [3, 200],
      ],
    );
  } finally {
    await receiver.close();
    await t.close();
  }
});

test('filters: types with wildcards and sessionIds decide which events a webhook gets', async () => {
  const t = await createTestApp();
  const receiver = await startWebhookReceiver();
  try {
    await ensureSessions(t.app, ['s1']);
    await createWebhook(t, {
      url: receiver.url,
      events: ['message.*', 'session.connected'],
      sessionIds: ['s1'],
    });
    const ev = t.app.services.events;
    await ev.publish(received('message.received', 's2', 1)); // other session
    await ev.publish({ type: 'session.created', sessionId: 's1', data: {} }); // other type
    await ev.publish(received('message.edited', 's1', 2));
    await ev.publish({
      type: 'user.typing',
      sessionId: 's1',
      data: { userId: '1', chatId: '2', action: 'typing' },
    });
    await ev.publish({ type: 'session.connected', sessionId: 's1', data: {} });
    await ev.publish(received('message.received', null, 3)); // no session
    const marker = await ev.record(received('message.sent', 's1', 4));
    await receiver.waitFor(1, 5000, (r) => r.headers['webhook-id'] === String(marker.id));
    // Delivery is in order, so everything before the marker has been tried.
    assert.deepEqual(
      receiver.requests.map((r) => JSON.parse(r.body).type),
      ['message.edited', 'session.connected', 'message.sent'],
    );
  } finally {
    await receiver.close();
    await t.close();
  }
});

test('deliveries arrive in event order per webhook, and the log pages with nextCursor', async () => {
  const t = await createTestApp();
  const receiver = await startWebhookReceiver({ respond: (n) => (n === 3 ? 500 : 200) });
  try {
    const hook = await createWebhook(t, { url: receiver.url, events: ['*'] });
    const published = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        t.app.services.events.record(received('message.received', 's', i)),
      ),
    );
    await receiver.waitFor(31, 8000);
    const okIds = receiver.requests
      .filter((r) => r.status === 200)
      .map((r) => Number(r.headers['webhook-id']));
    assert.deepEqual(
      okIds,
      published.map((p) => p.id),
    );
    // The failed 4th event held the rest back until its retry succeeded.
    const failedAt = receiver.requests.findIndex((r) => r.status === 500);
    assert.equal(
      receiver.requests[failedAt + 1]!.headers['webhook-id'],
      receiver.requests[failedAt]!.headers['webhook-id'],
    );

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await deliveries(t, hook.id, `?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      assert.ok(page.data.length <= 7);
      seen.push(...page.data.map((d) => String(d.id)));
      cursor = page.meta.nextCursor;
    } while (cursor);
    assert.equal(seen.length, 30);
    assert.equal(new Set(seen).size, 30);
    assert.deepEqual(
      seen.map(Number),
      [...seen.map(Number)].sort((a, b) => b - a),
      'newest first',
    );
  } finally {
    await receiver.close();
    await t.close();
  }
});

test('dead deliveries disable the webhook after the configured count, visibly; redeliver and re-enable work', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const t = await createTestApp({
    logger: createLogger('info', sink),
    env: { WEBHOOK_RETRY_SCHEDULE: '50ms', WEBHOOK_MAX_CONSECUTIVE_FAILURES: '2' },
  });
  let failing = true;
  const receiver = await startWebhookReceiver({ respond: () => (failing ? 500 : 200) });
  try {
    const hook = await createWebhook(t, { url: receiver.url, events: ['message.received'] });
    const ev = t.app.services.events;
    await ev.publish(received('message.received', 's', 1));
    await ev.publish(received('message.received', 's', 2));
    await receiver.waitFor(4, 5000);
    let view: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) {
      view = (
        await t.app.inject({
          method: 'GET',
          url: `/api/v1/webhooks/${hook.id}`,
          headers: { 'x-api-key': t.adminKey },
        })
      ).json().data;
      if (view.enabled === false) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(view.enabled, false);
    assert.equal(view.consecutiveFailures, 2);
    assert.match(String(view.disabledReason), /2 consecutive failed deliveries/);
    assert.ok(view.disabledAt);
    const warn = lines.map((l) => JSON.parse(l)).find((l) => l.msg?.includes('webhook disabled'));
    assert.ok(warn, 'a warn line is logged');
    assert.equal(warn.level, 40);
    assert.equal(warn.webhookId, hook.id);

    const list = await deliveries(t, hook.id);
    assert.deepEqual(
      list.data.map((d) => [d.status, d.attempts]),
      [
        ['dead', 2],
        ['dead', 2],
      ],
    );
    // While disabled, new events create no delivery.
    await ev.publish(received('message.received', 's', 3));
    assert.equal((await deliveries(t, hook.id)).data.length, 2);

    failing = false;
    const enable = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/webhooks/${hook.id}`,
      headers: { 'x-api-key': t.adminKey },
      payload: { enabled: true },
    });
    assert.equal(enable.json().data.enabled, true);
    assert.equal(enable.json().data.disabledReason, null);
    assert.equal(enable.json().data.consecutiveFailures, 0);
    const oldest = list.data[1]!;
    const redo = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${hook.id}/deliveries/${String(oldest.id)}/redeliver`,
      headers: { 'x-api-key': t.adminKey },
    });
    assert.equal(redo.statusCode, 202, redo.body);
    await receiver.waitFor(1, 5000, (r) => r.status === 200);
    assert.equal(
      receiver.requests.find((r) => r.status === 200)!.headers['webhook-id'],
      String(oldest.eventId),
    );
    const missing = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${hook.id}/deliveries/999999/redeliver`,
      headers: { 'x-api-key': t.adminKey },
    });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'DELIVERY_NOT_FOUND');
  } finally {
    await receiver.close();
    await t.close();
  }
});

test('POST /webhooks/:id/test sends a signed test envelope to that webhook only', async () => {
  const t = await createTestApp();
  const a = await startWebhookReceiver();
  const b = await startWebhookReceiver();
  try {
    const hookA = await createWebhook(t, { url: a.url, events: ['*'] });
    await createWebhook(t, { url: b.url, events: ['*'] });
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${hookA.id}/test`,
      headers: { 'x-api-key': t.adminKey },
      payload: { type: 'user.typing', data: { userId: '1', chatId: '2', action: 'typing' } },
    });
    assert.equal(res.statusCode, 202, res.body);
    const [req] = await a.waitFor(1);
    const body = JSON.parse(req!.body);
    assert.match(body.id, /^test_/);
    assert.equal(body.type, 'user.typing');
    assert.deepEqual(body.data, { userId: '1', chatId: '2', action: 'typing' });
    assert.equal(req!.headers['webhook-id'], body.id);
    new Webhook(hookA.secret).verify(req!.body, req!.headers as Record<string, string>);
    assert.ok(verifySeedSignature(hookA.secret, req!.body, String(req!.headers['x-teleflow-signature'])));
    const noBody = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${hookA.id}/test`,
      headers: { 'x-api-key': t.adminKey },
    });
    assert.equal(noBody.statusCode, 202, noBody.body);
    await a.waitFor(2);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(b.requests.length, 0);
    const events = await t.app.services.db.db.selectFrom('events').selectAll().execute();
    assert.equal(events.length, 0, 'test events are not in the event log');
  } finally {
    await a.close();
    await b.close();
    await t.close();
  }
});

test('redirects are not followed and timeouts count as failures', async () => {
  const t = await createTestApp({ env: { WEBHOOK_RETRY_SCHEDULE: '0ms', WEBHOOK_TIMEOUT_MS: '300' } });
  const target = await startWebhookReceiver();
  const receiver = await startWebhookReceiver({
    respond: async (n, req) => {
      if (n === 0) return 302;
      if (n === 1) await new Promise((r) => setTimeout(r, 600));
      void req;
      return 200;
    },
  });
  try {
    const hook = await createWebhook(t, { url: receiver.url, events: ['*'] });
    await t.app.services.events.publish(received('message.sent', 's', 1));
    await receiver.waitFor(2, 5000);
    await new Promise((r) => setTimeout(r, 700));
    const list = await deliveries(t, hook.id);
    const d = list.data[0]!;
    assert.equal(d.status, 'dead');
    assert.equal(d.attempts, 2);
    assert.match(String(d.lastError), /timed out/);
    const attempts = await t.app.services.db.db
      .selectFrom('webhook_attempts')
      .selectAll()
      .orderBy('id')
      .execute();
    assert.equal(attempts[0]!.status_code, 302);
    assert.match(String(attempts[0]!.error), /redirect/);
    assert.equal(target.requests.length, 0);
  } finally {
    await target.close();
    await receiver.close();
    await t.close();
  }
});

test('deleting a webhook while an attempt is in flight leaves no error and no rows behind', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const t = await createTestApp({ logger: createLogger('warn', sink) });
  let release: () => void = () => {};
  let inFlight = false;
  const receiver = await startWebhookReceiver({
    respond: () =>
      new Promise<number>((resolve) => {
        inFlight = true;
        release = () => resolve(200);
      }),
  });
  try {
    const hook = await createWebhook(t, { url: receiver.url, events: ['*'] });
    await t.app.services.events.publish(received('message.sent', 's', 1));
    while (!inFlight) await new Promise((r) => setTimeout(r, 10));
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/webhooks/${hook.id}`,
      headers: { 'x-api-key': t.adminKey },
    });
    assert.equal(del.statusCode, 200);
    release();
    await receiver.waitFor(1);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(lines, [], 'nothing logged at warn or above');
    const db = t.app.services.db.db;
    assert.equal((await db.selectFrom('webhook_deliveries').selectAll().execute()).length, 0);
    assert.equal((await db.selectFrom('webhook_attempts').selectAll().execute()).length, 0);
  } finally {
    await receiver.close();
    await t.close();
  }
});
