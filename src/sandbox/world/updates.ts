/**
 * Pts logs and pushes: every pts event is appended to the account's (or channel's) log,
 * rendered per viewer and pushed to the viewer's connections except the caller's.
 */
import { Api } from 'teleproto';
import type { AccountBox, AccountLogEntry, ChannelLogEntry, ChannelRecord } from './state.js';
import { long, now, peerToApi } from './tl.js';
import type { WorldContext, Origin, DistributiveOmit } from './context.js';
import { channelMembers, getBox } from './lookups.js';
import { keysOf } from './authorizations.js';
import { apiChannelMessage, apiMessage } from './views.js';
import { EntityCollector, collectEntities } from './entities.js';

export function pushTo(
  ctx: WorldContext,
  userId: number,
  updates: Api.TypeUpdates,
  exceptKey?: bigint,
): void {
  if (ctx.pushBatch) {
    ctx.pushBatch.push({ userId, updates, exceptKey });
    return;
  }
  const numbered = exceptKey === undefined ? withSeq(ctx, userId, updates) : updates;
  if (!ctx.sink) return;
  const keys = keysOf(ctx, userId).filter((key) => key !== exceptKey);
  if (keys.length) ctx.sink.push(keys, numbered);
}

/**
 * Runs `send` with its pushes held back, then pushes what each connection would have got as one
 * Updates: an album (messages.sendMultiMedia) reaches the other side as one batch, as on
 * Telegram. Short updates (which cannot be merged) still go one by one.
 */
export function batchPushes<T>(ctx: WorldContext, send: () => T): T {
  if (ctx.pushBatch) return send();
  const batch: NonNullable<WorldContext['pushBatch']> = [];
  ctx.pushBatch = batch;
  try {
    return send();
  } finally {
    ctx.pushBatch = undefined;
    const groups = new Map<string, typeof batch>();
    for (const push of batch) {
      const key = `${push.userId}:${String(push.exceptKey)}`;
      groups.set(key, [...(groups.get(key) ?? []), push]);
    }
    for (const pushes of groups.values()) {
      const { userId, exceptKey } = pushes[0];
      if (pushes.every((p) => p.updates instanceof Api.Updates))
        pushTo(ctx, userId, mergeUpdates(pushes.map((p) => p.updates)), exceptKey);
      else for (const push of pushes) pushTo(ctx, userId, push.updates, exceptKey);
    }
  }
}

/** Several Updates as one: their updates in order, users and chats once each. */
export function mergeUpdates(results: Api.TypeUpdates[]): Api.Updates {
  const updates: Api.TypeUpdate[] = [];
  const users: Api.TypeUser[] = [];
  const chats: Api.TypeChat[] = [];
  let date = now();
  for (const result of results) {
    if (!(result instanceof Api.Updates)) continue;
    updates.push(...result.updates);
    users.push(...result.users);
    chats.push(...result.chats);
    date = result.date;
  }
  return new Api.Updates({ updates, users: dedupe(users), chats: dedupe(chats), date, seq: 0 });
}

function dedupe<T extends { id?: unknown }>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = `${(item as { className?: string }).className}:${String(item.id)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * `updates` and `updatesCombined` outside channels are numbered per account with seq (and
 * seq_start), so a client can tell one went missing (core.telegram.org/api/updates, "Update
 * sequence": seq is the number of sent updates; updates of channels, ordered by their own pts,
 * and the short forms carry none). The echo of a call to the caller's other authorizations
 * goes unnumbered (seq 0, which the protocol allows): the calling connection never sees it, so
 * numbering it would show that connection a gap that is none.
 */
function withSeq(ctx: WorldContext, userId: number, updates: Api.TypeUpdates): Api.TypeUpdates {
  if (!(updates instanceof Api.Updates || updates instanceof Api.UpdatesCombined)) return updates;
  if (updates.updates.length === 0 || updates.updates.every(isChannelScoped)) return updates;
  const box = getBox(ctx, userId);
  box.seq += 1;
  ctx.changed();
  const common = { updates: updates.updates, users: updates.users, chats: updates.chats, date: updates.date };
  return updates instanceof Api.UpdatesCombined
    ? new Api.UpdatesCombined({ ...common, seqStart: box.seq, seq: box.seq })
    : new Api.Updates({ ...common, seq: box.seq });
}

function isChannelScoped(update: Api.TypeUpdate): boolean {
  if ('channelId' in update && update.channelId !== undefined) return true;
  const message = (update as { message?: unknown }).message;
  return message instanceof Api.Message || message instanceof Api.MessageService
    ? message.peerId instanceof Api.PeerChannel
    : false;
}

/** Adds a pts event to an account's log (trimming old ones) and returns its pts. */
function logAccount(
  ctx: WorldContext,
  box: AccountBox,
  ptsCount: number,
  entry: DistributiveOmit<AccountLogEntry, 'pts' | 'ptsCount' | 'date'>,
): AccountLogEntry {
  box.pts += ptsCount;
  box.date = now();
  const full = { ...entry, pts: box.pts, ptsCount, date: box.date } as AccountLogEntry;
  box.log.push(full);
  if (box.log.length > ctx.options.logRetention) {
    const dropped = box.log.splice(0, box.log.length - ctx.options.logRetention);
    box.logStartPts = dropped[dropped.length - 1].pts;
  }
  return full;
}

function logChannel(
  ctx: WorldContext,
  channel: ChannelRecord,
  ptsCount: number,
  entry: DistributiveOmit<ChannelLogEntry, 'pts' | 'ptsCount' | 'date'>,
): ChannelLogEntry {
  channel.pts += ptsCount;
  const full = { ...entry, pts: channel.pts, ptsCount, date: now() } as ChannelLogEntry;
  channel.log.push(full);
  if (channel.log.length > ctx.options.logRetention) {
    const dropped = channel.log.splice(0, channel.log.length - ctx.options.logRetention);
    channel.logStartPts = dropped[dropped.length - 1].pts;
  }
  return full;
}

/** Renders one account log entry as the update the account receives (null: message gone). */
export function renderAccountEntry(
  ctx: WorldContext,
  userId: number,
  entry: AccountLogEntry,
): Api.TypeUpdate | null {
  const { pts, ptsCount } = entry;
  switch (entry.kind) {
    case 'new': {
      const message = apiMessage(ctx, userId, entry.msgId);
      return message instanceof Api.MessageEmpty
        ? null
        : new Api.UpdateNewMessage({ message, pts, ptsCount });
    }
    case 'edit': {
      const message = apiMessage(ctx, userId, entry.msgId);
      return message instanceof Api.MessageEmpty
        ? null
        : new Api.UpdateEditMessage({ message, pts, ptsCount });
    }
    case 'delete':
      return new Api.UpdateDeleteMessages({ messages: entry.ids, pts, ptsCount });
    case 'readInbox':
      return new Api.UpdateReadHistoryInbox({
        peer: peerToApi(entry.peer),
        maxId: entry.maxId,
        stillUnreadCount: entry.stillUnread,
        pts,
        ptsCount,
      });
    case 'readOutbox':
      return new Api.UpdateReadHistoryOutbox({
        peer: peerToApi(entry.peer),
        maxId: entry.maxId,
        pts,
        ptsCount,
      });
    case 'pin':
      return new Api.UpdatePinnedMessages({
        pinned: entry.pinned,
        peer: peerToApi(entry.peer),
        messages: entry.ids,
        pts,
        ptsCount,
      });
  }
}

export function renderChannelEntry(
  ctx: WorldContext,
  viewerId: number,
  channel: ChannelRecord,
  entry: ChannelLogEntry,
): Api.TypeUpdate | null {
  const { pts, ptsCount } = entry;
  const channelId = long(channel.id);
  switch (entry.kind) {
    case 'new': {
      const message = apiChannelMessage(ctx, viewerId, channel, entry.msgId);
      return message instanceof Api.MessageEmpty
        ? null
        : new Api.UpdateNewChannelMessage({ message, pts, ptsCount });
    }
    case 'edit': {
      const message = apiChannelMessage(ctx, viewerId, channel, entry.msgId);
      return message instanceof Api.MessageEmpty
        ? null
        : new Api.UpdateEditChannelMessage({ message, pts, ptsCount });
    }
    case 'delete':
      return new Api.UpdateDeleteChannelMessages({ channelId, messages: entry.ids, pts, ptsCount });
    case 'pin':
      return new Api.UpdatePinnedChannelMessages({
        channelId,
        messages: entry.ids,
        pinned: entry.pinned,
        pts,
        ptsCount,
      });
  }
}

/** Logs an account event and pushes it to the account's other connections. */
export function emitAccount(
  ctx: WorldContext,
  userId: number,
  ptsCount: number,
  entry: DistributiveOmit<AccountLogEntry, 'pts' | 'ptsCount' | 'date'>,
  origin?: Origin,
  extra: Api.TypeUpdate[] = [],
): { logged: AccountLogEntry; update: Api.TypeUpdate | null; entities: EntityCollector } {
  const box = getBox(ctx, userId);
  const logged = logAccount(ctx, box, ptsCount, entry);
  const update = renderAccountEntry(ctx, userId, logged);
  const entities = collectEntities(ctx, userId).addUser(userId);
  if (entry.kind === 'new' || entry.kind === 'edit') entities.addMessageCopy(box.messages[entry.msgId]);
  if ('peer' in entry) entities.addPeer(entry.peer);
  const short = ctx.options.shortMessageUpdates && !extra.length ? shortMessageUpdate(update) : undefined;
  if (short) pushTo(ctx, userId, short, origin?.keyId);
  else if (update || extra.length) {
    const updates = [...extra, ...(update ? [update] : [])];
    pushTo(
      ctx,
      userId,
      new Api.Updates({ updates, ...entities.build(), date: logged.date, seq: 0 }),
      origin?.keyId,
    );
  }
  return { logged, update, entities };
}

export function emitChannel(
  ctx: WorldContext,
  channel: ChannelRecord,
  ptsCount: number,
  entry: DistributiveOmit<ChannelLogEntry, 'pts' | 'ptsCount' | 'date'>,
  origin?: Origin & { userId?: number },
  recipients?: number[],
): ChannelLogEntry {
  const logged = logChannel(ctx, channel, ptsCount, entry);
  for (const memberId of recipients ?? channelMembers(channel)) {
    const update = renderChannelEntry(ctx, memberId, channel, logged);
    if (!update) continue;
    const entities = collectEntities(ctx, memberId).addChannel(channel.id);
    if (entry.kind === 'new' || entry.kind === 'edit')
      entities.addChannelMessage(channel.messages[entry.msgId]);
    pushTo(
      ctx,
      memberId,
      new Api.Updates({ updates: [update], ...entities.build(), date: logged.date, seq: 0 }),
      memberId === origin?.userId ? origin?.keyId : undefined,
    );
  }
  return logged;
}

/**
 * The short form Telegram pushes for a new message in a private chat (updateShortMessage) or a
 * basic group (updateShortChatMessage): any message its fields can carry (text, entities, a
 * reply, a forward header), so not service messages, media or reply markup. It names the
 * sender and chat by id only, with no users or chats, even for a stranger's first message; a
 * client that does not know a peer it names calls updates.getDifference, which returns the
 * message with its users and chats (https://core.telegram.org/api/updates,
 * https://core.telegram.org/constructor/updateShortMessage). Channel messages always come in
 * full (updateNewChannelMessage).
 */
function shortMessageUpdate(update: Api.TypeUpdate | null): Api.TypeUpdates | undefined {
  if (!(update instanceof Api.UpdateNewMessage) || !(update.message instanceof Api.Message)) return undefined;
  const message = update.message;
  if (message.media || message.replyMarkup) return undefined;
  const common = {
    out: message.out,
    silent: message.silent,
    id: message.id,
    message: message.message,
    pts: update.pts,
    ptsCount: update.ptsCount,
    date: message.date,
    ...(message.fwdFrom ? { fwdFrom: message.fwdFrom } : {}),
    ...(message.replyTo ? { replyTo: message.replyTo } : {}),
    ...(message.entities?.length ? { entities: message.entities } : {}),
  };
  if (message.peerId instanceof Api.PeerUser)
    return new Api.UpdateShortMessage({ ...common, userId: message.peerId.userId });
  if (message.peerId instanceof Api.PeerChat && message.fromId instanceof Api.PeerUser) {
    return new Api.UpdateShortChatMessage({
      ...common,
      fromId: message.fromId.userId,
      chatId: message.peerId.chatId,
    });
  }
  return undefined;
}
