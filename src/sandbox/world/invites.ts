/**
 * Invite links to basic groups and channels: exporting, checking and joining by them.
 */
import { Api } from 'teleproto';
import { randomBytes } from 'node:crypto';
import { RpcError } from '../contract.js';
import type { PeerKey } from './state.js';
import { long, now, parsePeerKey } from './tl.js';
import type { WorldContext, Origin } from './context.js';
import {
  channelMembers,
  chatMember,
  getChannel,
  getChat,
  isChannelMember,
  requireChannelRight,
} from './lookups.js';
import { apiChannel, apiChat, apiInvite } from './views.js';
import { sendMessage } from './messages-send.js';
import { pushChatParticipants } from './groups.js';
import { joinChannel } from './channels.js';

export function exportInvite(ctx: WorldContext, userId: number, peer: PeerKey): Api.ChatInviteExported {
  const { kind, id } = parsePeerKey(peer);
  if (kind === 'c') {
    const chat = getChat(ctx, id);
    if (!chatMember(chat, userId)) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
  } else if (kind === 'h') {
    requireChannelRight(getChannel(ctx, id), userId, 'inviteUsers');
  } else throw new RpcError(400, 'PEER_ID_INVALID');
  const hash = randomBytes(12).toString('base64url');
  ctx.state.invites[hash] = { hash, peer, adminId: userId, date: now(), revoked: false, usage: 0 };
  ctx.changed();
  return apiInvite(ctx, hash);
}

function findInvite(ctx: WorldContext, hashInput: string): { hash: string; peer: PeerKey } {
  const hash = hashInput.replace(/^(https?:\/\/)?t\.me\/(\+|joinchat\/)/, '');
  const invite = ctx.state.invites[hash];
  if (!invite) throw new RpcError(400, 'INVITE_HASH_INVALID');
  if (invite.revoked) throw new RpcError(400, 'INVITE_HASH_EXPIRED');
  return invite;
}

export function checkInvite(ctx: WorldContext, userId: number, hashInput: string): Api.TypeChatInvite {
  const { peer } = findInvite(ctx, hashInput);
  const { kind, id } = parsePeerKey(peer);
  if (kind === 'c') {
    const chat = getChat(ctx, id);
    if (chatMember(chat, userId)) return new Api.ChatInviteAlready({ chat: apiChat(ctx, userId, id) });
    return new Api.ChatInvite({
      title: chat.title,
      photo: new Api.PhotoEmpty({ id: long(0) }),
      participantsCount: chat.participants.length,
      color: 0,
    });
  }
  const channel = getChannel(ctx, id);
  if (isChannelMember(channel, userId))
    return new Api.ChatInviteAlready({ chat: apiChannel(ctx, userId, id) });
  return new Api.ChatInvite({
    channel: true,
    broadcast: !channel.megagroup,
    megagroup: channel.megagroup,
    public: channel.username !== undefined,
    title: channel.title,
    about: channel.about,
    photo: new Api.PhotoEmpty({ id: long(0) }),
    participantsCount: channelMembers(channel).length,
    color: 0,
  });
}

export function importInvite(
  ctx: WorldContext,
  userId: number,
  hashInput: string,
  origin?: Origin,
): Api.TypeUpdates {
  const { hash, peer } = findInvite(ctx, hashInput);
  const { kind, id } = parsePeerKey(peer);
  ctx.state.invites[hash].usage++;
  if (kind === 'c') {
    const chat = getChat(ctx, id);
    if (chatMember(chat, userId)) throw new RpcError(400, 'USER_ALREADY_PARTICIPANT');
    const date = now();
    chat.participants.push({ userId, inviterId: ctx.state.invites[hash].adminId, date, admin: false });
    chat.version++;
    pushChatParticipants(
      ctx,
      chat,
      new Api.UpdateChatParticipantAdd({
        chatId: long(id),
        userId: long(userId),
        inviterId: long(ctx.state.invites[hash].adminId),
        date,
        version: chat.version,
      }),
    );
    return sendMessage(
      ctx,
      userId,
      peer,
      {
        text: '',
        action: new Api.MessageActionChatJoinedByLink({
          inviterId: long(ctx.state.invites[hash].adminId),
        }),
      },
      origin,
    ).result;
  }
  return joinChannel(ctx, userId, id, userId, origin);
}
