/**
 * Like Telegram, the sandbox pushes new private and basic group messages in the short forms
 * (updateShortMessage, updateShortChatMessage), with no users or chats, even a stranger's first
 * message; getDifference replays them in full with their users. The world option
 * `shortMessageUpdates: false` pushes full Updates instead.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Api } from 'teleproto';
import type { TelegramClient } from 'teleproto';
import { NewMessage } from 'teleproto/events/index.js';
import type { NewMessageEvent } from 'teleproto/events/index.js';
import {
  closeClient,
  control,
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
const bobRaw: unknown[] = [];
const bobEvents: NewMessageEvent[] = [];

before(async () => {
  sandbox = await startTestSandbox();
  await control(sandbox, 'POST', '/users', {
    phone: alicePhone,
    firstName: 'Alice',
    username: `shorta${alicePhone.slice(-4)}`,
  });
  await control(sandbox, 'POST', '/users', {
    phone: bobPhone,
    firstName: 'Bob',
    username: `shortb${bobPhone.slice(-4)}`,
  });
  alice = await signedInClient(sandbox, alicePhone);
  bob = await signedInClient(sandbox, bobPhone);
  bob.addEventHandler((u: unknown) => void bobRaw.push(u));
  bob.addEventHandler((e: NewMessageEvent) => void bobEvents.push(e), new NewMessage({}));
  await alice.getMe();
  await bob.getMe();
});

after(async () => {
  await closeClient(alice);
  await closeClient(bob);
  await sandbox.close();
});

/** The updateShortMessage Bob's client got for a text. */
function shortPushedToBob(text: string): Promise<Api.UpdateShortMessage> {
  return waitFor(
    () =>
      bobRaw.find(
        (u): u is Api.UpdateShortMessage => u instanceof Api.UpdateShortMessage && u.message === text,
      ),
    3000,
    `short push of ${text}`,
  );
}

test("a stranger's first message comes as updateShortMessage without users; getDifference has them", async () => {
  const state = (await bob.invoke(new Api.updates.GetState())) as Api.updates.State;
  const to = `@shortb${bobPhone.slice(-4)}`;
  const aliceId = (await alice.getMe()).id.toString();
  await alice.sendMessage(to, { message: 'first contact' });
  const firstShort = await shortPushedToBob('first contact');
  assert.equal(firstShort.userId.toString(), aliceId);
  assert.ok(
    !bobRaw.some((u) => u instanceof Api.Updates && u.updates.some((x) => x instanceof Api.UpdateNewMessage)),
    'no full form, though the chat is new',
  );
  await alice.sendMessage(to, {
    message: 'second, short',
    replyTo: (await alice.getMessages(to, { limit: 1 }))[0].id,
  });
  const second = await shortPushedToBob('second, short');
  assert.equal((second.replyTo as Api.MessageReplyHeader | undefined)?.replyToMsgId, firstShort.id);
  const diff = (await bob.invoke(
    new Api.updates.GetDifference({ pts: state.pts, date: state.date, qts: 0 }),
  )) as Api.updates.Difference;
  assert.deepEqual(
    diff.newMessages.map((m) => (m as Api.Message).message),
    ['first contact', 'second, short'],
  );
  assert.ok(diff.users.some((u) => u.id.toString() === aliceId && u instanceof Api.User && !u.min));
});

test('with shortMessageUpdates: false, the first message comes as full Updates with its users', async () => {
  const full = await startTestSandbox({ world: { shortMessageUpdates: false } });
  const [carolPhone, davePhone] = [testPhone(3), testPhone(4)];
  await control(full, 'POST', '/users', { phone: carolPhone, firstName: 'Carol' });
  await control(full, 'POST', '/users', { phone: davePhone, firstName: 'Dave' });
  const dave = await signedInClient(full, davePhone);
  const raw: unknown[] = [];
  dave.addEventHandler((u: unknown) => void raw.push(u));
  await dave.getMe();
  try {
    await control(full, 'POST', '/messages', { from: carolPhone, to: davePhone, text: 'full form' });
    // The client hands each update of an Updates on with the users and chats that came with it.
    const pushed = await waitFor(
      () => raw.find((u): u is Api.UpdateNewMessage => u instanceof Api.UpdateNewMessage),
      3000,
      'updateNewMessage',
    );
    const users = [...(pushed as unknown as { _entities: Map<string, unknown> })._entities.values()];
    assert.ok(users.some((u) => u instanceof Api.User && u.firstName === 'Carol'));
    assert.ok(!raw.some((u) => u instanceof Api.UpdateShortMessage));
  } finally {
    await closeClient(dave);
    await full.close();
  }
});

test('group messages arrive as updateShortChatMessage', async () => {
  const group = await control(sandbox, 'POST', '/chats', {
    type: 'group',
    title: 'Shorts',
    owner: alicePhone,
    members: [bobPhone],
  });
  await control(sandbox, 'POST', '/messages', { from: alicePhone, to: group.body.id, text: 'group line' });
  const event = await waitFor(
    () => bobEvents.find((e) => e.message.message === 'group line'),
    3000,
    'group message',
  );
  assert.ok(bobRaw.some((u) => u instanceof Api.UpdateShortChatMessage));
  assert.equal(event.message.chatId?.toString(), group.body.id);
});
