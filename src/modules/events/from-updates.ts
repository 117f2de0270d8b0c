/**
 * Incoming MTProto updates turned into chat.*, group.*, channel.* and user.* events, plus
 * message.sent / .edited / .deleted / .read for messages sent and changes made by other people
 * or the account's other apps.
 *
 * Which update gives which event (one event per type per cause):
 * - Service messages (updateNewMessage / updateNewChannelMessage with messageService) are the
 *   source of membership and title changes in groups: they carry the actor, are numbered by pts
 *   and so come back after a restart. updateChatParticipantAdd/Delete and updateChatParticipants
 *   repeat what the service message says and are not used.
 *   - chatCreate -> chat.created + group.created; channelCreate -> chat.created +
 *     group.created (megagroup) or channel.created (broadcast).
 *   - chatAddUser / chatJoinedByLink / chatJoinedByRequest -> chat.member_joined +
 *     group.member_added per user; when the user is this account also chat.created.
 *   - chatDeleteUser -> chat.member_left + group.member_removed; for this account also
 *     chat.deleted (the dialog is gone).
 *   - chatEditTitle / chatEditPhoto / chatDeletePhoto -> chat.updated + group.updated or
 *     channel.updated.
 * - updateChannel: compared with what this process last saw of the channel: forbidden ->
 *   chat.deleted + channel.deleted (group.deleted for a megagroup); now left -> chat.deleted;
 *   title or username changed -> chat.updated + channel.updated / group.updated; an unknown
 *   channel in the answer to our own call (a join) -> chat.created.
 * - updateChannelParticipant: this account joined -> chat.created, left or removed ->
 *   chat.deleted; in broadcast channels (which have no service messages) any member joining or
 *   leaving -> chat.member_joined / chat.member_left; in megagroups admin rights changing ->
 *   group.admin_changed.
 * - updateChat (basic group): deactivated or forbidden -> chat.deleted + group.deleted; left ->
 *   chat.deleted. updateChatParticipantAdmin -> group.admin_changed.
 *   updateChatDefaultBannedRights -> chat.updated + group.updated / channel.updated.
 * - updateNewChannelMessage with a message in a broadcast channel -> channel.post_published.
 * - updateNewMessage / updateNewChannelMessage with the account's own message (out) ->
 *   message.sent with source "other_device" (catchUp: true when caught up after a gap).
 * - updateEditMessage / updateEditChannelMessage -> message.edited (source "other_device" for
 *   the account's own messages); updateDeleteMessages / updateDeleteChannelMessages ->
 *   message.deleted (source "other_device"); updateReadHistoryInbox/Outbox,
 *   updateReadChannelInbox/Outbox -> message.read (outbox: true when the other side read ours).
 * - updateUserStatus -> user.status_changed; updateUserTyping / updateChatUserTyping /
 *   updateChannelUserTyping -> user.typing; updateUserName / updateUserPhone / updateUser ->
 *   user.profile_updated.
 * - A private chat's first message (either direction) -> chat.created; whether it is the first
 *   needs one messages.getHistory call, so attachUpdateEvents does it (once per peer per process).
 *
 * Updates that answer TeleFlow's own API calls (ctx.source 'own') give no event of the types the
 * API services publish themselves (message.*, chat.member_joined, chat.member_left), so an API
 * action is reported once.
 *
 * Each event carries a dedup key (withDedupKeys): message events the key of their message
 * (which the API's own event of the same message shares), others the update's identity (its
 * message, pts or qts). The log records a key once, so an update that comes again (the
 * catch-up after a crash replays what the saved update state does not cover) is not reported
 * twice. Updates with no identity (typing, statuses, updateChannel, updateChat, profiles) have
 * no key.
 *
 * Kinds: basic groups and megagroups are groups (group.* besides chat.*), broadcast channels are
 * channels (channel.*). Not reported: admin changes in broadcast channels (no type fits),
 * basic group migration to a supergroup (messageActionChatMigrateTo), and changes that only an
 * updateChannel says (a new username) when this process has not seen the channel before: what a
 * session saw of its chats is kept in memory, so right after a restart such a change is taken
 * as the first sight of the channel.
 */
import type { Logger } from 'pino';
import { Api } from 'teleproto';
import { AppError } from '../../lib/errors.js';
import {
  dedupKey,
  messageEventKey,
  type EventPublisher,
  type EventType,
  type NewEvent,
} from '../../lib/events.js';
import { chatView, messageView, userView } from '../../telegram/convert.js';
import { entityBotApiId, peerToBotApiId, toBotApiId } from '../../telegram/ids.js';
import type { SessionManager } from '../../telegram/session-manager.js';
import { updateIdentity, type UpdateContext } from '../../telegram/update-tracker.js';
import type { ChatView } from '../chats/chats.schema.js';

/** What the session last saw of a group or channel: enough to tell a change from a repeat. */
interface KnownChat {
  view: ChatView;
  /** This account is a member. */
  active: boolean;
  /** Deleted (or forbidden) for this account. */
  gone: boolean;
}

/** Per-session memory of groups, channels and private dialogs seen in this process. */
export class DialogMemory {
  readonly chats = new Map<string, KnownChat>();
  /** Private chats already checked for being new. */
  readonly privatePeers = new Set<string>();
}

/** Types the API services publish for our own calls; their 'own' updates must not repeat them. */
const PUBLISHED_BY_API = new Set<EventType>([
  'message.sent',
  'message.edited',
  'message.deleted',
  'message.read',
  'chat.member_joined',
  'chat.member_left',
]);

/** Rights a basic group admin holds (Telegram gives them all but adding admins). */
const BASIC_GROUP_ADMIN_RIGHTS = [
  'change_info',
  'delete_messages',
  'ban_users',
  'invite_users',
  'pin_messages',
  'manage_call',
];

const ADMIN_RIGHT_FIELDS = [
  'changeInfo',
  'postMessages',
  'editMessages',
  'deleteMessages',
  'banUsers',
  'inviteUsers',
  'pinMessages',
  'addAdmins',
  'anonymous',
  'manageCall',
  'other',
  'manageTopics',
  'postStories',
  'editStories',
  'deleteStories',
  'manageDirectMessages',
] as const;

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/^_/, '');

export function adminRightNames(rights: Api.ChatAdminRights | undefined): string[] {
  if (!rights) return [];
  return ADMIN_RIGHT_FIELDS.filter((f) => rights[f]).map(snake);
}

/** SendMessageRecordAudioAction -> record_audio, SendMessageTypingAction -> typing. */
export function typingAction(action: Api.TypeSendMessageAction): string {
  return snake(action.className.replace(/^SendMessage/, '').replace(/Action$/, '')) || 'typing';
}

function userStatus(status: Api.TypeUserStatus | undefined): {
  status: 'online' | 'offline' | 'recently' | 'last_week' | 'last_month' | 'hidden';
  lastSeenAt?: string | null;
  expiresAt?: string | null;
} {
  const iso = (s: number) => new Date(s * 1000).toISOString();
  if (status instanceof Api.UserStatusOnline) return { status: 'online', expiresAt: iso(status.expires) };
  if (status instanceof Api.UserStatusOffline)
    return { status: 'offline', lastSeenAt: iso(status.wasOnline) };
  if (status instanceof Api.UserStatusRecently) return { status: 'recently' };
  if (status instanceof Api.UserStatusLastWeek) return { status: 'last_week' };
  if (status instanceof Api.UserStatusLastMonth) return { status: 'last_month' };
  return { status: 'hidden' };
}

function findChat(ctx: UpdateContext, chatId: string): Api.TypeChat | undefined {
  return ctx.chats.find((c) => entityBotApiId(c) === chatId);
}

function findUser(ctx: UpdateContext, userId: string): Api.User | undefined {
  const u = ctx.users.find((x) => x instanceof Api.User && x.id.toString() === userId);
  return u instanceof Api.User ? u : undefined;
}

function isGone(entity: Api.TypeChat): boolean {
  if (entity instanceof Api.ChatForbidden || entity instanceof Api.ChannelForbidden) return true;
  return entity instanceof Api.Chat && Boolean(entity.deactivated) && !entity.migratedTo;
}

function isActive(entity: Api.TypeChat): boolean {
  if (entity instanceof Api.Chat) return !entity.left && !entity.deactivated;
  if (entity instanceof Api.Channel) return !entity.left;
  return false;
}

function channelParticipantPresent(p: Api.TypeChannelParticipant | undefined): boolean {
  if (!p || p instanceof Api.ChannelParticipantLeft) return false;
  if (p instanceof Api.ChannelParticipantBanned) return !p.left && !p.bannedRights.viewMessages;
  return true;
}

function participantRights(p: Api.TypeChannelParticipant | undefined): string[] {
  if (p instanceof Api.ChannelParticipantAdmin || p instanceof Api.ChannelParticipantCreator)
    return adminRightNames(p.adminRights);
  return [];
}

/** Group-like kinds get group.* events besides chat.*. */
const isGroupType = (type: ChatView['type'] | undefined) => type === 'group' || type === 'supergroup';

/**
 * The events one update means for a session. `memory` is the session's DialogMemory (updated
 * here); the result depends only on the arguments.
 */
export function eventsFromUpdate(
  sessionId: string,
  update: Api.TypeUpdate,
  ctx: UpdateContext,
  selfId: string,
  memory: DialogMemory = new DialogMemory(),
): NewEvent[] {
  const out: NewEvent[] = [];
  const emit = (type: EventType, data: Record<string, unknown>) => {
    if (ctx.source === 'own' && PUBLISHED_BY_API.has(type)) return;
    out.push({ type, sessionId, data });
  };
  const viewOf = (chatId: string): ChatView | undefined => {
    const entity = findChat(ctx, chatId);
    return entity ? chatView(entity) : memory.chats.get(chatId)?.view;
  };
  /** Notes the chat as this update shows it (the next update is compared with this). */
  const remember = (chatId: string) => {
    const entity = findChat(ctx, chatId);
    if (entity)
      memory.chats.set(chatId, { view: chatView(entity), active: isActive(entity), gone: isGone(entity) });
  };
  const created = (chatId: string, chat: ChatView) => {
    if (memory.chats.get(chatId)?.active === true) return;
    emit('chat.created', { chat });
    memory.chats.set(chatId, { view: chat, active: true, gone: false });
  };
  const removed = (chatId: string, chat: ChatView | undefined) => {
    const prev = memory.chats.get(chatId);
    if (prev && !prev.active) return;
    emit('chat.deleted', { chatId, ...(chat ? { chat } : {}) });
    if (chat) memory.chats.set(chatId, { view: chat, active: false, gone: prev?.gone ?? false });
  };
  const deleted = (chatId: string, chat: ChatView | undefined) => {
    if (memory.chats.get(chatId)?.gone) return;
    const data = { chatId, ...(chat ? { chat } : {}) };
    emit('chat.deleted', data);
    emit(chat?.type === 'channel' ? 'channel.deleted' : 'group.deleted', data);
    if (chat) memory.chats.set(chatId, { view: chat, active: false, gone: true });
  };
  const changed = (chat: ChatView) => {
    emit('chat.updated', { chat });
    emit(chat.type === 'channel' ? 'channel.updated' : 'group.updated', { chat });
  };
  const member = (
    joined: boolean,
    chatId: string,
    userId: string,
    actorId: string | null,
    chat?: ChatView,
  ) => {
    const user = findUser(ctx, userId);
    const data = {
      chatId,
      userId,
      actorId: actorId === userId ? null : actorId,
      ...(user ? { user: userView(user) } : {}),
      ...(chat ? { chat } : {}),
    };
    emit(joined ? 'chat.member_joined' : 'chat.member_left', data);
    if (isGroupType(chat?.type)) emit(joined ? 'group.member_added' : 'group.member_removed', data);
  };

  if (update instanceof Api.UpdateNewMessage || update instanceof Api.UpdateNewChannelMessage) {
    const msg = update.message;
    if (msg instanceof Api.MessageEmpty || !msg.peerId) return out;
    // The account's own message, sent elsewhere (its other apps): API sends arrive as 'own'.
    if (msg instanceof Api.Message && msg.out)
      emit('message.sent', {
        message: messageView(msg, selfId),
        source: 'other_device',
        catchUp: ctx.source === 'difference',
      });
    const chatId = peerToBotApiId(msg.peerId);
    if (msg.peerId instanceof Api.PeerUser) return out;
    const chat = viewOf(chatId);
    if (msg instanceof Api.Message) {
      // Our own posts through the API are message.sent; posts from other apps count here too.
      if (chat?.type === 'channel' && ctx.source !== 'own')
        emit('channel.post_published', { message: messageView(msg, selfId), chat });
      remember(chatId);
      return out;
    }
    const actorId = msg.fromId ? peerToBotApiId(msg.fromId) : null;
    const action = msg.action;
    if (!chat) return out;
    if (action instanceof Api.MessageActionChatCreate || action instanceof Api.MessageActionChannelCreate) {
      const wasActive = memory.chats.get(chatId)?.active === true;
      created(chatId, chat);
      if (!wasActive) emit(chat.type === 'channel' ? 'channel.created' : 'group.created', { chat });
    } else if (action instanceof Api.MessageActionChatAddUser) {
      for (const id of action.users) {
        const userId = id.toString();
        if (userId === selfId) created(chatId, chat);
        member(true, chatId, userId, actorId, chat);
      }
    } else if (
      action instanceof Api.MessageActionChatJoinedByLink ||
      action instanceof Api.MessageActionChatJoinedByRequest
    ) {
      if (actorId) {
        if (actorId === selfId) created(chatId, chat);
        member(true, chatId, actorId, null, chat);
      }
    } else if (action instanceof Api.MessageActionChatDeleteUser) {
      const userId = action.userId.toString();
      member(false, chatId, userId, actorId, chat);
      if (userId === selfId) {
        removed(chatId, chat);
        return out;
      }
    } else if (
      action instanceof Api.MessageActionChatEditTitle ||
      action instanceof Api.MessageActionChatEditPhoto ||
      action instanceof Api.MessageActionChatDeletePhoto
    ) {
      changed(chat);
    }
    remember(chatId);
    return out;
  }

  if (update instanceof Api.UpdateChannel) {
    const chatId = toBotApiId('channel', update.channelId);
    const entity = findChat(ctx, chatId);
    if (!entity) return out;
    const chat = chatView(entity);
    const prev = memory.chats.get(chatId);
    if (isGone(entity)) {
      deleted(chatId, chat);
    } else if (!isActive(entity)) {
      if (prev?.active) removed(chatId, chat);
      else if (prev) remember(chatId);
    } else if (!prev) {
      // Pushed for many reasons; only the answer to our own call (a join) says it is new to us.
      if (ctx.source === 'own') created(chatId, chat);
    } else if (!prev.active || prev.gone) {
      created(chatId, chat);
    } else {
      if (prev.view.title !== chat.title || prev.view.username !== chat.username) changed(chat);
      remember(chatId);
    }
    return out;
  }

  if (update instanceof Api.UpdateChannelParticipant) {
    const chatId = toBotApiId('channel', update.channelId);
    const chat = viewOf(chatId);
    const userId = update.userId.toString();
    const actorId = update.actorId.toString();
    const was = channelParticipantPresent(update.prevParticipant);
    const is = channelParticipantPresent(update.newParticipant);
    if (userId === selfId && chat) {
      if (!was && is) created(chatId, chat);
      if (was && !is) removed(chatId, chat);
    }
    if (chat?.type === 'channel' && was !== is) member(is, chatId, userId, actorId, chat);
    if (chat && isGroupType(chat.type) && was && is) {
      const before = participantRights(update.prevParticipant);
      const after = participantRights(update.newParticipant);
      if (before.join() !== after.join()) {
        emit('group.admin_changed', {
          chatId,
          userId,
          isAdmin: after.length > 0,
          rights: after,
          actorId: actorId === userId ? null : actorId,
        });
      }
    }
    return out;
  }

  if (update instanceof Api.UpdateChat) {
    const chatId = toBotApiId('chat', update.chatId);
    const entity = findChat(ctx, chatId);
    if (!entity) return out;
    const chat = chatView(entity);
    const prev = memory.chats.get(chatId);
    if (isGone(entity)) deleted(chatId, chat);
    else if (!isActive(entity)) {
      if (prev?.active) removed(chatId, chat);
    } else if (prev?.active && prev.view.title !== chat.title) {
      changed(chat);
      remember(chatId);
    }
    return out;
  }

  if (update instanceof Api.UpdateChatParticipantAdmin) {
    emit('group.admin_changed', {
      chatId: toBotApiId('chat', update.chatId),
      userId: update.userId.toString(),
      isAdmin: update.isAdmin,
      rights: update.isAdmin ? BASIC_GROUP_ADMIN_RIGHTS : [],
      actorId: null,
    });
    return out;
  }

  if (update instanceof Api.UpdateChatDefaultBannedRights) {
    const chat = viewOf(peerToBotApiId(update.peer));
    if (chat) changed(chat);
    return out;
  }

  if (update instanceof Api.UpdateEditMessage || update instanceof Api.UpdateEditChannelMessage) {
    const msg = update.message;
    // The account's own message edited elsewhere is other_device; others' edits have no source.
    if (msg instanceof Api.Message)
      emit('message.edited', {
        message: messageView(msg, selfId),
        ...(msg.out ? { source: 'other_device' } : {}),
      });
    return out;
  }
  // Telegram does not say who deleted: not the API (its deletes arrive as 'own').
  if (update instanceof Api.UpdateDeleteMessages) {
    emit('message.deleted', { chatId: null, messageIds: update.messages, source: 'other_device' });
    return out;
  }
  if (update instanceof Api.UpdateDeleteChannelMessages) {
    emit('message.deleted', {
      chatId: toBotApiId('channel', update.channelId),
      messageIds: update.messages,
      source: 'other_device',
    });
    return out;
  }
  if (update instanceof Api.UpdateReadHistoryInbox || update instanceof Api.UpdateReadHistoryOutbox) {
    emit('message.read', {
      chatId: peerToBotApiId(update.peer),
      maxId: update.maxId,
      outbox: update instanceof Api.UpdateReadHistoryOutbox,
    });
    return out;
  }
  if (update instanceof Api.UpdateReadChannelInbox || update instanceof Api.UpdateReadChannelOutbox) {
    emit('message.read', {
      chatId: toBotApiId('channel', update.channelId),
      maxId: update.maxId,
      outbox: update instanceof Api.UpdateReadChannelOutbox,
    });
    return out;
  }

  if (update instanceof Api.UpdateUserStatus) {
    emit('user.status_changed', { userId: update.userId.toString(), ...userStatus(update.status) });
    return out;
  }
  if (update instanceof Api.UpdateUserTyping) {
    const userId = update.userId.toString();
    emit('user.typing', { userId, chatId: userId, action: typingAction(update.action) });
    return out;
  }
  if (update instanceof Api.UpdateChatUserTyping || update instanceof Api.UpdateChannelUserTyping) {
    const chatId =
      update instanceof Api.UpdateChatUserTyping
        ? toBotApiId('chat', update.chatId)
        : toBotApiId('channel', update.channelId);
    emit('user.typing', {
      userId: peerToBotApiId(update.fromId),
      chatId,
      action: typingAction(update.action),
    });
    return out;
  }
  if (update instanceof Api.UpdateUserName) {
    const userId = update.userId.toString();
    const username = update.usernames.find((u) => u.active)?.username ?? null;
    emit('user.profile_updated', {
      userId,
      user: { id: userId, firstName: update.firstName || null, lastName: update.lastName || null, username },
    });
    return out;
  }
  if (update instanceof Api.UpdateUserPhone) {
    const userId = update.userId.toString();
    emit('user.profile_updated', { userId, user: { id: userId, phone: update.phone || null } });
    return out;
  }
  if (update instanceof Api.UpdateUser) {
    const userId = update.userId.toString();
    const user = findUser(ctx, userId);
    emit('user.profile_updated', { userId, user: user ? userView(user) : { id: userId } });
    return out;
  }
  return out;
}

/**
 * The events of one update with their dedup keys: a message event's from its message (shared
 * with the API's event of it), any other's from the update's identity, its type and its place
 * among the update's events of that type.
 */
export function withDedupKeys(sessionId: string, update: Api.TypeUpdate, events: NewEvent[]): NewEvent[] {
  const identity = updateIdentity(update);
  const counts = new Map<EventType, number>();
  return events.map((event) => {
    const n = counts.get(event.type) ?? 0;
    counts.set(event.type, n + 1);
    const key =
      messageEventKey(event.type, sessionId, event.data) ??
      (identity ? dedupKey(sessionId, identity, event.type, n) : undefined);
    return key ? { ...event, dedupKey: key } : event;
  });
}

/**
 * A message in a private chat this process has not checked yet: the chat may be new. Marks the
 * peer as checked, so each private chat costs at most one lookup per process.
 */
export function privateChatCandidate(
  update: Api.TypeUpdate,
  ctx: UpdateContext,
  memory: DialogMemory,
): { chatId: string; messageId: number; chat: ChatView } | undefined {
  if (!(update instanceof Api.UpdateNewMessage) || !(update.message instanceof Api.Message)) return undefined;
  const msg = update.message;
  if (!(msg.peerId instanceof Api.PeerUser)) return undefined;
  const chatId = peerToBotApiId(msg.peerId);
  if (memory.privatePeers.has(chatId)) return undefined;
  memory.privatePeers.add(chatId);
  const user = findUser(ctx, chatId);
  const chat: ChatView = user ? chatView(user) : { id: chatId, type: 'private', title: chatId };
  return { chatId, messageId: msg.id, chat };
}

export interface AttachOptions {
  /** Waits between tries of the private-chat lookup while the session is (re)connecting. */
  lookupRetryMs?: number;
  lookupTries?: number;
}

/**
 * Registers the mapper with the session manager: every update of every session becomes its
 * events, published in the order the updates arrive.
 */
export function attachUpdateEvents(
  sessions: SessionManager,
  events: EventPublisher,
  log: Logger,
  options: AttachOptions = {},
): void {
  const retryMs = options.lookupRetryMs ?? 200;
  const tries = options.lookupTries ?? 50;
  const memories = new Map<string, DialogMemory>();
  /** Private-chat lookups run one after another per session, so chat.created keep their order. */
  const lookups = new Map<string, Promise<boolean>>();
  const selfIds = new Map<string, string>();
  /** Updates waiting for the session's own id, per session, in arrival order, with what to settle. */
  const waiting = new Map<string, [Api.TypeUpdate, UpdateContext, (ok: Promise<boolean>) => void][]>();

  /** Resolves true once recorded, false when the write failed (logged). */
  const publish = (event: NewEvent): Promise<boolean> =>
    events.publish(event).then(
      () => true,
      (err: unknown) => {
        log.error({ err, type: event.type }, 'could not record event');
        return false;
      },
    );
  const allRecorded = (writes: Promise<boolean>[]): Promise<boolean> =>
    Promise.all(writes).then((oks) => oks.every(Boolean));

  const memoryOf = (sessionId: string) => {
    let m = memories.get(sessionId);
    if (!m) memories.set(sessionId, (m = new DialogMemory()));
    return m;
  };

  /** chat.created for a private chat whose first message this is (no older message exists). */
  const checkPrivateChat = async (
    sessionId: string,
    candidate: { chatId: string; messageId: number; chat: ChatView },
  ) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const account = await sessions.account(sessionId);
        const { peer } = await account.resolvePeer(candidate.chatId);
        const older = await account.invoke(
          new Api.messages.GetHistory({ peer, offsetId: candidate.messageId, limit: 1 }),
        );
        const count = 'messages' in older ? older.messages.length : 0;
        if (count === 0)
          return publish({
            type: 'chat.created',
            sessionId,
            data: { chat: candidate.chat },
            dedupKey: dedupKey(sessionId, 'message', candidate.chatId, candidate.messageId, 'chat.created'),
          });
        return true;
      } catch (err) {
        const hopeless =
          err instanceof AppError &&
          (err.code === 'SESSION_NOT_FOUND' || err.code === 'SESSION_NOT_AUTHORIZED');
        if (hopeless || attempt >= tries) {
          log.warn(
            { err, sessionId, chatId: candidate.chatId },
            'could not tell whether a private chat is new',
          );
          memoryOf(sessionId).privatePeers.delete(candidate.chatId);
          return true;
        }
        await new Promise((r) => setTimeout(r, retryMs).unref());
      }
    }
  };

  /** Publishes what an update means; settles once all of it is recorded (see UpdateListener). */
  const handle = (
    sessionId: string,
    selfId: string,
    update: Api.TypeUpdate,
    ctx: UpdateContext,
  ): Promise<boolean> => {
    const memory = memoryOf(sessionId);
    const events = eventsFromUpdate(sessionId, update, ctx, selfId, memory);
    const writes = withDedupKeys(sessionId, update, events).map(publish);
    const candidate = privateChatCandidate(update, ctx, memory);
    if (candidate) {
      const next = (lookups.get(sessionId) ?? Promise.resolve(true)).then(() =>
        checkPrivateChat(sessionId, candidate),
      );
      lookups.set(sessionId, next);
      void next.finally(() => {
        if (lookups.get(sessionId) === next) lookups.delete(sessionId);
      });
      writes.push(next);
    }
    return allRecorded(writes);
  };

  sessions.onUpdate((sessionId, update, ctx) => {
    let selfId = selfIds.get(sessionId);
    if (!selfId) {
      const self = ctx.users.find((u) => u instanceof Api.User && u.self);
      if (self) selfIds.set(sessionId, (selfId = self.id.toString()));
    }
    const queue = waiting.get(sessionId);
    if (selfId && !queue) return handle(sessionId, selfId, update, ctx);
    let settle!: (ok: Promise<boolean>) => void;
    const recorded = new Promise<boolean>((resolve) => (settle = resolve));
    if (queue) {
      queue.push([update, ctx, settle]);
      return recorded;
    }
    // The first update of a session in this process without the account in it: read the id once.
    const pending: [Api.TypeUpdate, UpdateContext, (ok: Promise<boolean>) => void][] = [
      [update, ctx, settle],
    ];
    waiting.set(sessionId, pending);
    void sessions
      .get(sessionId)
      .then((view) => {
        const id = view.user?.id;
        if (id) selfIds.set(sessionId, id);
        for (const [u, c, done] of pending) done(id ? handle(sessionId, id, u, c) : Promise.resolve(true));
      })
      .catch((err: unknown) => {
        log.warn({ err, sessionId }, 'updates dropped: session unknown');
        for (const [, , done] of pending) done(Promise.resolve(true));
      })
      .finally(() => waiting.delete(sessionId));
    return recorded;
  });
}
