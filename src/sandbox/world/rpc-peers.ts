/** Turning the client's Input* peers into world peer keys, with Telegram's errors. */
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { PeerKey } from './state.js';
import type { World } from './world.js';
import { num, peerKey } from './tl.js';

function checkUserHash(world: World, userId: number, accessHash: unknown, error = 'PEER_ID_INVALID'): number {
  const user = world.findUser(userId);
  if (!user || String(accessHash ?? '') !== user.accessHash) throw new RpcError(400, error);
  return userId;
}

function checkChannelHash(world: World, channelId: number, accessHash: unknown): number {
  const channel = world.state.channels[channelId];
  if (!channel || String(accessHash ?? '') !== channel.accessHash) throw new RpcError(400, 'CHANNEL_INVALID');
  return channelId;
}

export function resolvePeer(world: World, viewerId: number, input: unknown): PeerKey {
  if (input instanceof Api.InputPeerSelf) return peerKey('u', viewerId);
  if (input instanceof Api.InputPeerUser)
    return peerKey('u', checkUserHash(world, num(input.userId), input.accessHash));
  if (input instanceof Api.InputPeerChat) {
    world.chat(num(input.chatId));
    return peerKey('c', num(input.chatId));
  }
  if (input instanceof Api.InputPeerChannel)
    return peerKey('h', checkChannelHash(world, num(input.channelId), input.accessHash));
  if (input instanceof Api.InputPeerUserFromMessage) return peerKey('u', num(input.userId));
  if (input instanceof Api.InputPeerChannelFromMessage) return peerKey('h', num(input.channelId));
  if (input instanceof Api.InputUserSelf) return peerKey('u', viewerId);
  if (input instanceof Api.InputUser)
    return peerKey('u', checkUserHash(world, num(input.userId), input.accessHash));
  if (input instanceof Api.InputChannel)
    return peerKey('h', checkChannelHash(world, num(input.channelId), input.accessHash));
  if (input instanceof Api.InputDialogPeer) return resolvePeer(world, viewerId, input.peer);
  throw new RpcError(400, 'PEER_ID_INVALID');
}

export function resolveUser(world: World, viewerId: number, input: unknown): number {
  if (input instanceof Api.InputUserSelf || input instanceof Api.InputPeerSelf) return viewerId;
  if (input instanceof Api.InputUser || input instanceof Api.InputPeerUser) {
    return checkUserHash(world, num(input.userId), input.accessHash, 'USER_ID_INVALID');
  }
  if (input instanceof Api.InputUserFromMessage || input instanceof Api.InputPeerUserFromMessage)
    return num(input.userId);
  throw new RpcError(400, 'USER_ID_INVALID');
}

export function resolveChannel(world: World, viewerId: number, input: unknown): number {
  if (input instanceof Api.InputChannel || input instanceof Api.InputPeerChannel)
    return checkChannelHash(world, num(input.channelId), input.accessHash);
  if (input instanceof Api.InputChannelFromMessage || input instanceof Api.InputPeerChannelFromMessage)
    return num(input.channelId);
  throw new RpcError(400, 'CHANNEL_INVALID');
}
