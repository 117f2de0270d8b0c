/** Turning the client's Input* peers into world peer keys, with Telegram's errors. */
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { PeerKey, PostRecord } from './state.js';
import type { World } from './world.js';
import { decodeTl, num, parsePeerKey, peerKey } from './tl.js';
import { viewerAccessHash } from './views.js';

// Access hashes are per viewer (https://core.telegram.org/api/peers): one another account
// received is refused like an unknown one.
function checkUserHash(
  world: World,
  viewerId: number,
  userId: number,
  accessHash: unknown,
  error = 'PEER_ID_INVALID',
): number {
  const user = world.findUser(userId);
  if (!user || String(accessHash ?? '') !== viewerAccessHash(user.accessHash, viewerId))
    throw new RpcError(400, error);
  return userId;
}

function checkChannelHash(world: World, viewerId: number, channelId: number, accessHash: unknown): number {
  const channel = world.state.channels[channelId];
  if (!channel || String(accessHash ?? '') !== viewerAccessHash(channel.accessHash, viewerId))
    throw new RpcError(400, 'CHANNEL_INVALID');
  return channelId;
}

type FromMessage =
  | Api.InputPeerUserFromMessage
  | Api.InputUserFromMessage
  | Api.InputPeerChannelFromMessage
  | Api.InputChannelFromMessage;

/** The users and channels a stored message names: its author, forward origin, action users. */
function mentionedIn(fromId: number | undefined, fwd: PostRecord['fwdFrom'], action?: string): PeerKey[] {
  const keys: PeerKey[] = [];
  if (fromId) keys.push(peerKey('u', fromId));
  if (fwd?.fromUserId) keys.push(peerKey('u', fwd.fromUserId));
  if (fwd?.fromChannelId) keys.push(peerKey('h', fwd.fromChannelId));
  if (action) {
    const decoded = decodeTl<{ users?: unknown[]; userId?: unknown; inviterId?: unknown }>(action);
    for (const id of [...(decoded.users ?? []), decoded.userId, decoded.inviterId])
      if (id !== undefined) keys.push(peerKey('u', num(id)));
  }
  return keys;
}

/**
 * A `min` peer named by the message the viewer saw it in (https://core.telegram.org/api/min,
 * inputPeerUserFromMessage / inputPeerChannelFromMessage): the chat must be one the viewer can
 * read, and the message there must name the peer; otherwise the peer is refused like an
 * unknown one.
 */
function checkFromMessage(world: World, viewerId: number, input: FromMessage, error: string): PeerKey {
  const wanted = 'userId' in input ? peerKey('u', num(input.userId)) : peerKey('h', num(input.channelId));
  let chat: PeerKey;
  try {
    chat = resolvePeer(world, viewerId, input.peer);
  } catch {
    throw new RpcError(400, error);
  }
  const { kind, id } = parsePeerKey(chat);
  let mentioned: PeerKey[] = [];
  if (kind === 'h') {
    const channel = world.state.channels[id];
    const readable = channel && (world.isChannelMember(channel, viewerId) || channel.username);
    const msg = readable ? channel.messages[input.msgId] : undefined;
    if (msg) mentioned = mentionedIn(msg.fromId, msg.fwdFrom, msg.action);
  } else {
    const copy = world.state.boxes[viewerId]?.messages[input.msgId];
    const post = copy?.peer === chat ? world.state.posts[copy.postId] : undefined;
    if (post) mentioned = mentionedIn(post.fromId, post.fwdFrom, post.action);
  }
  if (!mentioned.includes(wanted)) throw new RpcError(400, error);
  return wanted;
}

export function resolvePeer(world: World, viewerId: number, input: unknown): PeerKey {
  if (input instanceof Api.InputPeerSelf) return peerKey('u', viewerId);
  if (input instanceof Api.InputPeerUser)
    return peerKey('u', checkUserHash(world, viewerId, num(input.userId), input.accessHash));
  if (input instanceof Api.InputPeerChat) {
    world.chat(num(input.chatId));
    return peerKey('c', num(input.chatId));
  }
  if (input instanceof Api.InputPeerChannel)
    return peerKey('h', checkChannelHash(world, viewerId, num(input.channelId), input.accessHash));
  if (input instanceof Api.InputPeerUserFromMessage || input instanceof Api.InputPeerChannelFromMessage)
    return checkFromMessage(world, viewerId, input, 'PEER_ID_INVALID');
  if (input instanceof Api.InputUserSelf) return peerKey('u', viewerId);
  if (input instanceof Api.InputUser)
    return peerKey('u', checkUserHash(world, viewerId, num(input.userId), input.accessHash));
  if (input instanceof Api.InputChannel)
    return peerKey('h', checkChannelHash(world, viewerId, num(input.channelId), input.accessHash));
  if (input instanceof Api.InputDialogPeer) return resolvePeer(world, viewerId, input.peer);
  throw new RpcError(400, 'PEER_ID_INVALID');
}

export function resolveUser(world: World, viewerId: number, input: unknown): number {
  if (input instanceof Api.InputUserSelf || input instanceof Api.InputPeerSelf) return viewerId;
  if (input instanceof Api.InputUser || input instanceof Api.InputPeerUser) {
    return checkUserHash(world, viewerId, num(input.userId), input.accessHash, 'USER_ID_INVALID');
  }
  if (input instanceof Api.InputUserFromMessage || input instanceof Api.InputPeerUserFromMessage)
    return parsePeerKey(checkFromMessage(world, viewerId, input, 'USER_ID_INVALID')).id;
  throw new RpcError(400, 'USER_ID_INVALID');
}

export function resolveChannel(world: World, viewerId: number, input: unknown): number {
  if (input instanceof Api.InputChannel || input instanceof Api.InputPeerChannel)
    return checkChannelHash(world, viewerId, num(input.channelId), input.accessHash);
  if (input instanceof Api.InputChannelFromMessage || input instanceof Api.InputPeerChannelFromMessage)
    return parsePeerKey(checkFromMessage(world, viewerId, input, 'CHANNEL_INVALID')).id;
  throw new RpcError(400, 'CHANNEL_INVALID');
}
