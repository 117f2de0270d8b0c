/**
 * message.sent / .edited / .deleted / .read for messages sent and changes made by other people
 * or the account's other apps (message.received is the SessionManager's).
 */
import { Api } from 'teleproto';
import { messageView } from '../../telegram/convert.js';
import { peerToBotApiId, toBotApiId } from '../../telegram/ids.js';
import type { UpdateContext } from '../../telegram/update-tracker.js';
import type { Emit } from './update-helpers.js';

/** The message.* events of one update (none for other updates). */
export function messageEvents(update: Api.TypeUpdate, ctx: UpdateContext, selfId: string, emit: Emit): void {
  if (update instanceof Api.UpdateNewMessage || update instanceof Api.UpdateNewChannelMessage) {
    const msg = update.message;
    if (msg instanceof Api.MessageEmpty || !msg.peerId) return;
    // The account's own message, sent elsewhere (its other apps): API sends arrive as 'own'.
    if (msg instanceof Api.Message && msg.out)
      emit('message.sent', {
        message: messageView(msg, selfId),
        source: 'other_device',
        catchUp: ctx.source === 'difference',
      });
    return;
  }
  if (update instanceof Api.UpdateEditMessage || update instanceof Api.UpdateEditChannelMessage) {
    const msg = update.message;
    // The account's own message edited elsewhere is other_device; others' edits have no source.
    if (msg instanceof Api.Message)
      emit('message.edited', {
        message: messageView(msg, selfId),
        ...(msg.out ? { source: 'other_device' } : {}),
      });
    return;
  }
  // Telegram does not say who deleted: not the API (its deletes arrive as 'own').
  if (update instanceof Api.UpdateDeleteMessages) {
    emit('message.deleted', { chatId: null, messageIds: update.messages, source: 'other_device' });
    return;
  }
  if (update instanceof Api.UpdateDeleteChannelMessages) {
    emit('message.deleted', {
      chatId: toBotApiId('channel', update.channelId),
      messageIds: update.messages,
      source: 'other_device',
    });
    return;
  }
  if (update instanceof Api.UpdateReadHistoryInbox || update instanceof Api.UpdateReadHistoryOutbox) {
    emit('message.read', {
      chatId: peerToBotApiId(update.peer),
      maxId: update.maxId,
      outbox: update instanceof Api.UpdateReadHistoryOutbox,
    });
    return;
  }
  if (update instanceof Api.UpdateReadChannelInbox || update instanceof Api.UpdateReadChannelOutbox) {
    emit('message.read', {
      chatId: toBotApiId('channel', update.channelId),
      maxId: update.maxId,
      outbox: update instanceof Api.UpdateReadChannelOutbox,
    });
  }
}
