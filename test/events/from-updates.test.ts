/** The update -> event mapper on Telegram's own objects, one update shape at a time. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Api, helpers } from 'teleproto';
import type { NewEvent } from '../../src/lib/events.js';
import { EVENT_DATA_SCHEMAS } from '../../src/modules/events/events.schema.js';
import { messageEventKey } from '../../src/lib/events.js';
import { DialogMemory } from '../../src/modules/events/chat-updates.js';
import {
  eventsFromUpdate,
  privateChatCandidate,
  withDedupKeys,
} from '../../src/modules/events/from-updates.js';
import { typingAction } from '../../src/modules/events/user-updates.js';
import type { UpdateContext, UpdateSource } from '../../src/telegram/update-tracker.js';

const big = (n: number) => helpers.returnBigInt(n);
const SELF = '100';
const OTHER = '200';
const CHANNEL = 7;
const CHANNEL_ID = '-1000000000007';

const user = (id: string, firstName: string) =>
  new Api.User({ id: big(Number(id)), accessHash: big(1), firstName, self: id === SELF });
const channel = (opts: { title?: string; left?: boolean; megagroup?: boolean; username?: string } = {}) =>
  new Api.Channel({
    id: big(CHANNEL),
    accessHash: big(9),
    title: opts.title ?? 'News',
    photo: new Api.ChatPhotoEmpty(),
    date: 1,
    left: opts.left ?? false,
    broadcast: !opts.megagroup,
    megagroup: opts.megagroup ?? false,
    ...(opts.username ? { username: opts.username } : {}),
  });
const forbidden = (megagroup = false) =>
  new Api.ChannelForbidden({
    id: big(CHANNEL),
    accessHash: big(9),
    title: 'News',
    megagroup,
    broadcast: !megagroup,
  });
const basicGroup = (opts: { title?: string; left?: boolean; deactivated?: boolean } = {}) =>
  new Api.Chat({
    id: big(4),
    title: opts.title ?? 'Team',
    photo: new Api.ChatPhotoEmpty(),
    participantsCount: 2,
    date: 1,
    version: 1,
    left: opts.left ?? false,
    deactivated: opts.deactivated ?? false,
  });

const ctx = (
  chats: Api.TypeChat[] = [],
  source: UpdateSource = 'live',
  users: Api.TypeUser[] = [],
): UpdateContext => ({
  source,
  chats,
  users: [user(SELF, 'Me'), user(OTHER, 'Bob'), ...users],
});

function map(update: Api.TypeUpdate, c: UpdateContext, memory: DialogMemory): NewEvent[] {
  const events = eventsFromUpdate('ses_1', update, c, SELF, memory);
  for (const e of events) {
    assert.equal(e.sessionId, 'ses_1');
    const parsed = EVENT_DATA_SCHEMAS[e.type].safeParse(e.data);
    assert.ok(parsed.success, `${e.type}: ${JSON.stringify(parsed.error?.issues)}`);
  }
  return events;
}
const types = (events: NewEvent[]) => events.map((e) => e.type);

const service = (peer: Api.TypePeer, action: Api.TypeMessageAction, from = OTHER, id = 1) =>
  new Api.MessageService({
    id,
    peerId: peer,
    fromId: new Api.PeerUser({ userId: big(Number(from)) }),
    date: 1,
    action,
  });
const inChannel = (msg: Api.TypeMessage) =>
  new Api.UpdateNewChannelMessage({ message: msg, pts: 1, ptsCount: 1 });
const inChat = (msg: Api.TypeMessage) => new Api.UpdateNewMessage({ message: msg, pts: 1, ptsCount: 1 });
const channelPeer = new Api.PeerChannel({ channelId: big(CHANNEL) });
const chatPeer = new Api.PeerChat({ chatId: big(4) });

test('updateChannel: new only in the answer to our own call; renamed, left and deleted compared with before', () => {
  const memory = new DialogMemory();
  const update = new Api.UpdateChannel({ channelId: big(CHANNEL) });
  assert.deepEqual(
    map(update, ctx([channel()]), memory),
    [],
    'pushed for an unknown channel: nothing to tell',
  );
  const joined = map(update, ctx([channel()], 'own'), memory);
  // chat.member_joined of a join through the API is published by the API itself.
  assert.deepEqual(types(joined), ['chat.created']);
  assert.deepEqual(joined[0]!.data, { chat: { id: CHANNEL_ID, type: 'channel', title: 'News' } });
  assert.deepEqual(map(update, ctx([channel()]), memory), [], 'nothing changed');
  const renamed = map(update, ctx([channel({ title: 'News 2', username: 'news' })]), memory);
  assert.deepEqual(types(renamed), ['chat.updated', 'channel.updated']);
  assert.equal((renamed[1]!.data.chat as { username: string }).username, 'news');
  // A broadcast channel has no service messages: the account's own membership comes from here.
  assert.deepEqual(types(map(update, ctx([channel({ title: 'News 2', left: true })]), memory)), [
    'chat.deleted',
    'chat.member_left',
  ]);
  assert.deepEqual(map(update, ctx([channel({ title: 'News 2', left: true })]), memory), []);
  assert.deepEqual(
    types(map(update, ctx([channel({ title: 'News 2' })]), memory)),
    ['chat.created', 'chat.member_joined'],
    'joined again',
  );
  const gone = map(update, ctx([forbidden()]), memory);
  assert.deepEqual(types(gone), ['chat.deleted', 'channel.deleted']);
  assert.equal(gone[1]!.data.chatId, CHANNEL_ID);
  assert.deepEqual(map(update, ctx([forbidden()]), memory), [], 'told once');
  assert.deepEqual(types(map(update, ctx([forbidden(true)]), new DialogMemory())), [
    'chat.deleted',
    'group.deleted',
  ]);
});

test('updateChannel as user accounts get it: a join just now is new; own admin rights in a supergroup changed', () => {
  const update = new Api.UpdateChannel({ channelId: big(CHANNEL) });
  const joinedNow = (opts: Parameters<typeof channel>[0] = {}) =>
    Object.assign(channel(opts), { date: Math.floor(Date.now() / 1000) });
  const memory = new DialogMemory();
  assert.deepEqual(types(map(update, ctx([joinedNow()]), memory)), ['chat.created', 'chat.member_joined']);

  const group = new DialogMemory();
  const megagroup = (rights?: Api.ChatAdminRights) =>
    Object.assign(joinedNow({ megagroup: true }), rights ? { adminRights: rights } : {});
  // Joining a supergroup: the service message tells the membership; here only chat.created.
  assert.deepEqual(types(map(update, ctx([megagroup()]), group)), ['chat.created']);
  const promoted = map(
    update,
    ctx([megagroup(new Api.ChatAdminRights({ changeInfo: true, pinMessages: true }))]),
    group,
  );
  assert.deepEqual(types(promoted), ['group.admin_changed']);
  assert.deepEqual(promoted[0]!.data, {
    chatId: CHANNEL_ID,
    userId: SELF,
    isAdmin: true,
    rights: ['change_info', 'pin_messages'],
    actorId: null,
  });
  const demoted = map(update, ctx([megagroup()]), group);
  assert.deepEqual(types(demoted), ['group.admin_changed']);
  assert.equal(demoted[0]!.data.isAdmin, false);
  assert.deepEqual(map(update, ctx([megagroup()]), group), [], 'told once');
});

test('updateChannelParticipant (bots): joins and leaves in broadcast channels, admin rights in megagroups', () => {
  const memory = new DialogMemory();
  const selfJoined = new Api.UpdateChannelParticipant({
    channelId: big(CHANNEL),
    date: 1,
    actorId: big(Number(OTHER)),
    userId: big(Number(SELF)),
    newParticipant: new Api.ChannelParticipantSelf({
      userId: big(Number(SELF)),
      inviterId: big(Number(OTHER)),
      date: 1,
    }),
    qts: 0,
  });
  const events = map(selfJoined, ctx([channel()]), memory);
  assert.deepEqual(types(events), ['chat.created', 'chat.member_joined']);
  assert.deepEqual(events[1]!.data.actorId, OTHER);
  assert.deepEqual(
    map(new Api.UpdateChannel({ channelId: big(CHANNEL) }), ctx([channel()]), memory),
    [],
    'the updateChannel of the same join adds nothing',
  );
  const left = new Api.UpdateChannelParticipant({
    channelId: big(CHANNEL),
    date: 1,
    actorId: big(Number(SELF)),
    userId: big(Number(SELF)),
    prevParticipant: new Api.ChannelParticipantSelf({
      userId: big(Number(SELF)),
      inviterId: big(Number(OTHER)),
      date: 1,
    }),
    qts: 0,
  });
  const leftEvents = map(left, ctx([channel({ left: true })]), memory);
  assert.deepEqual(types(leftEvents), ['chat.deleted', 'chat.member_left']);
  assert.equal(leftEvents[1]!.data.actorId, null, 'left by themselves');

  const group = new DialogMemory();
  const member = new Api.ChannelParticipant({ userId: big(Number(OTHER)), date: 1 });
  const admin = new Api.ChannelParticipantAdmin({
    userId: big(Number(OTHER)),
    promotedBy: big(Number(SELF)),
    date: 1,
    adminRights: new Api.ChatAdminRights({ changeInfo: true, banUsers: true }),
  });
  const promoted = map(
    new Api.UpdateChannelParticipant({
      channelId: big(CHANNEL),
      date: 1,
      actorId: big(Number(SELF)),
      userId: big(Number(OTHER)),
      prevParticipant: member,
      newParticipant: admin,
      qts: 0,
    }),
    ctx([channel({ megagroup: true })]),
    group,
  );
  assert.deepEqual(promoted, [
    {
      type: 'group.admin_changed',
      sessionId: 'ses_1',
      data: {
        chatId: CHANNEL_ID,
        userId: OTHER,
        isAdmin: true,
        rights: ['change_info', 'ban_users'],
        actorId: SELF,
      },
    },
  ]);
  const joinedMegagroup = map(
    new Api.UpdateChannelParticipant({
      channelId: big(CHANNEL),
      date: 1,
      actorId: big(Number(OTHER)),
      userId: big(Number(OTHER)),
      newParticipant: member,
      qts: 0,
    }),
    ctx([channel({ megagroup: true })]),
    group,
  );
  assert.deepEqual(joinedMegagroup, [], 'megagroup members come from the service message');
});

test('service messages: created, members, titles; this account added then removed', () => {
  const memory = new DialogMemory();
  const created = map(
    inChat(
      service(chatPeer, new Api.MessageActionChatCreate({ title: 'Team', users: [big(200), big(100)] })),
    ),
    ctx([basicGroup()]),
    memory,
  );
  assert.deepEqual(types(created), ['chat.created', 'group.created']);
  assert.deepEqual(created[1]!.data, { chat: { id: '-4', type: 'group', title: 'Team', membersCount: 2 } });

  const added = map(
    inChat(service(chatPeer, new Api.MessageActionChatAddUser({ users: [big(300)] }))),
    ctx([basicGroup()], 'live', [user('300', 'Carol')]),
    memory,
  );
  assert.deepEqual(types(added), ['chat.member_joined', 'group.member_added']);
  assert.deepEqual(added[0]!.data.user, {
    id: '300',
    firstName: 'Carol',
    lastName: null,
    username: null,
    phone: null,
  });
  assert.equal(added[0]!.data.actorId, OTHER);

  const renamed = map(
    inChat(service(chatPeer, new Api.MessageActionChatEditTitle({ title: 'Team 2' }))),
    ctx([basicGroup({ title: 'Team 2' })]),
    memory,
  );
  assert.deepEqual(types(renamed), ['chat.updated', 'group.updated']);
  assert.equal((renamed[0]!.data.chat as { title: string }).title, 'Team 2');

  const kicked = map(
    inChat(service(chatPeer, new Api.MessageActionChatDeleteUser({ userId: big(100) }))),
    ctx([basicGroup({ title: 'Team 2' })]),
    memory,
  );
  assert.deepEqual(types(kicked), ['chat.member_left', 'group.member_removed', 'chat.deleted']);

  const mega = new DialogMemory();
  const byLink = map(
    inChannel(service(channelPeer, new Api.MessageActionChatJoinedByLink({ inviterId: big(200) }), SELF)),
    ctx([channel({ megagroup: true })]),
    mega,
  );
  assert.deepEqual(types(byLink), ['chat.created', 'chat.member_joined', 'group.member_added']);
  assert.equal(byLink[1]!.data.actorId, null);
  assert.deepEqual(
    map(new Api.UpdateChannel({ channelId: big(CHANNEL) }), ctx([channel({ megagroup: true })]), mega),
    [],
  );

  const createdChannel = map(
    inChannel(service(channelPeer, new Api.MessageActionChannelCreate({ title: 'News' }), SELF)),
    ctx([channel()]),
    new DialogMemory(),
  );
  assert.deepEqual(types(createdChannel), ['chat.created', 'channel.created']);
});

test('the answer to our own call repeats nothing the API already published', () => {
  const memory = new DialogMemory();
  const msg = new Api.Message({
    id: 5,
    peerId: new Api.PeerUser({ userId: big(200) }),
    date: 1,
    message: 'x',
    out: true,
    editDate: 2,
  });
  for (const update of [
    new Api.UpdateEditMessage({ message: msg, pts: 1, ptsCount: 1 }),
    new Api.UpdateDeleteMessages({ messages: [5], pts: 1, ptsCount: 1 }),
    new Api.UpdateReadHistoryInbox({
      peer: new Api.PeerUser({ userId: big(200) }),
      maxId: 5,
      stillUnreadCount: 0,
      pts: 1,
      ptsCount: 1,
    }),
  ]) {
    assert.deepEqual(map(update, ctx([], 'own'), memory), [], update.className);
    assert.equal(map(update, ctx([], 'difference'), memory).length, 1, update.className);
  }
  const joined = map(
    inChannel(service(channelPeer, new Api.MessageActionChatAddUser({ users: [big(100)] }))),
    ctx([channel({ megagroup: true })], 'own'),
    memory,
  );
  assert.deepEqual(
    types(joined),
    ['chat.created', 'group.member_added'],
    'chat.member_joined is the join API’s',
  );
});

test('messages of others: edits, deletions, reads; posts only in broadcast channels', () => {
  const memory = new DialogMemory();
  const edited = map(
    new Api.UpdateEditChannelMessage({
      message: new Api.Message({
        id: 3,
        peerId: channelPeer,
        date: 1,
        message: 'new',
        editDate: 2,
        post: true,
      }),
      pts: 2,
      ptsCount: 1,
    }),
    ctx([channel()]),
    memory,
  );
  assert.deepEqual(
    edited.map((e) => [e.type, (e.data.message as { text: string }).text]),
    [['message.edited', 'new']],
  );
  assert.deepEqual(
    map(
      new Api.UpdateDeleteChannelMessages({ channelId: big(CHANNEL), messages: [3], pts: 3, ptsCount: 1 }),
      ctx(),
      memory,
    )[0]!.data,
    {
      chatId: CHANNEL_ID,
      messageIds: [3],
      source: 'other_device',
    },
  );
  assert.deepEqual(
    map(
      new Api.UpdateReadHistoryOutbox({
        peer: new Api.PeerUser({ userId: big(200) }),
        maxId: 9,
        pts: 1,
        ptsCount: 1,
      }),
      ctx(),
      memory,
    )[0]!.data,
    {
      chatId: OTHER,
      maxId: 9,
      outbox: true,
    },
  );
  const post = new Api.Message({ id: 4, peerId: channelPeer, date: 1, message: 'breaking', post: true });
  const published = map(inChannel(post), ctx([channel()]), memory);
  assert.deepEqual(types(published), ['channel.post_published']);
  assert.equal((published[0]!.data.chat as { id: string }).id, CHANNEL_ID);
  assert.deepEqual(map(inChannel(post), ctx([channel({ megagroup: true })]), new DialogMemory()), []);
  assert.deepEqual(map(inChannel(post), ctx([channel()], 'own'), memory), []);
});

test('basic groups: deleted, admins', () => {
  const memory = new DialogMemory();
  map(
    inChat(new Api.Message({ id: 1, peerId: chatPeer, date: 1, message: 'hi' })),
    ctx([basicGroup()]),
    memory,
  );
  const update = new Api.UpdateChat({ chatId: big(4) });
  assert.deepEqual(map(update, ctx([basicGroup()]), memory), []);
  assert.deepEqual(types(map(update, ctx([basicGroup({ deactivated: true, left: true })]), memory)), [
    'chat.deleted',
    'group.deleted',
  ]);
  assert.deepEqual(map(update, ctx([basicGroup({ deactivated: true, left: true })]), memory), []);
  const admin = map(
    new Api.UpdateChatParticipantAdmin({ chatId: big(4), userId: big(200), isAdmin: false, version: 2 }),
    ctx(),
    memory,
  );
  assert.deepEqual(admin[0]!.data, {
    chatId: '-4',
    userId: OTHER,
    isAdmin: false,
    rights: [],
    actorId: null,
  });
});

test('users: status, typing, profile', () => {
  const memory = new DialogMemory();
  const offline = map(
    new Api.UpdateUserStatus({
      userId: big(200),
      status: new Api.UserStatusOffline({ wasOnline: 1_700_000_000 }),
    }),
    ctx(),
    memory,
  );
  assert.deepEqual(offline[0]!.data, {
    userId: OTHER,
    status: 'offline',
    lastSeenAt: '2023-11-14T22:13:20.000Z',
  });
  assert.equal(
    map(
      new Api.UpdateUserStatus({ userId: big(200), status: new Api.UserStatusRecently({}) }),
      ctx(),
      memory,
    )[0]!.data.status,
    'recently',
  );
  const typing = map(
    new Api.UpdateChannelUserTyping({
      channelId: big(CHANNEL),
      fromId: new Api.PeerUser({ userId: big(200) }),
      action: new Api.SendMessageChooseStickerAction(),
    }),
    ctx(),
    memory,
  );
  assert.deepEqual(typing[0]!.data, { userId: OTHER, chatId: CHANNEL_ID, action: 'choose_sticker' });
  assert.equal(typingAction(new Api.SendMessageTypingAction()), 'typing');
  assert.equal(typingAction(new Api.SendMessageCancelAction()), 'cancel');
  assert.equal(typingAction(new Api.SendMessageUploadPhotoAction({ progress: 0 })), 'upload_photo');
  const renamed = map(
    new Api.UpdateUserName({
      userId: big(200),
      firstName: 'Robert',
      lastName: '',
      usernames: [new Api.Username({ username: 'rob', active: true })],
    }),
    ctx(),
    memory,
  );
  assert.deepEqual(renamed[0]!.data, {
    userId: OTHER,
    user: { id: OTHER, firstName: 'Robert', lastName: null, username: 'rob' },
  });
  assert.deepEqual(
    map(new Api.UpdateUserPhone({ userId: big(200), phone: '15550001' }), ctx(), memory)[0]!.data,
    {
      userId: OTHER,
      user: { id: OTHER, phone: '15550001' },
    },
  );
});

test('a private chat is checked once for being new; groups never', () => {
  const memory = new DialogMemory();
  const first = inChat(
    new Api.Message({
      id: 1,
      peerId: new Api.PeerUser({ userId: big(200) }),
      fromId: new Api.PeerUser({ userId: big(200) }),
      date: 1,
      message: 'hi',
    }),
  );
  assert.deepEqual(privateChatCandidate(first, ctx(), memory), {
    chatId: OTHER,
    messageId: 1,
    chat: { id: OTHER, type: 'private', title: 'Bob' },
  });
  assert.equal(privateChatCandidate(first, ctx(), memory), undefined);
  assert.equal(
    privateChatCandidate(
      inChat(new Api.Message({ id: 2, peerId: chatPeer, date: 1, message: 'x' })),
      ctx(),
      memory,
    ),
    undefined,
  );
  assert.deepEqual(map(first, ctx(), memory), [], 'message.received is the session manager’s');
});

test("the account's own messages from its other apps: message.sent, edits and deletes with source other_device", () => {
  const memory = new DialogMemory();
  const mine = (id: number, peer: Api.TypePeer, extra: Partial<Api.Message> = {}) =>
    new Api.Message({ id, peerId: peer, date: 1, message: `mine ${id}`, out: true, ...extra });
  const toBob = new Api.PeerUser({ userId: big(Number(OTHER)) });
  const sent = map(new Api.UpdateNewMessage({ message: mine(5, toBob), pts: 5, ptsCount: 1 }), ctx(), memory);
  assert.deepEqual(types(sent), ['message.sent']);
  assert.equal(sent[0]!.data.source, 'other_device');
  assert.equal(sent[0]!.data.catchUp, false);
  assert.equal((sent[0]!.data.message as { senderId: string }).senderId, SELF);
  // Caught up after a gap or restart.
  const caught = map(
    new Api.UpdateNewMessage({ message: mine(6, toBob), pts: 0, ptsCount: 0 }),
    ctx([], 'difference'),
    memory,
  );
  assert.deepEqual(
    caught.map((e) => [e.type, e.data.source, e.data.catchUp]),
    [['message.sent', 'other_device', true]],
  );
  // The answer to an API send is the API's to report.
  assert.deepEqual(
    map(new Api.UpdateNewMessage({ message: mine(7, toBob), pts: 7, ptsCount: 1 }), ctx([], 'own'), memory),
    [],
  );
  // Messages of others are message.received (the session manager's), not message.sent.
  const theirs = new Api.Message({ id: 8, peerId: toBob, date: 1, message: 'hi', out: false });
  assert.deepEqual(
    map(new Api.UpdateNewMessage({ message: theirs, pts: 8, ptsCount: 1 }), ctx(), memory),
    [],
  );
  // A post of the account's in a broadcast channel: its own message and the channel's post.
  const post = map(inChannel(mine(9, channelPeer, { post: true })), ctx([channel()]), memory);
  assert.deepEqual(types(post), ['message.sent', 'channel.post_published']);

  const editedMine = map(
    new Api.UpdateEditMessage({ message: mine(5, toBob, { editDate: 3 }), pts: 9, ptsCount: 1 }),
    ctx(),
    memory,
  );
  assert.deepEqual(
    editedMine.map((e) => [e.type, e.data.source]),
    [['message.edited', 'other_device']],
  );
  const editedTheirs = map(
    new Api.UpdateEditMessage({
      message: new Api.Message({ id: 8, peerId: toBob, date: 1, message: 'hi!', editDate: 3 }),
      pts: 10,
      ptsCount: 1,
    }),
    ctx(),
    memory,
  );
  assert.equal(editedTheirs[0]!.data.source, undefined, 'someone else edited their own message');
  assert.deepEqual(
    map(new Api.UpdateDeleteMessages({ messages: [5], pts: 11, ptsCount: 1 }), ctx(), memory)[0]!.data,
    { chatId: null, messageIds: [5], source: 'other_device' },
  );
});

test("dedup keys: an update gives the same keys live and caught up, and a message event the same key as the API's", () => {
  const toBob = new Api.PeerUser({ userId: big(Number(OTHER)) });
  const msg = new Api.Message({ id: 5, peerId: toBob, date: 1, message: 'mine', out: true });
  const keysOf = (update: Api.TypeUpdate, c: UpdateContext) =>
    withDedupKeys('ses_1', update, eventsFromUpdate('ses_1', update, c, SELF, new DialogMemory())).map(
      (e) => e.dedupKey,
    );
  const live = keysOf(new Api.UpdateNewMessage({ message: msg, pts: 5, ptsCount: 1 }), ctx());
  const caught = keysOf(
    new Api.UpdateNewMessage({ message: msg, pts: 0, ptsCount: 0 }),
    ctx([], 'difference'),
  );
  assert.equal(live.length, 1);
  assert.ok(live[0]);
  assert.deepEqual(caught, live);
  // What the API records for the same message (its view has the same chat and id).
  const apiKey = messageEventKey('message.sent', 'ses_1', {
    message: { id: 5, chatId: OTHER, senderId: SELF, date: '', text: 'mine', out: true },
    source: 'api',
  });
  assert.equal(apiKey, live[0]);
  // Sessions never share keys.
  const other = withDedupKeys(
    'ses_2',
    new Api.UpdateNewMessage({ message: msg, pts: 5, ptsCount: 1 }),
    eventsFromUpdate('ses_2', new Api.UpdateNewMessage({ message: msg, pts: 5, ptsCount: 1 }), ctx(), SELF),
  );
  assert.notEqual(other[0]!.dedupKey, live[0]);

  // Edits: one key per edit (its date and text); an API delete and its echo agree.
  const edit = (editDate: number, text: string) =>
    keysOf(
      new Api.UpdateEditMessage({
        message: new Api.Message({ id: 5, peerId: toBob, date: 1, message: text, out: true, editDate }),
        pts: 6,
        ptsCount: 1,
      }),
      ctx(),
    )[0];
  assert.equal(edit(2, 'a'), edit(2, 'a'));
  assert.notEqual(edit(2, 'a'), edit(3, 'a'));
  assert.notEqual(edit(2, 'a'), edit(2, 'b'));
  assert.equal(
    keysOf(new Api.UpdateDeleteMessages({ messages: [6, 5], pts: 7, ptsCount: 2 }), ctx())[0],
    messageEventKey('message.deleted', 'ses_1', { chatId: OTHER, messageIds: [5, 6], revoke: true }),
  );

  // Other updates by pts (and their place among the update's events of a type); none without.
  const join = (pts: number) =>
    new Api.UpdateNewChannelMessage({
      message: service(
        channelPeer,
        new Api.MessageActionChatAddUser({ users: [big(300), big(301)] }),
        OTHER,
        pts,
      ),
      pts,
      ptsCount: 1,
    });
  const joined = keysOf(join(20), ctx([channel({ megagroup: true })]));
  assert.equal(joined.length, 4, 'two members: chat.member_joined and group.member_added each');
  assert.equal(new Set(joined).size, 4);
  assert.ok(joined.every(Boolean));
  assert.deepEqual(keysOf(join(20), ctx([channel({ megagroup: true })], 'difference')), joined);
  assert.deepEqual(
    keysOf(new Api.UpdateUserStatus({ userId: big(200), status: new Api.UserStatusRecently({}) }), ctx()),
    [undefined],
  );
});
