/**
 * Telegram pushes new private and basic group messages in short forms (updateShortMessage,
 * updateShortChatMessage) that name the sender by id only, even a stranger's first message.
 * TeleFlow learns a peer it does not know as Telegram advises (updates.getDifference, which
 * returns the message with its users), so events carry the sender and replying by the sender's
 * id works at once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TelegramClient } from 'teleproto';
import { closeClient, saveSession, signedInClient, testPhone } from '../helpers/sandbox.js';
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
const clients: TelegramClient[] = [];

before(async () => {
  // The sandbox's default: short updates, as Telegram sends them.
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx);
});

after(async () => {
  for (const c of clients) await closeClient(c);
  await t?.close();
  await sbx?.close();
});

/** A sandbox user no TeleFlow session has met, with its own app to read what it receives. */
async function stranger(name: string): Promise<{ phone: string; userId: string; app: TelegramClient }> {
  const phone = testPhone();
  const created = await sbx.control<{ id: string }>('POST', '/users', { phone, firstName: name });
  const app = await signedInClient(sbx.sandbox, phone, { firstName: name });
  clients.push(app);
  return { phone, userId: created.id, app };
}

/** The message.received event of one message, once recorded. */
function receivedEvent(sessionId: string, messageId: number, ms = 5000): Promise<Record<string, any>> {
  return waitFor(
    async () => (await eventsOf(t, sessionId, 'message.received')).find((e) => e.message.id === messageId),
    ms,
    `message.received of ${messageId}`,
  );
}

/** Sends through TeleFlow to the stranger by id; the stranger's app then shows it from `username`. */
async function replyReaches(
  sessionId: string,
  to: { userId: string; app: TelegramClient },
  username: string,
  text: string,
): Promise<void> {
  const reply = await t.call('POST', '/api/v1/messages/send', { sessionId, chatId: to.userId, text });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  const seen = await waitFor(
    async () => {
      const [last] = await to.app.getMessages(`@${username}`, { limit: 1 });
      return last?.message === text;
    },
    3000,
    'the reply received',
  );
  assert.ok(seen);
}

function chatCreated(sessionId: string, chatId: string): Promise<Record<string, any>> {
  return waitFor(
    async () => (await eventsOf(t, sessionId, 'chat.created')).find((e) => e.chat.id === chatId),
    5000,
    `chat.created of ${chatId}`,
  );
}

test("a stranger's first private message: message.received with the sender, chat.created, and a reply by the sender's id", async () => {
  const username = `short_me_${process.pid}`;
  const me = await signIn(t, sbx, { username });
  const stan = await stranger('Stan');
  const sent = await sbx.control('POST', '/messages', {
    from: stan.phone,
    to: `@${username}`,
    text: 'hello?',
  });

  const received = await receivedEvent(me.sessionId, sent.copies[me.phone]);
  assert.equal(received.message.senderId, stan.userId);
  assert.equal(received.message.chatId, stan.userId);
  assert.equal(received.message.text, 'hello?');
  assert.equal(received.catchUp, false, 'a live message, though fetched again for its sender');

  await replyReaches(me.sessionId, stan, username, 'hello, Stan');

  const created = await chatCreated(me.sessionId, stan.userId);
  assert.equal(created.chat.type, 'private');
  assert.equal(created.chat.title, 'Stan');
});

test('a basic group message in a session imported with no peers known: the sender is learned and can be answered privately', async () => {
  // An account already in a group is imported: TeleFlow has met none of its peers.
  const mia = await stranger('Mia');
  const owner = await stranger('Olga');
  const member = await stranger('Gus');
  const group = await sbx.control('POST', '/chats', {
    type: 'group',
    title: 'Strangers',
    owner: owner.phone,
    members: [mia.phone, member.phone],
  });
  const sessionString = saveSession(mia.app);
  const imported = await t.call('POST', '/api/v1/sessions/import', { sessionString });
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  const sessionId = imported.body.data.id as string;
  const sent = await sbx.control('POST', '/messages', { from: member.phone, to: group.id, text: 'hi all' });

  const received = await receivedEvent(sessionId, sent.copies[mia.phone]);
  assert.equal(received.message.senderId, member.userId);
  assert.equal(received.message.chatId, group.id);
  assert.equal(received.catchUp, false);

  const inGroup = await t.call('POST', '/api/v1/messages/send', {
    sessionId,
    chatId: group.id,
    text: 'hi Gus',
    replyToMessageId: sent.copies[mia.phone],
  });
  assert.equal(inGroup.status, 200, JSON.stringify(inGroup.body));
  const direct = await t.call('POST', '/api/v1/messages/send', {
    sessionId,
    chatId: member.userId,
    text: 'hi Gus, privately',
  });
  assert.equal(direct.status, 200, JSON.stringify(direct.body));
});

test("after a restart, a stranger's message sent meanwhile is caught up with its sender and can be answered", async () => {
  const username = `short_rs_${process.pid}`;
  const me = await signIn(t, sbx, { username });
  const stan = await stranger('Rita');
  await t.close({ keepData: true });
  const sent = await sbx.control('POST', '/messages', {
    from: stan.phone,
    to: `@${username}`,
    text: 'while away',
  });
  t = await createTelegramTestApp(sbx, { dataDir: t.dataDir });

  const received = await receivedEvent(me.sessionId, sent.copies[me.phone], 8000);
  assert.equal(received.message.senderId, stan.userId);
  assert.equal(received.catchUp, true);
  await replyReaches(me.sessionId, stan, username, 'back now');
  await chatCreated(me.sessionId, stan.userId);

  // And live again after the restart: a second stranger's first message.
  const next = await stranger('Nina');
  const live = await sbx.control('POST', '/messages', { from: next.phone, to: `@${username}`, text: 'hi' });
  const liveReceived = await receivedEvent(me.sessionId, live.copies[me.phone]);
  assert.equal(liveReceived.message.senderId, next.userId);
  const liveReply = await t.call('POST', '/api/v1/messages/send', {
    sessionId: me.sessionId,
    chatId: next.userId,
    text: 'hi Nina',
  });
  assert.equal(liveReply.status, 200, JSON.stringify(liveReply.body));
});
