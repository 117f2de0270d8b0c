import type { z } from 'zod';
import type { MessageView } from '../messages/messages.schema.js';
import type { ChatView, MemberView, membersQuery, searchBody } from './chats.schema.js';

export interface ChatsService {
  list(sessionId: string, limit: number): Promise<ChatView[]>;
  get(sessionId: string, chatId: string): Promise<ChatView>;
  join(sessionId: string, target: string): Promise<ChatView>;
  leave(sessionId: string, chatId: string): Promise<{ chatId: string; left: true }>;
  members(chatId: string, query: z.infer<typeof membersQuery>): Promise<MemberView[]>;
  search(input: z.infer<typeof searchBody>): Promise<MessageView[]>;
}
