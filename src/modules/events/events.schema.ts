import { z } from 'zod';
import { EVENT_TYPES, type EventType } from '../../lib/events.js';
import { isoDate } from '../../lib/schemas.js';
import { chatObject, messageObject, telegramUser } from '../../lib/telegram-views.js';
import { sessionIdSchema, sessionObject } from '../sessions/sessions.schema.js';

export const eventTypeSchema = z
  .enum(EVENT_TYPES)
  .meta({ id: 'EventType', description: 'One of the 28 event types' });

const chatId = z
  .string()
  .meta({ description: 'Bot-API-style chat id (user id, -<id> group, -100<id> channel)' });
const userId = z.string().meta({ description: '64-bit Telegram user id, as a string' });

/** Where a change to a message was made: through TeleFlow's API, or in another app. */
const changeSource = z.enum(['api', 'other_device']);
const catchUp = z
  .boolean()
  .optional()
  .meta({ description: 'True when caught up after a gap (a reconnect or restart), not pushed live' });

/** Session lifecycle: the Session object as GET /sessions/:id would show it at that moment. */
const sessionData = z.object({ session: sessionObject });
const chatData = z.object({ chat: chatObject });
const chatUpdated = chatData.extend({
  migratedTo: chatId.optional().meta({
    description:
      "Set when a basic group became a supergroup: the supergroup's new -100 id (the old id is followed there by the API)",
  }),
});
const chatGone = z.object({ chatId, chat: chatObject.nullable().optional() });
const membership = z.object({
  chatId,
  userId,
  actorId: userId
    .nullable()
    .meta({ description: 'Who added or removed the member; null when they acted themselves' }),
  user: telegramUser.nullable().optional(),
  chat: chatObject
    .optional()
    .meta({ description: 'The chat, when known (e.g. after a join through the API)' }),
});

/**
 * The `data` of each event type. Objects are the ones the REST API returns (Session, Message,
 * Chat), so a receiver parses one shape whether it polls or listens. Extra fields may be added
 * later; receivers should ignore what they do not know.
 */
export const EVENT_DATA_SCHEMAS = {
  'session.created': sessionData,
  'session.connected': sessionData,
  'session.disconnected': sessionData.extend({
    reason: z
      .string()
      .nullable()
      .meta({ description: 'Why, when known (e.g. "requested", "network", "auth_key_unregistered")' }),
  }),
  'session.authorized': sessionData,
  'session.deleted': sessionData,
  'message.received': z.object({ message: messageObject, catchUp }),
  'message.sent': z.object({
    message: messageObject,
    source: changeSource.optional().meta({
      description:
        '"api" when sent through TeleFlow, "other_device" when the account sent it from another app (absent only on events recorded by versions before it)',
    }),
    forwarded: z.boolean().optional().meta({ description: 'True when the message was sent by a forward' }),
    catchUp,
  }),
  'message.edited': z.object({
    message: messageObject,
    source: changeSource
      .optional()
      .meta({ description: "For the account's own messages; absent when someone else edited theirs" }),
  }),
  'message.deleted': z.object({
    chatId: chatId
      .nullable()
      .meta({ description: 'Null when Telegram does not say (private chats and basic groups)' }),
    messageIds: z.array(z.number().int()),
    source: changeSource.optional().meta({
      description:
        '"api" when deleted through TeleFlow; "other_device" otherwise (Telegram does not say who: the account\'s other apps, or the other side deleting for everyone)',
    }),
    revoke: z.boolean().optional().meta({ description: 'Deleted for everyone (API deletes)' }),
  }),
  'message.read': z.object({
    chatId,
    maxId: z.number().int().meta({ description: 'Messages up to this id are read' }),
    outbox: z.boolean().optional().meta({ description: 'True when the other side read our messages' }),
  }),
  'chat.created': chatData,
  'chat.updated': chatUpdated,
  'chat.deleted': chatGone,
  'chat.member_joined': membership,
  'chat.member_left': membership,
  'group.created': chatData,
  'group.updated': chatUpdated,
  'group.deleted': chatGone,
  'group.member_added': membership,
  'group.member_removed': membership,
  'group.admin_changed': z.object({
    chatId,
    userId,
    isAdmin: z.boolean(),
    rights: z
      .array(z.string())
      .meta({ description: 'Admin rights held now, e.g. ["change_info", "delete_messages"]' }),
    actorId: userId.nullable(),
  }),
  'channel.created': chatData,
  'channel.updated': chatData,
  'channel.deleted': chatGone,
  'channel.post_published': z.object({ message: messageObject, chat: chatObject.optional() }),
  'user.status_changed': z.object({
    userId,
    status: z.enum(['online', 'offline', 'recently', 'last_week', 'last_month', 'hidden']),
    lastSeenAt: isoDate.nullable().optional(),
    expiresAt: isoDate.nullable().optional().meta({ description: 'When "online" lapses unless renewed' }),
  }),
  'user.typing': z.object({
    userId,
    chatId,
    action: z.string().meta({
      description:
        'typing, cancel, record_video, upload_video, record_audio, upload_audio, upload_photo, upload_document, choose_sticker, ...',
    }),
  }),
  'user.profile_updated': z.object({
    userId,
    user: telegramUser
      .partial()
      .extend({ id: userId })
      .meta({ description: 'The fields that changed, with the id' }),
  }),
} as const satisfies Record<EventType, z.ZodObject>;

export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA_SCHEMAS)[T]>;

function pascal(type: string): string {
  return type
    .split(/[._]/)
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
}

const envelopeFields = {
  id: z.string().meta({ description: 'Increasing integer, as a string; resume a stream after it' }),
  sessionId: z.string().nullable(),
  timestamp: isoDate,
};

/** One envelope schema per type, registered in the OpenAPI components as `<Type>Event`. */
export const EVENT_ENVELOPES = EVENT_TYPES.map((type) =>
  z
    .object({ ...envelopeFields, type: z.literal(type), data: EVENT_DATA_SCHEMAS[type] })
    .meta({ id: `${pascal(type)}Event`, description: `The \`${type}\` event` }),
);

export const eventEnvelope = z
  .discriminatedUnion('type', EVENT_ENVELOPES as unknown as [z.ZodObject, ...z.ZodObject[]])
  .meta({
    id: 'Event',
    description:
      'The envelope every stream frame and webhook body carries: `{id, type, sessionId, timestamp, data}`',
  });

export interface EventEnvelope {
  id: string;
  type: EventType;
  sessionId: string | null;
  timestamp: string;
  data: Record<string, unknown>;
}

/** `*`, `prefix.*` or one exact type; validated against the closed list. */
export const EVENT_PATTERN = /^(\*|[a-z]+\.\*|[a-z]+\.[a-z_]+)$/;

/** Expands a list of patterns into the set of types it matches; throws on a pattern matching none. */
export function expandEventPatterns(patterns: readonly string[]): Set<EventType> {
  const out = new Set<EventType>();
  for (const raw of patterns) {
    const p = raw.trim();
    let matched: EventType[];
    if (p === '*') matched = [...EVENT_TYPES];
    else if (p.endsWith('.*')) matched = EVENT_TYPES.filter((t) => t.startsWith(p.slice(0, -1)));
    else matched = EVENT_TYPES.filter((t) => t === p);
    if (matched.length === 0) throw new Error(`"${p}" matches no event type`);
    for (const t of matched) out.add(t);
  }
  return out;
}

const eventPatternSchema = z
  .string()
  .trim()
  .regex(EVENT_PATTERN, 'an event type, "prefix.*" or "*"')
  .refine((p) => {
    try {
      expandEventPatterns([p]);
      return true;
    } catch {
      return false;
    }
  }, 'matches none of the 28 event types');

export const eventPatternList = z
  .array(eventPatternSchema)
  .min(1)
  .max(100)
  .meta({
    description: 'Event types to receive: exact types, "prefix.*" (e.g. "message.*") or "*"',
    example: ['message.*', 'session.connected'],
  });

export const streamQuery = z.strictObject({
  types: z
    .string()
    .max(2000)
    .optional()
    .refine((v) => v === undefined || v.split(',').every((p) => eventPatternSchema.safeParse(p).success), {
      message: 'a comma list of event types, "prefix.*" or "*"',
    })
    .meta({ description: 'Comma list of types with `*` and `prefix.*` wildcards; all types when absent' }),
  sessionId: sessionIdSchema.optional().meta({ description: 'Only events of this session' }),
  since: z
    .string()
    .regex(/^\d{1,18}$/, 'an event id')
    .optional()
    .meta({ description: 'Replay the events after this id, then go live (SSE also takes Last-Event-ID)' }),
  token: z
    .string()
    .max(2048)
    .optional()
    .meta({ description: 'An API key or JWT, for clients that cannot set headers; never logged' }),
});
export type StreamQuery = z.infer<typeof streamQuery>;
