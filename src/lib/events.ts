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
}

export interface EventPublisher {
  /** Resolves once the event is durably recorded; delivery happens afterwards. */
  publish(event: NewEvent): Promise<void>;
}
