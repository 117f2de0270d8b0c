/** What the update -> event mappers (chat-, message- and user-updates.ts) share. */
import { Api } from 'teleproto';
import type { EventType } from '../../lib/events.js';
import { entityBotApiId } from '../../telegram/ids.js';
import type { UpdateContext } from '../../telegram/update-tracker.js';

/** Adds an event of the update being mapped (eventsFromUpdate drops what the API publishes itself). */
export type Emit = (type: EventType, data: Record<string, unknown>) => void;

export const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/^_/, '');

export function findChat(ctx: UpdateContext, chatId: string): Api.TypeChat | undefined {
  return ctx.chats.find((c) => entityBotApiId(c) === chatId);
}

export function findUser(ctx: UpdateContext, userId: string): Api.User | undefined {
  const u = ctx.users.find((x) => x instanceof Api.User && x.id.toString() === userId);
  return u instanceof Api.User ? u : undefined;
}
