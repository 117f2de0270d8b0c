/**
 * World records rendered as the TL objects one viewer sees: users, chats, channels,
 * messages, reactions, participants and invites.
 */
import { createHmac } from 'node:crypto';
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { ChannelRecord, ChatRecord, PeerKey, PostRecord, UserRecord } from './state.js';
import {
  FULL_ADMIN_RIGHTS,
  adminRightsToApi,
  decodeTl,
  decodeTlList,
  long,
  now,
  parsePeerKey,
  peerKey,
  peerToApi,
} from './tl.js';
import type { Long } from './tl.js';
import { apiMessageMedia } from './media.js';
import type { WorldContext } from './context.js';
import { channelMembers, findUser, getBox, getChannel, getChat, getUser } from './lookups.js';

/**
 * The access hash of a user or channel as one viewer sees it. On Telegram an access hash is
 * specific to the account that received it (https://core.telegram.org/api/peers: "the
 * access_hash is specific to the user/bot that received it"), so the world derives one per
 * viewer from the record's own secret: the same for every call of that viewer, useless to any
 * other account.
 */
export function viewerAccessHash(recordSecret: string, viewerId: number): string {
  const digest = createHmac('sha256', recordSecret).update(String(viewerId)).digest();
  return (digest.readBigUInt64LE() >> 1n).toString();
}

export function apiStatus(user: UserRecord): Api.TypeUserStatus {
  return user.onlineUntil > now()
    ? new Api.UserStatusOnline({ expires: user.onlineUntil })
    : new Api.UserStatusOffline({ wasOnline: user.lastSeen });
}

/**
 * A user as one viewer sees them. A `min` user (https://core.telegram.org/api/min) carries an
 * access hash that the server refuses: it only names the user for display.
 */
export function apiUser(
  ctx: WorldContext,
  viewerId: number,
  userId: number,
  opts: { min?: boolean } = {},
): Api.User {
  const user = getUser(ctx, userId);
  const viewer = findUser(ctx, viewerId);
  const self = viewerId === userId;
  const contact = viewer?.contacts.includes(userId) ?? false;
  if (opts.min) {
    return new Api.User({
      id: long(user.id),
      min: true,
      accessHash: long(viewerAccessHash(`${user.accessHash}:min`, viewerId)),
      firstName: user.firstName,
      ...(user.lastName ? { lastName: user.lastName } : {}),
      ...(user.username ? { username: user.username } : {}),
    });
  }
  return new Api.User({
    id: long(user.id),
    accessHash: long(viewerAccessHash(user.accessHash, viewerId)),
    firstName: user.firstName,
    ...(user.lastName ? { lastName: user.lastName } : {}),
    ...(user.username ? { username: user.username } : {}),
    phone: user.phone,
    status: apiStatus(user),
    self,
    contact,
    mutualContact: contact && user.contacts.includes(viewerId),
  });
}

export function apiChat(ctx: WorldContext, viewerId: number, chatId: number): Api.TypeChat {
  const chat = getChat(ctx, chatId);
  const member = chat.participants.find((p) => p.userId === viewerId);
  return new Api.Chat({
    id: long(chat.id),
    title: chat.title,
    photo: new Api.ChatPhotoEmpty(),
    participantsCount: chat.participants.length,
    date: chat.date,
    version: chat.version,
    creator: chat.creatorId === viewerId,
    left: !member,
    deactivated: chat.deactivated,
    ...(chat.migratedTo !== undefined && ctx.state.channels[chat.migratedTo]
      ? {
          migratedTo: new Api.InputChannel({
            channelId: long(chat.migratedTo),
            accessHash: long(viewerAccessHash(ctx.state.channels[chat.migratedTo].accessHash, viewerId)),
          }),
        }
      : {}),
    noforwards: chat.noforwards,
    ...(member?.admin || chat.creatorId === viewerId
      ? { adminRights: adminRightsToApi(FULL_ADMIN_RIGHTS) }
      : {}),
  });
}

/**
 * A channel as one viewer sees it. A `min` channel (https://core.telegram.org/api/min) carries
 * an access hash that the server refuses: it only names the channel for display.
 */
export function apiChannel(
  ctx: WorldContext,
  viewerId: number,
  channelId: number,
  opts: { min?: boolean } = {},
): Api.Channel | Api.ChannelForbidden {
  const channel = getChannel(ctx, channelId);
  if (opts.min && !channel.deleted) {
    return new Api.Channel({
      id: long(channel.id),
      min: true,
      accessHash: long(viewerAccessHash(`${channel.accessHash}:min`, viewerId)),
      title: channel.title,
      ...(channel.username ? { username: channel.username } : {}),
      photo: new Api.ChatPhotoEmpty(),
      date: channel.date,
      broadcast: !channel.megagroup,
      megagroup: channel.megagroup,
    });
  }
  if (channel.deleted) {
    return new Api.ChannelForbidden({
      id: long(channel.id),
      accessHash: long(viewerAccessHash(channel.accessHash, viewerId)),
      title: channel.title,
      broadcast: !channel.megagroup,
      megagroup: channel.megagroup,
    });
  }
  const member = channel.participants[viewerId];
  const active = member && !member.left && !member.banned;
  const rights = channel.creatorId === viewerId ? FULL_ADMIN_RIGHTS : member?.adminRights;
  return new Api.Channel({
    id: long(channel.id),
    accessHash: long(viewerAccessHash(channel.accessHash, viewerId)),
    title: channel.title,
    ...(channel.username ? { username: channel.username } : {}),
    photo: new Api.ChatPhotoEmpty(),
    // When the viewer joined, else when the channel was created (core.telegram.org/constructor/channel).
    date: active ? member.date : channel.date,
    creator: channel.creatorId === viewerId,
    left: !active,
    broadcast: !channel.megagroup,
    megagroup: channel.megagroup,
    noforwards: channel.noforwards,
    participantsCount: channelMembers(channel).length,
    ...(rights && active ? { adminRights: adminRightsToApi(rights) } : {}),
  });
}

export function apiReactions(
  viewerId: number,
  reactions: Record<string, string>,
): Api.MessageReactions | undefined {
  const counts = new Map<string, number>();
  for (const emoji of Object.values(reactions)) counts.set(emoji, (counts.get(emoji) ?? 0) + 1);
  if (counts.size === 0) return undefined;
  const mine = reactions[viewerId];
  return new Api.MessageReactions({
    canSeeList: false,
    results: [...counts].map(
      ([emoji, count]) =>
        new Api.ReactionCount({
          reaction: new Api.ReactionEmoji({ emoticon: emoji }),
          count,
          ...(emoji === mine ? { chosenOrder: 0 } : {}),
        }),
    ),
  });
}

function apiFwd(fwd: PostRecord['fwdFrom']): Api.MessageFwdHeader | undefined {
  if (!fwd) return undefined;
  return new Api.MessageFwdHeader({
    date: fwd.date,
    ...(fwd.fromUserId ? { fromId: new Api.PeerUser({ userId: long(fwd.fromUserId) }) } : {}),
    ...(fwd.fromChannelId ? { fromId: new Api.PeerChannel({ channelId: long(fwd.fromChannelId) }) } : {}),
    ...(fwd.channelPost ? { channelPost: fwd.channelPost } : {}),
  });
}

function copyIdOf(ctx: WorldContext, postId: number, userId: number): number | undefined {
  return ctx.state.posts[postId]?.copies.find(([uid]) => uid === userId)?.[1];
}

/** One account's copy of a message, as that account sees it. */
export function apiMessage(ctx: WorldContext, userId: number, msgId: number): Api.TypeMessage {
  const box = getBox(ctx, userId);
  const copy = box.messages[msgId];
  if (!copy) return new Api.MessageEmpty({ id: msgId });
  const post = ctx.state.posts[copy.postId];
  const { kind } = parsePeerKey(copy.peer);
  const fromId = kind === 'u' ? undefined : new Api.PeerUser({ userId: long(post.fromId) });
  const base = {
    id: copy.id,
    peerId: peerToApi(copy.peer),
    date: post.date,
    out: copy.out,
    ...(fromId ? { fromId } : {}),
  };
  if (post.action)
    return new Api.MessageService({ ...base, action: decodeTl<Api.TypeMessageAction>(post.action) });
  const replyToId = post.replyToPostId !== undefined ? copyIdOf(ctx, post.replyToPostId, userId) : undefined;
  const reactions = apiReactions(userId, post.reactions);
  return new Api.Message({
    ...base,
    message: post.text,
    ...(post.entities.length ? { entities: decodeTlList<Api.TypeMessageEntity>(post.entities) } : {}),
    ...(replyToId !== undefined ? { replyTo: new Api.MessageReplyHeader({ replyToMsgId: replyToId }) } : {}),
    ...(post.fwdFrom ? { fwdFrom: apiFwd(post.fwdFrom) } : {}),
    ...(post.editDate ? { editDate: post.editDate } : {}),
    ...(reactions ? { reactions } : {}),
    ...messageMedia(ctx, userId, post),
    pinned: post.pinned,
    silent: post.silent,
  });
}

/** The media and grouped_id fields of a message as one viewer sees it. */
function messageMedia(
  ctx: WorldContext,
  viewerId: number,
  record: Pick<PostRecord, 'media' | 'groupedId'>,
): { media?: Api.TypeMessageMedia; groupedId?: Long } {
  return {
    ...(record.media ? { media: apiMessageMedia(ctx, viewerId, record.media) } : {}),
    ...(record.groupedId ? { groupedId: long(record.groupedId) } : {}),
  };
}

export function apiChannelMessage(
  ctx: WorldContext,
  viewerId: number,
  channel: ChannelRecord,
  msgId: number,
): Api.TypeMessage {
  const msg = channel.messages[msgId];
  if (!msg) return new Api.MessageEmpty({ id: msgId, peerId: peerToApi(peerKey('h', channel.id)) });
  const base = {
    id: msg.id,
    peerId: peerToApi(peerKey('h', channel.id)),
    date: msg.date,
    out: msg.fromId === viewerId,
    post: msg.post,
    ...(msg.fromId && !msg.post ? { fromId: new Api.PeerUser({ userId: long(msg.fromId) }) } : {}),
  };
  if (msg.action)
    return new Api.MessageService({ ...base, action: decodeTl<Api.TypeMessageAction>(msg.action) });
  const reactions = apiReactions(viewerId, msg.reactions);
  return new Api.Message({
    ...base,
    message: msg.text,
    ...(msg.entities.length ? { entities: decodeTlList<Api.TypeMessageEntity>(msg.entities) } : {}),
    ...(msg.replyToId ? { replyTo: new Api.MessageReplyHeader({ replyToMsgId: msg.replyToId }) } : {}),
    ...(msg.fwdFrom ? { fwdFrom: apiFwd(msg.fwdFrom) } : {}),
    ...(msg.editDate ? { editDate: msg.editDate } : {}),
    ...(reactions ? { reactions } : {}),
    ...messageMedia(ctx, viewerId, msg),
    pinned: msg.pinned,
    silent: msg.silent,
  });
}

export function apiChatParticipants(chat: ChatRecord): Api.ChatParticipants {
  return new Api.ChatParticipants({
    chatId: long(chat.id),
    version: chat.version,
    participants: chat.participants.map((p) =>
      p.userId === chat.creatorId
        ? new Api.ChatParticipantCreator({ userId: long(p.userId) })
        : p.admin
          ? new Api.ChatParticipantAdmin({
              userId: long(p.userId),
              inviterId: long(p.inviterId),
              date: p.date,
            })
          : new Api.ChatParticipant({ userId: long(p.userId), inviterId: long(p.inviterId), date: p.date }),
    ),
  });
}

export function apiChannelParticipant(
  channel: ChannelRecord,
  userId: number,
  viewerId: number,
): Api.TypeChannelParticipant {
  const p = channel.participants[userId];
  if (!p || p.left) throw new RpcError(400, 'USER_NOT_PARTICIPANT');
  if (userId === channel.creatorId)
    return new Api.ChannelParticipantCreator({
      userId: long(userId),
      adminRights: adminRightsToApi(FULL_ADMIN_RIGHTS),
    });
  if (p.banned) {
    return new Api.ChannelParticipantBanned({
      peer: new Api.PeerUser({ userId: long(userId) }),
      kickedBy: long(p.banned.kickedBy),
      date: p.banned.date,
      bannedRights: new Api.ChatBannedRights({
        viewMessages: p.banned.viewMessages,
        untilDate: p.banned.untilDate,
      }),
    });
  }
  if (p.adminRights) {
    return new Api.ChannelParticipantAdmin({
      userId: long(userId),
      promotedBy: long(p.promotedBy ?? channel.creatorId),
      date: p.date,
      adminRights: adminRightsToApi(p.adminRights),
      ...(p.rank ? { rank: p.rank } : {}),
      // `self` and `inviter_id` share flags.1 in the schema: setting one without the other
      // misaligns the client's reader (and corrupts its shared parser state).
      self: viewerId === userId,
      inviterId: long(p.inviterId),
    });
  }
  if (viewerId === userId)
    return new Api.ChannelParticipantSelf({
      userId: long(userId),
      inviterId: long(p.inviterId),
      date: p.date,
    });
  return new Api.ChannelParticipant({ userId: long(userId), date: p.date });
}

export function apiInvite(ctx: WorldContext, hash: string): Api.ChatInviteExported {
  const invite = ctx.state.invites[hash];
  return new Api.ChatInviteExported({
    link: `https://t.me/+${hash}`,
    adminId: long(invite.adminId),
    date: invite.date,
    usage: invite.usage,
    revoked: invite.revoked,
  });
}

export function renderPeerMessage(
  ctx: WorldContext,
  userId: number,
  peer: PeerKey,
  msgId: number,
): Api.TypeMessage {
  const { kind, id } = parsePeerKey(peer);
  return kind === 'h'
    ? apiChannelMessage(ctx, userId, getChannel(ctx, id), msgId)
    : apiMessage(ctx, userId, msgId);
}
