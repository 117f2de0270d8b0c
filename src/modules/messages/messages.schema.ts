import { z } from 'zod';
import { sessionIdSchema } from '../sessions/sessions.schema.js';

/** Messages and entities are Telegram shapes the adapter builds too: defined in lib. */
export {
  messageEntityObject,
  messageObject,
  type MessageEntityView,
  type MessageView,
} from '../../lib/telegram-views.js';

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
/**
 * The raw text, markup included. Telegram's own limit (4096 UTF-16 code units of the text once
 * parseMode's markup is removed) is checked by the service, where the markup is parsed.
 */
const MAX_RAW_TEXT_LENGTH = 16_384;
const text = z
  .string()
  .min(1)
  .max(MAX_RAW_TEXT_LENGTH)
  .meta({
    description:
      'At most 4096 UTF-16 code units once parseMode markup is removed (an emoji beyond the BMP counts 2), ' +
      'as Telegram counts; 400 VALIDATION_ERROR otherwise',
  });
const parseMode = z.enum(['markdown', 'html']).optional();
const messageIds = z.array(messageIdSchema).min(1).max(100);

export const sendBody = z.strictObject({
  sessionId: sessionIdSchema,
  chatId: chatIdSchema,
  text,
  parseMode,
  replyToMessageId: messageIdSchema.optional(),
  silent: z.boolean().optional(),
});
export const replyBody = z.strictObject({
  sessionId: sessionIdSchema,
  chatId: chatIdSchema,
  messageId: messageIdSchema,
  text,
  parseMode,
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
  .object({
    chatId: z.string(),
    maxId: z.number().int().meta({ description: 'The id the chat is now read up to (0: nothing to read)' }),
  })
  .meta({ id: 'ReadResult' });
