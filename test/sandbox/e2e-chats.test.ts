/**
 * Groups, channels and people with the real client: create, invite links, join, leave,
 * admins, channel catch-up with getChannelDifference, search, forwards, and the profile,
 * status and typing updates other people cause.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Api } from 'teleproto';
import type { TelegramClient } from 'teleproto';
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
let owner: TelegramClient;
let member: TelegramClient;
const ownerPhone = testPhone(1);
const memberPhone = testPhone(2);
const memberRaw: unknown[] = [];
const ownerRaw: unknown[] = [];
const memberName = `member${memberPhone.slice(-4)}`;
const ownerName = `owner${ownerPhone.slice(-4)}`;

function rawOf<T>(list: unknown[], type: new (...args: any[]) => T): T[] {
  return list.flatMap((u) => {
    if (u instanceof type) return [u];
    if (u instanceof Api.Updates || u instanceof Api.UpdatesCombined)
      return u.updates.filter((x): x is T & Api.TypeUpdate => x instanceof type);
    if (u instanceof Api.UpdateShort && u.update instanceof type) return [u.update as T];
    return [];
  });
}

before(async () => {
  sandbox = await startTestSandbox();
  await control(sandbox, 'POST', '/users', { phone: ownerPhone, firstName: 'Owner', username: ownerName });
  await control(sandbox, 'POST', '/users', { phone: memberPhone, firstName: 'Member', username: memberName });
  owner = await signedInClient(sandbox, ownerPhone);
  member = await signedInClient(sandbox, memberPhone);
  owner.addEventHandler((u: unknown) => void ownerRaw.push(u));
  member.addEventHandler((u: unknown) => void memberRaw.push(u));
  await owner.getMe();
  await member.getMe();
});

after(async () => {
  await closeClient(owner);
  await closeClient(member);
  await sandbox.close();
});

test('a basic group: create with a member, add and remove people, participant updates', async () => {
  const thirdPhone = testPhone(3);
  await control(sandbox, 'POST', '/users', {
    phone: thirdPhone,
    firstName: 'Third',
    username: `third${thirdPhone.slice(-4)}`,
  });
  const invited = await owner.invoke(
    new Api.messages.CreateChat({ title: 'Book club', users: [`@${memberName}`] }),
  );
  const chat = (invited.updates as Api.Updates).chats[0] as Api.Chat;
  assert.equal(chat.title, 'Book club');
  const created = await waitFor(
    () =>
      rawOf(memberRaw, Api.UpdateNewMessage).find(
        (u) =>
          u.message instanceof Api.MessageService && u.message.action instanceof Api.MessageActionChatCreate,
      ),
    3000,
    'chat creation at the member',
  );
  assert.equal(
    ((created.message as Api.MessageService).action as Api.MessageActionChatCreate).title,
    'Book club',
  );
  await owner.invoke(
    new Api.messages.AddChatUser({ chatId: chat.id, userId: `@third${thirdPhone.slice(-4)}`, fwdLimit: 0 }),
  );
  const add = await waitFor(() => rawOf(memberRaw, Api.UpdateChatParticipantAdd)[0], 3000, 'participant add');
  assert.equal(add.chatId.toString(), chat.id.toString());
  const full = (await member.invoke(new Api.messages.GetFullChat({ chatId: chat.id })))
    .fullChat as Api.ChatFull;
  assert.equal((full.participants as Api.ChatParticipants).participants.length, 3);
  await owner.invoke(
    new Api.messages.EditChatAdmin({ chatId: chat.id, userId: `@${memberName}`, isAdmin: true }),
  );
  const admin = await waitFor(
    () => rawOf(memberRaw, Api.UpdateChatParticipantAdmin)[0],
    3000,
    'admin update',
  );
  assert.equal(admin.isAdmin, true);
  await owner.invoke(
    new Api.messages.DeleteChatUser({ chatId: chat.id, userId: `@third${thirdPhone.slice(-4)}` }),
  );
  await waitFor(() => rawOf(memberRaw, Api.UpdateChatParticipantDelete)[0], 3000, 'participant delete');
  const participants = await member.getParticipants(-Number(chat.id.toString()) as unknown as string, {});
  assert.equal(participants.length, 2);
});

test('a supergroup: invite link, join, admin rights, leave; channel updates reach members', async () => {
  const created = (await owner.invoke(
    new Api.channels.CreateChannel({ title: 'Makers', about: 'we make', megagroup: true }),
  )) as Api.Updates;
  const channel = created.chats[0] as Api.Channel;
  assert.equal(channel.megagroup, true);
  const invite = (await owner.invoke(
    new Api.messages.ExportChatInvite({ peer: channel }),
  )) as Api.ChatInviteExported;
  const hash = invite.link.split('+')[1];
  const preview = await member.invoke(new Api.messages.CheckChatInvite({ hash }));
  assert.ok(preview instanceof Api.ChatInvite);
  assert.equal(preview.title, 'Makers');
  const joined = (await member.invoke(new Api.messages.ImportChatInvite({ hash }))) as Api.Updates;
  const seenByMember = joined.chats[0] as Api.Channel;
  assert.equal(seenByMember.left, false);
  await waitFor(
    () => rawOf(ownerRaw, Api.UpdateNewChannelMessage).find((u) => u.message instanceof Api.MessageService),
    3000,
    'join service message',
  );

  const channelUpdatesBefore = rawOf(memberRaw, Api.UpdateChannel).length;
  await owner.invoke(
    new Api.channels.EditAdmin({
      channel,
      userId: `@${memberName}`,
      adminRights: new Api.ChatAdminRights({ pinMessages: true, deleteMessages: true }),
      rank: 'helper',
    }),
  );
  // The member hears of its new rights through updateChannel (it then reads the channel);
  // updateChannelParticipant is for bots only.
  await waitFor(
    () => rawOf(memberRaw, Api.UpdateChannel).length > channelUpdatesBefore,
    3000,
    'updateChannel for the new admin rights',
  );
  assert.equal(rawOf(memberRaw, Api.UpdateChannelParticipant).length, 0);
  const me = await member.invoke(
    new Api.channels.GetParticipant({ channel: seenByMember, participant: new Api.InputPeerSelf() }),
  );
  assert.ok(me.participant instanceof Api.ChannelParticipantAdmin);
  assert.equal(me.participant.rank, 'helper');

  const post = await owner.sendMessage(channel, { message: 'welcome' });
  const arrived = await waitFor(
    () =>
      rawOf(memberRaw, Api.UpdateNewChannelMessage).find(
        (u) => (u.message as Api.Message).message === 'welcome',
      ),
    3000,
    'post',
  );
  assert.equal(arrived.message.id, post.id, 'channel ids are shared');
  // The new admin may delete the owner's message.
  await member.deleteMessages(seenByMember, [post.id], { revoke: true });
  await waitFor(
    () => rawOf(ownerRaw, Api.UpdateDeleteChannelMessages).find((u) => u.messages.includes(post.id)),
    3000,
    'channel delete',
  );

  await member.invoke(new Api.channels.LeaveChannel({ channel: seenByMember }));
  const full = (await owner.invoke(new Api.channels.GetFullChannel({ channel }))).fullChat as Api.ChannelFull;
  assert.equal(full.participantsCount, 1);
});

test('a channel member away catches up with getChannelDifference', async () => {
  const created = await control(sandbox, 'POST', '/chats', {
    type: 'channel',
    title: 'Daily',
    owner: ownerPhone,
    members: [memberPhone],
    username: `daily${ownerPhone.slice(-4)}`,
  });
  const channel = (await member.getEntity(`@daily${ownerPhone.slice(-4)}`)) as Api.Channel;
  const full = (await member.invoke(new Api.channels.GetFullChannel({ channel })))
    .fullChat as Api.ChannelFull;
  const first = await control(sandbox, 'POST', '/messages', {
    from: ownerPhone,
    to: created.body.id,
    text: 'issue 1',
  });
  await control(sandbox, 'POST', '/messages', { from: ownerPhone, to: created.body.id, text: 'issue 2' });
  await control(sandbox, 'POST', '/messages/edit', {
    by: ownerPhone,
    chat: created.body.id,
    messageId: first.body.id,
    text: 'issue 1 (fixed)',
  });
  const diff = await member.invoke(
    new Api.updates.GetChannelDifference({
      channel,
      filter: new Api.ChannelMessagesFilterEmpty(),
      pts: full.pts,
      limit: 100,
    }),
  );
  assert.ok(diff instanceof Api.updates.ChannelDifference, diff.className);
  assert.deepEqual(
    diff.newMessages.map((m) => (m as Api.Message).message),
    ['issue 1 (fixed)', 'issue 2'],
  );
  assert.deepEqual(
    diff.otherUpdates.map((u) => u.className),
    ['UpdateEditChannelMessage'],
  );
  assert.equal(diff.pts, full.pts + 3);
  const empty = await member.invoke(
    new Api.updates.GetChannelDifference({
      channel,
      filter: new Api.ChannelMessagesFilterEmpty(),
      pts: diff.pts,
      limit: 100,
    }),
  );
  assert.ok(empty instanceof Api.updates.ChannelDifferenceEmpty);
  // The account-level difference hints at the channel.
  const hinted = await member.invoke(new Api.updates.GetDifference({ pts: 1, date: 1, qts: 0 }));
  assert.ok(hinted instanceof Api.updates.Difference);
  assert.ok(
    hinted.otherUpdates.some(
      (u) => u instanceof Api.UpdateChannelTooLong && u.channelId.toString() === channel.id.toString(),
    ),
  );
});

test('search in a chat and globally, and forwards keep their origin', async () => {
  await owner.sendMessage(`@${memberName}`, { message: 'the quick brown fox' });
  await owner.sendMessage(`@${memberName}`, { message: 'lazy dog' });
  const found = await member.getMessages(`@${ownerName}`, { search: 'fox' });
  assert.deepEqual(
    [...found].map((m) => m.message),
    ['the quick brown fox'],
  );
  const global = (await member.invoke(
    new Api.messages.SearchGlobal({
      q: 'lazy',
      filter: new Api.InputMessagesFilterEmpty(),
      minDate: 0,
      maxDate: 0,
      offsetRate: 0,
      offsetPeer: new Api.InputPeerEmpty(),
      offsetId: 0,
      limit: 10,
    }),
  )) as Api.messages.Messages;
  assert.deepEqual(
    global.messages.map((m) => (m as Api.Message).message),
    ['lazy dog'],
  );
  const [original] = [...found];
  const forwarded = await member.forwardMessages('me', {
    messages: [original.id],
    fromPeer: `@${ownerName}`,
  });
  assert.equal(forwarded.length, 1);
  const [saved] = [...(await member.getMessages('me', { limit: 1 }))];
  assert.equal(saved.message, 'the quick brown fox');
  assert.equal(
    (saved.fwdFrom?.fromId as Api.PeerUser).userId.toString(),
    (await owner.getMe()).id.toString(),
  );
});

test('profile, status and typing of other people arrive as updates', async () => {
  memberRaw.length = 0;
  await control(sandbox, 'PATCH', `/users/${ownerPhone}`, { firstName: 'Renamed' });
  const name = await waitFor(() => rawOf(memberRaw, Api.UpdateUserName)[0], 3000, 'name update');
  assert.equal(name.firstName, 'Renamed');
  await control(sandbox, 'POST', `/users/${ownerPhone}/status`, { online: true });
  const status = await waitFor(() => rawOf(memberRaw, Api.UpdateUserStatus)[0], 3000, 'status update');
  assert.ok(status.status instanceof Api.UserStatusOnline);
  await owner.invoke(
    new Api.messages.SetTyping({ peer: `@${memberName}`, action: new Api.SendMessageTypingAction() }),
  );
  const typing = await waitFor(() => rawOf(memberRaw, Api.UpdateUserTyping)[0], 3000, 'typing update');
  assert.equal(typing.userId.toString(), (await owner.getMe()).id.toString());
  await member.invoke(new Api.account.UpdateStatus({ offline: true }));
  const ownerSees = await waitFor(() => rawOf(ownerRaw, Api.UpdateUserStatus)[0], 3000, 'status at owner');
  assert.ok(ownerSees.status instanceof Api.UserStatusOffline);
});
