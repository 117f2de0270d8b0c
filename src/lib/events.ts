import { createHash } from 'node:crypto';

/**
 * The 28 event types of the seed, and the seam through which every part of TeleFlow reports
 * them. The events module (src/modules/events/) implements EventPublisher: it writes each event
 * to the durable log before anything is delivered.
 */
export const EVENT_TYPES = [
  'session.created',
  'session.connected',
  'session.disconnected',
  'session.authorized',
  'session.deleted',
  'message.received',
  'message.sent',
  'message.edited',
  'message.deleted',
  'message.read',
  'chat.created',
  'chat.updated',
  'chat.deleted',
  'chat.member_joined',
  'chat.member_left',
  'group.created',
  'group.updated',
  'group.deleted',
  'group.member_added',
  'group.member_removed',
  'group.admin_changed',
  'channel.created',
  'channel.updated',
  'channel.deleted',
  'channel.post_published',
  'user.status_changed',
  'user.typing',
  'user.profile_updated',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface NewEvent {
  type: EventType;
  /** The TeleFlow session the event belongs to (null for events of the service itself). */
  sessionId: string | null;
  data: Record<string, unknown>;
  /**
   * What the event reports (a message, an update), when that has an identity: the log records
   * one event per key and silently skips a later one with the same key, so an update that
   * comes back (the catch-up after a crash, the echo of an API call) is reported once.
   */
  dedupKey?: string;
}

export interface EventPublisher {
  /** Resolves once the event is durably recorded; delivery happens afterwards. */
  publish(event: NewEvent): Promise<void>;
}

/** Keys longer than this (deletes of many messages) are stored as their hash. */
const MAX_KEY_LENGTH = 200;

/** A dedup key from its parts; a long one is hashed (an index entry stays small). */
export function dedupKey(...parts: (string | number)[]): string {
  const key = parts.join(':');
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** Private chats and basic groups share one message numbering per account; channels have their own. */
const messageBox = (chatId: unknown) =>
  typeof chatId === 'string' && chatId.startsWith('-100') ? chatId : 'account';

/**
 * The dedup key of a message event, from its data: the event an API call records and the one
 * its update (an echo, or the catch-up after a crash) would give agree on it. Undefined for
 * other types, and for data without what identifies the message.
 */
export function messageEventKey(
  type: EventType,
  sessionId: string | null,
  data: Record<string, unknown>,
): string | undefined {
  if (!sessionId) return undefined;
  const message = data.message as { id?: unknown; chatId?: unknown; editDate?: unknown; text?: unknown };
  const identified = typeof message?.id === 'number' && typeof message.chatId === 'string';
  switch (type) {
    case 'message.received':
    case 'message.sent':
    case 'channel.post_published':
      return identified
        ? dedupKey(sessionId, type, message.chatId as string, message.id as number)
        : undefined;
    case 'message.edited': {
      if (!identified) return undefined;
      // An edit is one per edit date; two in the same second still differ by their text.
      const text = createHash('sha256')
        .update(String(message.text ?? ''))
        .digest('hex')
        .slice(0, 16);
      return dedupKey(
        sessionId,
        type,
        message.chatId as string,
        message.id as number,
        String(message.editDate ?? ''),
        text,
      );
    }
    case 'message.deleted': {
      const ids = Array.isArray(data.messageIds)
        ? [...(data.messageIds as number[])].sort((a, b) => a - b)
        : [];
      return ids.length > 0 ? dedupKey(sessionId, type, messageBox(data.chatId), ids.join(',')) : undefined;
    }
    case 'message.read':
      return typeof data.chatId === 'string' && typeof data.maxId === 'number'
        ? dedupKey(sessionId, type, data.chatId, data.maxId, data.outbox === true ? 'outbox' : 'inbox')
        : undefined;
    default:
      return undefined;
  }
}
