/**
 * chat.*, group.* and channel.* events: service messages, updateChannel, updateChannelParticipant,
 * updateChat and the basic group admin and default-rights updates, compared with what the
 * session last saw of the chat (DialogMemory).
 */
import { Api } from 'teleproto';
import type { ChatView } from '../../lib/telegram-views.js';
import { chatView, messageView, userView } from '../../telegram/convert.js';
import { peerToBotApiId, toBotApiId } from '../../telegram/ids.js';
import type { UpdateContext } from '../../telegram/update-tracker.js';
import { findChat, findUser, snake, type Emit } from './update-helpers.js';

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
  /** This account's admin rights in each supergroup, as its last updateChannel showed them. */
  readonly ownRights = new Map<string, string>();
  /** Private chats already checked for being new. */
  readonly privatePeers = new Set<string>();
}

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

export function adminRightNames(rights: Api.ChatAdminRights | undefined): string[] {
  if (!rights) return [];
  return ADMIN_RIGHT_FIELDS.filter((f) => rights[f]).map(snake);
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

/** How recent a channel's join `date` must be for an updateChannel to count as the join itself. */
const JOIN_WINDOW_SECONDS = 120;

function joinedJustNow(entity: Api.TypeChat): boolean {
  return entity instanceof Api.Channel && entity.date >= Date.now() / 1000 - JOIN_WINDOW_SECONDS;
}

/** Group-like kinds get group.* events besides chat.*. */
const isGroupType = (type: ChatView['type'] | undefined) => type === 'group' || type === 'supergroup';

/**
 * The chat, group and channel events of one update (none for other updates). `memory` is the
 * session's DialogMemory (updated here).
 */
export function chatEvents(
  update: Api.TypeUpdate,
  ctx: UpdateContext,
  selfId: string,
  memory: DialogMemory,
  emit: Emit,
): void {
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
  const changed = (chat: ChatView, extra: { migratedTo?: string } = {}) => {
    emit('chat.updated', { chat, ...extra });
    emit(chat.type === 'channel' ? 'channel.updated' : 'group.updated', { chat, ...extra });
  };
  /** group.admin_changed for this account, when a supergroup's admin_rights for it changed. */
  const ownRights = (chatId: string, entity: Api.Channel) => {
    const rights = adminRightNames(entity.adminRights);
    const before = memory.ownRights.get(chatId);
    memory.ownRights.set(chatId, rights.join());
    if (before === undefined || before === rights.join()) return;
    emit('group.admin_changed', {
      chatId,
      userId: selfId,
      isAdmin: rights.length > 0,
      rights,
      actorId: null,
    });
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
    if (msg instanceof Api.MessageEmpty || !msg.peerId) return;
    const chatId = peerToBotApiId(msg.peerId);
    if (msg.peerId instanceof Api.PeerUser) return;
    const chat = viewOf(chatId);
    if (msg instanceof Api.Message) {
      // Our own posts through the API are message.sent; posts from other apps count here too.
      if (chat?.type === 'channel' && ctx.source !== 'own')
        emit('channel.post_published', { message: messageView(msg, selfId), chat });
      remember(chatId);
      return;
    }
    const actorId = msg.fromId ? peerToBotApiId(msg.fromId) : null;
    const action = msg.action;
    if (!chat) return;
    if (action instanceof Api.MessageActionChatMigrateTo) {
      // The basic group became a supergroup (https://core.telegram.org/api/channel#migration):
      // its old id is reported with the new one; the supergroup's own message reports it as new.
      changed(chat, { migratedTo: toBotApiId('channel', action.channelId) });
    } else if (
      action instanceof Api.MessageActionChatCreate ||
      action instanceof Api.MessageActionChannelCreate ||
      action instanceof Api.MessageActionChannelMigrateFrom
    ) {
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
        return;
      }
    } else if (
      action instanceof Api.MessageActionChatEditTitle ||
      action instanceof Api.MessageActionChatEditPhoto ||
      action instanceof Api.MessageActionChatDeletePhoto
    ) {
      changed(chat);
    }
    remember(chatId);
    return;
  }

  // User accounts get no updateChannelParticipant (it carries a qts: bots only,
  // core.telegram.org/constructor/updateChannelParticipant). Their own joins, leaves and admin
  // rights show in the channel an updateChannel brings; in supergroups the other members' joins
  // and leaves come as service messages (above); a broadcast channel tells no one of them.
  if (update instanceof Api.UpdateChannel) {
    const chatId = toBotApiId('channel', update.channelId);
    const entity = findChat(ctx, chatId);
    if (!entity) return;
    const chat = chatView(entity);
    const prev = memory.chats.get(chatId);
    // Service messages report the account's own membership of supergroups; not of channels.
    const ownMembership = (joined: boolean) => {
      if (chat.type === 'channel') member(joined, chatId, selfId, null, chat);
    };
    if (entity instanceof Api.Channel && isActive(entity) && isGroupType(chat.type))
      ownRights(chatId, entity);
    if (isGone(entity)) {
      deleted(chatId, chat);
    } else if (!isActive(entity)) {
      if (prev?.active) {
        removed(chatId, chat);
        ownMembership(false);
      } else if (prev) remember(chatId);
    } else if (!prev) {
      // Pushed for many reasons: the answer to our own call (a join), or a channel whose `date`
      // (when this account joined) is just now, says it is new to us.
      if (ctx.source === 'own' || joinedJustNow(entity)) {
        created(chatId, chat);
        ownMembership(true);
      }
    } else if (!prev.active || prev.gone) {
      created(chatId, chat);
      ownMembership(true);
    } else {
      if (prev.view.title !== chat.title || prev.view.username !== chat.username) changed(chat);
      remember(chatId);
    }
    return;
  }

  /** Bots (and updates replayed from elsewhere) still carry updateChannelParticipant. */
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
    return;
  }

  if (update instanceof Api.UpdateChat) {
    const chatId = toBotApiId('chat', update.chatId);
    const entity = findChat(ctx, chatId);
    if (!entity) return;
    const chat = chatView(entity);
    const prev = memory.chats.get(chatId);
    // A migrated group is reported by its messageActionChatMigrateTo, not as removed.
    if (entity instanceof Api.Chat && entity.migratedTo) remember(chatId);
    else if (isGone(entity)) deleted(chatId, chat);
    else if (!isActive(entity)) {
      if (prev?.active) removed(chatId, chat);
    } else if (prev?.active && prev.view.title !== chat.title) {
      changed(chat);
      remember(chatId);
    }
    return;
  }

  if (update instanceof Api.UpdateChatParticipantAdmin) {
    emit('group.admin_changed', {
      chatId: toBotApiId('chat', update.chatId),
      userId: update.userId.toString(),
      isAdmin: update.isAdmin,
      rights: update.isAdmin ? BASIC_GROUP_ADMIN_RIGHTS : [],
      actorId: null,
    });
    return;
  }

  if (update instanceof Api.UpdateChatDefaultBannedRights) {
    const chat = viewOf(peerToBotApiId(update.peer));
    if (chat) changed(chat);
  }
}
