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
 *   needs one messages.getHistory call, so attachUpdateEvents (update-listener.ts) does it
 *   (once per peer per process).
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
 * channels (channel.*). A basic group's migration to a supergroup (messageActionChatMigrateTo)
 * is chat.updated / group.updated of the old group with `migratedTo`, and the supergroup's
 * messageActionChannelMigrateFrom is its chat.created / group.created. Not reported: admin
 * changes in broadcast channels (no type fits), and changes that only an
 * updateChannel says (a new username) when this process has not seen the channel before: what a
 * session saw of its chats is kept in memory, so right after a restart such a change is taken
 * as the first sight of the channel.
 *
 * The mappers: message-updates.ts, chat-updates.ts (with DialogMemory), user-updates.ts;
 * update-listener.ts publishes their events for every session.
 */
import { Api } from 'teleproto';
import { dedupKey, messageEventKey, type EventType, type NewEvent } from '../../lib/events.js';
import type { ChatView } from '../../lib/telegram-views.js';
import { chatView } from '../../telegram/convert.js';
import { peerToBotApiId } from '../../telegram/ids.js';
import { updateIdentity, type UpdateContext } from '../../telegram/update-tracker.js';
import { chatEvents, DialogMemory } from './chat-updates.js';
import { messageEvents } from './message-updates.js';
import { findUser, type Emit } from './update-helpers.js';
import { userEvents } from './user-updates.js';

/** Types the API services publish for our own calls; their 'own' updates must not repeat them. */
const PUBLISHED_BY_API = new Set<EventType>([
  'message.sent',
  'message.edited',
  'message.deleted',
  'message.read',
  'chat.member_joined',
  'chat.member_left',
]);

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
  const emit: Emit = (type, data) => {
    if (ctx.source === 'own' && PUBLISHED_BY_API.has(type)) return;
    out.push({ type, sessionId, data });
  };
  // Each mapper takes the updates it knows and leaves the others. A new message can give
  // message.sent and then chat events, in that order.
  messageEvents(update, ctx, selfId, emit);
  chatEvents(update, ctx, selfId, memory, emit);
  userEvents(update, ctx, emit);
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
