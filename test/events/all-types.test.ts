import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { EventSource } from 'eventsource';
import { Webhook } from 'standardwebhooks';
import WebSocket from 'ws';
import { openDatabase } from '../../src/db/index.js';
import { EVENT_TYPES, type EventType } from '../../src/lib/events.js';
import { EVENT_DATA_SCHEMAS } from '../../src/modules/events/events.schema.js';
import { createTestApp } from '../helpers/app.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

const at = '2026-06-29T20:30:09.222Z';
const user = { id: '5551234', firstName: 'Ann', lastName: null, username: 'ann', phone: null };
const session = {
  id: 'ses_a',
  name: 'main',
  phone: '+15551234567',
  status: 'connected',
  user,
  createdAt: at,
  updatedAt: at,
  lastError: null,
};
const message = {
  id: 7,
  chatId: '-1001234567890',
  senderId: '5551234',
  date: at,
  text: 'hi',
  out: false,
  media: null,
};
const chat = { id: '-1001234567890', type: 'channel', title: 'News', username: 'news' };
const member = { chatId: '-4001', userId: '5551234', actorId: null };

/** One documented sample per type: what the producing modules send. */
const SAMPLES: Record<EventType, Record<string, unknown>> = {
  'session.created': { session: { ...session, status: 'code_sent', user: null } },
  'session.connected': { session },
  'session.disconnected': { session: { ...session, status: 'disconnected' }, reason: 'network' },
  'session.authorized': { session },
  'session.deleted': { session: { ...session, status: 'logged_out' } },
  'message.received': { message },
  'message.sent': { message: { ...message, out: true } },
  'message.edited': { message: { ...message, editDate: at } },
  'message.deleted': { chatId: null, messageIds: [7, 8] },
  'message.read': { chatId: '5551234', maxId: 7 },
  'chat.created': { chat: { id: '5551234', type: 'private', title: 'Ann' } },
  'chat.updated': { chat: { id: '5551234', type: 'private', title: 'Ann B.' } },
  'chat.deleted': { chatId: '5551234' },
  'chat.member_joined': { ...member, chatId: '-1001234567890', chat },
  'chat.member_left': { ...member, chatId: '-1001234567890' },
  'group.created': { chat: { id: '-4001', type: 'group', title: 'Team' } },
  'group.updated': { chat: { id: '-4001', type: 'group', title: 'Team 2' } },
  'group.deleted': { chatId: '-4001' },
  'group.member_added': { ...member, actorId: '42', user },
  'group.member_removed': member,
  'group.admin_changed': {
    chatId: '-4001',
    userId: '5551234',
    isAdmin: true,
    rights: ['change_info'],
    actorId: '42',
  },
  'channel.created': { chat },
  'channel.updated': { chat: { ...chat, title: 'News 2' } },
  'channel.deleted': { chatId: chat.id },
  'channel.post_published': { message: { ...message, senderId: null }, chat },
  'user.status_changed': { userId: '5551234', status: 'online', expiresAt: at },
  'user.typing': { userId: '5551234', chatId: '5551234', action: 'typing' },
  'user.profile_updated': { userId: '5551234', user: { id: '5551234', username: 'ann2' } },
};

test('each of the 28 types: documented shape, and the same envelope on a webhook, SSE and WebSocket', async () => {
  for (const type of EVENT_TYPES) {
    const parsed = EVENT_DATA_SCHEMAS[type].safeParse(SAMPLES[type]);
    assert.ok(parsed.success, `${type}: ${JSON.stringify(parsed.error?.issues)}`);
  }
  const t = await createTestApp();
  const receiver = await startWebhookReceiver();
  let es: EventSource | undefined;
  let ws: WebSocket | undefined;
  try {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: { 'x-api-key': t.adminKey },
      payload: { url: receiver.url, events: ['*'] },
    });
    const secret = created.json().data.secret as string;

    const sse: { type: string; data: string }[] = [];
    es = new EventSource(`http://127.0.0.1:${port}/api/v1/events?token=${encodeURIComponent(t.adminKey)}`);
    for (const type of EVENT_TYPES)
      es.addEventListener(type, (e) => sse.push({ type: e.type, data: e.data }));
    await new Promise((r) => es!.addEventListener('open', r));
    const frames: string[] = [];
    ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws`, { headers: { 'x-api-key': t.adminKey } });
    ws.on('message', (d) => frames.push(String(d)));
    await new Promise((r) => ws!.once('open', r));

    const recorded = [];
    for (const type of EVENT_TYPES) {
      recorded.push(await t.app.services.events.record({ type, sessionId: 'ses_a', data: SAMPLES[type] }));
    }
    await receiver.waitFor(28);
    const end = Date.now() + 5000;
    while ((sse.length < 28 || frames.length < 28) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 10));

    const expected = recorded.map((r) => r.json);
    assert.deepEqual(
      receiver.requests.map((r) => r.body),
      expected,
    );
    assert.deepEqual(
      sse.map((f) => f.data),
      expected,
    );
    assert.deepEqual(
      sse.map((f) => f.type),
      [...EVENT_TYPES],
    );
    assert.deepEqual(frames, expected);
    for (const [i, r] of receiver.requests.entries()) {
      assert.equal(r.headers['x-teleflow-event'], EVENT_TYPES[i]);
      new Webhook(secret).verify(r.body, r.headers as Record<string, string>);
      const body = JSON.parse(r.body);
      assert.deepEqual(body.data, SAMPLES[EVENT_TYPES[i]!]);
      assert.equal(body.sessionId, 'ses_a');
    }
  } finally {
    es?.close();
    ws?.close();
    await receiver.close();
    await t.close();
  }
});

test('closing the app stops the delivery worker; an attempt left unanswered stays open for the next start', async () => {
  const t = await createTestApp();
  const receiver = await startWebhookReceiver({ respond: () => new Promise<number>(() => {}) });
  try {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: { 'x-api-key': t.adminKey },
      payload: { url: receiver.url, events: ['*'] },
    });
    assert.equal(created.statusCode, 201);
    await t.app.services.events.publish({
      type: 'user.typing',
      sessionId: 's',
      data: SAMPLES['user.typing'],
    });
    const end = Date.now() + 3000;
    while (Date.now() < end) {
      const rows = await t.app.services.db.db.selectFrom('webhook_deliveries').selectAll().execute();
      if (rows.length === 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200)); // the attempt is in flight, unanswered
    const started = Date.now();
    await t.close({ keepData: true });
    const took = Date.now() - started;
    assert.ok(took < 6000, `close took ${took} ms`);
    const db = openDatabase(t.databaseUrl);
    try {
      const rows = await db.db.selectFrom('webhook_deliveries').selectAll().execute();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.status, 'pending');
      assert.equal(rows[0]!.attempts, 0);
    } finally {
      await db.close();
    }
  } finally {
    await receiver.close();
    await t.dropDb();
    rmSync(t.dataDir, { recursive: true, force: true });
  }
});
