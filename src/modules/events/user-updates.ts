/** user.* events: statuses, typing, profile changes. */
import { Api } from 'teleproto';
import { userView } from '../../telegram/convert.js';
import { peerToBotApiId, toBotApiId } from '../../telegram/ids.js';
import type { UpdateContext } from '../../telegram/update-tracker.js';
import { findUser, snake, type Emit } from './update-helpers.js';

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

/** The user.* events of one update (none for other updates). */
export function userEvents(update: Api.TypeUpdate, ctx: UpdateContext, emit: Emit): void {
  if (update instanceof Api.UpdateUserStatus) {
    emit('user.status_changed', { userId: update.userId.toString(), ...userStatus(update.status) });
    return;
  }
  if (update instanceof Api.UpdateUserTyping) {
    const userId = update.userId.toString();
    emit('user.typing', { userId, chatId: userId, action: typingAction(update.action) });
    return;
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
    return;
  }
  if (update instanceof Api.UpdateUserName) {
    const userId = update.userId.toString();
    const username = update.usernames.find((u) => u.active)?.username ?? null;
    emit('user.profile_updated', {
      userId,
      user: { id: userId, firstName: update.firstName || null, lastName: update.lastName || null, username },
    });
    return;
  }
  if (update instanceof Api.UpdateUserPhone) {
    const userId = update.userId.toString();
    emit('user.profile_updated', { userId, user: { id: userId, phone: update.phone || null } });
    return;
  }
  if (update instanceof Api.UpdateUser) {
    const userId = update.userId.toString();
    const user = findUser(ctx, userId);
    emit('user.profile_updated', { userId, user: user ? userView(user) : { id: userId } });
  }
}
