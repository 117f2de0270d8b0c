/**
 * Reading: unread counts, read receipts (inbox and outbox) and message history listings.
 */
import { Api } from 'teleproto';
import type { AccountBox, ChannelRecord, MessageMediaRecord, PeerKey } from './state.js';
import { long, now, parsePeerKey, peerKey } from './tl.js';
import type { WorldContext, Origin } from './context.js';
import { getBox, readableChannel } from './lookups.js';
import { emitAccount, pushTo } from './updates.js';

/** Unread incoming messages per dialog, in one pass over the account's messages. */
/** Unread incoming messages per dialog, in one pass over the account's messages. */
export function unreadCounts(box: AccountBox): Map<PeerKey, number> {
  const counts = new Map<PeerKey, number>();
  for (const copy of Object.values(box.messages)) {
    if (copy.out || copy.id <= (box.dialogs[copy.peer]?.readInboxMaxId ?? 0)) continue;
    counts.set(copy.peer, (counts.get(copy.peer) ?? 0) + 1);
  }
  return counts;
}

export function unreadCount(box: AccountBox, peer: PeerKey): number {
  const readMax = box.dialogs[peer]?.readInboxMaxId ?? 0;
  let count = 0;
  for (const copy of Object.values(box.messages))
    if (copy.peer === peer && !copy.out && copy.id > readMax) count++;
  return count;
}

export function channelUnreadCount(channel: ChannelRecord, userId: number): number {
  const readMax = channel.readInbox[userId] ?? 0;
  return Object.values(channel.messages).filter((m) => m.id > readMax && m.fromId !== userId).length;
}

/** messages.readHistory: the reader's inbox and every sender's outbox move forward. */
export function readHistory(
  ctx: WorldContext,
  userId: number,
  peer: PeerKey,
  maxIdInput: number,
  origin?: Origin,
): Api.messages.AffectedMessages {
  const box = getBox(ctx, userId);
  const dialog = box.dialogs[peer];
  if (!dialog) return new Api.messages.AffectedMessages({ pts: box.pts, ptsCount: 0 });
  const maxId = maxIdInput <= 0 ? dialog.topId : Math.min(maxIdInput, dialog.topId);
  if (maxId <= dialog.readInboxMaxId) return new Api.messages.AffectedMessages({ pts: box.pts, ptsCount: 0 });
  const previous = dialog.readInboxMaxId;
  dialog.readInboxMaxId = maxId;
  const outboxMax = new Map<number, number>();
  for (const copy of Object.values(box.messages)) {
    if (copy.peer !== peer || copy.out || copy.id <= previous || copy.id > maxId) continue;
    const post = ctx.state.posts[copy.postId];
    const senderCopy = post.copies.find(([uid]) => uid === post.fromId);
    if (senderCopy) outboxMax.set(senderCopy[0], Math.max(outboxMax.get(senderCopy[0]) ?? 0, senderCopy[1]));
  }
  const emitted = emitAccount(
    ctx,
    userId,
    1,
    { kind: 'readInbox', peer, maxId, stillUnread: unreadCount(box, peer) },
    origin,
  );
  for (const [senderId, senderMax] of outboxMax) {
    const senderBox = getBox(ctx, senderId);
    const senderPeer = parsePeerKey(peer).kind === 'u' ? peerKey('u', userId) : peer;
    const senderDialog = senderBox.dialogs[senderPeer];
    if (!senderDialog || senderMax <= senderDialog.readOutboxMaxId) continue;
    senderDialog.readOutboxMaxId = senderMax;
    emitAccount(ctx, senderId, 1, { kind: 'readOutbox', peer: senderPeer, maxId: senderMax });
  }
  ctx.changed();
  return new Api.messages.AffectedMessages({ pts: emitted.logged.pts, ptsCount: 1 });
}

export function readChannelHistory(
  ctx: WorldContext,
  userId: number,
  channelId: number,
  maxIdInput: number,
  origin?: Origin,
): boolean {
  const channel = readableChannel(ctx, userId, channelId);
  const top = channel.nextMessageId - 1;
  const maxId = maxIdInput <= 0 ? top : Math.min(maxIdInput, top);
  const previous = channel.readInbox[userId] ?? 0;
  if (maxId <= previous) return true;
  channel.readInbox[userId] = maxId;
  ctx.changed();
  const date = now();
  pushTo(
    ctx,
    userId,
    new Api.UpdateShort({
      update: new Api.UpdateReadChannelInbox({
        channelId: long(channelId),
        maxId,
        stillUnreadCount: channelUnreadCount(channel, userId),
        pts: channel.pts,
      }),
      date,
    }),
    origin?.keyId,
  );
  const senders = new Set<number>();
  for (const msg of Object.values(channel.messages)) {
    if (msg.id > previous && msg.id <= maxId && msg.fromId && msg.fromId !== userId) senders.add(msg.fromId);
  }
  for (const senderId of senders) {
    pushTo(
      ctx,
      senderId,
      new Api.UpdateShort({
        update: new Api.UpdateReadChannelOutbox({ channelId: long(channelId), maxId }),
        date,
      }),
    );
  }
  return true;
}

/** The peer key of a private-chat partner, group or channel, checked for access. */
export interface HistoryItem {
  id: number;
  date: number;
  text: string;
  fromId?: number;
  pinned: boolean;
  media?: MessageMediaRecord;
}

export function historyOf(ctx: WorldContext, userId: number, peer: PeerKey): HistoryItem[] {
  const { kind, id } = parsePeerKey(peer);
  if (kind === 'h') {
    const channel = readableChannel(ctx, userId, id);
    return Object.values(channel.messages).map((m) => ({
      id: m.id,
      date: m.date,
      text: m.text,
      pinned: m.pinned,
      ...(m.fromId ? { fromId: m.fromId } : {}),
      ...(m.media ? { media: m.media } : {}),
    }));
  }
  const box = getBox(ctx, userId);
  return Object.values(box.messages)
    .filter((copy) => copy.peer === peer)
    .map((copy) => {
      const post = ctx.state.posts[copy.postId];
      return {
        id: copy.id,
        date: post.date,
        text: post.text,
        fromId: post.fromId,
        pinned: post.pinned,
        ...(post.media ? { media: post.media } : {}),
      };
    });
}
