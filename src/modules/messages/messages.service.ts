import type { z } from 'zod';
import type {
  deleteBody,
  editBody,
  forwardBody,
  historyQuery,
  MessageView,
  pinBody,
  reactBody,
  readBody,
  replyBody,
  sendBody,
  unpinBody,
} from './messages.schema.js';

export interface MessagesService {
  send(input: z.infer<typeof sendBody>, idempotencyKey?: string): Promise<MessageView>;
  reply(input: z.infer<typeof replyBody>, idempotencyKey?: string): Promise<MessageView>;
  edit(input: z.infer<typeof editBody>): Promise<MessageView>;
  delete(input: z.infer<typeof deleteBody>): Promise<{ deleted: number[]; revoke: boolean }>;
  forward(input: z.infer<typeof forwardBody>, idempotencyKey?: string): Promise<MessageView[]>;
  react(input: z.infer<typeof reactBody>): Promise<MessageView>;
  pin(input: z.infer<typeof pinBody>): Promise<{ chatId: string; messageId: number | null; pinned: boolean }>;
  unpin(
    input: z.infer<typeof unpinBody>,
  ): Promise<{ chatId: string; messageId: number | null; pinned: boolean }>;
  read(input: z.infer<typeof readBody>): Promise<{ chatId: string; maxId: number }>;
  history(input: z.infer<typeof historyQuery>): Promise<MessageView[]>;
}
