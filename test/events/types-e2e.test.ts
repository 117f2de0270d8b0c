/**
 * Each of the 28 event types caused for real (the sandbox's control API plays other people,
 * TeleFlow's API plays the account) and observed on a webhook receiver, an SSE client and a
 * WebSocket client: the same envelopes, in the same order, each with its documented data, and
 * exactly the events each cause should give (a duplicate lands in the next step's window).
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { EVENT_TYPES, type EventType } from '../../src/lib/events.js';
import { EVENT_DATA_SCHEMAS } from '../../src/modules/events/events.schema.js';
import {
  createTelegramTestApp,
  eventsOf,
  newPhone,
  signIn,
  startTestSandbox,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

interface Envelope {
  id: string;
  type: EventType;
  sessionId: string | null;
  timestamp: string;
  data: Record<string, any>;
}

let sbx: TestSandbox;
let t: TelegramTestApp;
let receiver: WebhookReceiver;
let es: EventSource | undefined;
let ws: WebSocket | undefined;
const sse: string[] = [];
const frames: string[] = [];

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  receiver = await startWebhookReceiver();
  const hook = await t.call('POST', '/api/v1/webhooks', { url: receiver.url, events: ['*'] });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  const { port } = t.app.server.address() as AddressInfo;
  es = new EventSource(`http://127.0.0.1:${port}/api/v1/events?token=${encodeURIComponent(t.adminKey)}`);
  for (const type of EVENT_TYPES) es.addEventListener(type, (e) => sse.push(e.data));
  await new Promise((resolve, reject) => {
    es!.addEventListener('open', resolve);
    es!.addEventListener('error', reject);
  });
  ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws`, { headers: { 'x-api-key': t.adminKey } });
  ws.on('message', (d) => frames.push(String(d)));
  await new Promise((resolve, reject) => ws!.once('open', resolve).once('error', reject));
});

after(async () => {
  es?.close();
  ws?.close();
  await receiver?.close();
  await t?.close();
  await sbx?.close();
});

/** What each consumer got, parsed; the three must agree exactly. */
const webhookBodies = () => receiver.requests.map((r) => r.body);

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

type Expectation = [EventType, (data: Record<string, any>) => boolean];

/**
 * Runs a cause and waits until the events it should give have arrived on all three consumers;
 * returns them. Whatever else arrived in its window is reported, so duplicates and strays fail.
 */
let seen = 0;
async function step(
  name: string,
  cause: () => Promise<unknown>,
  expected: Expectation[],
): Promise<Envelope[]> {
  const start = seen;
  await cause();
  const window = () =>
    webhookBodies()
      .slice(start)
      .map((b) => JSON.parse(b) as Envelope);
  const matched = () => {
    const got = window();
    const used = new Set<number>();
    return expected.every(([type, ok]) => {
      const i = got.findIndex((e, j) => !used.has(j) && e.type === type && ok(e.data));
      if (i >= 0) used.add(i);
      return i >= 0;
    });
  };
  await until(matched, `${name}: ${expected.map(([type]) => type).join(', ')}`).catch((err: Error) => {
    throw new Error(`${err.message}; got ${JSON.stringify(window())}`);
  });
  const count = start + window().length;
  await until(() => sse.length >= count && frames.length >= count, `${name} on SSE and WebSocket`);
  const got = window();
  assert.deepEqual(
    got.map((e) => e.type).sort(),
    expected.map(([type]) => type).sort(),
    `${name}: exactly the expected events, once each; got ${JSON.stringify(got)}`,
  );
  seen = count;
  return got;
}

test('all 28 event types, caused end to end, arrive once on a webhook, SSE and WebSocket', async () => {
  const phoneA = newPhone();
  let alice!: { sessionId: string; phone: string; userId: string };
  await step('sign-in', async () => (alice = await signIn(t, sbx, { phone: phoneA, firstName: 'Alice' })), [
    ['session.created', (d) => d.session.status === 'code_sent'],
    ['session.authorized', (d) => d.session.status === 'connected'],
    ['session.connected', (d) => d.session.status === 'connected' && d.session.user.id === alice.userId],
  ]);
  const bob = { phone: newPhone(), id: '' };
  const carol = { phone: newPhone(), id: '' };
  bob.id = (
    await sbx.control('POST', '/users', { phone: bob.phone, firstName: 'Bob', username: 'bob_e2e' })
  ).id;
  carol.id = (await sbx.control('POST', '/users', { phone: carol.phone, firstName: 'Carol' })).id;

  // ---- a private chat: Bob writes first
  let bobMsg!: { id: number; copies: Record<string, number> };
  await step(
    'first message from Bob',
    async () =>
      (bobMsg = await sbx.control('POST', '/messages', { from: bob.phone, to: alice.phone, text: 'hello' })),
    [
      ['message.received', (d) => d.message.text === 'hello' && d.message.senderId === bob.id],
      ['chat.created', (d) => d.chat.id === bob.id && d.chat.type === 'private' && d.chat.title === 'Bob'],
    ],
  );
  const aliceCopy = bobMsg.copies[alice.phone]!;
  await step(
    'second message from Bob: no new chat',
    () => sbx.control('POST', '/messages', { from: bob.phone, to: alice.phone, text: 'again' }),
    [['message.received', (d) => d.message.text === 'again']],
  );
  let sentId = 0;
  await step(
    'Alice sends through the API',
    async () => {
      const res = await t.call('POST', '/api/v1/messages/send', {
        sessionId: alice.sessionId,
        chatId: bob.id,
        text: 'hi Bob',
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      sentId = res.body.data.id;
    },
    [['message.sent', (d) => d.message.text === 'hi Bob' && d.message.out === true]],
  );
  await step(
    'Alice edits through the API: one message.edited, not a second from the update',
    async () => {
      const res = await t.call('POST', '/api/v1/messages/edit', {
        sessionId: alice.sessionId,
        chatId: bob.id,
        messageId: sentId,
        text: 'hi Bob!',
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    },
    [['message.edited', (d) => d.message.id === sentId && d.message.text === 'hi Bob!']],
  );
  await step(
    'Bob edits his message',
    () =>
      sbx.control('POST', '/messages/edit', {
        by: bob.phone,
        chat: alice.phone,
        messageId: bobMsg.id,
        text: 'hello!',
      }),
    [
      [
        'message.edited',
        (d) =>
          d.message.id === aliceCopy && d.message.text === 'hello!' && typeof d.message.editDate === 'string',
      ],
    ],
  );
  await step(
    'Bob reads what Alice sent',
    () => sbx.control('POST', '/messages/read', { by: bob.phone, chat: alice.phone }),
    [['message.read', (d) => d.chatId === bob.id && d.maxId >= sentId && d.outbox === true]],
  );
  await step(
    'Bob deletes his message for everyone',
    () =>
      sbx.control('POST', '/messages/delete', {
        by: bob.phone,
        chat: alice.phone,
        messageIds: [bobMsg.id],
        revoke: true,
      }),
    [['message.deleted', (d) => d.chatId === null && d.messageIds.includes(aliceCopy)]],
  );
  await step(
    'Bob types',
    () => sbx.control('POST', '/typing', { from: bob.phone, to: alice.phone, action: 'record_audio' }),
    [['user.typing', (d) => d.userId === bob.id && d.chatId === bob.id && d.action === 'record_audio']],
  );
  await step('Bob comes online', () => sbx.control('POST', `/users/${bob.phone}/status`, { online: true }), [
    [
      'user.status_changed',
      (d) => d.userId === bob.id && d.status === 'online' && typeof d.expiresAt === 'string',
    ],
  ]);
  await step(
    'Bob renames himself',
    () => sbx.control('PATCH', `/users/${bob.phone}`, { firstName: 'Robert', username: 'robert_e2e' }),
    [
      [
        'user.profile_updated',
        (d) => d.userId === bob.id && d.user.firstName === 'Robert' && d.user.username === 'robert_e2e',
      ],
    ],
  );

  // ---- a basic group
  let group!: { id: string };
  await step(
    'Bob creates a group with Alice',
    async () =>
      (group = await sbx.control('POST', '/chats', {
        type: 'group',
        title: 'Team',
        owner: bob.phone,
        members: [alice.phone],
      })),
    [
      ['chat.created', (d) => d.chat.id === group.id && d.chat.type === 'group' && d.chat.title === 'Team'],
      ['group.created', (d) => d.chat.id === group.id && d.chat.title === 'Team'],
    ],
  );
  await step('Bob renames the group', () => sbx.control('PATCH', `/chats/${group.id}`, { title: 'Team 2' }), [
    ['chat.updated', (d) => d.chat.id === group.id && d.chat.title === 'Team 2'],
    ['group.updated', (d) => d.chat.id === group.id && d.chat.title === 'Team 2'],
  ]);
  const carolIn = (d: Record<string, any>) =>
    d.chatId === group.id && d.userId === carol.id && d.actorId === bob.id && d.user?.firstName === 'Carol';
  await step(
    'Bob adds Carol',
    () => sbx.control('POST', `/chats/${group.id}/members`, { phone: carol.phone }),
    [
      ['chat.member_joined', carolIn],
      ['group.member_added', carolIn],
    ],
  );
  const carolOut = (d: Record<string, any>) =>
    d.chatId === group.id && d.userId === carol.id && d.actorId === bob.id;
  await step('Bob removes Carol', () => sbx.control('DELETE', `/chats/${group.id}/members/${carol.phone}`), [
    ['chat.member_left', carolOut],
    ['group.member_removed', carolOut],
  ]);
  await step(
    'Bob makes Alice an admin',
    () => sbx.control('POST', `/chats/${group.id}/admins`, { phone: alice.phone, admin: true }),
    [
      [
        'group.admin_changed',
        (d) =>
          d.chatId === group.id &&
          d.userId === alice.userId &&
          d.isAdmin === true &&
          d.rights.includes('change_info'),
      ],
    ],
  );
  await step('Bob deletes the group', () => sbx.control('DELETE', `/chats/${group.id}`), [
    ['chat.deleted', (d) => d.chatId === group.id],
    ['group.deleted', (d) => d.chatId === group.id],
  ]);

  // ---- channels
  let own!: { id: string };
  await step(
    'Alice creates a channel (from another app)',
    async () =>
      (own = await sbx.control('POST', '/chats', {
        type: 'channel',
        title: 'Alice News',
        owner: alice.phone,
      })),
    [
      ['chat.created', (d) => d.chat.id === own.id && d.chat.type === 'channel'],
      ['channel.created', (d) => d.chat.id === own.id && d.chat.title === 'Alice News'],
    ],
  );
  let news!: { id: string };
  await step(
    'Bob creates a channel and adds Alice',
    async () =>
      (news = await sbx.control('POST', '/chats', {
        type: 'channel',
        title: 'News',
        owner: bob.phone,
        members: [alice.phone],
      })),
    [
      ['chat.created', (d) => d.chat.id === news.id && d.chat.type === 'channel' && d.chat.title === 'News'],
      // From updateChannel: who added Alice is not told to user accounts.
      ['chat.member_joined', (d) => d.chatId === news.id && d.userId === alice.userId && d.actorId === null],
    ],
  );
  await step(
    'Bob posts',
    () => sbx.control('POST', '/messages', { from: bob.phone, to: news.id, text: 'breaking' }),
    [
      [
        'channel.post_published',
        (d) => d.message.chatId === news.id && d.message.text === 'breaking' && d.chat.id === news.id,
      ],
      ['message.received', (d) => d.message.chatId === news.id && d.message.text === 'breaking'],
    ],
  );
  await step(
    'Bob renames the channel',
    () => sbx.control('PATCH', `/chats/${news.id}`, { title: 'News 2' }),
    [
      ['chat.updated', (d) => d.chat.id === news.id && d.chat.title === 'News 2'],
      ['channel.updated', (d) => d.chat.id === news.id && d.chat.title === 'News 2'],
    ],
  );
  // ---- a supergroup: membership from service messages, own admin rights from updateChannel
  let square!: { id: string };
  const aliceIn = (d: Record<string, any>) =>
    d.chatId === square.id && d.userId === alice.userId && d.actorId === bob.id;
  await step(
    'Bob creates a supergroup with Alice',
    async () =>
      (square = await sbx.control('POST', '/chats', {
        type: 'supergroup',
        title: 'Square',
        owner: bob.phone,
        members: [alice.phone],
      })),
    [
      ['chat.created', (d) => d.chat.id === square.id && d.chat.type === 'supergroup'],
      ['chat.member_joined', aliceIn],
      ['group.member_added', aliceIn],
    ],
  );
  await step(
    'Bob gives Alice admin rights in the supergroup',
    () =>
      sbx.control('POST', `/chats/${square.id}/admins`, {
        phone: alice.phone,
        rights: { changeInfo: true, pinMessages: true },
      }),
    [
      [
        'group.admin_changed',
        (d) =>
          d.chatId === square.id &&
          d.userId === alice.userId &&
          d.isAdmin === true &&
          JSON.stringify(d.rights) === JSON.stringify(['change_info', 'pin_messages']) &&
          // From updateChannel (the rights Alice now has), which does not name who gave them.
          d.actorId === null,
      ],
    ],
  );

  // ---- away and back: what happened meanwhile is caught up (getDifference), once each
  await step(
    'Alice disconnects',
    async () =>
      assert.equal((await t.call('POST', `/api/v1/sessions/${alice.sessionId}/disconnect`)).status, 200),
    [['session.disconnected', (d) => d.reason === 'requested']],
  );
  let away!: { id: number; copies: Record<string, number> };
  await step(
    'while Alice is away nothing arrives',
    async () => {
      away = await sbx.control('POST', '/messages', { from: bob.phone, to: alice.phone, text: 'while away' });
      await sbx.control('PATCH', `/chats/${square.id}`, { title: 'Square 2' });
      await sbx.control('POST', `/chats/${square.id}/members`, { phone: carol.phone });
    },
    [],
  );
  const carolInSquare = (d: Record<string, any>) =>
    d.chatId === square.id && d.userId === carol.id && d.actorId === bob.id;
  await step(
    'Alice reconnects',
    async () =>
      assert.equal((await t.call('POST', `/api/v1/sessions/${alice.sessionId}/connect`)).status, 200),
    [
      ['session.connected', (d) => d.session.status === 'connected'],
      [
        'message.received',
        (d) => d.message.text === 'while away' && d.message.id === away.copies[alice.phone],
      ],
      ['chat.updated', (d) => d.chat.id === square.id && d.chat.title === 'Square 2'],
      ['group.updated', (d) => d.chat.id === square.id && d.chat.title === 'Square 2'],
      ['chat.member_joined', carolInSquare],
      ['group.member_added', carolInSquare],
    ],
  );

  // ---- joining and leaving through TeleFlow's API: the API reports membership, updates the rest
  const plaza = await sbx.control('POST', '/chats', {
    type: 'supergroup',
    title: 'Plaza',
    owner: bob.phone,
    username: 'plaza_e2e',
  });
  const aliceSelf = (d: Record<string, any>) => d.chatId === plaza.id && d.userId === alice.userId;
  await step(
    'Alice joins a public supergroup through the API',
    async () => {
      const res = await t.call('POST', '/api/v1/chats/join', {
        sessionId: alice.sessionId,
        target: '@plaza_e2e',
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    },
    [
      ['chat.created', (d) => d.chat.id === plaza.id && d.chat.type === 'supergroup'],
      ['chat.member_joined', aliceSelf],
    ],
  );
  await step(
    'Alice leaves it through the API',
    async () => {
      const res = await t.call('POST', '/api/v1/chats/leave', {
        sessionId: alice.sessionId,
        chatId: plaza.id,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    },
    [
      ['chat.member_left', aliceSelf],
      ['chat.deleted', (d) => d.chatId === plaza.id],
    ],
  );

  // After the catch-up: a forbidden channel in the update state makes its catch-up fail.
  await step('Bob deletes the channel', () => sbx.control('DELETE', `/chats/${news.id}`), [
    ['chat.deleted', (d) => d.chatId === news.id],
    ['channel.deleted', (d) => d.chatId === news.id],
  ]);

  await step(
    'delete',
    async () => assert.equal((await t.call('DELETE', `/api/v1/sessions/${alice.sessionId}`)).status, 200),
    [['session.deleted', (d) => d.session.id === alice.sessionId]],
  );

  // The three consumers got the very same envelopes, in the same order, each documented.
  const bodies = webhookBodies();
  assert.deepEqual(sse, bodies);
  assert.deepEqual(frames, bodies);
  const envelopes = bodies.map((b) => JSON.parse(b) as Envelope);
  for (const e of envelopes) {
    assert.deepEqual(Object.keys(e), ['id', 'type', 'sessionId', 'timestamp', 'data']);
    assert.match(e.id, /^\d+$/);
    assert.equal(e.sessionId, alice.sessionId);
    assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
    const parsed = EVENT_DATA_SCHEMAS[e.type].safeParse(e.data);
    assert.ok(
      parsed.success,
      `${e.type}: ${JSON.stringify(parsed.error?.issues)} in ${JSON.stringify(e.data)}`,
    );
  }
  for (const [i, r] of receiver.requests.entries())
    assert.equal(r.headers['x-teleflow-event'], envelopes[i]!.type);
  const ids = envelopes.map((e) => Number(e.id));
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
    'ids increase',
  );
  assert.deepEqual(
    [...new Set(envelopes.map((e) => e.type))].sort(),
    [...EVENT_TYPES].sort(),
    'every one of the 28 types was seen',
  );
});

test('after a TeleFlow restart: what happened while it was down arrives once, and known chats are not new again', async () => {
  let app = await createTelegramTestApp(sbx);
  try {
    const dave = await signIn(app, sbx, { firstName: 'Dave' });
    const bob = { phone: newPhone(), id: '' };
    const carol = { phone: newPhone(), id: '' };
    bob.id = (await sbx.control('POST', '/users', { phone: bob.phone, firstName: 'Bob' })).id;
    carol.id = (await sbx.control('POST', '/users', { phone: carol.phone, firstName: 'Carol' })).id;
    const of = async (type: EventType) => eventsOf(app, dave.sessionId, type);
    const waitFor = async (type: EventType, ok: (d: Record<string, any>) => boolean, what: string) => {
      const deadline = Date.now() + 8000;
      for (;;) {
        const found = (await of(type)).filter(ok);
        if (found.length > 0) return found;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await sbx.control('POST', '/messages', { from: bob.phone, to: dave.phone, text: 'before' });
    const club = await sbx.control('POST', '/chats', {
      type: 'group',
      title: 'Club',
      owner: bob.phone,
      members: [dave.phone],
    });
    await waitFor('group.created', (d) => d.chat.id === club.id, 'group.created');
    await waitFor('chat.created', (d) => d.chat.id === bob.id, 'the private chat');
    await app.app.services.sessions.persist(dave.sessionId);

    await app.close({ keepData: true });
    await sbx.control('POST', '/messages', { from: bob.phone, to: dave.phone, text: 'while down' });
    await sbx.control('PATCH', `/chats/${club.id}`, { title: 'Club 2' });
    await sbx.control('POST', `/chats/${club.id}/members`, { phone: carol.phone });
    app = await createTelegramTestApp(sbx, { dataDir: app.dataDir });

    await waitFor('message.received', (d) => d.message.text === 'while down', 'the message sent while down');
    await waitFor('group.updated', (d) => d.chat.title === 'Club 2', 'the rename');
    await waitFor('group.member_added', (d) => d.userId === carol.id, 'Carol added');
    await sbx.control('POST', '/messages', { from: bob.phone, to: dave.phone, text: 'after' });
    await sbx.control('POST', '/messages', { from: carol.phone, to: dave.phone, text: 'hi, new here' });
    await waitFor('chat.created', (d) => d.chat.id === carol.id, "Carol's new private chat");
    await waitFor('message.received', (d) => d.message.text === 'after', 'the message after the restart');

    const count = async (type: EventType) => (await of(type)).length;
    assert.deepEqual(
      (await of('chat.created')).map((d) => d.chat.id).sort(),
      [bob.id, club.id, carol.id].sort(),
      'no chat is new twice',
    );
    assert.equal(await count('chat.updated'), 1);
    assert.equal(await count('group.updated'), 1);
    assert.equal(await count('chat.member_joined'), 1);
    assert.equal(await count('group.member_added'), 1);
    assert.deepEqual(
      (await of('message.received')).map((d) => d.message.text),
      ['before', 'while down', 'after', 'hi, new here'],
    );
  } finally {
    await app.close();
  }
});
