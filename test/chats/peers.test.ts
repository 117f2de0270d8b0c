/**
 * Peers as Telegram hands them out: `min` users seen only in a supergroup are addressed by the
 * message they were seen in, access hashes belong to the account that received them, and a
 * basic group migrated to a supergroup is followed to its new id.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createTelegramTestApp,
  eventsOf,
  newPhone,
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

async function sandboxUser(firstName: string, username?: string): Promise<{ phone: string; id: string }> {
  const phone = newPhone();
  const created = await sbx.control('POST', '/users', {
    phone,
    firstName,
    ...(username ? { username } : {}),
  });
  return { phone, id: created.id };
}

/** A session's peer cache row for a peer, once it is saved. */
function storedPeer(sessionId: string, peerId: string) {
  return waitFor(
    () =>
      t.app.services.db.db
        .selectFrom('tg_peers')
        .selectAll()
        .where('session_id', '=', sessionId)
        .where('peer_id', '=', peerId)
        .executeTakeFirst(),
    5000,
    `the peer row of ${peerId}`,
  );
}

test('a user seen only in a supergroup message (a min user) can be messaged and looked up', async () => {
  const alice = await signIn(t, sbx, { firstName: 'Alice' });
  const owner = await sandboxUser('Owner');
  const dave = await sandboxUser('Dave');
  const group = await sbx.control('POST', '/chats', {
    type: 'supergroup',
    title: 'Big room',
    owner: owner.phone,
    members: [alice.phone, dave.phone],
  });
  await sbx.control('POST', '/messages', { from: dave.phone, to: group.id, text: 'hello room' });
  await waitFor(
    async () =>
      (await eventsOf(t, alice.sessionId, 'message.received')).find((e) => e.message.text === 'hello room'),
    8000,
    "Dave's message",
  );

  // Alice has no relation to Dave: Telegram sent him as `min`, so his id is known only by the
  // message it came with.
  const seen = await storedPeer(alice.sessionId, dave.id);
  assert.equal(seen.access_hash, null);
  assert.equal(seen.seen_chat_id, group.id);
  const dm = await t.call('POST', '/api/v1/messages/send', {
    sessionId: alice.sessionId,
    chatId: dave.id,
    text: 'hi dave, from the room',
  });
  assert.equal(dm.status, 200, JSON.stringify(dm.body));
  assert.equal(dm.body.data.chatId, dave.id);
  const info = await t.call('GET', `/api/v1/chats/${dave.id}?sessionId=${alice.sessionId}`);
  assert.equal(info.status, 200, JSON.stringify(info.body));
  assert.equal(info.body.data.id, dave.id);
  assert.equal(info.body.data.type, 'private');
});

test('an access hash belongs to the account that received it', async () => {
  const alice = await signIn(t, sbx, { firstName: 'Alice' });
  const bob = await signIn(t, sbx, { firstName: 'Bob' });
  const erin = await sandboxUser('Erin', `erin_${newPhone().slice(-6)}`);
  const erinName = (await sbx.control('GET', `/users/${erin.phone}`)).username as string;

  // Alice meets Erin by username; her cache row for Erin is stored.
  const first = await t.call('POST', '/api/v1/messages/send', {
    sessionId: alice.sessionId,
    chatId: `@${erinName}`,
    text: 'hi erin',
  });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const db = t.app.services.db.db;
  const row = await storedPeer(alice.sessionId, erin.id);
  assert.ok(row.access_hash);

  // Bob's cache gets Alice's hash for Erin (as a bug sharing rows between sessions would):
  // Telegram refuses that hash for Bob, so the id is as unknown to him as before.
  await db
    .insertInto('tg_peers')
    .values({ ...row, session_id: bob.sessionId, username: null })
    .execute();
  t = await t.restart();
  const statusOf = async (id: string) => (await t.call('GET', `/api/v1/sessions/${id}`)).body.data.status;
  await waitFor(async () => (await statusOf(bob.sessionId)) === 'connected', 8000, 'bob connected');
  await waitFor(async () => (await statusOf(alice.sessionId)) === 'connected', 8000, 'alice connected');
  const foreign = await t.call('POST', '/api/v1/messages/send', {
    sessionId: bob.sessionId,
    chatId: erin.id,
    text: 'with a borrowed hash',
  });
  assert.equal(foreign.status, 404, JSON.stringify(foreign.body));
  assert.equal(foreign.body.error.code, 'CHAT_NOT_FOUND');

  // Each account's own hashes keep working; Bob's own, once he resolved Erin, replaces the
  // borrowed one.
  const own = await t.call('POST', '/api/v1/messages/send', {
    sessionId: alice.sessionId,
    chatId: erin.id,
    text: 'again',
  });
  assert.equal(own.status, 200, JSON.stringify(own.body));
  const bobOwn = await t.call('POST', '/api/v1/messages/send', {
    sessionId: bob.sessionId,
    chatId: `@${erinName}`,
    text: 'hi erin, from bob',
  });
  assert.equal(bobOwn.status, 200, JSON.stringify(bobOwn.body));
  const bobById = await t.call('POST', '/api/v1/messages/send', {
    sessionId: bob.sessionId,
    chatId: erin.id,
    text: 'by id now',
  });
  assert.equal(bobById.status, 200, JSON.stringify(bobById.body));
});

test('a basic group migrated to a supergroup: reported with its new id, and its old id is followed', async () => {
  const alice = await signIn(t, sbx, { firstName: 'Alice' });
  const owner = await sandboxUser('Owner');
  const group = await sbx.control('POST', '/chats', {
    type: 'group',
    title: 'Small team',
    owner: owner.phone,
    members: [alice.phone],
  });
  assert.match(group.id, /^-\d+$/);
  await waitFor(
    async () => (await eventsOf(t, alice.sessionId, 'group.created')).find((e) => e.chat.id === group.id),
    8000,
    'the group',
  );

  const migrated = await sbx.control('POST', `/chats/${group.id}/migrate`);
  assert.match(migrated.id, /^-100\d+$/);
  const updated = await waitFor(
    async () =>
      (await eventsOf(t, alice.sessionId, 'group.updated')).find(
        (e) => e.chat.id === group.id && e.migratedTo,
      ),
    8000,
    'group.updated with migratedTo',
  );
  assert.equal(updated.migratedTo, migrated.id);
  const chatUpdated = (await eventsOf(t, alice.sessionId, 'chat.updated')).find(
    (e) => e.chat.id === group.id,
  );
  assert.equal(chatUpdated?.migratedTo, migrated.id);
  const created = await waitFor(
    async () => (await eventsOf(t, alice.sessionId, 'group.created')).find((e) => e.chat.id === migrated.id),
    8000,
    'the supergroup reported as new',
  );
  assert.equal(created.chat.type, 'supergroup');
  assert.equal(created.chat.title, 'Small team');
  assert.equal(
    (await eventsOf(t, alice.sessionId, 'chat.deleted')).filter((e) => e.chatId === group.id).length,
    0,
    'a migration is not a deletion',
  );

  // Asked with the old id, TeleFlow sends to the supergroup.
  const sent = await t.call('POST', '/api/v1/messages/send', {
    sessionId: alice.sessionId,
    chatId: group.id,
    text: 'still here',
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  assert.equal(sent.body.data.chatId, migrated.id);
  const info = await t.call('GET', `/api/v1/chats/${group.id}?sessionId=${alice.sessionId}`);
  assert.equal(info.status, 200, JSON.stringify(info.body));
  assert.equal(info.body.data.id, migrated.id);
  assert.equal(info.body.data.type, 'supergroup');
  const inSandbox = await sbx.control('GET', `/chats/${migrated.id}`);
  assert.ok(JSON.stringify(inSandbox).includes(alice.phone), 'Alice is a member of the supergroup');
});

test('a channel seen only as the origin of a forwarded message (a min channel) can be looked up', async () => {
  const alice = await signIn(t, sbx, { firstName: 'Alice' });
  const owner = await sandboxUser('Owner');
  const channel = await sbx.control('POST', '/chats', {
    type: 'channel',
    title: 'News wire',
    owner: owner.phone,
    username: `wire_${newPhone().slice(-6)}`,
  });
  const post = await sbx.control('POST', '/messages', {
    from: owner.phone,
    to: channel.id,
    text: 'breaking',
  });
  await sbx.control('POST', '/messages/forward', {
    from: owner.phone,
    fromChat: channel.id,
    messageIds: [post.id],
    to: alice.phone,
  });
  await waitFor(
    async () =>
      (await eventsOf(t, alice.sessionId, 'message.received')).find((e) => e.message.text === 'breaking'),
    8000,
    'the forwarded post',
  );

  // Alice is not in the channel: Telegram sent it as `min`, so it is known only by the message
  // it came with, and looking it up goes through that message.
  const seen = await storedPeer(alice.sessionId, channel.id);
  assert.equal(seen.access_hash, null);
  assert.equal(seen.seen_chat_id, owner.id);
  const info = await t.call('GET', `/api/v1/chats/${channel.id}?sessionId=${alice.sessionId}`);
  assert.equal(info.status, 200, JSON.stringify(info.body));
  assert.equal(info.body.data.id, channel.id);
  assert.equal(info.body.data.title, 'News wire');
});
