import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EVENT_DATA_SCHEMAS } from '../../src/modules/events/events.schema.js';
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
let alice: { sessionId: string; phone: string; userId: string };
let bob: { sessionId: string; phone: string; userId: string };

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx);
  alice = await signIn(t, sbx, { username: 'alice_msg', firstName: 'Alice' });
  bob = await signIn(t, sbx, { username: 'bob_msg', firstName: 'Bob' });
  // Bob meets Alice once, so her numeric id is known to his session.
  await t.call('POST', '/api/v1/chats/search', {
    sessionId: bob.sessionId,
    query: 'x',
    chatId: '@alice_msg',
  });
});

after(async () => {
  await t?.close();
  await sbx?.close();
});

const post = (path: string, body: unknown, headers?: Record<string, string>) =>
  t.call('POST', `/api/v1/messages/${path}`, body, headers);

async function historyOf(sessionId: string, chatId: string, limit = 20) {
  const res = await t.call(
    'GET',
    `/api/v1/messages/history?sessionId=${sessionId}&chatId=${encodeURIComponent(chatId)}&limit=${limit}`,
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data as any[];
}

test('send: seen by the other side, with message.sent and message.received events', async () => {
  const sent = await post('send', { sessionId: alice.sessionId, chatId: '@bob_msg', text: 'hello bob' });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  const m = sent.body.data;
  assert.equal(typeof m.id, 'number');
  assert.equal(m.chatId, bob.userId);
  assert.equal(m.senderId, alice.userId);
  assert.equal(m.out, true);
  assert.equal(m.text, 'hello bob');
  assert.ok(!Number.isNaN(Date.parse(m.date)));

  const bobSide = (await historyOf(bob.sessionId, alice.userId))[0];
  assert.equal(bobSide.text, 'hello bob');
  assert.equal(bobSide.out, false);
  assert.equal(bobSide.senderId, alice.userId);
  assert.equal(bobSide.chatId, alice.userId);

  await waitFor(
    async () => (await eventsOf(t, alice.sessionId, 'message.sent')).some((e) => e.message.id === m.id),
    3000,
    'sent',
  );
  await waitFor(
    async () =>
      (await eventsOf(t, bob.sessionId, 'message.received')).some((e) => e.message.text === 'hello bob'),
    3000,
    'received',
  );
});

test('send with markdown, html and silent; to "me"', async () => {
  const md = await post('send', {
    sessionId: alice.sessionId,
    chatId: 'me',
    text: '**bold** and `code`',
    parseMode: 'markdown',
  });
  assert.equal(md.status, 200, JSON.stringify(md.body));
  assert.equal(md.body.data.text, 'bold and code');
  assert.equal(md.body.data.chatId, alice.userId);
  const html = await post('send', {
    sessionId: alice.sessionId,
    chatId: 'me',
    text: '<b>hi</b> there',
    parseMode: 'html',
    silent: true,
  });
  assert.equal(html.body.data.text, 'hi there');
});

test('entities that parseMode produced: on send, edit, history, search and events', async () => {
  const md = await post('send', {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    text: '**entity** check `code`',
    parseMode: 'markdown',
  });
  assert.equal(md.status, 200, JSON.stringify(md.body));
  const expected = [
    { type: 'bold', offset: 0, length: 6 },
    { type: 'code', offset: 13, length: 4 },
  ];
  assert.equal(md.body.data.text, 'entity check code');
  assert.deepEqual(md.body.data.entities, expected);

  const bobSide = (await historyOf(bob.sessionId, alice.userId)).find((m) => m.text === 'entity check code');
  assert.deepEqual(bobSide.entities, expected);
  const found = await t.call('POST', '/api/v1/chats/search', {
    sessionId: bob.sessionId,
    chatId: alice.userId,
    query: 'entity check',
  });
  assert.equal(found.status, 200, JSON.stringify(found.body));
  assert.deepEqual(found.body.data[0].entities, expected);
  await waitFor(
    async () =>
      (await eventsOf(t, alice.sessionId, 'message.sent')).some(
        (e) => e.message.id === md.body.data.id && e.message.entities?.length === 2,
      ),
    3000,
    'sent event with entities',
  );
  await waitFor(
    async () =>
      (await eventsOf(t, bob.sessionId, 'message.received')).some(
        (e) => e.message.id === bobSide.id && JSON.stringify(e.message.entities) === JSON.stringify(expected),
      ),
    3000,
    'received event with entities',
  );

  const edited = await post('edit', {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    messageId: md.body.data.id,
    text: '<a href="https://example.com/x">site</a> <pre><code class="language-ts">let x</code></pre>',
    parseMode: 'html',
  });
  assert.equal(edited.status, 200, JSON.stringify(edited.body));
  assert.deepEqual(edited.body.data.entities, [
    { type: 'text_link', offset: 0, length: 4, url: 'https://example.com/x' },
    { type: 'pre', offset: 5, length: 5, language: 'ts' },
  ]);
  const plain = await post('send', { sessionId: alice.sessionId, chatId: 'me', text: '**not parsed**' });
  assert.equal(plain.body.data.entities, undefined);

  // A group: the answer comes as Updates, not the short form of private chats.
  const group = await sbx.control('POST', '/chats', {
    type: 'group',
    title: 'Entities',
    owner: alice.phone,
    members: [bob.phone],
  });
  const groupId = group.id as string;
  await t.call('GET', `/api/v1/chats?sessionId=${alice.sessionId}`);
  const inGroup = await post('send', {
    sessionId: alice.sessionId,
    chatId: groupId,
    text: '__hi__ all',
    parseMode: 'markdown',
  });
  assert.equal(inGroup.status, 200, JSON.stringify(inGroup.body));
  assert.deepEqual(inGroup.body.data.entities, [{ type: 'italic', offset: 0, length: 2 }]);
});

test('reply, edit, react, pin and unpin: seen from both sides', async () => {
  const original = (await post('send', { sessionId: alice.sessionId, chatId: bob.userId, text: 'question?' }))
    .body.data;
  const bobCopy = (await historyOf(bob.sessionId, alice.userId))[0];
  assert.equal(bobCopy.text, 'question?');

  const reply = await post('reply', {
    sessionId: bob.sessionId,
    chatId: alice.userId,
    messageId: bobCopy.id,
    text: 'answer!',
  });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.equal(reply.body.data.replyToMessageId, bobCopy.id);
  const aliceSeesReply = (await historyOf(alice.sessionId, bob.userId))[0];
  assert.equal(aliceSeesReply.text, 'answer!');
  assert.equal(aliceSeesReply.replyToMessageId, original.id);

  const edited = await post('edit', {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    messageId: original.id,
    text: 'better question?',
  });
  assert.equal(edited.status, 200, JSON.stringify(edited.body));
  assert.equal(edited.body.data.text, 'better question?');
  assert.ok(edited.body.data.editDate);
  const bobSeesEdit = (await historyOf(bob.sessionId, alice.userId)).find((x) => x.id === bobCopy.id);
  assert.equal(bobSeesEdit.text, 'better question?');
  assert.ok(bobSeesEdit.editDate);
  await waitFor(
    async () => (await eventsOf(t, alice.sessionId, 'message.edited')).length > 0,
    3000,
    'edited event',
  );

  const reacted = await post('react', {
    sessionId: bob.sessionId,
    chatId: alice.userId,
    messageId: bobCopy.id,
    emoji: '👍',
  });
  assert.equal(reacted.status, 200, JSON.stringify(reacted.body));
  assert.deepEqual(reacted.body.data.reactions, [{ emoji: '👍', count: 1 }]);
  const aliceSeesReaction = (await historyOf(alice.sessionId, bob.userId)).find((x) => x.id === original.id);
  assert.deepEqual(aliceSeesReaction.reactions, [{ emoji: '👍', count: 1 }]);
  const removed = await post('react', {
    sessionId: bob.sessionId,
    chatId: alice.userId,
    messageId: bobCopy.id,
    emoji: null,
  });
  assert.equal(removed.status, 200);
  assert.equal(removed.body.data.reactions, undefined);

  const pinned = await post('pin', {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    messageId: original.id,
  });
  assert.deepEqual(pinned.body.data, { chatId: bob.userId, messageId: original.id, pinned: true });
  const bobSeesPin = (await historyOf(bob.sessionId, alice.userId)).find((x) => x.id === bobCopy.id);
  assert.equal(bobSeesPin.pinned, true);
  const unpinned = await post('unpin', {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    messageId: original.id,
  });
  assert.equal(unpinned.body.data.pinned, false);
  const bobSeesUnpin = (await historyOf(bob.sessionId, alice.userId)).find((x) => x.id === bobCopy.id);
  assert.equal(bobSeesUnpin.pinned, undefined);
  await post('pin', { sessionId: alice.sessionId, chatId: bob.userId, messageId: original.id, silent: true });
  const all = await post('unpin', { sessionId: alice.sessionId, chatId: bob.userId });
  assert.equal(all.status, 200, JSON.stringify(all.body));
  assert.equal(all.body.data.messageId, null);
  assert.equal(
    (await historyOf(alice.sessionId, bob.userId)).find((x) => x.id === original.id).pinned,
    undefined,
  );
});

test("read: the reader's unread count drops to zero; message.read is published", async () => {
  await post('send', { sessionId: alice.sessionId, chatId: bob.userId, text: 'unread 1' });
  await post('send', { sessionId: alice.sessionId, chatId: bob.userId, text: 'unread 2' });
  const dialogs = async () =>
    (await t.call('GET', `/api/v1/chats?sessionId=${bob.sessionId}`)).body.data.find(
      (c: any) => c.id === alice.userId,
    );
  assert.ok((await dialogs()).unreadCount >= 2);
  const [newest, older] = await historyOf(bob.sessionId, alice.userId, 2);
  const partly = await post('read', { sessionId: bob.sessionId, chatId: alice.userId, maxId: older.id });
  assert.equal(partly.status, 200, JSON.stringify(partly.body));
  assert.deepEqual(partly.body.data, { chatId: alice.userId, maxId: older.id });
  assert.equal((await dialogs()).unreadCount, 1);
  const read = await post('read', { sessionId: bob.sessionId, chatId: alice.userId });
  assert.equal(read.status, 200, JSON.stringify(read.body));
  assert.deepEqual(read.body.data, { chatId: alice.userId, maxId: newest.id }, 'the newest id, not 0');
  assert.equal((await dialogs()).unreadCount, 0);
  // Asking for less than is already read answers how far the chat really is read.
  const again = await post('read', { sessionId: bob.sessionId, chatId: alice.userId, maxId: older.id });
  assert.equal(again.body.data.maxId, newest.id);
  await waitFor(
    async () =>
      (await eventsOf(t, bob.sessionId, 'message.read')).some(
        (e) => e.chatId === alice.userId && e.maxId === newest.id,
      ),
    3000,
    'read event',
  );
});

test('forward: the copy names its origin; delete: gone on both sides', async () => {
  const src = (await post('send', { sessionId: bob.sessionId, chatId: alice.userId, text: 'forward me' }))
    .body.data;
  const aliceCopy = (await historyOf(alice.sessionId, bob.userId))[0];
  assert.equal(aliceCopy.text, 'forward me');
  const fwd = await post('forward', {
    sessionId: alice.sessionId,
    fromChatId: bob.userId,
    toChatId: 'me',
    messageIds: [aliceCopy.id],
  });
  assert.equal(fwd.status, 200, JSON.stringify(fwd.body));
  assert.equal(fwd.body.data.length, 1);
  assert.equal(fwd.body.data[0].text, 'forward me');
  assert.equal(fwd.body.data[0].chatId, alice.userId);
  assert.equal(fwd.body.data[0].forwardedFrom.senderId, bob.userId);

  const del = await post('delete', { sessionId: bob.sessionId, chatId: alice.userId, messageIds: [src.id] });
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.deepEqual(del.body.data, { deleted: [src.id], revoke: true });
  assert.ok(!(await historyOf(bob.sessionId, alice.userId)).some((x) => x.id === src.id));
  assert.ok(
    !(await historyOf(alice.sessionId, bob.userId)).some((x) => x.id === aliceCopy.id),
    'revoked for Alice too',
  );
  await waitFor(
    async () => (await eventsOf(t, bob.sessionId, 'message.deleted')).length > 0,
    3000,
    'deleted event',
  );
  const again = await post('delete', {
    sessionId: bob.sessionId,
    chatId: alice.userId,
    messageIds: [src.id],
  });
  assert.equal(again.status, 404);
  assert.equal(again.body.error.code, 'MESSAGE_NOT_FOUND');
});

test('history: newest first, limit and offsetId paging with nextCursor', async () => {
  for (let i = 1; i <= 5; i++)
    await post('send', { sessionId: alice.sessionId, chatId: 'me', text: `page ${i}` });
  const first = await t.call(
    'GET',
    `/api/v1/messages/history?sessionId=${alice.sessionId}&chatId=me&limit=2`,
  );
  assert.deepEqual(
    first.body.data.map((m: any) => m.text),
    ['page 5', 'page 4'],
  );
  const cursor = first.body.meta.nextCursor;
  assert.equal(cursor, String(first.body.data[1].id));
  const second = await t.call(
    'GET',
    `/api/v1/messages/history?sessionId=${alice.sessionId}&chatId=me&limit=2&offsetId=${cursor}`,
  );
  assert.deepEqual(
    second.body.data.map((m: any) => m.text),
    ['page 3', 'page 2'],
  );
});

test('Idempotency-Key: a retry returns the first result and sends once; another body with the key is 409', async () => {
  const key = `idem-${Date.now()}`;
  const body = { sessionId: alice.sessionId, chatId: bob.userId, text: 'exactly once' };
  const [one, two] = await Promise.all([
    post('send', body, { 'idempotency-key': key }),
    post('send', body, { 'idempotency-key': key }),
  ]);
  const three = await post('send', body, { 'idempotency-key': key });
  assert.equal(one.status, 200);
  assert.equal(two.status, 200);
  assert.deepEqual(two.body.data, one.body.data);
  assert.deepEqual(three.body.data, one.body.data);
  const copies = (await historyOf(bob.sessionId, alice.userId, 50)).filter((m) => m.text === 'exactly once');
  assert.equal(copies.length, 1, 'Bob got the message once');
  const other = await post('send', { ...body, text: 'different' }, { 'idempotency-key': key });
  assert.equal(other.status, 409);
  assert.equal(other.body.error.code, 'CONFLICT');
  // A key out of bounds is refused before anything is sent, naming the header.
  for (const bad of ['', 'k'.repeat(201)]) {
    const refused = await post('send', { ...body, text: 'never sent' }, { 'idempotency-key': bad });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'VALIDATION_ERROR');
    assert.match(JSON.stringify(refused.body.error.details), /idempotency-key/);
  }
  assert.equal(
    (await historyOf(bob.sessionId, alice.userId, 50)).filter((m) => m.text === 'never sent').length,
    0,
  );

  const fkey = `fwd-${Date.now()}`;
  const fbody = {
    sessionId: alice.sessionId,
    fromChatId: 'me',
    toChatId: bob.userId,
    messageIds: [one.body.data.id],
  };
  const f1 = await post('forward', { ...fbody, fromChatId: bob.userId }, { 'idempotency-key': fkey });
  const f2 = await post('forward', { ...fbody, fromChatId: bob.userId }, { 'idempotency-key': fkey });
  assert.equal(f1.status, 200, JSON.stringify(f1.body));
  assert.deepEqual(f2.body.data, f1.body.data);
  const rkey = `reply-${Date.now()}`;
  const rbody = {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    messageId: one.body.data.id,
    text: 'once reply',
  };
  const r1 = await post('reply', rbody, { 'idempotency-key': rkey });
  const r2 = await post('reply', rbody, { 'idempotency-key': rkey });
  assert.deepEqual(r2.body.data, r1.body.data);
  assert.equal(
    (await historyOf(bob.sessionId, alice.userId, 50)).filter((m) => m.text === 'once reply').length,
    1,
  );
});

test('flood waits: a short one is slept through, a long one answers 429 FLOOD_WAIT with Retry-After', async () => {
  await sbx.control('POST', '/faults', {
    error: 'FLOOD_WAIT_1',
    method: 'messages.sendMessage',
    phone: alice.phone,
    count: 1,
  });
  const startedAt = Date.now();
  const short = await post('send', { sessionId: alice.sessionId, chatId: 'me', text: 'after a short wait' });
  assert.equal(short.status, 200, JSON.stringify(short.body));
  assert.ok(Date.now() - startedAt >= 900, 'the wait was slept through');

  await sbx.control('POST', '/faults', {
    error: 'FLOOD_WAIT_30',
    method: 'messages.sendMessage',
    phone: alice.phone,
    count: 1,
  });
  const long = await post('send', { sessionId: alice.sessionId, chatId: 'me', text: 'too long' });
  assert.equal(long.status, 429);
  assert.equal(long.body.error.code, 'FLOOD_WAIT');
  assert.equal(long.headers['retry-after'], '30');
  assert.equal(long.body.error.details.seconds, 30);
});

test("a refusal by Telegram -> 4xx with Telegram's name (more in telegram-errors.test.ts); unknown chat or message -> 404", async () => {
  await sbx.control('POST', '/faults', {
    error: 'CHAT_WRITE_FORBIDDEN',
    method: 'messages.sendMessage',
    phone: alice.phone,
    count: 1,
  });
  const forbidden = await post('send', { sessionId: alice.sessionId, chatId: 'me', text: 'x' });
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.body.error.code, 'FORBIDDEN');
  assert.equal(forbidden.body.error.details.telegramError, 'CHAT_WRITE_FORBIDDEN');

  const unknownId = await post('send', { sessionId: alice.sessionId, chatId: '987654321', text: 'x' });
  assert.equal(unknownId.status, 404);
  assert.equal(unknownId.body.error.code, 'CHAT_NOT_FOUND');
  const unknownName = await post('send', {
    sessionId: alice.sessionId,
    chatId: '@nobody_here_at_all',
    text: 'x',
  });
  assert.equal(unknownName.status, 404);
  assert.equal(unknownName.body.error.code, 'CHAT_NOT_FOUND');
  const unknownChannel = await post('send', { sessionId: alice.sessionId, chatId: '-1001234567', text: 'x' });
  assert.equal(unknownChannel.status, 404);
  const unknownMessage = await post('edit', {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    messageId: 999999,
    text: 'x',
  });
  assert.equal(unknownMessage.status, 404, JSON.stringify(unknownMessage.body));
  assert.equal(unknownMessage.body.error.code, 'MESSAGE_NOT_FOUND');
  const unknownReact = await post('react', {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    messageId: 999999,
    emoji: '👍',
  });
  assert.equal(unknownReact.status, 404, JSON.stringify(unknownReact.body));
});

test('bad input on every message route -> 4xx envelope', async () => {
  const s = alice.sessionId;
  const big = 'x'.repeat(100_000);
  const cases: [string, unknown, number][] = [
    ['send', {}, 400],
    ['send', { sessionId: s, chatId: 'me' }, 400],
    ['send', { sessionId: s, chatId: 'me', text: big }, 400],
    ['send', { sessionId: s, chatId: 12, text: 'x' }, 400],
    ['send', { sessionId: s, chatId: 'me', text: 'x', parseMode: 'bbcode' }, 400],
    ['send', { sessionId: s, chatId: 'me', text: 'x', surprise: 1 }, 400],
    ['send', { sessionId: 'ses_unknown', chatId: 'me', text: 'x' }, 404],
    ['reply', { sessionId: s, chatId: 'me', text: 'x' }, 400],
    ['reply', { sessionId: s, chatId: 'me', messageId: 'one', text: 'x' }, 400],
    ['edit', { sessionId: s, chatId: 'me', messageId: 1, text: big }, 400],
    ['edit', { sessionId: 'ses_unknown', chatId: 'me', messageId: 1, text: 'x' }, 404],
    ['delete', { sessionId: s, chatId: 'me', messageIds: [] }, 400],
    ['delete', { sessionId: s, chatId: 'me', messageIds: 'all' }, 400],
    ['forward', { sessionId: s, fromChatId: 'me', messageIds: [1] }, 400],
    ['forward', { sessionId: 'ses_unknown', fromChatId: 'me', toChatId: 'me', messageIds: [1] }, 404],
    ['react', { sessionId: s, chatId: 'me', messageId: 1 }, 400],
    ['react', { sessionId: s, chatId: 'me', messageId: 1, emoji: 5 }, 400],
    ['pin', { sessionId: s, chatId: 'me' }, 400],
    ['pin', { sessionId: 'ses_unknown', chatId: 'me', messageId: 1 }, 404],
    ['unpin', { sessionId: s, chatId: 'me', messageId: -1 }, 400],
    ['read', { sessionId: s }, 400],
    ['read', { sessionId: s, chatId: 'me', maxId: 'x' }, 400],
    ['read', { sessionId: 'ses_unknown', chatId: 'me' }, 404],
  ];
  for (const [path, body, status] of cases) {
    const res = await post(path, body);
    assert.equal(
      res.status,
      status,
      `${path} ${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(res.body).slice(0, 200)}`,
    );
    assert.equal(res.body.success, false);
  }
  for (const [query, status] of [
    ['', 400],
    [`sessionId=${s}`, 400],
    [`sessionId=${s}&chatId=me&limit=0`, 400],
    [`sessionId=${s}&chatId=me&limit=101`, 400],
    [`sessionId=${s}&chatId=me&limit=abc`, 400],
    ['sessionId=ses_unknown&chatId=me', 404],
  ] as const) {
    const res = await t.call('GET', `/api/v1/messages/history?${query}`);
    assert.equal(res.status, status, `history?${query}: ${JSON.stringify(res.body)}`);
  }
  const malformed = await t.app.inject({
    method: 'POST',
    url: '/api/v1/messages/send',
    headers: { 'x-api-key': t.adminKey, 'content-type': 'application/json' },
    payload: '{"sessionId": ',
  });
  assert.equal(malformed.statusCode, 400);
});

test('every event these routes published matches its documented data schema', async () => {
  const events = await t.app.services.events.readAfter(0, { types: null, sessionIds: null }, 10_000);
  assert.ok(events.length > 5);
  for (const e of events) {
    const result = EVENT_DATA_SCHEMAS[e.type].safeParse(e.envelope.data);
    assert.ok(result.success, `${e.type}: ${JSON.stringify(result.error?.issues)}`);
  }
});
