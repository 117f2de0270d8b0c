import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import WebSocket from 'ws';
import type { NewEvent } from '../../src/lib/events.js';
import type { StoredEvent } from '../../src/modules/events/events.service.js';
import { createTestApp, ensureSessions, type TestApp } from '../helpers/app.js';
import { assertSessionIsolation } from '../helpers/route-auth.js';
import { openSse, openWs, startApp, wsRefusal } from '../helpers/stream-clients.js';

const msg = (sessionId: string | null, n: number, type: NewEvent['type'] = 'message.received'): NewEvent => ({
  type,
  sessionId,
  data: {
    message: {
      id: n,
      chatId: '1',
      senderId: '2',
      date: new Date().toISOString(),
      text: `m${n}`,
      out: false,
      media: null,
    },
  },
});

async function publishAll(t: TestApp, events: NewEvent[]): Promise<StoredEvent[]> {
  return Promise.all(events.map((e) => t.app.services.events.record(e)));
}

test('SSE: exact envelopes with id and event lines; after a drop the client resumes with Last-Event-ID and gets exactly what it missed', async () => {
  const t = await startApp();
  const sse = openSse(`${t.base}/events?types=message.*`, { 'x-api-key': t.adminKey });
  try {
    await sse.until(() => sse.opens() === 1);
    const first = await publishAll(t, [
      msg('s', 1),
      msg('s', 2, 'session.connected'),
      msg('s', 3, 'message.sent'),
    ]);
    await sse.until(() => sse.frames.length === 2);
    assert.deepEqual(sse.frames[0], {
      id: String(first[0]!.id),
      type: 'message.received',
      data: first[0]!.json,
    });
    assert.deepEqual(JSON.parse(sse.frames[1]!.data), first[2]!.envelope);

    // The server drops every stream; events published meanwhile must come after the reconnect.
    t.app.services.streams.closeAll();
    const missed = await publishAll(t, [
      msg('s', 4),
      msg('s', 5, 'user.typing'),
      msg('s', 6, 'message.edited'),
      msg('s', 7),
    ]);
    await sse.until(() => sse.opens() === 2);
    const live = await publishAll(t, [msg('s', 8)]);
    await sse.until(() => sse.frames.length === 6);
    await new Promise((r) => setTimeout(r, 100));
    const expected = [first[0], first[2], missed[0], missed[2], missed[3], live[0]].map((e) => e!.json);
    assert.deepEqual(
      sse.frames.map((f) => f.data),
      expected,
      'nothing lost, nothing repeated',
    );
  } finally {
    sse.es.close();
    await t.close();
  }
});

test('SSE: Last-Event-ID wins over ?since=, heartbeats are sent, credentials are required and ?token= works', async () => {
  const t = await startApp({ STREAM_HEARTBEAT_MS: '100' });
  try {
    const evs = await publishAll(t, [msg('s', 1), msg('s', 2), msg('s', 3)]);
    const sse = openSse(`${t.base}/events?since=0&token=${encodeURIComponent(t.adminKey)}`, {
      'last-event-id': String(evs[1]!.id),
    });
    await sse.until(() => sse.frames.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      sse.frames.map((f) => f.id),
      [String(evs[2]!.id)],
    );
    sse.es.close();

    const noAuth = await fetch(`${t.base}/events`);
    assert.equal(noAuth.status, 401);
    assert.equal(((await noAuth.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    const badTypes = await fetch(`${t.base}/events?types=message.nope`, {
      headers: { 'x-api-key': t.adminKey },
    });
    assert.equal(badTypes.status, 400);

    // Raw read: heartbeat comments arrive on an idle stream.
    const viewer = await t.keyFor('viewer');
    const res = await fetch(`${t.base}/events`, { headers: { 'x-api-key': viewer } });
    assert.equal(res.status, 200, 'viewers may listen');
    assert.match(String(res.headers.get('content-type')), /^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const end = Date.now() + 2000;
    while (!text.includes(': keep-alive') && Date.now() < end) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    assert.match(text, /: keep-alive\n\n/);
    await reader.cancel();
  } finally {
    await t.close();
  }
});

test('WebSocket: ?since= replays then continues live, one envelope per text frame; pings are sent', async () => {
  const t = await startApp({ STREAM_HEARTBEAT_MS: '100' });
  try {
    const evs = await publishAll(t, [msg('s', 1), msg('s', 2), msg('s', 3), msg('s', 4)]);
    const client = openWs(`${t.ws}/ws?since=${evs[1]!.id}&token=${encodeURIComponent(t.adminKey)}`);
    let pings = 0;
    client.ws.on('ping', () => pings++);
    await client.opened;
    await client.until(() => client.frames.length === 2);
    const live = await publishAll(t, [msg('s', 5)]);
    await client.until(() => client.frames.length === 3);
    assert.deepEqual(client.frames, [evs[2]!.json, evs[3]!.json, live[0]!.json]);
    // Two pings at 100 ms: waited for rather than slept on (timers run late on a busy machine).
    await client.until(() => pings >= 2, 5000);
    assert.ok(pings >= 2, `pings: ${pings}`);
    client.ws.close();
    await client.closed;
  } finally {
    await t.close();
  }
});

test('replay-to-live handoff under a steady stream of publishes neither drops nor repeats (also when the hold queue overflows)', async () => {
  const t = await startApp({ STREAM_MAX_QUEUED_EVENTS: '20' });
  const clients: ReturnType<typeof openWs>[] = [];
  let sse: ReturnType<typeof openSse> | undefined;
  try {
    await ensureSessions(t.app, ['s1']);
    const all: StoredEvent[] = [];
    let stop = false;
    const publisher = (async () => {
      for (let i = 0; !stop; i++) {
        all.push(
          ...(await publishAll(
            t,
            Array.from({ length: 25 }, (_, j) => msg(`s${j % 2}`, i * 25 + j)),
          )),
        );
        await new Promise((r) => setImmediate(r));
      }
    })();
    while (all.length < 500) await new Promise((r) => setTimeout(r, 5));
    for (let k = 0; k < 3; k++) {
      const c = openWs(`${t.ws}/ws?since=0`, { 'x-api-key': t.adminKey });
      clients.push(c);
      await c.opened;
      await new Promise((r) => setTimeout(r, 30));
    }
    sse = openSse(`${t.base}/events?since=0&sessionId=s1`, { 'x-api-key': t.adminKey });
    while (all.length < 3000) await new Promise((r) => setTimeout(r, 10));
    stop = true;
    await publisher;
    const marker = await t.app.services.events.record(msg('s1', -1));
    all.push(marker);
    for (const c of clients) await c.until(() => c.frames.at(-1) === marker.json, 15_000);
    await sse.until(() => sse!.frames.at(-1)?.data === marker.json, 15_000);
    const ids = all.map((e) => e.id);
    for (const c of clients) {
      const got = c.frames.map((f) => Number(JSON.parse(f).id));
      assert.equal(got.length, ids.length, 'every event exactly once');
      assert.deepEqual(got, ids);
    }
    assert.deepEqual(
      sse.frames.map((f) => Number(f.id)),
      all.filter((e) => e.sessionId === 's1').map((e) => e.id),
    );
  } finally {
    sse?.es.close();
    for (const c of clients) c.ws.close();
    await t.close();
  }
});

test('filters: type wildcards, sessionId, and a key limited to some sessions sees only theirs', async () => {
  const t = await startApp();
  try {
    const limited = await t.keyFor('viewer', ['s1']);
    await ensureSessions(t.app, ['s2']);
    const typed = openWs(`${t.ws}/ws?types=session.*,message.sent`, { 'x-api-key': t.adminKey });
    const bySession = openWs(`${t.ws}/ws?sessionId=s2`, { 'x-api-key': t.adminKey });
    const scoped = openWs(`${t.ws}/ws?token=${encodeURIComponent(limited)}`);
    await Promise.all([typed.opened, bySession.opened, scoped.opened]);
    const evs = await publishAll(t, [
      msg('s1', 1),
      msg('s2', 2, 'message.sent'),
      { type: 'session.connected', sessionId: 's1', data: {} },
      { type: 'session.deleted', sessionId: 's2', data: {} },
      { type: 'user.typing', sessionId: null, data: { userId: '1', chatId: '2', action: 'typing' } },
      msg('s1', 3, 'message.sent'),
    ]);
    await typed.until(() => typed.frames.length === 4);
    await bySession.until(() => bySession.frames.length === 2);
    await scoped.until(() => scoped.frames.length === 3);
    await new Promise((r) => setTimeout(r, 100));
    const ids = (c: { frames: string[] }) => c.frames.map((f) => Number(JSON.parse(f).id));
    assert.deepEqual(ids(typed), [evs[1]!.id, evs[2]!.id, evs[3]!.id, evs[5]!.id]);
    assert.deepEqual(ids(bySession), [evs[1]!.id, evs[3]!.id]);
    assert.deepEqual(ids(scoped), [evs[0]!.id, evs[2]!.id, evs[5]!.id]);

    // Another session is "not found" for the limited key, over SSE (HTTP) and WebSocket (close code).
    const sse = await fetch(`${t.base}/events?sessionId=s2`, { headers: { 'x-api-key': limited } });
    assert.equal(sse.status, 404);
    assert.equal(((await sse.json()) as { error: { code: string } }).error.code, 'SESSION_NOT_FOUND');
    const denied = openWs(`${t.ws}/ws?sessionId=s2`, { 'x-api-key': limited });
    await denied.opened;
    const { code } = await denied.closed;
    assert.equal(code, 4404);
    assert.equal(await wsRefusal(`${t.ws}/ws`), 401);
    for (const c of [typed, bySession, scoped]) c.ws.close();
  } finally {
    await t.close();
  }
});

test('a client too slow to read is disconnected instead of growing memory; a fast one keeps up', async () => {
  const t = await startApp({ STREAM_MAX_BUFFERED_BYTES: String(1024 * 1024) });
  const slow = net.connect((t.app.server.address() as AddressInfo).port, '127.0.0.1');
  const connected = new Promise<void>((resolve) => slow.once('connect', () => resolve()));
  try {
    const fast = openWs(`${t.ws}/ws`, { 'x-api-key': t.adminKey });
    await fast.opened;
    await connected;
    slow.write(`GET /api/v1/events HTTP/1.1\r\nHost: x\r\nX-API-Key: ${t.adminKey}\r\n\r\n`);
    // The raw request becomes a stream once authenticated (a database read): waited for.
    for (const end = Date.now() + 5000; t.app.services.streams.size < 2 && Date.now() < end;)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(t.app.services.streams.size, 2);
    slow.pause(); // never reads again
    const big = 'x'.repeat(16 * 1024);
    let published = 0;
    while (t.app.services.streams.size === 2 && published < 5000) {
      await publishAll(
        t,
        Array.from({ length: 8 }, () => ({
          type: 'user.typing' as const,
          sessionId: 's',
          data: { userId: '1', chatId: big, action: 'typing' },
        })),
      );
      published += 8;
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(t.app.services.streams.size, 1, `the slow client was dropped after ${published} events`);
    await fast.until(() => fast.frames.length === published, 15_000);
    assert.equal(fast.ws.readyState, WebSocket.OPEN, 'the fast client is still connected');
    fast.ws.close();
    await fast.closed;
  } finally {
    slow.destroy();
    await t.close();
  }
});

test('shared isolation check: the SSE route answers 404 for a session outside the key', async () => {
  const t = await createTestApp();
  try {
    await assertSessionIsolation(
      t,
      { 'GET /api/v1/events': { query: { sessionId: 'ses_x' } } },
      { role: 'viewer' },
    );
  } finally {
    await t.close();
  }
});
