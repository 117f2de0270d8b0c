/**
 * Finding world records (users, boxes, chats, channels, own message copies) and the
 * membership and admin-right checks every other part makes first.
 */
import { RpcError } from '../contract.js';
import type {
  AccountBox,
  AdminRights,
  ChannelRecord,
  ChatRecord,
  MessageCopy,
  PeerKey,
  PostRecord,
  UserRecord,
} from './state.js';
import { FULL_ADMIN_RIGHTS } from './tl.js';
import type { WorldContext } from './context.js';

export function getUser(ctx: WorldContext, id: number): UserRecord {
  const user = ctx.state.users[id];
  if (!user) throw new RpcError(400, 'USER_ID_INVALID');
  return user;
}

export function findUser(ctx: WorldContext, id: number): UserRecord | undefined {
  return ctx.state.users[id];
}

export function userByPhone(ctx: WorldContext, phone: string): UserRecord | undefined {
  const normalized = normalizePhone(phone);
  return Object.values(ctx.state.users).find((user) => user.phone === normalized);
}

export function userByUsername(ctx: WorldContext, username: string): UserRecord | undefined {
  const wanted = username.replace(/^@/, '').toLowerCase();
  return Object.values(ctx.state.users).find((user) => user.username?.toLowerCase() === wanted);
}

export function channelByUsername(ctx: WorldContext, username: string): ChannelRecord | undefined {
  const wanted = username.replace(/^@/, '').toLowerCase();
  return Object.values(ctx.state.channels).find((channel) => channel.username?.toLowerCase() === wanted);
}

export function getBox(ctx: WorldContext, userId: number): AccountBox {
  const box = ctx.state.boxes[userId];
  if (!box) throw new RpcError(400, 'USER_ID_INVALID');
  return box;
}

export function getChat(ctx: WorldContext, chatId: number): ChatRecord {
  const chat = ctx.state.chats[chatId];
  if (!chat) throw new RpcError(400, 'CHAT_ID_INVALID');
  return chat;
}

export function getChannel(ctx: WorldContext, channelId: number): ChannelRecord {
  const channel = ctx.state.channels[channelId];
  if (!channel) throw new RpcError(400, 'CHANNEL_INVALID');
  return channel;
}

export function channelMembers(channel: ChannelRecord): number[] {
  if (channel.deleted) return [];
  return Object.values(channel.participants)
    .filter((p) => !p.left && !p.banned)
    .map((p) => p.userId);
}

export function isChannelMember(channel: ChannelRecord, userId: number): boolean {
  if (channel.deleted) return false;
  const member = channel.participants[userId];
  return member !== undefined && !member.left && !member.banned;
}

/** Channels are readable by members, and public ones by anyone. */
export function readableChannel(ctx: WorldContext, userId: number, channelId: number): ChannelRecord {
  const channel = getChannel(ctx, channelId);
  if (isChannelMember(channel, userId)) return channel;
  if (channel.username && !channel.deleted && !channel.participants[userId]?.banned) return channel;
  throw new RpcError(400, 'CHANNEL_PRIVATE');
}

export function chatMember(chat: ChatRecord, userId: number): boolean {
  return chat.participants.some((p) => p.userId === userId);
}

export function channelRights(channel: ChannelRecord, userId: number): AdminRights | undefined {
  if (channel.creatorId === userId && isChannelMember(channel, userId)) return FULL_ADMIN_RIGHTS;
  const member = channel.participants[userId];
  return member && !member.left && !member.banned ? member.adminRights : undefined;
}

export function requireChannelRight(channel: ChannelRecord, userId: number, right: string): void {
  if (!channelRights(channel, userId)?.[right]) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
}

/** Resolves an account's own message id in a private chat or basic group. */
export function ownCopy(
  ctx: WorldContext,
  userId: number,
  peer: PeerKey,
  msgId: number,
): { copy: MessageCopy; post: PostRecord } {
  const copy = getBox(ctx, userId).messages[msgId];
  if (!copy || copy.peer !== peer) throw new RpcError(400, 'MESSAGE_ID_INVALID');
  return { copy, post: ctx.state.posts[copy.postId] };
}

export function normalizePhone(phone: string): string {
  return phone.replace(/[^\d]/g, '');
}
