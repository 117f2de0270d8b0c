import type { EventType } from './client';

/** The 28 event types (API.md "Events"), for pickers; the type check below keeps it complete. */
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
] as const satisfies readonly EventType[];

/** Fails to compile when the API gains a type this list lacks. */
const complete: Exclude<EventType, (typeof EVENT_TYPES)[number]> extends never ? true : false = true;
void complete;

/** Every type, its family wildcards (`message.*`) and `*`: what filters accept. */
export const EVENT_PATTERNS: string[] = [
  '*',
  ...[...new Set(EVENT_TYPES.map((t) => `${t.split('.')[0]}.*`))],
  ...EVENT_TYPES,
];
