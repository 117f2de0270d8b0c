/**
 * The world through its dispatcher, without the wire: per-account message ids, pts
 * bookkeeping, pushes to every authorization, and getDifference answering exactly what was
 * missed (difference, slice, tooLong, channel difference).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Api } from 'teleproto';
import { BinaryReader } from 'teleproto/extensions/index.js';
import { RpcError } from '../../src/sandbox/contract.js';
import type { CallContext, UpdateSink } from '../../src/sandbox/contract.js';
import { World } from '../../src/sandbox/world/world.js';
import { FaultInjector } from '../../src/sandbox/world/faults.js';
import { createRpcDispatcher, UNSUPPORTED_METHOD_ERROR } from '../../src/sandbox/world/rpc.js';
import { long } from '../../src/sandbox/world/tl.js';
import { viewerAccessHash } from '../../src/sandbox/world/views.js';

class RecordingSink implements UpdateSink {
  pushed: Array<{ keys: bigint[]; updates: Api.TypeUpdates }> = [];
  push(keys: Iterable<bigint>, updates: Api.TypeUpdates): void {
    roundTrip(updates);
    this.pushed.push({ keys: [...keys], updates });
  }
  drop(): number {
    return 0;
  }
  refuseConnections(): void {}
  to(key: bigint): Api.TypeUpdates[] {
    return this.pushed.filter((p) => p.keys.includes(key)).map((p) => p.updates);
  }
}

/** What the world sends must parse back to the same bytes with the client's own reader: a
 * flag mistake would otherwise only show up (and corrupt the reader) inside a real client. */
function roundTrip(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) return value.forEach(roundTrip);
  const bytes = (value as { getBytes(): Buffer }).getBytes();
  const parsed = new BinaryReader(bytes).tgReadObject() as { getBytes(): Buffer };
  assert.deepEqual(parsed.getBytes(), bytes);
}

let nextKey = 1000n;

function setup(options: { differenceSliceSize?: number; logRetention?: number } = {}) {
  const world = new World({ host: '127.0.0.1', port: 1, ...options });
  const sink = new RecordingSink();
  world.attachSink(sink);
  const faults = new FaultInjector();
  const dispatcher = createRpcDispatcher({ world, faults });
  const ctxFor = (key: bigint): CallContext => ({ authKeyId: key, sessionId: 1n, connectionId: 1 });
  const call = async (key: bigint, request: unknown) => {
    const result = await dispatcher.invoke(ctxFor(key), request as Api.AnyRequest);
    roundTrip(result);
    return result;
  };
  async function signIn(phone: string, firstName: string) {
    const key = nextKey++;
    const sent = (await call(
      key,
      new Api.auth.SendCode({
        phoneNumber: phone,
        apiId: 1,
        apiHash: 'x',
        settings: new Api.CodeSettings({}),
      }),
    )) as Api.auth.SentCode;
    let auth = await call(
      key,
      new Api.auth.SignIn({
        phoneNumber: phone,
        phoneCodeHash: sent.phoneCodeHash,
        phoneCode: world.lastCode(phone),
      }),
    );
    if (auth instanceof Api.auth.AuthorizationSignUpRequired) {
      auth = await call(
        key,
        new Api.auth.SignUp({
          phoneNumber: phone,
          phoneCodeHash: sent.phoneCodeHash,
          firstName,
          lastName: '',
        }),
      );
    }
    const user = (auth as Api.auth.Authorization).user as Api.User;
    return { key, user };
  }
  type Account = { user: Api.User };
  // Access hashes are per viewing account: the hash `viewer` was given for a user or channel.
  const userHash = (viewer: Account, target: Account) =>
    long(viewerAccessHash(world.state.users[Number(target.user.id)].accessHash, Number(viewer.user.id)));
  const channelHash = (viewer: Account, channel: Api.Channel) =>
    long(viewerAccessHash(world.state.channels[Number(channel.id)].accessHash, Number(viewer.user.id)));
  const userPeer = (viewer: Account, target: Account) =>
    new Api.InputPeerUser({ userId: target.user.id, accessHash: userHash(viewer, target) });
  const userInput = (viewer: Account, target: Account) =>
    new Api.InputUser({ userId: target.user.id, accessHash: userHash(viewer, target) });
  const channelInput = (viewer: Account, channel: Api.Channel) =>
    new Api.InputChannel({ channelId: channel.id, accessHash: channelHash(viewer, channel) });
  const channelPeer = (viewer: Account, channel: Api.Channel) =>
    new Api.InputPeerChannel({ channelId: channel.id, accessHash: channelHash(viewer, channel) });
  return { world, sink, faults, call, signIn, userPeer, userInput, channelInput, channelPeer };
}

async function state(call: (k: bigint, r: unknown) => Promise<unknown>, key: bigint) {
  return (await call(key, new Api.updates.GetState())) as Api.updates.State;
}

test('private messages: each account numbers its own copy, pts advances by one per event', async () => {
  const { call, signIn, userPeer, sink } = setup();
  const alice = await signIn('15550000001', 'Alice');
  const bob = await signIn('15550000002', 'Bob');
  // Bob already has a message of his own, so the two accounts' ids diverge.
  await call(
    bob.key,
    new Api.messages.SendMessage({
      peer: new Api.InputPeerSelf(),
      message: 'note to self',
      randomId: long(1),
    }),
  );
  const before = await state(call, alice.key);
  const sent = (await call(
    alice.key,
    new Api.messages.SendMessage({ peer: userPeer(alice, bob), message: 'hi bob', randomId: long(2) }),
  )) as Api.UpdateShortSentMessage;
  assert.ok(sent instanceof Api.UpdateShortSentMessage);
  assert.equal(sent.id, 1);
  assert.equal(sent.pts, before.pts + 1);
  assert.equal(sent.ptsCount, 1);

  // As on Telegram: the short form, naming the sender by id only, though Bob never met Alice.
  const pushedToBob = sink.to(bob.key);
  const short = pushedToBob[pushedToBob.length - 1] as Api.UpdateShortMessage;
  assert.ok(short instanceof Api.UpdateShortMessage);
  assert.equal(short.id, 2, "Bob's copy has Bob's next id");
  assert.equal(short.message, 'hi bob');
  assert.equal(short.out, false);
  assert.equal(short.userId.toString(), alice.user.id.toString());
  // getDifference from the pts before it gives the message with its sender.
  const diff = (await call(
    bob.key,
    new Api.updates.GetDifference({ pts: short.pts - short.ptsCount, date: 0, qts: 0 }),
  )) as Api.updates.Difference;
  assert.deepEqual(
    diff.newMessages.map((m) => m.id),
    [2],
  );
  assert.ok(
    diff.users.some((u) => u.id.toString() === alice.user.id.toString()),
    'sender included in users',
  );
  // The sending connection gets the result, not a push.
  assert.equal(sink.to(alice.key).length, 0);
});

test("the sender's other authorizations receive the outgoing message", async () => {
  const { call, signIn, userPeer, sink, world } = setup();
  const alice = await signIn('15550000011', 'Alice');
  const bob = await signIn('15550000012', 'Bob');
  const alice2 = await signIn('15550000011', 'Alice');
  assert.equal(world.keysOf(Number(alice.user.id.toString())).length, 2);
  await call(
    alice.key,
    new Api.messages.SendMessage({
      peer: userPeer(alice, bob),
      message: 'from phone one',
      randomId: long(3),
    }),
  );
  const pushed = sink.to(alice2.key);
  assert.equal(pushed.length, 1);
  const message = pushed[0] as Api.UpdateShortMessage;
  assert.ok(message instanceof Api.UpdateShortMessage);
  assert.equal(message.out, true);
  assert.equal(message.message, 'from phone one');
  assert.equal(message.userId.toString(), bob.user.id.toString());
});

test('getDifference returns exactly the missed events, then differenceEmpty', async () => {
  const { call, signIn, userPeer } = setup();
  const alice = await signIn('15550000021', 'Alice');
  const bob = await signIn('15550000022', 'Bob');
  const bobState = await state(call, bob.key);
  const aliceAsSeenByBob = (await call(
    bob.key,
    new Api.users.GetUsers({ id: [new Api.InputUserSelf()] }),
  )) as Api.User[];
  assert.equal(aliceAsSeenByBob.length, 1);
  for (const text of ['one', 'two', 'three']) {
    await call(
      alice.key,
      new Api.messages.SendMessage({
        peer: userPeer(alice, bob),
        message: text,
        randomId: long(Math.floor(Math.random() * 1e9)),
      }),
    );
  }
  const edit = (await call(
    alice.key,
    new Api.messages.EditMessage({ peer: userPeer(alice, bob), id: 2, message: 'two (edited)' }),
  )) as Api.Updates;
  assert.ok(edit.updates[0] instanceof Api.UpdateEditMessage);
  await call(alice.key, new Api.messages.DeleteMessages({ id: [3], revoke: true }));

  const diff = (await call(
    bob.key,
    new Api.updates.GetDifference({ pts: bobState.pts, date: bobState.date, qts: 0 }),
  )) as Api.updates.Difference;
  assert.ok(diff instanceof Api.updates.Difference);
  assert.deepEqual(
    diff.newMessages.map((m) => (m as Api.Message).message),
    ['one', 'two (edited)'],
    'new messages in order, current text, deleted one gone',
  );
  assert.deepEqual(
    diff.otherUpdates.map((u) => u.className),
    ['UpdateEditMessage', 'UpdateDeleteMessages'],
  );
  assert.equal(diff.state.pts, bobState.pts + 5);
  assert.ok(diff.users.some((u) => u.id.toString() === alice.user.id.toString()));

  const again = await call(
    bob.key,
    new Api.updates.GetDifference({ pts: diff.state.pts, date: diff.state.date, qts: 0 }),
  );
  assert.ok(again instanceof Api.updates.DifferenceEmpty);

  // From the middle: only what came after.
  const partial = (await call(
    bob.key,
    new Api.updates.GetDifference({ pts: bobState.pts + 3, date: bobState.date, qts: 0 }),
  )) as Api.updates.Difference;
  assert.equal(partial.newMessages.length, 0);
  assert.deepEqual(
    partial.otherUpdates.map((u) => u.className),
    ['UpdateEditMessage', 'UpdateDeleteMessages'],
  );
});

test('getDifference slices long gaps and answers tooLong past the kept log', async () => {
  const { call, signIn, userPeer } = setup({
    differenceSliceSize: 3,
    logRetention: 8,
  });
  const alice = await signIn('15550000031', 'Alice');
  const bob = await signIn('15550000032', 'Bob');
  const start = await state(call, bob.key);
  for (let i = 0; i < 5; i++) {
    await call(
      alice.key,
      new Api.messages.SendMessage({ peer: userPeer(alice, bob), message: `m${i}`, randomId: long(100 + i) }),
    );
  }
  const first = (await call(
    bob.key,
    new Api.updates.GetDifference({ pts: start.pts, date: start.date, qts: 0 }),
  )) as Api.updates.DifferenceSlice;
  assert.ok(first instanceof Api.updates.DifferenceSlice);
  assert.deepEqual(
    first.newMessages.map((m) => (m as Api.Message).message),
    ['m0', 'm1', 'm2'],
  );
  const second = (await call(
    bob.key,
    new Api.updates.GetDifference({
      pts: first.intermediateState.pts,
      date: first.intermediateState.date,
      qts: 0,
    }),
  )) as Api.updates.Difference;
  assert.ok(second instanceof Api.updates.Difference);
  assert.deepEqual(
    second.newMessages.map((m) => (m as Api.Message).message),
    ['m3', 'm4'],
  );

  for (let i = 0; i < 10; i++) {
    await call(
      alice.key,
      new Api.messages.SendMessage({ peer: userPeer(alice, bob), message: `n${i}`, randomId: long(200 + i) }),
    );
  }
  const tooLong = await call(
    bob.key,
    new Api.updates.GetDifference({ pts: start.pts, date: start.date, qts: 0 }),
  );
  assert.ok(tooLong instanceof Api.updates.DifferenceTooLong);
  assert.equal(tooLong.pts, (await state(call, bob.key)).pts);
});

test('channels: per-channel ids and pts, getChannelDifference, pushes to members', async () => {
  const { call, signIn, userInput, channelInput, channelPeer, sink } = setup();
  const alice = await signIn('15550000041', 'Alice');
  const bob = await signIn('15550000042', 'Bob');
  const created = (await call(
    alice.key,
    new Api.channels.CreateChannel({ title: 'News', about: '', megagroup: true }),
  )) as Api.Updates;
  const channel = created.chats[0] as Api.Channel;
  const inputChannel = channelInput(alice, channel);
  const bobChannelInput = channelInput(bob, channel);
  await call(
    alice.key,
    new Api.channels.InviteToChannel({
      channel: inputChannel,
      users: [userInput(alice, bob)],
    }),
  );
  const bobChannel = (
    (await call(bob.key, new Api.channels.GetChannels({ id: [bobChannelInput] }))) as Api.messages.Chats
  ).chats[0] as Api.Channel;
  assert.equal(bobChannel.left, false);
  const full = (await call(
    bob.key,
    new Api.channels.GetFullChannel({ channel: bobChannelInput }),
  )) as Api.messages.ChatFull;
  const ptsBefore = (full.fullChat as Api.ChannelFull).pts;
  const peer = channelPeer(alice, channel);
  const sent = (await call(
    alice.key,
    new Api.messages.SendMessage({ peer, message: 'hello group', randomId: long(77) }),
  )) as Api.Updates;
  assert.ok(sent.updates[0] instanceof Api.UpdateMessageID);
  const newMessage = sent.updates[1] as Api.UpdateNewChannelMessage;
  assert.equal(newMessage.pts, ptsBefore + 1);
  const bobPushes = sink
    .to(bob.key)
    .map((u) => (u as Api.Updates).updates.map((x) => x.className))
    .flat();
  assert.ok(bobPushes.includes('UpdateNewChannelMessage'));
  await call(
    bob.key,
    new Api.messages.SendMessage({
      peer: channelPeer(bob, channel),
      message: 'hi from bob',
      randomId: long(78),
    }),
  );
  const diff = (await call(
    bob.key,
    new Api.updates.GetChannelDifference({
      channel: bobChannelInput,
      filter: new Api.ChannelMessagesFilterEmpty(),
      pts: ptsBefore,
      limit: 100,
    }),
  )) as Api.updates.ChannelDifference;
  assert.ok(diff instanceof Api.updates.ChannelDifference);
  assert.deepEqual(
    diff.newMessages.map((m) => [(m as Api.Message).id, (m as Api.Message).message]),
    [
      [newMessage.message.id, 'hello group'],
      [newMessage.message.id + 1, 'hi from bob'],
    ],
  );
  assert.equal(diff.final, true);
  const empty = await call(
    bob.key,
    new Api.updates.GetChannelDifference({
      channel: bobChannelInput,
      filter: new Api.ChannelMessagesFilterEmpty(),
      pts: diff.pts,
      limit: 100,
    }),
  );
  assert.ok(empty instanceof Api.updates.ChannelDifferenceEmpty);
});

test('read receipts move the reader inbox and the sender outbox, each with pts', async () => {
  const { call, signIn, userPeer, sink } = setup();
  const alice = await signIn('15550000051', 'Alice');
  const bob = await signIn('15550000052', 'Bob');
  await call(
    alice.key,
    new Api.messages.SendMessage({ peer: userPeer(alice, bob), message: 'read me', randomId: long(5) }),
  );
  const aliceBefore = await state(call, alice.key);
  const aliceForBob = userPeer(bob, alice);
  const dialogs = (await call(
    bob.key,
    new Api.messages.GetPeerDialogs({ peers: [new Api.InputDialogPeer({ peer: aliceForBob })] }),
  )) as Api.messages.PeerDialogs;
  assert.equal((dialogs.dialogs[0] as Api.Dialog).unreadCount, 1);
  const affected = (await call(
    bob.key,
    new Api.messages.ReadHistory({ peer: aliceForBob, maxId: 0 }),
  )) as Api.messages.AffectedMessages;
  assert.equal(affected.ptsCount, 1);
  const outbox = sink
    .to(alice.key)
    .flatMap((u) => (u as Api.Updates).updates)
    .find((u) => u instanceof Api.UpdateReadHistoryOutbox) as Api.UpdateReadHistoryOutbox;
  assert.equal(outbox.maxId, 1);
  assert.equal(outbox.pts, aliceBefore.pts + 1);
  const after = (await call(
    bob.key,
    new Api.messages.GetPeerDialogs({ peers: [new Api.InputDialogPeer({ peer: aliceForBob })] }),
  )) as Api.messages.PeerDialogs;
  assert.equal((after.dialogs[0] as Api.Dialog).unreadCount, 0);
});

test('unknown methods, missing authorization and injected faults fail with RPC errors', async () => {
  const { call, signIn, faults } = setup();
  const alice = await signIn('15550000061', 'Alice');
  await assert.rejects(
    call(alice.key, new Api.stickers.CheckShortName({ shortName: 'x' })),
    (e: RpcError) => e.errorCode === 400 && e.errorMessage === UNSUPPORTED_METHOD_ERROR,
  );
  await assert.rejects(
    call(999999n, new Api.users.GetUsers({ id: [new Api.InputUserSelf()] })),
    (e: RpcError) => e.errorCode === 401 && e.errorMessage === 'AUTH_KEY_UNREGISTERED',
  );
  faults.add({ error: 'FLOOD_WAIT_7', method: 'messages.sendMessage', count: 2 });
  const send = () =>
    call(
      alice.key,
      new Api.messages.SendMessage({ peer: new Api.InputPeerSelf(), message: 'x', randomId: long(9) }),
    );
  await assert.rejects(send(), (e: RpcError) => e.errorCode === 420 && e.errorMessage === 'FLOOD_WAIT_7');
  // Other methods are untouched.
  await call(alice.key, new Api.updates.GetState());
  await assert.rejects(send(), (e: RpcError) => e.errorCode === 420);
  await send();
  faults.add({ error: 'INTERNAL', phone: '15550000099' });
  await call(alice.key, new Api.updates.GetState());
  assert.equal(faults.list().length, 1, 'a rule for another phone stays pending');
});

test('basic groups: every member gets a copy with its own id; removing a member stops delivery', async () => {
  const { call, signIn, userInput, sink, world } = setup();
  const alice = await signIn('15550000071', 'Alice');
  const bob = await signIn('15550000072', 'Bob');
  const carol = await signIn('15550000073', 'Carol');
  await call(
    carol.key,
    new Api.messages.SendMessage({
      peer: new Api.InputPeerSelf(),
      message: 'shift my ids',
      randomId: long(1),
    }),
  );
  const invited = (await call(
    alice.key,
    new Api.messages.CreateChat({
      title: 'Trio',
      users: [userInput(alice, bob), userInput(alice, carol)],
    }),
  )) as Api.messages.InvitedUsers;
  const chat = (invited.updates as Api.Updates).chats[0] as Api.Chat;
  assert.equal(chat.participantsCount, 3);
  const peer = new Api.InputPeerChat({ chatId: chat.id });
  const sent = (await call(
    alice.key,
    new Api.messages.SendMessage({ peer, message: 'hello all', randomId: long(2) }),
  )) as Api.Updates;
  const aliceId = ((sent.updates[1] as Api.UpdateNewMessage).message as Api.Message).id;
  const carolMessage = sink
    .to(carol.key)
    .filter((u) => u instanceof Api.UpdateShortChatMessage)
    .find((m) => m.message === 'hello all');
  assert.ok(carolMessage);
  assert.notEqual(carolMessage.id, aliceId, 'per-account ids');
  assert.equal(carolMessage.fromId.toString(), alice.user.id.toString());
  assert.equal(carolMessage.chatId.toString(), chat.id.toString());
  await call(
    alice.key,
    new Api.messages.DeleteChatUser({
      chatId: chat.id,
      userId: userInput(alice, carol),
    }),
  );
  const carolPts = world.box(Number(carol.user.id.toString())).pts;
  await call(alice.key, new Api.messages.SendMessage({ peer, message: 'without carol', randomId: long(3) }));
  assert.equal(world.box(Number(carol.user.id.toString())).pts, carolPts);
});

test('admins, participants, profiles and invites answer well-formed TL', async () => {
  const { call, signIn, userInput, channelInput, channelPeer, sink } = setup();
  const alice = await signIn('15550000081', 'Alice');
  const bob = await signIn('15550000082', 'Bob');
  const created = (await call(
    alice.key,
    new Api.channels.CreateChannel({ title: 'Staff', about: 'team', megagroup: true }),
  )) as Api.Updates;
  const channel = created.chats[0] as Api.Channel;
  const inputChannel = channelInput(alice, channel);
  const bobChannelInput = channelInput(bob, channel);
  const bobInput = userInput(alice, bob);
  const invite = (await call(
    alice.key,
    new Api.messages.ExportChatInvite({
      peer: channelPeer(alice, channel),
    }),
  )) as Api.ChatInviteExported;
  const hash = invite.link.split('+')[1];
  const check = await call(bob.key, new Api.messages.CheckChatInvite({ hash }));
  assert.ok(check instanceof Api.ChatInvite);
  assert.equal(check.megagroup, true);
  await call(bob.key, new Api.messages.ImportChatInvite({ hash }));
  assert.ok(
    (await call(bob.key, new Api.messages.CheckChatInvite({ hash }))) instanceof Api.ChatInviteAlready,
  );
  await call(
    alice.key,
    new Api.channels.EditAdmin({
      channel: inputChannel,
      userId: bobInput,
      adminRights: new Api.ChatAdminRights({ pinMessages: true }),
      rank: 'mod',
    }),
  );
  const participant = (await call(
    bob.key,
    new Api.channels.GetParticipant({ channel: bobChannelInput, participant: new Api.InputPeerSelf() }),
  )) as Api.channels.ChannelParticipant;
  assert.ok(participant.participant instanceof Api.ChannelParticipantAdmin);
  assert.equal(participant.participant.rank, 'mod');
  assert.equal(participant.participant.adminRights.pinMessages, true);
  const admins = (await call(
    alice.key,
    new Api.channels.GetParticipants({
      channel: inputChannel,
      filter: new Api.ChannelParticipantsAdmins(),
      offset: 0,
      limit: 10,
      hash: long(0),
    }),
  )) as Api.channels.ChannelParticipants;
  assert.equal(admins.count, 2);
  // A user account learns of its own new rights from updateChannel; updateChannelParticipant
  // carries a qts and goes to bots only.
  const bobUpdates = sink.to(bob.key).flatMap((u) => (u as Api.Updates).updates ?? []);
  assert.ok(bobUpdates.some((u) => u instanceof Api.UpdateChannel));
  assert.ok(!bobUpdates.some((u) => u instanceof Api.UpdateChannelParticipant));
  await call(alice.key, new Api.account.UpdateProfile({ firstName: 'Alicia' }));
  await call(alice.key, new Api.account.UpdateUsername({ username: 'alicia_w' }));
  const resolved = (await call(
    bob.key,
    new Api.contacts.ResolveUsername({ username: 'alicia_w' }),
  )) as Api.contacts.ResolvedPeer;
  assert.equal((resolved.users[0] as Api.User).firstName, 'Alicia');
  await call(bob.key, new Api.channels.LeaveChannel({ channel: bobChannelInput }));
  await call(bob.key, new Api.messages.ImportChatInvite({ hash }));
});

test('titles, deletions of chats, channels and history, and authorizations', async () => {
  const { call, signIn, userPeer, userInput, channelInput, channelPeer, sink } = setup();
  const alice = await signIn('15550000091', 'Alice');
  const bob = await signIn('15550000092', 'Bob');
  const bobInput = userInput(alice, bob);
  const invited = (await call(
    alice.key,
    new Api.messages.CreateChat({ title: 'Old', users: [bobInput] }),
  )) as Api.messages.InvitedUsers;
  const chat = (invited.updates as Api.Updates).chats[0] as Api.Chat;
  await call(alice.key, new Api.messages.EditChatTitle({ chatId: chat.id, title: 'New' }));
  const renamed = sink
    .to(bob.key)
    .flatMap((u) => (u as Api.Updates).updates ?? [])
    .map((u) => (u as Api.UpdateNewMessage).message)
    .find((m) => m instanceof Api.MessageService && m.action instanceof Api.MessageActionChatEditTitle);
  assert.ok(renamed);
  assert.equal(
    (
      ((await call(bob.key, new Api.messages.GetChats({ id: [chat.id] }))) as Api.messages.Chats)
        .chats[0] as Api.Chat
    ).title,
    'New',
  );

  const created = (await call(
    alice.key,
    new Api.channels.CreateChannel({ title: 'Gone soon', about: '', broadcast: true }),
  )) as Api.Updates;
  const channel = created.chats[0] as Api.Channel;
  const inputChannel = channelInput(alice, channel);
  const bobChannelInput = channelInput(bob, channel);
  await call(alice.key, new Api.channels.InviteToChannel({ channel: inputChannel, users: [bobInput] }));
  await call(alice.key, new Api.channels.EditTitle({ channel: inputChannel, title: 'Renamed' }));
  assert.equal(
    (
      ((await call(bob.key, new Api.channels.GetChannels({ id: [bobChannelInput] }))) as Api.messages.Chats)
        .chats[0] as Api.Channel
    ).title,
    'Renamed',
  );
  await assert.rejects(
    call(bob.key, new Api.channels.DeleteChannel({ channel: bobChannelInput })),
    /CHAT_ADMIN_REQUIRED/,
  );
  await call(alice.key, new Api.channels.DeleteChannel({ channel: inputChannel }));
  const last = sink.to(bob.key).at(-1) as Api.Updates;
  assert.ok(last.updates[0] instanceof Api.UpdateChannel);
  assert.ok(last.chats[0] instanceof Api.ChannelForbidden);
  await assert.rejects(
    call(
      bob.key,
      new Api.messages.GetHistory({
        peer: channelPeer(bob, channel),
        offsetId: 0,
        offsetDate: 0,
        addOffset: 0,
        limit: 10,
        maxId: 0,
        minId: 0,
        hash: long(0),
      }),
    ),
    /CHANNEL_PRIVATE/,
  );

  await call(
    alice.key,
    new Api.messages.SendMessage({
      peer: userPeer(alice, bob),
      message: 'one',
      randomId: long(1),
    }),
  );
  await call(
    alice.key,
    new Api.messages.SendMessage({
      peer: userPeer(alice, bob),
      message: 'two',
      randomId: long(2),
    }),
  );
  const cleared = (await call(
    alice.key,
    new Api.messages.DeleteHistory({
      peer: userPeer(alice, bob),
      maxId: 0,
      revoke: true,
    }),
  )) as Api.messages.AffectedHistory;
  assert.equal(cleared.ptsCount, 2);
  const bobHistory = (await call(
    bob.key,
    new Api.messages.GetHistory({
      peer: userPeer(bob, alice),
      offsetId: 0,
      offsetDate: 0,
      addOffset: 0,
      limit: 10,
      maxId: 0,
      minId: 0,
      hash: long(0),
    }),
  )) as Api.messages.Messages;
  assert.equal(bobHistory.messages.length, 0);

  const alice2 = await signIn('15550000091', 'Alice');
  const list = (await call(alice.key, new Api.account.GetAuthorizations())) as Api.account.Authorizations;
  assert.equal(list.authorizations.length, 2);
  const other = list.authorizations.find((a) => !a.current)!;
  await call(alice.key, new Api.account.ResetAuthorization({ hash: other.hash }));
  // Terminated from another session: the key stays, its next call answers SESSION_REVOKED.
  await assert.rejects(call(alice2.key, new Api.updates.GetState()), /SESSION_REVOKED/);
});

test('search filters: pinned only, media filters match nothing, unknown ones are refused', async () => {
  const { call, signIn, userPeer } = setup();
  const alice = await signIn('15550000101', 'Alice');
  const bob = await signIn('15550000102', 'Bob');
  for (const text of ['alpha', 'beta', 'alphabet']) {
    await call(
      alice.key,
      new Api.messages.SendMessage({
        peer: userPeer(alice, bob),
        message: text,
        randomId: long(text.length),
      }),
    );
  }
  await call(alice.key, new Api.messages.UpdatePinnedMessage({ peer: userPeer(alice, bob), id: 2 }));
  const search = (filter: Api.TypeMessagesFilter, q = '') =>
    call(
      alice.key,
      new Api.messages.Search({
        peer: userPeer(alice, bob),
        q,
        filter,
        minDate: 0,
        maxDate: 0,
        offsetId: 0,
        addOffset: 0,
        limit: 10,
        maxId: 0,
        minId: 0,
        hash: long(0),
      }),
    ) as Promise<Api.messages.Messages>;
  const texts = (result: Api.messages.Messages) => result.messages.map((m) => (m as Api.Message).message);
  assert.deepEqual(texts(await search(new Api.InputMessagesFilterEmpty(), 'alpha')), ['alphabet', 'alpha']);
  assert.deepEqual(texts(await search(new Api.InputMessagesFilterPinned())), ['beta']);
  assert.deepEqual(texts(await search(new Api.InputMessagesFilterPhotos())), []);
  await assert.rejects(search(new Api.InputMessagesFilterUrl()), /METHOD_NOT_SUPPORTED_BY_SANDBOX/);
});

test("deleting in a group: own messages go for everyone, others' only for the deleter unless admin", async () => {
  const { call, signIn, userInput, world } = setup();
  const alice = await signIn('15550000111', 'Alice');
  const bob = await signIn('15550000112', 'Bob');
  const invited = (await call(
    alice.key,
    new Api.messages.CreateChat({
      title: 'Del',
      users: [userInput(alice, bob)],
    }),
  )) as Api.messages.InvitedUsers;
  const peer = new Api.InputPeerChat({ chatId: ((invited.updates as Api.Updates).chats[0] as Api.Chat).id });
  const aliceId = Number(alice.user.id.toString());
  const bobId = Number(bob.user.id.toString());
  const send = async (key: bigint, message: string) =>
    (
      (
        (await call(
          key,
          new Api.messages.SendMessage({ peer, message, randomId: long(message.length) }),
        )) as Api.Updates
      ).updates[1] as Api.UpdateNewMessage
    ).message.id;
  const texts = (userId: number) =>
    world
      .historyOf(userId, `c${Number(peer.chatId.toString())}`)
      .map((m) => m.text)
      .sort();
  const fromAlice = await send(alice.key, 'by alice');
  const bobCopyOfAlice = Object.values(world.box(bobId).messages).find(
    (c) => world.state.posts[c.postId].text === 'by alice',
  )!.id;
  await call(bob.key, new Api.messages.DeleteMessages({ id: [bobCopyOfAlice], revoke: true }));
  assert.ok(texts(aliceId).includes('by alice'), 'a member cannot delete for everyone');
  assert.ok(!texts(bobId).includes('by alice'));
  const fromBob = await send(bob.key, 'by bob');
  const aliceCopyOfBob = Object.values(world.box(aliceId).messages).find(
    (c) => world.state.posts[c.postId].text === 'by bob',
  )!.id;
  await call(alice.key, new Api.messages.DeleteMessages({ id: [aliceCopyOfBob], revoke: true }));
  assert.ok(!texts(bobId).includes('by bob'), 'the creator deletes for everyone');
  await call(alice.key, new Api.messages.DeleteMessages({ id: [fromAlice], revoke: false }));
  assert.ok(!texts(aliceId).includes('by alice'));
  assert.ok(fromBob > 0);
});

test('access hashes are per viewer: one given to another account is refused', async () => {
  const { call, signIn, userPeer, userInput, channelInput } = setup();
  const alice = await signIn('15550000121', 'Alice');
  const bob = await signIn('15550000122', 'Bob');
  const carol = await signIn('15550000123', 'Carol');
  assert.notEqual(userPeer(alice, carol).accessHash.toString(), userPeer(bob, carol).accessHash.toString());
  const send = (from: { key: bigint }, peer: Api.TypeInputPeer, randomId: number) =>
    call(from.key, new Api.messages.SendMessage({ peer, message: 'hi', randomId: long(randomId) }));
  await send(alice, userPeer(alice, carol), 1);
  await assert.rejects(send(bob, userPeer(alice, carol), 2), /PEER_ID_INVALID/);
  const [unknown] = (await call(
    bob.key,
    new Api.users.GetUsers({ id: [userInput(alice, carol)] }),
  )) as Api.TypeUser[];
  assert.ok(unknown instanceof Api.UserEmpty);
  const created = (await call(
    alice.key,
    new Api.channels.CreateChannel({ title: 'Public', about: '', megagroup: true }),
  )) as Api.Updates;
  const channel = created.chats[0] as Api.Channel;
  assert.equal(channel.accessHash!.toString(), channelInput(alice, channel).accessHash.toString());
  await call(
    alice.key,
    new Api.channels.InviteToChannel({
      channel: channelInput(alice, channel),
      users: [userInput(alice, bob)],
    }),
  );
  await call(bob.key, new Api.channels.GetChannels({ id: [channelInput(bob, channel)] }));
  await assert.rejects(
    call(bob.key, new Api.channels.GetChannels({ id: [channelInput(alice, channel)] })),
    /CHANNEL_INVALID/,
  );
});

test('min users: a stranger seen in a supergroup comes as min and is addressed by that message', async () => {
  const { call, signIn, sink, userInput, channelInput, channelPeer } = setup();
  const alice = await signIn('15550000131', 'Alice');
  const dave = await signIn('15550000132', 'Dave');
  const created = (await call(
    alice.key,
    new Api.channels.CreateChannel({ title: 'Room', about: '', megagroup: true }),
  )) as Api.Updates;
  const channel = created.chats[0] as Api.Channel;
  await call(
    alice.key,
    new Api.channels.InviteToChannel({
      channel: channelInput(alice, channel),
      users: [userInput(alice, dave)],
    }),
  );
  const daveRoom = channelPeer(dave, channel);
  await call(dave.key, new Api.messages.SendMessage({ peer: daveRoom, message: 'hello', randomId: long(1) }));
  const pushed = sink.to(alice.key).at(-1) as Api.Updates;
  const message = (pushed.updates[0] as Api.UpdateNewChannelMessage).message as Api.Message;
  const daveSeen = pushed.users.find((u) => u.id.toString() === dave.user.id.toString()) as Api.User;
  assert.equal(daveSeen.min, true, 'Alice has no relation to Dave');
  const room = channelPeer(alice, channel);
  await assert.rejects(
    call(
      alice.key,
      new Api.messages.SendMessage({
        peer: new Api.InputPeerUser({ userId: dave.user.id, accessHash: daveSeen.accessHash! }),
        message: 'with the min hash',
        randomId: long(2),
      }),
    ),
    /PEER_ID_INVALID/,
  );
  const fromMessage = (msgId: number) =>
    new Api.InputPeerUserFromMessage({ peer: room, msgId, userId: dave.user.id });
  await assert.rejects(
    call(alice.key, new Api.messages.SendMessage({ peer: fromMessage(1), message: 'x', randomId: long(3) })),
    /PEER_ID_INVALID/,
    'a message that does not name Dave',
  );
  await call(
    alice.key,
    new Api.messages.SendMessage({ peer: fromMessage(message.id), message: 'hi dave', randomId: long(4) }),
  );
  // Now they have a private chat: Dave comes in full.
  await call(dave.key, new Api.messages.SendMessage({ peer: daveRoom, message: 'again', randomId: long(5) }));
  const again = sink.to(alice.key).at(-1) as Api.Updates;
  assert.ok(!(again.users.find((u) => u.id.toString() === dave.user.id.toString()) as Api.User).min);
});

test('messages.migrateChat: the group names its supergroup, with both service messages', async () => {
  const { call, signIn, sink, userInput, channelInput } = setup();
  const alice = await signIn('15550000141', 'Alice');
  const bob = await signIn('15550000142', 'Bob');
  const invited = (await call(
    alice.key,
    new Api.messages.CreateChat({ title: 'Team', users: [userInput(alice, bob)] }),
  )) as Api.messages.InvitedUsers;
  const chat = (invited.updates as Api.Updates).chats[0] as Api.Chat;
  await assert.rejects(
    call(bob.key, new Api.messages.MigrateChat({ chatId: chat.id })),
    /CHAT_ADMIN_REQUIRED/,
  );
  const result = (await call(alice.key, new Api.messages.MigrateChat({ chatId: chat.id }))) as Api.Updates;
  const channel = result.chats.find((c) => c instanceof Api.Channel) as Api.Channel;
  assert.equal(channel.megagroup, true);
  assert.equal(channel.title, 'Team');
  const old = result.chats.find((c) => c instanceof Api.Chat) as Api.Chat;
  assert.equal(old.deactivated, true);
  assert.ok(old.migratedTo instanceof Api.InputChannel);
  assert.equal(old.migratedTo.channelId.toString(), channel.id.toString());
  const bobSees = sink.to(bob.key).flatMap((u) => (u as Api.Updates).updates ?? []);
  const actions = bobSees
    .map((u) => (u as Api.UpdateNewMessage).message)
    .filter((m) => m instanceof Api.MessageService)
    .map((m) => (m as Api.MessageService).action.className);
  assert.ok(actions.includes('MessageActionChatMigrateTo'));
  assert.ok(actions.includes('MessageActionChannelMigrateFrom'));
  const bobChannel = (
    (await call(
      bob.key,
      new Api.channels.GetChannels({ id: [channelInput(bob, channel)] }),
    )) as Api.messages.Chats
  ).chats[0] as Api.Channel;
  assert.equal(bobChannel.left, false);
  await assert.rejects(call(alice.key, new Api.messages.MigrateChat({ chatId: chat.id })), /CHAT_ID_INVALID/);
});
