/**
 * Sending and forwarding messages: private chats and basic groups get one post with a
 * copy per member account (each numbered by its account), channels one numbered message;
 * random_id deduplication.
 */
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type {
  AccountLogEntry,
  ChannelMessage,
  ChannelRecord,
  MessageCopy,
  PeerKey,
  PostRecord,
} from './state.js';
import { decodeTlList, long, now, parsePeerKey, peerKey } from './tl.js';
import type { WorldContext, MessageContent, Origin } from './context.js';
import {
  channelRights,
  chatMember,
  getBox,
  getChannel,
  getChat,
  getUser,
  isChannelMember,
  ownCopy,
  readableChannel,
} from './lookups.js';
import { emitAccount, emitChannel, mergeUpdates, renderAccountEntry, renderChannelEntry } from './updates.js';
import { collectEntities } from './entities.js';
import { checkForwardable, checkPeerFlood } from './restrictions.js';
import { MAX_CAPTION_LENGTH } from './media.js';

/** How many of an account's latest random ids are remembered for RANDOM_ID_DUPLICATE. */
const RANDOM_IDS_KEPT = 10_000;

export function checkText(content: Pick<MessageContent, 'text' | 'action' | 'media'>): void {
  if (content.media) {
    // A caption may be empty, and is at most 1024 characters (https://core.telegram.org/api/config).
    if (content.text.length > MAX_CAPTION_LENGTH) throw new RpcError(400, 'MEDIA_CAPTION_TOO_LONG');
    return;
  }
  if (!content.action && !content.text.trim()) throw new RpcError(400, 'MESSAGE_EMPTY');
  if (content.text.length > 4096) throw new RpcError(400, 'MESSAGE_TOO_LONG');
}

/** The media and album fields a message record takes from its content. */
function mediaFields(content: MessageContent): Pick<PostRecord, 'media' | 'groupedId'> {
  return {
    ...(content.media ? { media: content.media } : {}),
    ...(content.groupedId ? { groupedId: content.groupedId } : {}),
  };
}

/**
 * A user sends a message to a peer as they see it (`u<id>`, `c<id>`, `h<id>`). Returns the
 * sender's message id and what the sending connection receives as the call's result.
 */
export function sendMessage(
  ctx: WorldContext,
  fromId: number,
  peer: PeerKey,
  content: MessageContent,
  origin?: Origin,
): { id: number; result: Api.TypeUpdates } {
  if (origin?.randomId !== undefined) checkRandomIds(ctx, fromId, [origin.randomId]);
  const sent = deliverMessage(ctx, fromId, peer, content, origin);
  if (origin?.randomId !== undefined) {
    const used = (getBox(ctx, fromId).randomIds ??= []);
    used.push([origin.randomId.toString(), sent.id]);
    if (used.length > RANDOM_IDS_KEPT) used.splice(0, used.length - RANDOM_IDS_KEPT);
  }
  return sent;
}

/**
 * Like Telegram, refuses random ids this account already sent with (RANDOM_ID_DUPLICATE), or
 * repeated within one call, before anything is sent.
 */
export function checkRandomIds(ctx: WorldContext, userId: number, randomIds: bigint[]): void {
  const used = new Set((getBox(ctx, userId).randomIds ?? []).map(([rid]) => rid));
  for (const rid of randomIds) {
    if (used.has(rid.toString())) throw new RpcError(400, 'RANDOM_ID_DUPLICATE');
    used.add(rid.toString());
  }
}

function deliverMessage(
  ctx: WorldContext,
  fromId: number,
  peer: PeerKey,
  content: MessageContent,
  origin?: Origin,
): { id: number; result: Api.TypeUpdates } {
  checkText(content);
  const { kind, id } = parsePeerKey(peer);
  if (kind === 'h') return sendChannelMessage(ctx, fromId, getChannel(ctx, id), content, origin);
  let recipients: Array<{ userId: number; peer: PeerKey }>;
  if (kind === 'u') {
    getUser(ctx, id);
    checkPeerFlood(ctx, fromId, id);
    recipients =
      id === fromId
        ? [{ userId: fromId, peer }]
        : [
            { userId: fromId, peer },
            { userId: id, peer: peerKey('u', fromId) },
          ];
  } else {
    const chat = getChat(ctx, id);
    // 403 CHAT_WRITE_FORBIDDEN: no longer a member (core.telegram.org/method/messages.sendMessage).
    if (!chatMember(chat, fromId) || chat.deactivated) throw new RpcError(403, 'CHAT_WRITE_FORBIDDEN');
    recipients = chat.participants.map((p) => ({ userId: p.userId, peer }));
  }
  let replyToPostId: number | undefined;
  if (content.replyToId !== undefined) {
    const replied = getBox(ctx, fromId).messages[content.replyToId];
    if (!replied || replied.peer !== peer) throw new RpcError(400, 'REPLY_MESSAGE_ID_INVALID');
    replyToPostId = replied.postId;
  }
  const post: PostRecord = {
    id: ctx.state.nextPostId++,
    fromId,
    date: now(),
    text: content.text,
    entities: encodeEntities(content.entities),
    reactions: {},
    pinned: false,
    silent: content.silent ?? false,
    copies: [],
    ...(content.fwdFrom ? { fwdFrom: content.fwdFrom } : {}),
    ...(content.action ? { action: content.action.getBytes().toString('base64') } : {}),
    ...(replyToPostId !== undefined ? { replyToPostId } : {}),
    ...mediaFields(content),
  };
  ctx.state.posts[post.id] = post;
  let senderMsgId = 0;
  let senderEntry: AccountLogEntry | undefined;
  for (const recipient of recipients) {
    const box = getBox(ctx, recipient.userId);
    const copy: MessageCopy = {
      id: box.nextMessageId++,
      peer: recipient.peer,
      postId: post.id,
      out: recipient.userId === fromId,
    };
    box.messages[copy.id] = copy;
    post.copies.push([recipient.userId, copy.id]);
    const dialog = (box.dialogs[recipient.peer] ??= { topId: 0, readInboxMaxId: 0, readOutboxMaxId: 0 });
    dialog.topId = copy.id;
    if (copy.out) dialog.readInboxMaxId = Math.max(dialog.readInboxMaxId, copy.id);
    const emitted = emitAccount(
      ctx,
      recipient.userId,
      1,
      { kind: 'new', msgId: copy.id },
      recipient.userId === fromId ? origin : undefined,
    );
    if (recipient.userId === fromId) {
      senderMsgId = copy.id;
      senderEntry = emitted.logged;
    }
  }
  ctx.changed();
  if (!senderEntry) throw new RpcError(500, 'INTERNAL');
  // Media messages are answered in full: updateShortSentMessage would only carry the media, not the
  // message the client shows.
  if (kind === 'u' && !content.fwdFrom && !content.action && !content.media) {
    return {
      id: senderMsgId,
      result: new Api.UpdateShortSentMessage({
        out: true,
        id: senderMsgId,
        pts: senderEntry.pts,
        ptsCount: 1,
        date: post.date,
        ...(content.entities?.length ? { entities: content.entities } : {}),
      }),
    };
  }
  const entities = collectEntities(ctx, fromId).addPeer(peer).addUser(fromId);
  const updates: Api.TypeUpdate[] = [];
  if (origin?.randomId !== undefined)
    updates.push(new Api.UpdateMessageID({ id: senderMsgId, randomId: long(origin.randomId) }));
  const rendered = renderAccountEntry(ctx, fromId, senderEntry);
  if (rendered) updates.push(rendered);
  return {
    id: senderMsgId,
    result: new Api.Updates({ updates, ...entities.build(), date: post.date, seq: 0 }),
  };
}

function sendChannelMessage(
  ctx: WorldContext,
  fromId: number,
  channel: ChannelRecord,
  content: MessageContent,
  origin?: Origin,
): { id: number; result: Api.TypeUpdates } {
  if (!isChannelMember(channel, fromId)) throw new RpcError(400, 'CHANNEL_PRIVATE');
  // Only admins with post_messages post in a broadcast channel: 403 CHAT_ADMIN_REQUIRED
  // (core.telegram.org/method/messages.sendMessage).
  if (!channel.megagroup && !channelRights(channel, fromId)?.postMessages)
    throw new RpcError(403, 'CHAT_ADMIN_REQUIRED');
  if (content.replyToId !== undefined && !channel.messages[content.replyToId])
    throw new RpcError(400, 'REPLY_MESSAGE_ID_INVALID');
  const msg: ChannelMessage = {
    id: channel.nextMessageId++,
    fromId,
    date: now(),
    text: content.text,
    entities: encodeEntities(content.entities),
    reactions: {},
    pinned: false,
    silent: content.silent ?? false,
    post: !channel.megagroup,
    ...(content.fwdFrom ? { fwdFrom: content.fwdFrom } : {}),
    ...(content.action ? { action: content.action.getBytes().toString('base64') } : {}),
    ...(content.replyToId !== undefined ? { replyToId: content.replyToId } : {}),
    ...mediaFields(content),
  };
  channel.messages[msg.id] = msg;
  const logged = emitChannel(ctx, channel, 1, { kind: 'new', msgId: msg.id }, { ...origin, userId: fromId });
  ctx.changed();
  const updates: Api.TypeUpdate[] = [];
  if (origin?.randomId !== undefined)
    updates.push(new Api.UpdateMessageID({ id: msg.id, randomId: long(origin.randomId) }));
  const rendered = renderChannelEntry(ctx, fromId, channel, logged);
  if (rendered) updates.push(rendered);
  const entities = collectEntities(ctx, fromId).addChannel(channel.id).addUser(fromId);
  return { id: msg.id, result: new Api.Updates({ updates, ...entities.build(), date: msg.date, seq: 0 }) };
}

export function forwardMessages(
  ctx: WorldContext,
  userId: number,
  fromPeer: PeerKey,
  ids: number[],
  toPeer: PeerKey,
  randomIds: bigint[],
  origin?: Origin,
): Api.TypeUpdates {
  checkRandomIds(ctx, userId, randomIds);
  checkForwardable(ctx, fromPeer);
  const results: Api.TypeUpdates[] = [];
  const from = parsePeerKey(fromPeer);
  ids.forEach((mid, index) => {
    let text: string;
    let entities: Api.TypeMessageEntity[];
    let fwdFrom: PostRecord['fwdFrom'];
    let media: PostRecord['media'];
    if (from.kind === 'h') {
      const channel = readableChannel(ctx, userId, from.id);
      const msg = channel.messages[mid];
      if (!msg || msg.action) throw new RpcError(400, 'MESSAGE_ID_INVALID');
      text = msg.text;
      entities = decodeTlList(msg.entities);
      media = msg.media;
      fwdFrom =
        msg.fwdFrom ??
        (msg.post
          ? { fromChannelId: channel.id, channelPost: msg.id, date: msg.date }
          : { fromUserId: msg.fromId, date: msg.date });
    } else {
      const { post } = ownCopy(ctx, userId, fromPeer, mid);
      if (post.action) throw new RpcError(400, 'MESSAGE_ID_INVALID');
      text = post.text;
      entities = decodeTlList(post.entities);
      media = post.media;
      fwdFrom = post.fwdFrom ?? { fromUserId: post.fromId, date: post.date };
    }
    const sent = sendMessage(
      ctx,
      userId,
      toPeer,
      { text, entities, fwdFrom, ...(media ? { media } : {}) },
      { keyId: origin?.keyId, randomId: randomIds[index] },
    );
    results.push(sent.result);
  });
  return mergeUpdates(results);
}

export function encodeEntities(entities: Api.TypeMessageEntity[] | undefined): string[] {
  return (entities ?? []).map((entity) => entity.getBytes().toString('base64'));
}
