import { z } from 'zod';
import { chatIdSchema } from '../messages/messages.schema.js';
import { sessionIdSchema } from '../sessions/sessions.schema.js';

/** Chats and members are Telegram shapes the adapter builds too: defined in lib. */
export {
  CHAT_TYPES,
  chatObject,
  MEMBER_ROLES,
  memberObject,
  type ChatType,
  type ChatView,
  type MemberView,
} from '../../lib/telegram-views.js';

export const listChatsQuery = z.object({
  sessionId: sessionIdSchema,
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export const chatParams = z.strictObject({ id: chatIdSchema });
export const chatQuery = z.object({ sessionId: sessionIdSchema });
export const membersQuery = z.object({
  sessionId: sessionIdSchema,
  limit: z.coerce.number().int().min(1).max(200).default(100),
  offset: z.coerce.number().int().min(0).max(100000).default(0),
  query: z.string().max(100).optional(),
});
export const joinBody = z.strictObject({
  sessionId: sessionIdSchema,
  target: z.string().trim().min(2).max(300).meta({
    description: '@name, https://t.me/name, or an invite link https://t.me/+hash (or t.me/joinchat/hash)',
  }),
});
export const leaveBody = z.strictObject({ sessionId: sessionIdSchema, chatId: chatIdSchema });
export const searchBody = z.strictObject({
  sessionId: sessionIdSchema,
  query: z.string().min(1).max(256),
  chatId: chatIdSchema.optional(),
  limit: z.number().int().min(1).max(100).optional(),
});
export const leaveResult = z
  .object({ chatId: z.string(), left: z.literal(true) })
  .meta({ id: 'LeaveResult' });
