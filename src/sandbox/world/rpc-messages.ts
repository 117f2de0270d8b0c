/** messages.* handlers about messages and dialogs, plus their channels.* twins. */
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { Call, HandlerTable } from './rpc.js';
import { resolveChannel, resolvePeer } from './rpc-peers.js';
import type { PeerKey } from './state.js';
import type { World } from './world.js';
import type { MediaKind } from './media.js';
import { UNSUPPORTED_METHOD_ERROR, num, parsePeerKey, peerKey, peerToApi, toBigint } from './tl.js';

interface Listed {
  id: number;
  date: number;
  text: string;
  fromId?: number;
}

/** Telegram's paging over a newest-first list: offset_id / offset_date, add_offset, limit,
 * max_id, min_id. */
function page(
  all: Listed[],
  req: {
    offsetId?: number;
    offsetDate?: number;
    addOffset?: number;
    limit?: number;
    maxId?: number;
    minId?: number;
  },
): Listed[] {
  const sorted = [...all].sort((a, b) => b.id - a.id);
  let index = 0;
  if (req.offsetId && req.offsetId > 0) {
    index = sorted.findIndex((m) => m.id < (req.offsetId ?? 0));
    if (index < 0) index = sorted.length;
  } else if (req.offsetDate && req.offsetDate > 0) {
    index = sorted.findIndex((m) => m.date < (req.offsetDate ?? 0));
    if (index < 0) index = sorted.length;
  }
  const limit = req.limit && req.limit > 0 ? Math.min(req.limit, 100) : 100;
  const start = Math.max(0, index + (req.addOffset ?? 0));
  return sorted
    .slice(start, start + limit)
    .filter(
      (m) =>
        (!req.maxId || req.maxId <= 0 || m.id < req.maxId) &&
        (!req.minId || req.minId <= 0 || m.id > req.minId),
    );
}

/** messages.Messages / MessagesSlice / ChannelMessages for ids of one peer. */
function messagesResult(
  world: World,
  userId: number,
  peer: PeerKey,
  ids: number[],
  total: number,
): Api.messages.TypeMessages {
  const { kind, id } = parsePeerKey(peer);
  const entities = world.entities(userId).addPeer(peer);
  const messages = ids.map((mid) => {
    if (kind === 'h') entities.addChannelMessage(world.channel(id).messages[mid]);
    else entities.addMessageCopy(world.box(userId).messages[mid]);
    return world.renderPeerMessage(userId, peer, mid);
  });
  if (kind === 'h') {
    return new Api.messages.ChannelMessages({
      pts: world.channel(id).pts,
      count: total,
      messages,
      topics: [],
      ...entities.build(),
    });
  }
  return total > messages.length
    ? new Api.messages.MessagesSlice({ count: total, messages, ...entities.build() })
    : new Api.messages.Messages({ messages, ...entities.build() });
}

function inputMessageIds(
  world: World,
  userId: number,
  peer: PeerKey | undefined,
  inputs: Api.TypeInputMessage[],
): number[] {
  return inputs.map((input) => {
    if (input instanceof Api.InputMessageID) return input.id;
    if (input instanceof Api.InputMessageReplyTo) {
      if (peer && parsePeerKey(peer).kind === 'h')
        return world.channel(parsePeerKey(peer).id).messages[input.id]?.replyToId ?? 0;
      const copy = world.box(userId).messages[input.id];
      const post = copy ? world.state.posts[copy.postId] : undefined;
      return post?.replyToPostId
        ? (world.state.posts[post.replyToPostId]?.copies.find(([u]) => u === userId)?.[1] ?? 0)
        : 0;
    }
    throw new RpcError(400, 'MESSAGE_ID_INVALID');
  });
}

function reactionEmoji(reactions: Api.TypeReaction[] | undefined): string | null {
  const first = reactions?.[0];
  if (!first) return null;
  if (first instanceof Api.ReactionEmoji) return first.emoticon;
  throw new RpcError(400, 'REACTION_INVALID');
}

interface DialogEntry {
  peer: PeerKey;
  topId: number;
  date: number;
}

function dialogsOf(world: World, userId: number): DialogEntry[] {
  const box = world.box(userId);
  const list: DialogEntry[] = [];
  for (const [key, dialog] of Object.entries(box.dialogs)) {
    const copy = box.messages[dialog.topId];
    if (!copy) continue;
    list.push({ peer: key as PeerKey, topId: dialog.topId, date: world.state.posts[copy.postId].date });
  }
  for (const channel of Object.values(world.state.channels)) {
    if (!world.isChannelMember(channel, userId)) continue;
    const ids = Object.keys(channel.messages).map(Number);
    if (!ids.length) continue;
    const topId = Math.max(...ids);
    list.push({ peer: peerKey('h', channel.id), topId, date: channel.messages[topId].date });
  }
  return list.sort((a, b) => b.date - a.date || b.topId - a.topId || a.peer.localeCompare(b.peer));
}

function apiDialog(
  world: World,
  userId: number,
  entry: DialogEntry,
  unread: Map<PeerKey, number>,
): Api.Dialog {
  const { kind, id } = parsePeerKey(entry.peer);
  const notifySettings = new Api.PeerNotifySettings({});
  if (kind === 'h') {
    const channel = world.channel(id);
    const ownMessages = Object.values(channel.messages)
      .filter((m) => m.fromId === userId)
      .map((m) => m.id);
    const readByOthers = Math.max(
      0,
      ...Object.entries(channel.readInbox)
        .filter(([uid]) => Number(uid) !== userId)
        .map(([, max]) => max),
    );
    return new Api.Dialog({
      peer: peerToApi(entry.peer),
      topMessage: entry.topId,
      readInboxMaxId: channel.readInbox[userId] ?? 0,
      readOutboxMaxId: Math.min(readByOthers, Math.max(0, ...ownMessages)),
      unreadCount: world.channelUnreadCount(channel, userId),
      unreadMentionsCount: 0,
      unreadReactionsCount: 0,
      notifySettings,
      pts: channel.pts,
    });
  }
  const box = world.box(userId);
  const dialog = box.dialogs[entry.peer];
  return new Api.Dialog({
    peer: peerToApi(entry.peer),
    topMessage: entry.topId,
    readInboxMaxId: dialog.readInboxMaxId,
    readOutboxMaxId: dialog.readOutboxMaxId,
    unreadCount: unread.get(entry.peer) ?? 0,
    unreadMentionsCount: 0,
    unreadReactionsCount: 0,
    notifySettings,
  });
}

function dialogsPayload(
  world: World,
  userId: number,
  entries: DialogEntry[],
): { dialogs: Api.Dialog[]; messages: Api.TypeMessage[]; users: Api.TypeUser[]; chats: Api.TypeChat[] } {
  const entities = world.entities(userId);
  const messages = entries.map((entry) => {
    entities.addPeer(entry.peer);
    const { kind, id } = parsePeerKey(entry.peer);
    if (kind === 'h') entities.addChannelMessage(world.channel(id).messages[entry.topId]);
    else entities.addMessageCopy(world.box(userId).messages[entry.topId]);
    return world.renderPeerMessage(userId, entry.peer, entry.topId);
  });
  const unread = world.unreadCounts(world.box(userId));
  return {
    dialogs: entries.map((entry) => apiDialog(world, userId, entry, unread)),
    messages,
    ...entities.build(),
  };
}

/** Search filters by the media kinds they match (https://core.telegram.org/api/search#search-filters);
 * filters for what the sandbox has no messages of (geo, contacts, calls, chat photos) match
 * nothing; others it cannot answer truthfully are refused. */
const MEDIA_FILTERS: Array<[abstract new (...args: never[]) => Api.TypeMessagesFilter, MediaKind[]]> = [
  [Api.InputMessagesFilterPhotos, ['photo']],
  [Api.InputMessagesFilterVideo, ['video']],
  [Api.InputMessagesFilterPhotoVideo, ['photo', 'video']],
  [Api.InputMessagesFilterDocument, ['document', 'audio', 'gif']],
  [Api.InputMessagesFilterGif, ['gif']],
  [Api.InputMessagesFilterVoice, ['voice']],
  [Api.InputMessagesFilterMusic, ['audio']],
  [Api.InputMessagesFilterRoundVoice, ['round', 'voice']],
  [Api.InputMessagesFilterRoundVideo, ['round']],
  [Api.InputMessagesFilterChatPhotos, []],
  [Api.InputMessagesFilterGeo, []],
  [Api.InputMessagesFilterContacts, []],
  [Api.InputMessagesFilterPhoneCalls, []],
];

function searchIn(world: World, userId: number, peer: PeerKey, req: Api.messages.Search): Listed[] {
  const q = req.q.toLowerCase();
  const filter = req.filter;
  const kinds = MEDIA_FILTERS.find(([type]) => filter instanceof type)?.[1];
  const pinnedOnly = filter instanceof Api.InputMessagesFilterPinned;
  if (!kinds && !pinnedOnly && filter && !(filter instanceof Api.InputMessagesFilterEmpty)) {
    throw new RpcError(400, UNSUPPORTED_METHOD_ERROR);
  }
  const fromId = req.fromId ? parsePeerKey(resolvePeer(world, userId, req.fromId)).id : undefined;
  return world
    .historyOf(userId, peer)
    .filter(
      (m) =>
        (!q || m.text.toLowerCase().includes(q)) &&
        (!pinnedOnly || m.pinned) &&
        (!kinds || kinds.includes(world.media.kindOf(m.media) as MediaKind)) &&
        (fromId === undefined || m.fromId === fromId) &&
        (!req.minDate || m.date >= req.minDate) &&
        (!req.maxDate || m.date <= req.maxDate),
    );
}

const peerOf = (call: Call, input: unknown): PeerKey => resolvePeer(call.world, call.userId, input);

export const messageHandlers: HandlerTable = {
  authorized: {
    'messages.SendMessage': (call, req: Api.messages.SendMessage) => {
      // Scheduled messages and sending as a channel are not modelled: refuse rather than send now.
      if (req.scheduleDate || req.sendAs) throw new RpcError(400, UNSUPPORTED_METHOD_ERROR);
      const peer = peerOf(call, req.peer);
      const replyTo = req.replyTo instanceof Api.InputReplyToMessage ? req.replyTo.replyToMsgId : undefined;
      return call.world.sendMessage(
        call.userId,
        peer,
        {
          text: req.message ?? '',
          entities: req.entities ?? undefined,
          silent: req.silent ?? false,
          ...(replyTo !== undefined ? { replyToId: replyTo } : {}),
        },
        { keyId: call.ctx.authKeyId, randomId: toBigint(req.randomId) },
      ).result;
    },
    'messages.EditMessage': (call, req: Api.messages.EditMessage) => {
      if (req.media || req.scheduleDate) throw new RpcError(400, UNSUPPORTED_METHOD_ERROR);
      return call.world.editMessage(
        call.userId,
        peerOf(call, req.peer),
        req.id,
        req.message ?? undefined,
        req.entities ?? undefined,
        { keyId: call.ctx.authKeyId },
      );
    },
    'messages.DeleteMessages': (call, req: Api.messages.DeleteMessages) =>
      call.world.deleteMessages(call.userId, req.id, req.revoke ?? false, { keyId: call.ctx.authKeyId }),
    'channels.DeleteMessages': (call, req: Api.channels.DeleteMessages) =>
      call.world.deleteChannelMessages(
        call.userId,
        resolveChannel(call.world, call.userId, req.channel),
        req.id,
        { keyId: call.ctx.authKeyId },
      ),
    'messages.ForwardMessages': (call, req: Api.messages.ForwardMessages) =>
      call.world.forwardMessages(
        call.userId,
        peerOf(call, req.fromPeer),
        req.id,
        peerOf(call, req.toPeer),
        req.randomId.map(toBigint),
        {
          keyId: call.ctx.authKeyId,
        },
      ),
    'messages.SendReaction': (call, req: Api.messages.SendReaction) =>
      call.world.react(call.userId, peerOf(call, req.peer), num(req.msgId), reactionEmoji(req.reaction), {
        keyId: call.ctx.authKeyId,
      }),
    'messages.UpdatePinnedMessage': (call, req: Api.messages.UpdatePinnedMessage) =>
      call.world.pin(call.userId, peerOf(call, req.peer), req.id, !req.unpin, { keyId: call.ctx.authKeyId }),
    'messages.UnpinAllMessages': (call, req: Api.messages.UnpinAllMessages) =>
      call.world.unpinAll(call.userId, peerOf(call, req.peer), { keyId: call.ctx.authKeyId }),
    'messages.ReadHistory': (call, req: Api.messages.ReadHistory) =>
      call.world.readHistory(call.userId, peerOf(call, req.peer), req.maxId, { keyId: call.ctx.authKeyId }),
    'channels.ReadHistory': (call, req: Api.channels.ReadHistory) =>
      call.world.readChannelHistory(
        call.userId,
        resolveChannel(call.world, call.userId, req.channel),
        req.maxId,
        { keyId: call.ctx.authKeyId },
      ),
    'messages.DeleteHistory': (call, req: Api.messages.DeleteHistory) => {
      const peer = peerOf(call, req.peer);
      if (parsePeerKey(peer).kind === 'h') throw new RpcError(400, 'PEER_ID_INVALID');
      return call.world.deleteHistory(
        call.userId,
        peer,
        req.maxId,
        Boolean(req.revoke),
        Boolean(req.justClear),
        { keyId: call.ctx.authKeyId },
      );
    },
    'messages.SetTyping': (call, req: Api.messages.SetTyping) => {
      call.world.setTyping(call.userId, peerOf(call, req.peer), req.action);
      return true;
    },
    'messages.GetHistory': (call, req: Api.messages.GetHistory) => {
      const peer = peerOf(call, req.peer);
      const all = call.world.historyOf(call.userId, peer);
      return messagesResult(
        call.world,
        call.userId,
        peer,
        page(all, req).map((m) => m.id),
        all.length,
      );
    },
    'messages.Search': (call, req: Api.messages.Search) => {
      const peer = peerOf(call, req.peer);
      const found = searchIn(call.world, call.userId, peer, req);
      return messagesResult(
        call.world,
        call.userId,
        peer,
        page(found, req).map((m) => m.id),
        found.length,
      );
    },
    'messages.SearchGlobal': ({ world, userId }, req: Api.messages.SearchGlobal) => {
      const q = req.q.toLowerCase();
      const hits: Array<{ peer: PeerKey; id: number; date: number }> = [];
      const box = world.box(userId);
      for (const copy of Object.values(box.messages)) {
        const post = world.state.posts[copy.postId];
        if (!req.broadcastsOnly && post.text.toLowerCase().includes(q) && q)
          hits.push({ peer: copy.peer, id: copy.id, date: post.date });
      }
      for (const channel of Object.values(world.state.channels)) {
        if (!world.isChannelMember(channel, userId)) continue;
        if (
          (req.broadcastsOnly && channel.megagroup) ||
          (req.groupsOnly && !channel.megagroup) ||
          req.usersOnly
        )
          continue;
        for (const msg of Object.values(channel.messages)) {
          if (q && msg.text.toLowerCase().includes(q))
            hits.push({ peer: peerKey('h', channel.id), id: msg.id, date: msg.date });
        }
      }
      hits.sort((a, b) => b.date - a.date || b.id - a.id);
      const after =
        req.offsetRate > 0
          ? hits.filter((h) => h.date < req.offsetRate || (h.date === req.offsetRate && h.id < req.offsetId))
          : hits;
      const limit = req.limit > 0 ? Math.min(req.limit, 100) : 20;
      const taken = after.slice(0, limit);
      const entities = world.entities(userId);
      const messages = taken.map((hit) => {
        entities.addPeer(hit.peer);
        const { kind, id } = parsePeerKey(hit.peer);
        if (kind === 'h') entities.addChannelMessage(world.channel(id).messages[hit.id]);
        else entities.addMessageCopy(box.messages[hit.id]);
        return world.renderPeerMessage(userId, hit.peer, hit.id);
      });
      if (taken.length < after.length) {
        return new Api.messages.MessagesSlice({
          count: hits.length,
          nextRate: taken[taken.length - 1].date,
          messages,
          ...entities.build(),
        });
      }
      return new Api.messages.Messages({ messages, ...entities.build() });
    },
    'messages.GetMessages': ({ world, userId }, req: Api.messages.GetMessages) => {
      const ids = inputMessageIds(world, userId, undefined, req.id);
      const box = world.box(userId);
      const entities = world.entities(userId);
      const messages = ids.map((mid) => {
        entities.addMessageCopy(box.messages[mid]);
        return world.apiMessage(userId, mid);
      });
      return new Api.messages.Messages({ messages, ...entities.build() });
    },
    'channels.GetMessages': ({ world, userId }, req: Api.channels.GetMessages) => {
      const channelId = resolveChannel(world, userId, req.channel);
      world.readableChannel(userId, channelId);
      const peer = peerKey('h', channelId);
      const ids = inputMessageIds(world, userId, peer, req.id);
      return messagesResult(world, userId, peer, ids, ids.length);
    },
    'messages.GetDialogs': ({ world, userId }, req: Api.messages.GetDialogs) => {
      // Nothing is ever archived (folder 1) in the sandbox.
      const all = req.folderId === 1 ? [] : dialogsOf(world, userId);
      let start = 0;
      let offsetPeer: PeerKey | undefined;
      try {
        offsetPeer =
          req.offsetPeer instanceof Api.InputPeerEmpty
            ? undefined
            : resolvePeer(world, userId, req.offsetPeer);
      } catch {
        offsetPeer = undefined;
      }
      const at = offsetPeer ? all.findIndex((d) => d.peer === offsetPeer) : -1;
      if (at >= 0) start = at + 1;
      else if (req.offsetDate > 0) {
        start = all.findIndex((d) => d.date < req.offsetDate);
        if (start < 0) start = all.length;
      }
      const limit = req.limit > 0 ? Math.min(req.limit, 100) : 100;
      const taken = all.slice(start, start + limit);
      const payload = dialogsPayload(world, userId, taken);
      return taken.length < all.length
        ? new Api.messages.DialogsSlice({ count: all.length, ...payload })
        : new Api.messages.Dialogs(payload);
    },
    'messages.GetPeerDialogs': ({ world, userId }, req: Api.messages.GetPeerDialogs) => {
      const wanted = new Set(req.peers.map((p) => resolvePeer(world, userId, p)));
      const entries = dialogsOf(world, userId).filter((d) => wanted.has(d.peer));
      return new Api.messages.PeerDialogs({
        ...dialogsPayload(world, userId, entries),
        state: world.getState(userId),
      });
    },
  },
};
