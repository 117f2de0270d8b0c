/**
 * With `shortMessageUpdates`, the sandbox pushes Telegram's short forms (updateShortMessage,
 * updateShortChatMessage) for chats the account already has; the real client turns them into
 * the same NewMessage events, and getDifference still replays them in full.
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
  sandbox = await startTestSandbox({ world: { shortMessageUpdates: true } });
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

test('the first message comes with users, later ones as updateShortMessage, both as NewMessage', async () => {
  const state = (await bob.invoke(new Api.updates.GetState())) as Api.updates.State;
  const to = `@shortb${bobPhone.slice(-4)}`;
  await alice.sendMessage(to, { message: 'first contact' });
  await waitFor(() => bobEvents.find((e) => e.message.message === 'first contact'), 3000, 'first message');
  assert.ok(
    bobRaw.some((u) => u instanceof Api.UpdateNewMessage),
    'full form while the chat is new',
  );
  const first = bobEvents.find((e) => e.message.message === 'first contact')!;
  await alice.sendMessage(to, {
    message: 'second, short',
    replyTo: (await alice.getMessages(to, { limit: 1 }))[0].id,
  });
  const second = await waitFor(
    () => bobEvents.find((e) => e.message.message === 'second, short'),
    3000,
    'short message',
  );
  assert.ok(
    bobRaw.some((u) => u instanceof Api.UpdateShortMessage),
    'short form once the chat exists',
  );
  assert.equal(second.message.senderId?.toString(), (await alice.getMe()).id.toString());
  assert.equal(second.message.replyTo?.replyToMsgId, first.message.id);
  const diff = (await bob.invoke(
    new Api.updates.GetDifference({ pts: state.pts, date: state.date, qts: 0 }),
  )) as Api.updates.Difference;
  assert.deepEqual(
    diff.newMessages.map((m) => (m as Api.Message).message),
    ['first contact', 'second, short'],
  );
});

test('group messages arrive as updateShortChatMessage once the group is known', async () => {
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
