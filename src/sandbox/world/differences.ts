/**
 * updates.getState, updates.getDifference and updates.getChannelDifference: catching up
 * on the pts logs.
 */
import { Api } from 'teleproto';
import type { ChannelRecord } from './state.js';
import { long, peerKey, peerToApi } from './tl.js';
import type { WorldContext } from './context.js';
import { getBox, isChannelMember, readableChannel } from './lookups.js';
import { apiChannelMessage, apiMessage } from './views.js';
import { renderAccountEntry, renderChannelEntry } from './updates.js';
import { channelUnreadCount, unreadCounts } from './messages-read.js';
import { collectEntities } from './entities.js';

export function getState(ctx: WorldContext, userId: number): Api.updates.State {
  const box = getBox(ctx, userId);
  let unread = 0;
  for (const count of unreadCounts(box).values()) unread += count;
  // The date also covers channel activity, so a client that passes it back is not hinted
  // (updateChannelTooLong) about channel events it was already told of.
  let date = box.date;
  for (const channel of Object.values(ctx.state.channels)) {
    const last = channel.log[channel.log.length - 1];
    if (last && last.date > date && isChannelMember(channel, userId)) date = last.date;
  }
  return new Api.updates.State({ pts: box.pts, qts: 0, date, seq: box.seq, unreadCount: unread });
}

export function getDifference(
  ctx: WorldContext,
  userId: number,
  pts: number,
  date: number,
  ptsTotalLimit?: number,
): Api.updates.TypeDifference {
  const box = getBox(ctx, userId);
  const state = getState(ctx, userId);
  const channelHints = channelsActiveSince(ctx, userId, date);
  if (pts >= box.pts && channelHints.length === 0)
    return new Api.updates.DifferenceEmpty({ date: state.date, seq: state.seq });
  if (pts < box.logStartPts) return new Api.updates.DifferenceTooLong({ pts: box.pts });
  const limit = Math.max(
    1,
    Math.min(ptsTotalLimit && ptsTotalLimit > 0 ? ptsTotalLimit : Infinity, ctx.options.differenceSliceSize),
  );
  const pending = box.log.filter((entry) => entry.pts > pts);
  const taken = pending.slice(0, limit);
  const sliced = taken.length < pending.length;
  const newMessages: Api.TypeMessage[] = [];
  const otherUpdates: Api.TypeUpdate[] = [];
  const entities = collectEntities(ctx, userId).addUser(userId);
  for (const entry of taken) {
    if (entry.kind === 'new') {
      const message = apiMessage(ctx, userId, entry.msgId);
      if (message instanceof Api.MessageEmpty) continue;
      newMessages.push(message);
      entities.addMessageCopy(box.messages[entry.msgId]);
      continue;
    }
    const update = renderAccountEntry(ctx, userId, entry);
    if (!update) continue;
    otherUpdates.push(update);
    if (entry.kind === 'edit') entities.addMessageCopy(box.messages[entry.msgId]);
    if ('peer' in entry) entities.addPeer(entry.peer);
  }
  if (!sliced) {
    for (const channel of channelHints) {
      otherUpdates.push(new Api.UpdateChannelTooLong({ channelId: long(channel.id), pts: channel.pts }));
      entities.addChannel(channel.id);
    }
  }
  const last = taken[taken.length - 1];
  const reached = last ? last.pts : Math.max(pts, box.pts);
  const resultState = new Api.updates.State({
    pts: sliced ? reached : box.pts,
    qts: 0,
    date: sliced && last ? last.date : state.date,
    seq: state.seq,
    unreadCount: state.unreadCount,
  });
  const common = { newMessages, newEncryptedMessages: [], otherUpdates, ...entities.build() };
  return sliced
    ? new Api.updates.DifferenceSlice({ ...common, intermediateState: resultState })
    : new Api.updates.Difference({ ...common, state: resultState });
}

/** Per world: "userId:channelId" -> the channel pts getChannelDifference last handed over. */
const handedOver = new WeakMap<WorldContext, Map<string, number>>();

function noteHandedOver(ctx: WorldContext, userId: number, channelId: number, pts: number): void {
  let map = handedOver.get(ctx);
  if (!map) handedOver.set(ctx, (map = new Map()));
  map.set(`${userId}:${channelId}`, pts);
}

/**
 * Channels of the account with events since `date`: getDifference hints them with
 * updateChannelTooLong, as Telegram does, so the client runs getChannelDifference
 * (core.telegram.org/api/updates, "Recovering gaps"). Dates are in seconds: an event in the
 * very second of `date` is hinted too unless the account has fetched the channel's difference
 * since, or one posted just after the client's state would be lost to it.
 */
function channelsActiveSince(ctx: WorldContext, userId: number, date: number): ChannelRecord[] {
  if (date <= 0) return [];
  const handed = handedOver.get(ctx);
  return Object.values(ctx.state.channels).filter((channel) => {
    const last = channel.log[channel.log.length - 1];
    if (!last || !isChannelMember(channel, userId)) return false;
    if (last.date > date) return true;
    return last.date === date && (handed?.get(`${userId}:${channel.id}`) ?? 0) < channel.pts;
  });
}

export function getChannelDifference(
  ctx: WorldContext,
  userId: number,
  channelId: number,
  pts: number,
  limitInput: number,
): Api.updates.TypeChannelDifference {
  const channel = readableChannel(ctx, userId, channelId);
  if (pts >= channel.pts) {
    noteHandedOver(ctx, userId, channelId, channel.pts);
    return new Api.updates.ChannelDifferenceEmpty({ final: true, pts: channel.pts, timeout: 30 });
  }
  // A user may ask for 100 updates at most. More than that since `pts` (pts + limit < remote
  // pts) answers channelDifferenceTooLong with the dialog and the latest messages, and the
  // client refetches history (core.telegram.org/method/updates.getChannelDifference,
  // /constructor/updates.channelDifferenceTooLong). Gaps within the limit may still come in
  // slices of differenceSliceSize.
  const clientLimit = Math.max(1, Math.min(limitInput > 0 ? limitInput : 100, 100));
  const limit = Math.min(clientLimit, ctx.options.differenceSliceSize);
  if (pts < channel.logStartPts || pts <= 0 || pts + clientLimit < channel.pts) {
    const ids = Object.keys(channel.messages)
      .map(Number)
      .sort((a, b) => b - a)
      .slice(0, clientLimit);
    const entities = collectEntities(ctx, userId).addChannel(channelId);
    for (const mid of ids) entities.addChannelMessage(channel.messages[mid]);
    const top = ids[0] ?? 0;
    noteHandedOver(ctx, userId, channelId, channel.pts);
    return new Api.updates.ChannelDifferenceTooLong({
      final: true,
      timeout: 30,
      dialog: new Api.Dialog({
        peer: peerToApi(peerKey('h', channelId)),
        topMessage: top,
        readInboxMaxId: channel.readInbox[userId] ?? 0,
        readOutboxMaxId: top,
        unreadCount: channelUnreadCount(channel, userId),
        unreadMentionsCount: 0,
        unreadReactionsCount: 0,
        notifySettings: new Api.PeerNotifySettings({}),
        pts: channel.pts,
      }),
      messages: ids.map((mid) => apiChannelMessage(ctx, userId, channel, mid)),
      ...entities.build(),
    });
  }
  const pending = channel.log.filter((entry) => entry.pts > pts);
  const taken = pending.slice(0, limit);
  const final = taken.length === pending.length;
  const newMessages: Api.TypeMessage[] = [];
  const otherUpdates: Api.TypeUpdate[] = [];
  const entities = collectEntities(ctx, userId).addChannel(channelId);
  for (const entry of taken) {
    if (entry.kind === 'new') {
      const message = apiChannelMessage(ctx, userId, channel, entry.msgId);
      if (message instanceof Api.MessageEmpty) continue;
      newMessages.push(message);
      entities.addChannelMessage(channel.messages[entry.msgId]);
      continue;
    }
    const update = renderChannelEntry(ctx, userId, channel, entry);
    if (update) otherUpdates.push(update);
    if (entry.kind === 'edit') entities.addChannelMessage(channel.messages[entry.msgId]);
  }
  noteHandedOver(ctx, userId, channelId, taken[taken.length - 1].pts);
  return new Api.updates.ChannelDifference({
    final,
    pts: taken[taken.length - 1].pts,
    timeout: 30,
    newMessages,
    otherUpdates,
    ...entities.build(),
  });
}
