/**
 * Reactions and pinned messages.
 */
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { PeerKey } from './state.js';
import { now, parsePeerKey, peerToApi } from './tl.js';
import type { WorldContext, Origin } from './context.js';
import {
  channelMembers,
  channelRights,
  getBox,
  isChannelMember,
  ownCopy,
  readableChannel,
} from './lookups.js';
import { apiReactions } from './views.js';
import { emitAccount, emitChannel, pushTo, renderChannelEntry } from './updates.js';
import { collectEntities } from './entities.js';

/** Sets (or with null removes) a user's reaction; pushed to everyone who sees the message. */
export function react(
  ctx: WorldContext,
  userId: number,
  peer: PeerKey,
  msgId: number,
  emoji: string | null,
  origin?: Origin,
): Api.TypeUpdates {
  const { kind, id } = parsePeerKey(peer);
  const date = now();
  if (kind === 'h') {
    const channel = readableChannel(ctx, userId, id);
    const msg = channel.messages[msgId];
    if (!msg) throw new RpcError(400, 'MESSAGE_ID_INVALID');
    if (emoji) msg.reactions[userId] = emoji;
    else delete msg.reactions[userId];
    ctx.changed();
    const build = (viewer: number): Api.Updates =>
      new Api.Updates({
        updates: [
          new Api.UpdateMessageReactions({
            peer: peerToApi(peer),
            msgId,
            reactions: apiReactions(viewer, msg.reactions) ?? new Api.MessageReactions({ results: [] }),
          }),
        ],
        ...collectEntities(ctx, viewer).addChannel(channel.id).build(),
        date,
        seq: 0,
      });
    for (const member of channelMembers(channel))
      pushTo(ctx, member, build(member), member === userId ? origin?.keyId : undefined);
    return build(userId);
  }
  const { post } = ownCopy(ctx, userId, peer, msgId);
  if (emoji) post.reactions[userId] = emoji;
  else delete post.reactions[userId];
  ctx.changed();
  let own: Api.Updates | undefined;
  for (const [uid, mid] of post.copies) {
    const copy = getBox(ctx, uid).messages[mid];
    const updates = new Api.Updates({
      updates: [
        new Api.UpdateMessageReactions({
          peer: peerToApi(copy.peer),
          msgId: mid,
          reactions: apiReactions(uid, post.reactions) ?? new Api.MessageReactions({ results: [] }),
        }),
      ],
      ...collectEntities(ctx, uid).addPeer(copy.peer).build(),
      date,
      seq: 0,
    });
    pushTo(ctx, uid, updates, uid === userId ? origin?.keyId : undefined);
    if (uid === userId) own = updates;
  }
  return own ?? new Api.Updates({ updates: [], users: [], chats: [], date, seq: 0 });
}

export function pin(
  ctx: WorldContext,
  userId: number,
  peer: PeerKey,
  msgId: number,
  pinned: boolean,
  origin?: Origin,
): Api.TypeUpdates {
  const { kind, id } = parsePeerKey(peer);
  const date = now();
  if (kind === 'h') {
    const channel = readableChannel(ctx, userId, id);
    const msg = channel.messages[msgId];
    if (!msg) throw new RpcError(400, 'MESSAGE_ID_INVALID');
    if (
      !channelRights(channel, userId)?.pinMessages &&
      !(channel.megagroup && isChannelMember(channel, userId))
    ) {
      throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
    }
    msg.pinned = pinned;
    const logged = emitChannel(ctx, channel, 1, { kind: 'pin', ids: [msgId], pinned }, { ...origin, userId });
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
  post.pinned = pinned;
  let own: Api.TypeUpdate | null = null;
  for (const [uid, mid] of post.copies) {
    const copy = getBox(ctx, uid).messages[mid];
    const emitted = emitAccount(
      ctx,
      uid,
      1,
      { kind: 'pin', peer: copy.peer, ids: [mid], pinned },
      uid === userId ? origin : undefined,
    );
    if (uid === userId) own = emitted.update;
  }
  ctx.changed();
  return new Api.Updates({
    updates: own ? [own] : [],
    ...collectEntities(ctx, userId).addPeer(peer).build(),
    date,
    seq: 0,
  });
}

export function unpinAll(
  ctx: WorldContext,
  userId: number,
  peer: PeerKey,
  origin?: Origin,
): Api.messages.AffectedHistory {
  const { kind, id } = parsePeerKey(peer);
  if (kind === 'h') {
    const channel = readableChannel(ctx, userId, id);
    const ids = Object.values(channel.messages)
      .filter((m) => m.pinned)
      .map((m) => m.id);
    if (!ids.length) return new Api.messages.AffectedHistory({ pts: channel.pts, ptsCount: 0, offset: 0 });
    for (const mid of ids) channel.messages[mid].pinned = false;
    const logged = emitChannel(ctx, channel, 1, { kind: 'pin', ids, pinned: false }, { ...origin, userId });
    ctx.changed();
    return new Api.messages.AffectedHistory({ pts: logged.pts, ptsCount: 1, offset: 0 });
  }
  const box = getBox(ctx, userId);
  const pinnedCopies = Object.values(box.messages).filter(
    (c) => c.peer === peer && ctx.state.posts[c.postId]?.pinned,
  );
  if (!pinnedCopies.length) return new Api.messages.AffectedHistory({ pts: box.pts, ptsCount: 0, offset: 0 });
  const perUser = new Map<number, { peer: PeerKey; ids: number[] }>();
  for (const copy of pinnedCopies) {
    const post = ctx.state.posts[copy.postId];
    post.pinned = false;
    for (const [uid, mid] of post.copies) {
      const other = getBox(ctx, uid).messages[mid];
      const entry = perUser.get(uid) ?? { peer: other.peer, ids: [] };
      entry.ids.push(mid);
      perUser.set(uid, entry);
    }
  }
  let result = new Api.messages.AffectedHistory({ pts: box.pts, ptsCount: 0, offset: 0 });
  for (const [uid, entry] of perUser) {
    const emitted = emitAccount(
      ctx,
      uid,
      1,
      { kind: 'pin', peer: entry.peer, ids: entry.ids, pinned: false },
      uid === userId ? origin : undefined,
    );
    if (uid === userId)
      result = new Api.messages.AffectedHistory({ pts: emitted.logged.pts, ptsCount: 1, offset: 0 });
  }
  ctx.changed();
  return result;
}
