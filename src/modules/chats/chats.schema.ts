import { z } from 'zod';
import { ERROR_CODES } from '../../lib/errors.js';
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

/** A member to add or remove: a user id or `@username` (as chat ids are given). */
export const memberIdSchema = z
  .string()
  .trim()
  .regex(/^(@[A-Za-z0-9_]{3,64}|\d{1,20})$/, '"@username" or a user id')
  .meta({ description: 'A user id or "@username"' });
export const addMembersBody = z.strictObject({
  sessionId: sessionIdSchema,
  userIds: z.array(memberIdSchema).min(1).max(50).meta({ description: 'Users to add, 1-50' }),
});
export const memberParams = z.strictObject({ id: chatIdSchema, userId: memberIdSchema });
export const memberRefusal = z
  .object({
    userId: z.string().meta({ description: 'The user id, or the value given when it named no one' }),
    code: z
      .enum(ERROR_CODES)
      .meta({ description: 'What the error answer would carry (FORBIDDEN, CONFLICT, ...)' }),
    telegramError: z
      .string()
      .nullable()
      .meta({ description: "Telegram's name, e.g. USER_PRIVACY_RESTRICTED" }),
    message: z.string(),
  })
  .meta({ id: 'MemberRefusal' });
export type MemberRefusal = z.infer<typeof memberRefusal>;
export const addMembersResult = z
  .object({
    chatId: z.string(),
    added: z.array(z.string()).meta({ description: 'User ids now members' }),
    refused: z.array(memberRefusal).meta({ description: 'Users Telegram did not add, and why' }),
  })
  .meta({ id: 'AddMembersResult' });
export type AddMembersResult = z.infer<typeof addMembersResult>;
export const removeMemberResult = z
  .object({ chatId: z.string(), userId: z.string(), removed: z.literal(true) })
  .meta({ id: 'RemoveMemberResult' });
