/**
 * Messages between real teleproto clients through the sandbox: NewMessage events both ways,
 * edits, deletes, reactions and pins as updates, catching up with getDifference after being
 * away, flood waits, control-API posts in groups and channels, and dropped connections.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Api } from 'teleproto';
import type { TelegramClient } from 'teleproto';
import { NewMessage } from 'teleproto/events/index.js';
import type { NewMessageEvent } from 'teleproto/events/index.js';
import { FloodWaitError } from 'teleproto/errors/index.js';
import {
  clientFor,
  closeClient,
  control,
  saveSession,
  signedInClient,
  startTestSandbox,
  testPhone,
  waitFor,
} from '../helpers/sandbox.js';
import type { Sandbox } from '../helpers/sandbox.js';

let sandbox: Sandbox;
let alice: TelegramClient;
let bob: TelegramClient;
const alicePhone = testPhone(1);
const bobPhone = testPhone(2);
const aliceInbox: NewMessageEvent[] = [];
const bobInbox: NewMessageEvent[] = [];
const bobRaw: unknown[] = [];
const extraClients: TelegramClient[] = [];

before(async () => {
  sandbox = await startTestSandbox();
  await control(sandbox, 'POST', '/users', {
    phone: alicePhone,
    firstName: 'Alice',
    username: `alice${alicePhone.slice(-4)}`,
  });
  await control(sandbox, 'POST', '/users', {
    phone: bobPhone,
    firstName: 'Bob',
    username: `bob${bobPhone.slice(-4)}`,
  });
  alice = await signedInClient(sandbox, alicePhone);
  bob = await signedInClient(sandbox, bobPhone);
  alice.addEventHandler((event: NewMessageEvent) => void aliceInbox.push(event), new NewMessage({}));
  bob.addEventHandler((event: NewMessageEvent) => void bobInbox.push(event), new NewMessage({}));
  bob.addEventHandler((update: unknown) => void bobRaw.push(update));
  // The NewMessage builder needs to know who "me" is.
  await alice.getMe();
  await bob.getMe();
});

after(async () => {
  for (const client of [alice, bob, ...extraClients]) await closeClient(client);
  await sandbox.close();
});

const bobName = () => `@bob${bobPhone.slice(-4)}`;
const aliceName = () => `@alice${alicePhone.slice(-4)}`;

test("two accounts exchange messages and each gets the other's in a NewMessage handler", async () => {
  const sent = await alice.sendMessage(bobName(), { message: 'hello Bob' });
  assert.equal(sent.message, 'hello Bob');
  const atBob = await waitFor(
    () => bobInbox.find((e) => e.message.message === 'hello Bob'),
    3000,
    'Bob to receive',
  );
  assert.equal(atBob.message.out, false);
  assert.equal(atBob.message.senderId?.toString(), (await alice.getMe()).id.toString());
  const reply = await bob.sendMessage(aliceName(), { message: 'hello Alice', replyTo: atBob.message.id });
  const atAlice = await waitFor(
    () => aliceInbox.find((e) => e.message.message === 'hello Alice'),
    3000,
    'Alice to receive',
  );
  assert.equal(
    atAlice.message.replyTo?.replyToMsgId,
    sent.id,
    "the reply points at Alice's own id of her message",
  );
  assert.ok(reply.id > 0);
  const history = await bob.getMessages(aliceName(), { limit: 10 });
  assert.deepEqual(
    [...history].map((m) => m.message),
    ['hello Alice', 'hello Bob'],
  );
});

test('edits, reactions, pins and deletes arrive as updates', async () => {
  const sent = await alice.sendMessage(bobName(), { message: 'first version' });
  const received = await waitFor(
    () => bobInbox.find((e) => e.message.message === 'first version'),
    3000,
    'message',
  );
  const bobId = received.message.id;
  bobRaw.length = 0;
  const findRaw = <T>(type: new (...args: any[]) => T, check: (u: T) => boolean = () => true) =>
    waitFor(() => bobRaw.flatMap((u) => (u instanceof type ? [u] : [])).find(check), 3000, type.name);

  await alice.editMessage(bobName(), { message: sent.id, text: 'second version' });
  const edit = await findRaw(Api.UpdateEditMessage);
  assert.equal((edit.message as Api.Message).message, 'second version');
  assert.equal((edit.message as Api.Message).id, bobId);
  assert.ok((edit.message as Api.Message).editDate);

  await alice.invoke(
    new Api.messages.SendReaction({
      peer: bobName(),
      msgId: sent.id,
      reaction: [new Api.ReactionEmoji({ emoticon: '👍' })],
    }),
  );
  const reaction = await findRaw(Api.UpdateMessageReactions);
  assert.equal(reaction.msgId, bobId);
  const count = reaction.reactions.results[0] as Api.ReactionCount;
  assert.equal((count.reaction as Api.ReactionEmoji).emoticon, '👍');
  assert.equal(count.count, 1);

  await alice.pinMessage(bobName(), sent.id, { notify: false });
  const pin = await findRaw(Api.UpdatePinnedMessages);
  assert.deepEqual(pin.messages, [bobId]);
  assert.equal(pin.pinned, true);

  await alice.deleteMessages(bobName(), [sent.id], { revoke: true });
  const deletion = await findRaw(Api.UpdateDeleteMessages);
  assert.deepEqual(deletion.messages, [bobId]);
});

test('a client away while messages arrive gets exactly them from getDifference', async () => {
  const state = (await bob.invoke(new Api.updates.GetState())) as Api.updates.State;
  const session = saveSession(bob);
  await closeClient(bob);
  for (const text of ['while away 1', 'while away 2', 'while away 3'])
    await alice.sendMessage(bobName(), { message: text });
  await control(sandbox, 'POST', '/messages', { from: alicePhone, to: bobPhone, text: 'while away 4' });
  bob = clientFor(sandbox, session);
  await bob.connect();
  const diff = await bob.invoke(new Api.updates.GetDifference({ pts: state.pts, date: state.date, qts: 0 }));
  assert.ok(diff instanceof Api.updates.Difference, diff.className);
  assert.deepEqual(
    diff.newMessages.map((m) => (m as Api.Message).message),
    ['while away 1', 'while away 2', 'while away 3', 'while away 4'],
  );
  assert.equal(diff.otherUpdates.length, 0);
  assert.equal(diff.state.pts, state.pts + 4);
  const again = await bob.invoke(
    new Api.updates.GetDifference({ pts: diff.state.pts, date: diff.state.date, qts: 0 }),
  );
  assert.ok(again instanceof Api.updates.DifferenceEmpty);
});

test('an injected FLOOD_WAIT_X surfaces as FloodWaitError with X seconds', async () => {
  const fault = await control(sandbox, 'POST', '/faults', {
    error: 'FLOOD_WAIT_17',
    method: 'messages.sendMessage',
    phone: alicePhone,
  });
  assert.equal(fault.status, 201);
  alice.floodSleepThreshold = 0;
  await assert.rejects(alice.sendMessage(bobName(), { message: 'too fast' }), (error: unknown) => {
    assert.ok(error instanceof FloodWaitError);
    assert.equal(error.seconds, 17);
    return true;
  });
  const next = await alice.sendMessage(bobName(), { message: 'later' });
  assert.equal(next.message, 'later');
  await control(sandbox, 'POST', '/faults', { error: 'INTERNAL', method: 'users.getUsers' });
  await assert.rejects(
    alice.invoke(new Api.users.GetUsers({ id: [new Api.InputUserSelf()] })),
    (error: Error & { code?: number }) => error.code === 500,
  );
});

test('posts from the control API in a group and a channel reach members as NewMessage events', async () => {
  const carolPhone = testPhone(3);
  await control(sandbox, 'POST', '/users', { phone: carolPhone, firstName: 'Carol' });
  const group = await control(sandbox, 'POST', '/chats', {
    type: 'group',
    title: 'Friends',
    owner: carolPhone,
    members: [bobPhone],
  });
  assert.equal(group.status, 201);
  assert.match(group.body.id, /^-\d+$/);
  const channel = await control(sandbox, 'POST', '/chats', {
    type: 'channel',
    title: 'Announcements',
    owner: carolPhone,
    members: [bobPhone],
    username: `ann${carolPhone.slice(-4)}`,
  });
  assert.match(channel.body.id, /^-100\d+$/);
  const bobNow = bob;
  const events: NewMessageEvent[] = [];
  bobNow.addEventHandler((event: NewMessageEvent) => void events.push(event), new NewMessage({}));
  await bobNow.getMe();
  await control(sandbox, 'POST', '/messages', { from: carolPhone, to: group.body.id, text: 'group hello' });
  await control(sandbox, 'POST', '/messages', {
    from: carolPhone,
    to: channel.body.id,
    text: 'channel post',
  });
  const inGroup = await waitFor(
    () => events.find((e) => e.message.message === 'group hello'),
    3000,
    'group message',
  );
  assert.equal(inGroup.message.chatId?.toString(), group.body.id);
  const inChannel = await waitFor(
    () => events.find((e) => e.message.message === 'channel post'),
    3000,
    'channel post',
  );
  assert.equal(inChannel.message.chatId?.toString(), channel.body.id);
  assert.equal(inChannel.message.post, true);
  const dialogs = await bobNow.getDialogs({});
  const titles = dialogs.map((d) => d.title);
  assert.ok(titles.includes('Friends') && titles.includes('Announcements'), titles.join(','));
});

test('dropped connections are reconnected by the client, which then receives again', async () => {
  const dropped = await control(sandbox, 'POST', '/connections/drop', { phone: bobPhone });
  assert.ok(dropped.body.dropped >= 1);
  const events: NewMessageEvent[] = [];
  bob.addEventHandler((event: NewMessageEvent) => void events.push(event), new NewMessage({}));
  // A call goes through once the client has reconnected.
  await bob.invoke(new Api.updates.GetState());
  await alice.sendMessage(bobName(), { message: 'after the drop' });
  await waitFor(
    () => events.find((e) => e.message.message === 'after the drop'),
    5000,
    'message after reconnect',
  );
});

test('while connections are refused the client cannot get through; afterwards it reconnects', async () => {
  await control(sandbox, 'POST', '/connections/refuse', { ms: 1200 });
  const started = Date.now();
  await control(sandbox, 'POST', '/connections/drop', { phone: alicePhone });
  const state = await alice.invoke(new Api.updates.GetState());
  assert.ok(state instanceof Api.updates.State);
  assert.ok(
    Date.now() - started >= 1000,
    `answered after ${Date.now() - started} ms, before the refusal ended`,
  );
});
