/**
 * The refusals Telegram gives for reasons other than a malformed request: a spam-restricted
 * account (PEER_FLOOD), content protection (CHAT_FORWARDS_RESTRICTED), the edit time limit
 * (MESSAGE_EDIT_TIME_EXPIRED), and the control API's switches that bring them about.
 * Error names and codes: core.telegram.org/method/messages.sendMessage,
 * /method/messages.forwardMessages, /method/messages.editMessage, /api/errors.
 */
import { RpcError } from '../contract.js';
import type { PeerKey } from './state.js';
import { parsePeerKey } from './tl.js';
import type { WorldContext } from './context.js';
import { getChannel, getChat, getUser, ownCopy } from './lookups.js';

/** help.getConfig's edit_time_limit: own messages in private chats and basic groups can be
 * edited for 48 hours (core.telegram.org/constructor/config). */
export const EDIT_TIME_LIMIT_SECONDS = 172_800;

/**
 * A spam-restricted account cannot start writing to people who do not have it as a contact:
 * 400 PEER_FLOOD (core.telegram.org/method/messages.sendMessage). Mutual contacts still work.
 */
export function checkPeerFlood(ctx: WorldContext, fromId: number, toUserId: number): void {
  if (fromId === toUserId || !getUser(ctx, fromId).peerFlood) return;
  if (!getUser(ctx, toUserId).contacts.includes(fromId)) throw new RpcError(400, 'PEER_FLOOD');
}

/** Forwarding out of a chat with content protection: 406 CHAT_FORWARDS_RESTRICTED. */
export function checkForwardable(ctx: WorldContext, fromPeer: PeerKey): void {
  const { kind, id } = parsePeerKey(fromPeer);
  const restricted =
    kind === 'h' ? getChannel(ctx, id).noforwards : kind === 'c' ? getChat(ctx, id).noforwards : false;
  if (restricted) throw new RpcError(406, 'CHAT_FORWARDS_RESTRICTED');
}

/** Own messages older than edit_time_limit: 400 MESSAGE_EDIT_TIME_EXPIRED. */
export function checkEditTime(date: number, now: number): void {
  if (now - date >= EDIT_TIME_LIMIT_SECONDS) throw new RpcError(400, 'MESSAGE_EDIT_TIME_EXPIRED');
}

export function setPeerFlood(ctx: WorldContext, userId: number, on: boolean): void {
  getUser(ctx, userId).peerFlood = on || undefined;
  ctx.changed();
}

export function setNoforwards(ctx: WorldContext, peer: PeerKey, on: boolean): void {
  const { kind, id } = parsePeerKey(peer);
  const record = kind === 'h' ? getChannel(ctx, id) : getChat(ctx, id);
  record.noforwards = on || undefined;
  ctx.changed();
}

/**
 * Moves a message's date back by `seconds`, as if it had been sent that long ago (the sandbox's
 * clock is the machine's, so tests age messages instead of waiting two days).
 */
export function ageMessage(
  ctx: WorldContext,
  userId: number,
  peer: PeerKey,
  msgId: number,
  seconds: number,
): void {
  const { kind, id } = parsePeerKey(peer);
  if (kind === 'h') {
    const msg = getChannel(ctx, id).messages[msgId];
    if (!msg) throw new RpcError(400, 'MESSAGE_ID_INVALID');
    msg.date -= seconds;
  } else {
    ownCopy(ctx, userId, peer, msgId).post.date -= seconds;
  }
  ctx.changed();
}
