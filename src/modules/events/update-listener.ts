/**
 * Every update of every session turned into its events and published, in the order the updates
 * arrive; a private chat's first message costs one messages.getHistory call (once per peer per
 * process) to tell whether the chat is new.
 */
import type { Logger } from 'pino';
import { Api } from 'teleproto';
import { AppError } from '../../lib/errors.js';
import { dedupKey, type EventPublisher, type NewEvent } from '../../lib/events.js';
import type { ChatView } from '../../lib/telegram-views.js';
import type { UpdateContext } from '../../telegram/update-tracker.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { DialogMemory } from './chat-updates.js';
import { eventsFromUpdate, privateChatCandidate, withDedupKeys } from './from-updates.js';

export interface AttachOptions {
  /** Waits between tries of the private-chat lookup while the session is (re)connecting. */
  lookupRetryMs?: number;
  lookupTries?: number;
}

/**
 * Registers the mapper with the session manager: every update of every session becomes its
 * events, published in the order the updates arrive.
 */
export function attachUpdateEvents(
  sessions: SessionManager,
  events: EventPublisher,
  log: Logger,
  options: AttachOptions = {},
): void {
  const retryMs = options.lookupRetryMs ?? 200;
  const tries = options.lookupTries ?? 50;
  const memories = new Map<string, DialogMemory>();
  /** Private-chat lookups run one after another per session, so chat.created keep their order. */
  const lookups = new Map<string, Promise<boolean>>();
  const selfIds = new Map<string, string>();
  /** Updates waiting for the session's own id, per session, in arrival order, with what to settle. */
  const waiting = new Map<string, [Api.TypeUpdate, UpdateContext, (ok: Promise<boolean>) => void][]>();

  /** Resolves true once recorded, false when the write failed (logged). */
  const publish = (event: NewEvent): Promise<boolean> =>
    events.publish(event).then(
      () => true,
      (err: unknown) => {
        log.error({ err, type: event.type }, 'could not record event');
        return false;
      },
    );
  const allRecorded = (writes: Promise<boolean>[]): Promise<boolean> =>
    Promise.all(writes).then((oks) => oks.every(Boolean));

  const memoryOf = (sessionId: string) => {
    let m = memories.get(sessionId);
    if (!m) memories.set(sessionId, (m = new DialogMemory()));
    return m;
  };

  /** chat.created for a private chat whose first message this is (no older message exists). */
  const checkPrivateChat = async (
    sessionId: string,
    candidate: { chatId: string; messageId: number; chat: ChatView },
  ) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const account = await sessions.account(sessionId);
        const { peer } = await account.resolvePeer(candidate.chatId);
        const older = await account.invoke(
          new Api.messages.GetHistory({ peer, offsetId: candidate.messageId, limit: 1 }),
        );
        const count = 'messages' in older ? older.messages.length : 0;
        if (count === 0)
          return publish({
            type: 'chat.created',
            sessionId,
            data: { chat: candidate.chat },
            dedupKey: dedupKey(sessionId, 'message', candidate.chatId, candidate.messageId, 'chat.created'),
          });
        return true;
      } catch (err) {
        const hopeless =
          err instanceof AppError &&
          (err.code === 'SESSION_NOT_FOUND' || err.code === 'SESSION_NOT_AUTHORIZED');
        if (hopeless || attempt >= tries) {
          log.warn(
            { err, sessionId, chatId: candidate.chatId },
            'could not tell whether a private chat is new',
          );
          memoryOf(sessionId).privatePeers.delete(candidate.chatId);
          return true;
        }
        await new Promise((r) => setTimeout(r, retryMs).unref());
      }
    }
  };

  /** Publishes what an update means; settles once all of it is recorded (see UpdateListener). */
  const handle = (
    sessionId: string,
    selfId: string,
    update: Api.TypeUpdate,
    ctx: UpdateContext,
  ): Promise<boolean> => {
    const memory = memoryOf(sessionId);
    const events = eventsFromUpdate(sessionId, update, ctx, selfId, memory);
    const writes = withDedupKeys(sessionId, update, events).map(publish);
    const candidate = privateChatCandidate(update, ctx, memory);
    if (candidate) {
      const next = (lookups.get(sessionId) ?? Promise.resolve(true)).then(() =>
        checkPrivateChat(sessionId, candidate),
      );
      lookups.set(sessionId, next);
      void next.finally(() => {
        if (lookups.get(sessionId) === next) lookups.delete(sessionId);
      });
      writes.push(next);
    }
    return allRecorded(writes);
  };

  sessions.onUpdate((sessionId, update, ctx) => {
    let selfId = selfIds.get(sessionId);
    if (!selfId) {
      const self = ctx.users.find((u) => u instanceof Api.User && u.self);
      if (self) selfIds.set(sessionId, (selfId = self.id.toString()));
    }
    const queue = waiting.get(sessionId);
    if (selfId && !queue) return handle(sessionId, selfId, update, ctx);
    let settle!: (ok: Promise<boolean>) => void;
    const recorded = new Promise<boolean>((resolve) => (settle = resolve));
    if (queue) {
      queue.push([update, ctx, settle]);
      return recorded;
    }
    // The first update of a session in this process without the account in it: read the id once.
    const pending: [Api.TypeUpdate, UpdateContext, (ok: Promise<boolean>) => void][] = [
      [update, ctx, settle],
    ];
    waiting.set(sessionId, pending);
    void sessions
      .get(sessionId)
      .then((view) => {
        const id = view.user?.id;
        if (id) selfIds.set(sessionId, id);
        for (const [u, c, done] of pending) done(id ? handle(sessionId, id, u, c) : Promise.resolve(true));
      })
      .catch((err: unknown) => {
        log.warn({ err, sessionId }, 'updates dropped: session unknown');
        for (const [, , done] of pending) done(Promise.resolve(true));
      })
      .finally(() => waiting.delete(sessionId));
    return recorded;
  });
}
