/**
 * Channels and supergroups: creating, joining and leaving, bans, admins, username, title,
 * deletion, and the participant updates these push.
 */
import { Api } from 'teleproto';
import { randomBytes } from 'node:crypto';
import { RpcError } from '../contract.js';
import type { AdminRights, ChannelMessage, ChannelRecord } from './state.js';
import { FULL_ADMIN_RIGHTS, long, now, peerKey } from './tl.js';
import { sendMessage } from './messages-send.js';
import type { WorldContext, Origin } from './context.js';
import { channelMembers, getChannel, getChat, isChannelMember, requireChannelRight } from './lookups.js';
import { checkUsernameFree } from './accounts.js';
import { emitChannel, pushTo } from './updates.js';
import { collectEntities } from './entities.js';

/** What a basic group admin may do, as supergroup admin rights after a migration. */
const BASIC_ADMIN_RIGHTS: AdminRights = {
  changeInfo: true,
  deleteMessages: true,
  banUsers: true,
  inviteUsers: true,
  pinMessages: true,
  manageCall: true,
};

export function createChannel(
  ctx: WorldContext,
  creatorId: number,
  input: { title: string; about?: string; megagroup: boolean; username?: string },
  origin?: Origin,
): { channelId: number; result: Api.TypeUpdates } {
  if (!input.title.trim()) throw new RpcError(400, 'CHAT_TITLE_EMPTY');
  if (input.username) checkUsernameFree(ctx, input.username);
  const date = now();
  const channel: ChannelRecord = {
    id: ctx.state.nextChannelId++,
    accessHash: (randomBytes(8).readBigUInt64LE() >> 1n).toString(),
    title: input.title,
    about: input.about ?? '',
    megagroup: input.megagroup,
    ...(input.username ? { username: input.username } : {}),
    date,
    creatorId,
    pts: 1,
    nextMessageId: 1,
    logStartPts: 1,
    log: [],
    messages: {},
    participants: {
      [creatorId]: { userId: creatorId, inviterId: creatorId, date, adminRights: FULL_ADMIN_RIGHTS },
    },
    readInbox: {},
  };
  ctx.state.channels[channel.id] = channel;
  addChannelService(
    ctx,
    channel,
    creatorId,
    new Api.MessageActionChannelCreate({ title: input.title }),
    origin,
  );
  ctx.changed();
  return { channelId: channel.id, result: channelUpdates(ctx, creatorId, channel) };
}

function addChannelService(
  ctx: WorldContext,
  channel: ChannelRecord,
  fromId: number,
  action: Api.TypeMessageAction,
  origin?: Origin,
): void {
  const msg: ChannelMessage = {
    id: channel.nextMessageId++,
    fromId,
    date: now(),
    text: '',
    entities: [],
    reactions: {},
    pinned: false,
    silent: false,
    post: !channel.megagroup,
    action: action.getBytes().toString('base64'),
  };
  channel.messages[msg.id] = msg;
  emitChannel(ctx, channel, 1, { kind: 'new', msgId: msg.id }, { ...origin, userId: fromId });
}

/** Updates{updateChannel} with the channel: what join/leave/create answer and push. */
function channelUpdates(
  ctx: WorldContext,
  viewerId: number,
  channel: ChannelRecord,
  extra: Api.TypeUpdate[] = [],
): Api.Updates {
  return new Api.Updates({
    updates: [new Api.UpdateChannel({ channelId: long(channel.id) }), ...extra],
    ...collectEntities(ctx, viewerId).addChannel(channel.id).build(),
    date: now(),
    seq: 0,
  });
}

/**
 * A member joined, left, was banned or had their admin rights changed. Telegram tells user
 * accounts only through updateChannel, to the member concerned (the channel it then sees has
 * its new `left`, `date` and `admin_rights`); updateChannelParticipant carries a qts and goes
 * to bots only (core.telegram.org/constructor/updateChannelParticipant, /api/updates). Other
 * members of a supergroup learn of joins and leaves from the service messages.
 */
function notifyParticipantChange(
  ctx: WorldContext,
  channel: ChannelRecord,
  userId: number,
  origin?: Origin,
): void {
  const updates = new Api.Updates({
    updates: [new Api.UpdateChannel({ channelId: long(channel.id) })],
    ...collectEntities(ctx, userId).addChannel(channel.id).addUser(userId).build(),
    date: now(),
    seq: 0,
  });
  pushTo(ctx, userId, updates, origin?.keyId);
}

export function joinChannel(
  ctx: WorldContext,
  userId: number,
  channelId: number,
  inviterId = userId,
  origin?: Origin,
): Api.TypeUpdates {
  const channel = getChannel(ctx, channelId);
  const existing = channel.participants[userId];
  if (existing?.banned) throw new RpcError(400, 'USER_BANNED_IN_CHANNEL');
  if (existing && !existing.left) throw new RpcError(400, 'USER_ALREADY_PARTICIPANT');
  channel.participants[userId] = {
    userId,
    inviterId,
    date: now(),
    ...(existing?.adminRights ? { adminRights: existing.adminRights } : {}),
  };
  if (channel.megagroup) {
    const action =
      inviterId === userId
        ? new Api.MessageActionChatJoinedByLink({ inviterId: long(channel.creatorId) })
        : new Api.MessageActionChatAddUser({ users: [long(userId)] });
    addChannelService(
      ctx,
      channel,
      inviterId === userId ? userId : inviterId,
      action,
      inviterId === userId ? origin : undefined,
    );
  }
  notifyParticipantChange(ctx, channel, userId, inviterId === userId ? origin : undefined);
  ctx.changed();
  return channelUpdates(ctx, userId, channel);
}

export function leaveChannel(
  ctx: WorldContext,
  userId: number,
  channelId: number,
  origin?: Origin,
): Api.TypeUpdates {
  const channel = getChannel(ctx, channelId);
  if (!isChannelMember(channel, userId)) throw new RpcError(400, 'USER_NOT_PARTICIPANT');
  if (channel.megagroup)
    addChannelService(
      ctx,
      channel,
      userId,
      new Api.MessageActionChatDeleteUser({ userId: long(userId) }),
      origin,
    );
  channel.participants[userId] = { ...channel.participants[userId], left: true };
  delete channel.participants[userId].adminRights;
  notifyParticipantChange(ctx, channel, userId, origin);
  ctx.changed();
  return channelUpdates(ctx, userId, channel);
}

/** Removes (bans) a member: channels.editBanned with view_messages. */
export function kickFromChannel(ctx: WorldContext, actorId: number, channelId: number, userId: number): void {
  const channel = getChannel(ctx, channelId);
  requireChannelRight(channel, actorId, 'banUsers');
  if (!isChannelMember(channel, userId)) throw new RpcError(400, 'USER_NOT_PARTICIPANT');
  if (channel.megagroup)
    addChannelService(ctx, channel, actorId, new Api.MessageActionChatDeleteUser({ userId: long(userId) }));
  channel.participants[userId] = {
    userId,
    inviterId: actorId,
    date: now(),
    banned: { kickedBy: actorId, date: now(), untilDate: 0, viewMessages: true },
  };
  notifyParticipantChange(ctx, channel, userId);
  ctx.changed();
}

/** Lifts a ban: the user is no longer a participant at all and may join again. */
export function unbanFromChannel(
  ctx: WorldContext,
  actorId: number,
  channelId: number,
  userId: number,
): void {
  const channel = getChannel(ctx, channelId);
  requireChannelRight(channel, actorId, 'banUsers');
  const participant = channel.participants[userId];
  if (!participant?.banned) return;
  delete channel.participants[userId];
  ctx.changed();
}

export function editChannelAdmin(
  ctx: WorldContext,
  actorId: number,
  channelId: number,
  userId: number,
  rights: AdminRights,
  rank: string,
  origin?: Origin,
): Api.TypeUpdates {
  const channel = getChannel(ctx, channelId);
  requireChannelRight(channel, actorId, 'addAdmins');
  if (userId === channel.creatorId) throw new RpcError(400, 'USER_CREATOR');
  if (!isChannelMember(channel, userId)) throw new RpcError(400, 'USER_NOT_PARTICIPANT');
  const participant = channel.participants[userId];
  const any = Object.values(rights).some(Boolean);
  if (any) {
    participant.adminRights = rights;
    participant.promotedBy = actorId;
    participant.rank = rank;
  } else {
    delete participant.adminRights;
    delete participant.promotedBy;
    delete participant.rank;
  }
  notifyParticipantChange(ctx, channel, userId, actorId === userId ? origin : undefined);
  ctx.changed();
  return channelUpdates(ctx, actorId, channel);
}

export function setChannelUsername(
  ctx: WorldContext,
  actorId: number,
  channelId: number,
  username: string | null,
): void {
  const channel = getChannel(ctx, channelId);
  requireChannelRight(channel, actorId, 'changeInfo');
  if (username) {
    checkUsernameFree(ctx, username, peerKey('h', channelId));
    channel.username = username;
  } else delete channel.username;
  ctx.changed();
  for (const member of channelMembers(channel)) pushTo(ctx, member, channelUpdates(ctx, member, channel));
}

export function editChannelTitle(
  ctx: WorldContext,
  actorId: number,
  channelId: number,
  title: string,
  origin?: Origin,
): Api.TypeUpdates {
  const channel = getChannel(ctx, channelId);
  requireChannelRight(channel, actorId, 'changeInfo');
  if (!title.trim()) throw new RpcError(400, 'CHAT_TITLE_EMPTY');
  if (title === channel.title) throw new RpcError(400, 'CHAT_NOT_MODIFIED');
  channel.title = title;
  addChannelService(ctx, channel, actorId, new Api.MessageActionChatEditTitle({ title }), origin);
  for (const member of channelMembers(channel)) {
    pushTo(ctx, member, channelUpdates(ctx, member, channel), member === actorId ? origin?.keyId : undefined);
  }
  ctx.changed();
  return channelUpdates(ctx, actorId, channel);
}

/** channels.deleteChannel: only the creator; members then see channelForbidden. */
export function deleteChannel(
  ctx: WorldContext,
  actorId: number,
  channelId: number,
  origin?: Origin,
): Api.TypeUpdates {
  const channel = getChannel(ctx, channelId);
  if (channel.creatorId !== actorId || channel.deleted) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
  const members = channelMembers(channel);
  channel.deleted = true;
  delete channel.username;
  ctx.changed();
  for (const member of members) {
    pushTo(ctx, member, channelUpdates(ctx, member, channel), member === actorId ? origin?.keyId : undefined);
  }
  return channelUpdates(ctx, actorId, channel);
}

/**
 * messages.migrateChat (https://core.telegram.org/method/messages.migrateChat,
 * https://core.telegram.org/api/channel#migration): the creator turns a basic group into a
 * supergroup with a new id and the same title, members and admins. The group is deactivated and
 * names the supergroup (`migrated_to`); its members get messageActionChatMigrateTo there, and
 * the supergroup starts with messageActionChannelMigrateFrom. Both are pushed to every
 * authorization of every member, the caller's included; the call answers updateChannel.
 */
export function migrateChat(
  ctx: WorldContext,
  userId: number,
  chatId: number,
): { channelId: number; result: Api.Updates } {
  const chat = getChat(ctx, chatId);
  if (chat.deactivated || chat.migratedTo !== undefined) throw new RpcError(400, 'CHAT_ID_INVALID');
  if (chat.creatorId !== userId) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
  const date = now();
  const participants: ChannelRecord['participants'] = {};
  for (const p of chat.participants) {
    const creator = p.userId === chat.creatorId;
    participants[p.userId] = {
      userId: p.userId,
      inviterId: p.inviterId,
      date: p.date,
      ...(creator || p.admin ? { adminRights: creator ? FULL_ADMIN_RIGHTS : BASIC_ADMIN_RIGHTS } : {}),
    };
  }
  const channel: ChannelRecord = {
    id: ctx.state.nextChannelId++,
    accessHash: (randomBytes(8).readBigUInt64LE() >> 1n).toString(),
    title: chat.title,
    about: '',
    megagroup: true,
    date,
    creatorId: chat.creatorId,
    pts: 1,
    nextMessageId: 1,
    logStartPts: 1,
    log: [],
    messages: {},
    participants,
    readInbox: {},
  };
  ctx.state.channels[channel.id] = channel;
  chat.migratedTo = channel.id;
  addChannelService(
    ctx,
    channel,
    userId,
    new Api.MessageActionChannelMigrateFrom({ title: chat.title, chatId: long(chat.id) }),
  );
  sendMessage(ctx, userId, peerKey('c', chat.id), {
    text: '',
    action: new Api.MessageActionChatMigrateTo({ channelId: long(channel.id) }),
  });
  chat.deactivated = true;
  chat.version++;
  ctx.changed();
  const result = channelUpdates(ctx, userId, channel);
  result.chats.push(...collectEntities(ctx, userId).addChat(chat.id).build().chats);
  return { channelId: channel.id, result };
}
