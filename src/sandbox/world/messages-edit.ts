/**
 * Editing and deleting messages, and clearing a chat's history.
 */
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { AccountBox, PeerKey } from './state.js';
import { now, parsePeerKey } from './tl.js';
import type { WorldContext, Origin } from './context.js';
import { channelRights, getBox, ownCopy, readableChannel } from './lookups.js';
import { emitAccount, emitChannel, renderChannelEntry } from './updates.js';
import { checkText, encodeEntities } from './messages-send.js';
import { EntityCollector, collectEntities } from './entities.js';
import { checkEditTime } from './restrictions.js';

export function editMessage(
  ctx: WorldContext,
  userId: number,
  peer: PeerKey,
  msgId: number,
  text: string | undefined,
  entities: Api.TypeMessageEntity[] | undefined,
  origin?: Origin,
): Api.TypeUpdates {
  const { kind, id } = parsePeerKey(peer);
  const date = now();
  if (kind === 'h') {
    const channel = readableChannel(ctx, userId, id);
    const msg = channel.messages[msgId];
    if (!msg || msg.action) throw new RpcError(400, 'MESSAGE_ID_INVALID');
    if (msg.fromId !== userId && !channelRights(channel, userId)?.editMessages)
      throw new RpcError(403, 'MESSAGE_AUTHOR_REQUIRED');
    if (text !== undefined && text === msg.text && !entities) throw new RpcError(400, 'MESSAGE_NOT_MODIFIED');
    if (text !== undefined) {
      checkText({ text, media: msg.media });
      msg.text = text;
    }
    msg.entities = encodeEntities(entities);
    msg.editDate = date;
    const logged = emitChannel(ctx, channel, 1, { kind: 'edit', msgId }, { ...origin, userId });
    ctx.changed();
    const update = renderChannelEntry(ctx, userId, channel, logged);
    return new Api.Updates({
      updates: update ? [update] : [],
      ...collectEntities(ctx, userId).addChannel(channel.id).build(),
      date,
      seq: 0,
    });
  }
  const { post } = ownCopy(ctx, userId, peer, msgId);
  if (post.action) throw new RpcError(400, 'MESSAGE_ID_INVALID');
  if (post.fromId !== userId) throw new RpcError(403, 'MESSAGE_AUTHOR_REQUIRED');
  checkEditTime(post.date, date);
  if (text !== undefined && text === post.text && !entities) throw new RpcError(400, 'MESSAGE_NOT_MODIFIED');
  if (text !== undefined) {
    checkText({ text, media: post.media });
    post.text = text;
  }
  post.entities = encodeEntities(entities);
  post.editDate = date;
  let own: Api.TypeUpdate | null = null;
  let ownEntities: EntityCollector | undefined;
  for (const [uid, mid] of post.copies) {
    const emitted = emitAccount(
      ctx,
      uid,
      1,
      { kind: 'edit', msgId: mid },
      uid === userId ? origin : undefined,
    );
    if (uid === userId) {
      own = emitted.update;
      ownEntities = emitted.entities;
    }
  }
  ctx.changed();
  return new Api.Updates({
    updates: own ? [own] : [],
    ...(ownEntities ?? collectEntities(ctx, userId)).build(),
    date,
    seq: 0,
  });
}

/** messages.deleteMessages: the caller's copies go; with revoke (or in groups, own
 * messages), everyone's copies of the same messages go too. */
export function deleteMessages(
  ctx: WorldContext,
  userId: number,
  ids: number[],
  revoke: boolean,
  origin?: Origin,
): Api.messages.AffectedMessages {
  const box = getBox(ctx, userId);
  const perUser = new Map<number, number[]>();
  const add = (uid: number, mid: number): void => {
    const list = perUser.get(uid) ?? [];
    if (!list.includes(mid)) list.push(mid);
    perUser.set(uid, list);
  };
  for (const mid of ids) {
    const copy = box.messages[mid];
    if (!copy) continue;
    add(userId, mid);
    const post = ctx.state.posts[copy.postId];
    const { kind, id } = parsePeerKey(copy.peer);
    // Private chats: anyone may delete for both sides. Groups: own messages always go for
    // everyone; other people's only when an admin asks for it.
    const groupAdmin =
      kind === 'c' &&
      (ctx.state.chats[id]?.creatorId === userId ||
        ctx.state.chats[id]?.participants.some((p) => p.userId === userId && p.admin));
    const forEveryone = kind === 'u' ? revoke : post.fromId === userId || (revoke && groupAdmin);
    if (forEveryone) for (const [uid, other] of post.copies) add(uid, other);
  }
  let result = new Api.messages.AffectedMessages({ pts: box.pts, ptsCount: 0 });
  for (const [uid, mids] of perUser) {
    const targetBox = getBox(ctx, uid);
    for (const mid of mids) {
      const copy = targetBox.messages[mid];
      if (!copy) continue;
      delete targetBox.messages[mid];
      const post = ctx.state.posts[copy.postId];
      post.copies = post.copies.filter(([u, m]) => !(u === uid && m === mid));
      if (post.copies.length === 0) delete ctx.state.posts[post.id];
      refreshTop(targetBox, copy.peer);
    }
    const emitted = emitAccount(
      ctx,
      uid,
      mids.length,
      { kind: 'delete', ids: mids },
      uid === userId ? origin : undefined,
    );
    if (uid === userId)
      result = new Api.messages.AffectedMessages({ pts: emitted.logged.pts, ptsCount: mids.length });
  }
  ctx.changed();
  return result;
}

function refreshTop(box: AccountBox, peer: PeerKey): void {
  const dialog = box.dialogs[peer];
  if (!dialog) return;
  let top = 0;
  for (const copy of Object.values(box.messages)) if (copy.peer === peer && copy.id > top) top = copy.id;
  dialog.topId = top;
}

export function deleteChannelMessages(
  ctx: WorldContext,
  userId: number,
  channelId: number,
  ids: number[],
  origin?: Origin,
): Api.messages.AffectedMessages {
  const channel = readableChannel(ctx, userId, channelId);
  const deleted: number[] = [];
  for (const mid of ids) {
    const msg = channel.messages[mid];
    if (!msg) continue;
    if (msg.fromId !== userId && !channelRights(channel, userId)?.deleteMessages)
      throw new RpcError(403, 'MESSAGE_DELETE_FORBIDDEN');
    deleted.push(mid);
  }
  if (!deleted.length) return new Api.messages.AffectedMessages({ pts: channel.pts, ptsCount: 0 });
  for (const mid of deleted) delete channel.messages[mid];
  const logged = emitChannel(
    ctx,
    channel,
    deleted.length,
    { kind: 'delete', ids: deleted },
    { ...origin, userId },
  );
  ctx.changed();
  return new Api.messages.AffectedMessages({ pts: logged.pts, ptsCount: deleted.length });
}

/** messages.deleteHistory: clears a private chat or group (for both sides with revoke). */
export function deleteHistory(
  ctx: WorldContext,
  userId: number,
  peer: PeerKey,
  maxId: number,
  revoke: boolean,
  justClear: boolean,
  origin?: Origin,
): Api.messages.AffectedHistory {
  const box = getBox(ctx, userId);
  const ids = Object.values(box.messages)
    .filter((copy) => copy.peer === peer && (maxId <= 0 || copy.id <= maxId))
    .map((copy) => copy.id);
  const affected = ids.length
    ? deleteMessages(ctx, userId, ids, revoke, origin)
    : new Api.messages.AffectedMessages({ pts: box.pts, ptsCount: 0 });
  if (!justClear && !Object.values(box.messages).some((copy) => copy.peer === peer)) delete box.dialogs[peer];
  ctx.changed();
  return new Api.messages.AffectedHistory({ pts: affected.pts, ptsCount: affected.ptsCount, offset: 0 });
}
