import { z } from 'zod';
import { isoDate } from '../../lib/schemas.js';
import { sessionIdSchema } from '../sessions/sessions.schema.js';

/** `me`, `@username` or a Bot-API-style id (user id, -<id> basic group, -100<id> channel). */
export const chatIdSchema = z
  .string()
  .trim()
  .regex(/^(me|self|@[A-Za-z0-9_]{3,64}|-?\d{1,20})$/, '"me", "@username" or a Bot-API-style numeric id')
  .meta({ description: '"me", "@username", a user id, -<id> for a basic group, -100<id> for a channel' });

export const messageIdSchema = z
  .number()
  .int()
  .positive()
  .max(2 ** 31 - 1);
/** Telegram's own limit for one text message. */
export const MAX_TEXT_LENGTH = 4096;
const text = z.string().min(1).max(MAX_TEXT_LENGTH);
const messageIds = z.array(messageIdSchema).min(1).max(100);

export const messageObject = z
  .object({
    id: z.number().int(),
    chatId: z.string(),
    senderId: z.string().nullable(),
    date: isoDate,
    text: z.string(),
    out: z.boolean(),
    editDate: isoDate.optional(),
    replyToMessageId: z.number().int().optional(),
    forwardedFrom: z
      .object({ senderId: z.string().nullable(), name: z.string().nullable(), date: isoDate })
      .optional(),
    reactions: z.array(z.object({ emoji: z.string(), count: z.number().int() })).optional(),
    pinned: z.boolean().optional(),
  })
  .meta({ id: 'Message' });
export type MessageView = z.infer<typeof messageObject>;

export const sendBody = z.strictObject({
  sessionId: sessionIdSchema,
  chatId: chatIdSchema,
  text,
  parseMode: z.enum(['markdown', 'html']).optional(),
  replyToMessageId: messageIdSchema.optional(),
  silent: z.boolean().optional(),
});
export const replyBody = z.strictObject({
  sessionId: sessionIdSchema,
  chatId: chatIdSchema,
  messageId: messageIdSchema,
  text,
  parseMode: z.enum(['markdown', 'html']).optional(),
});
export const editBody = replyBody;
export const deleteBody = z.strictObject({
  sessionId: sessionIdSchema,
  chatId: chatIdSchema,
  messageIds,
  revoke: z.boolean().optional().meta({ description: 'Delete for everyone (default true)' }),
});
export const forwardBody = z.strictObject({
  sessionId: sessionIdSchema,
  fromChatId: chatIdSchema,
  toChatId: chatIdSchema,
  messageIds,
  silent: z.boolean().optional(),
});
export const reactBody = z.strictObject({
  sessionId: sessionIdSchema,
  chatId: chatIdSchema,
  messageId: messageIdSchema,
  emoji: z.string().min(1).max(16).nullable().meta({ description: 'An emoji; null removes the reaction' }),
});
export const pinBody = z.strictObject({
  sessionId: sessionIdSchema,
  chatId: chatIdSchema,
  messageId: messageIdSchema,
  silent: z.boolean().optional(),
});
export const unpinBody = z.strictObject({
  sessionId: sessionIdSchema,
  chatId: chatIdSchema,
  messageId: messageIdSchema.optional().meta({ description: 'Without it every pinned message is unpinned' }),
});
export const readBody = z.strictObject({
  sessionId: sessionIdSchema,
  chatId: chatIdSchema,
  maxId: messageIdSchema.optional(),
});
export const historyQuery = z.object({
  sessionId: sessionIdSchema,
  chatId: chatIdSchema,
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offsetId: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
});

export const idempotencyHeaders = z.object({
  'idempotency-key': z.string().min(1).max(200).optional().meta({
    description: 'A retry with the same key within 24 h returns the first result and sends nothing',
  }),
});

export const deleteResult = z
  .object({ deleted: z.array(z.number().int()), revoke: z.boolean() })
  .meta({ id: 'DeleteMessagesResult' });
export const pinResult = z
  .object({ chatId: z.string(), messageId: z.number().int().nullable(), pinned: z.boolean() })
  .meta({ id: 'PinResult' });
export const readResult = z
  .object({ chatId: z.string(), maxId: z.number().int() })
  .meta({ id: 'ReadResult' });
