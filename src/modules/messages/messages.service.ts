import type { Logger } from 'pino';
import { Api, helpers } from 'teleproto';
import type { z } from 'zod';
import { AppError } from '../../lib/errors.js';
import { countSend, type SendMetrics } from '../../lib/metrics.js';
import type { TelegramAccount } from '../../telegram/account.js';
import { entityViews, messageView } from '../../telegram/convert.js';
import { formatMessageText } from '../../telegram/formatting.js';
import { parseBotApiId, peerToBotApiId } from '../../telegram/ids.js';
import type { SendPacer } from '../../telegram/pacing.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { IdempotencyStore, SendAttempt } from './idempotency.js';
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

type In<T extends z.ZodTypeAny> = z.infer<T>;

export interface MessagesServiceDeps {
  sessions: SessionManager;
  idempotency: IdempotencyStore;
  pacer: SendPacer;
  log: Logger;
  metrics?: SendMetrics;
}

const isChannelId = (id: string) => parseBotApiId(id)?.kind === 'channel';

/** Messages: sends go through the idempotency store and the pacer; every change is published. */
export class MessagesService {
  constructor(private readonly deps: MessagesServiceDeps) {}

  send(input: In<typeof sendBody>, idempotencyKey?: string): Promise<MessageView> {
    const sent = this.deps.idempotency.run(`send:${input.sessionId}`, idempotencyKey, input, (attempt) =>
      this.sendText(
        attempt,
        input.sessionId,
        input.chatId,
        input.text,
        input.parseMode,
        input.replyToMessageId,
        input.silent,
      ),
    );
    return countSend(this.deps.metrics, input.sessionId, sent);
  }

  reply(input: In<typeof replyBody>, idempotencyKey?: string): Promise<MessageView> {
    const sent = this.deps.idempotency.run(`reply:${input.sessionId}`, idempotencyKey, input, (attempt) =>
      this.sendText(attempt, input.sessionId, input.chatId, input.text, input.parseMode, input.messageId),
    );
    return countSend(this.deps.metrics, input.sessionId, sent);
  }

  private async sendText(
    attempt: SendAttempt,
    sessionId: string,
    chatId: string,
    text: string,
    parseMode?: 'markdown' | 'html',
    replyTo?: number,
    silent?: boolean,
  ): Promise<MessageView> {
    const { message, entities } = formatMessageText(text, parseMode, 'body.text');
    const account = await this.deps.sessions.account(sessionId);
    const { peer, id } = await account.resolvePeer(chatId);
    await this.deps.pacer.acquire(sessionId, id);
    const [rid] = await attempt.randomIds(1, id);
    const res = await sendOnce(() =>
      account.invoke(
        new Api.messages.SendMessage({
          peer,
          message,
          entities,
          randomId: helpers.returnBigInt(rid),
          replyTo: replyTo ? new Api.InputReplyToMessage({ replyToMsgId: replyTo }) : undefined,
          silent,
        }),
      ),
    );
    let view: MessageView;
    if (res === RANDOM_ID_DUPLICATE) {
      const [msg] = await findSent(account, peer, attempt.sentAt(), [{ text: message, replyTo }]);
      view = messageView(msg, account.selfId);
    } else if (res instanceof Api.UpdateShortSentMessage) {
      view = {
        id: res.id,
        chatId: id,
        senderId: account.selfId,
        date: new Date(res.date * 1000).toISOString(),
        text: message,
        out: true,
        media: null,
        ...(replyTo ? { replyToMessageId: replyTo } : {}),
        // Telegram echoes entities only when it changed them (e.g. links it detected).
        ...entityViews(res.entities ?? entities),
      };
    } else {
      const [msg] = sentMessages(res, [rid]);
      if (!msg) throw new AppError('TELEGRAM_ERROR', 'Telegram did not return the sent message');
      view = messageView(msg, account.selfId);
    }
    await this.deps.sessions.publish('message.sent', sessionId, { message: view });
    return view;
  }

  async edit(input: In<typeof editBody>): Promise<MessageView> {
    const { message, entities } = formatMessageText(input.text, input.parseMode, 'body.text');
    const account = await this.deps.sessions.account(input.sessionId);
    const { peer } = await account.resolvePeer(input.chatId);
    const res = await account.invoke(
      new Api.messages.EditMessage({ peer, id: input.messageId, message, entities }),
    );
    const msg = updatesOf(res)
      .map((u) =>
        u instanceof Api.UpdateEditMessage || u instanceof Api.UpdateEditChannelMessage
          ? u.message
          : undefined,
      )
      .find((m) => m?.id === input.messageId);
    const view = msg
      ? messageView(msg, account.selfId)
      : await this.fetchOne(account, input.chatId, input.messageId);
    await this.deps.sessions.publish('message.edited', input.sessionId, { message: view });
    return view;
  }

  async delete(input: In<typeof deleteBody>): Promise<{ deleted: number[]; revoke: boolean }> {
    const account = await this.deps.sessions.account(input.sessionId);
    const { peer, id } = await account.resolvePeer(input.chatId);
    const existing = (await this.fetch(account, id, peer, input.messageIds)).map((m) => m.id);
    if (existing.length === 0)
      throw new AppError('MESSAGE_NOT_FOUND', 'None of these messages exists in this chat');
    const revoke = input.revoke ?? true;
    if (isChannelId(id)) {
      const channel = account.inputChannel(id);
      if (!channel) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
      const res = await account.invoke(new Api.channels.DeleteMessages({ channel, id: existing }));
      account.affected(res, id);
    } else {
      const res = await account.invoke(new Api.messages.DeleteMessages({ id: existing, revoke }));
      account.affected(res);
    }
    await this.deps.sessions.publish('message.deleted', input.sessionId, {
      chatId: id,
      messageIds: existing,
      revoke,
    });
    return { deleted: existing, revoke };
  }

  forward(input: In<typeof forwardBody>, idempotencyKey?: string): Promise<MessageView[]> {
    return this.deps.idempotency.run(`forward:${input.sessionId}`, idempotencyKey, input, async (attempt) => {
      const account = await this.deps.sessions.account(input.sessionId);
      const from = await account.resolvePeer(input.fromChatId);
      const to = await account.resolvePeer(input.toChatId);
      await this.deps.pacer.acquire(input.sessionId, to.id);
      const rids = await attempt.randomIds(input.messageIds.length, to.id);
      const res = await sendOnce(() =>
        account.invoke(
          new Api.messages.ForwardMessages({
            fromPeer: from.peer,
            toPeer: to.peer,
            id: input.messageIds,
            randomId: rids.map((r) => helpers.returnBigInt(r)),
            silent: input.silent,
          }),
        ),
      );
      const sent =
        res === RANDOM_ID_DUPLICATE
          ? await findSent(
              account,
              to.peer,
              attempt.sentAt(),
              (await this.fetch(account, from.id, from.peer, input.messageIds)).map((m) => ({
                text: m instanceof Api.Message ? m.message : '',
                forwarded: true,
              })),
            )
          : sentMessages(res, rids);
      const views = sent.map((m) => messageView(m, account.selfId));
      if (views.length === 0)
        throw new AppError('MESSAGE_NOT_FOUND', 'None of these messages could be forwarded');
      await Promise.all(
        views.map((view) =>
          this.deps.sessions.publish('message.sent', input.sessionId, { message: view, forwarded: true }),
        ),
      );
      return views;
    });
  }

  async react(input: In<typeof reactBody>): Promise<MessageView> {
    const account = await this.deps.sessions.account(input.sessionId);
    const { peer, id } = await account.resolvePeer(input.chatId);
    await account.invoke(
      new Api.messages.SendReaction({
        peer,
        msgId: input.messageId,
        reaction: input.emoji ? [new Api.ReactionEmoji({ emoticon: input.emoji })] : [],
      }),
    );
    return this.fetchOne(account, id, input.messageId);
  }

  async pin(
    input: In<typeof pinBody>,
  ): Promise<{ chatId: string; messageId: number | null; pinned: boolean }> {
    const account = await this.deps.sessions.account(input.sessionId);
    const { peer, id } = await account.resolvePeer(input.chatId);
    await account.invoke(
      new Api.messages.UpdatePinnedMessage({ peer, id: input.messageId, silent: input.silent }),
    );
    return { chatId: id, messageId: input.messageId, pinned: true };
  }

  async unpin(
    input: In<typeof unpinBody>,
  ): Promise<{ chatId: string; messageId: number | null; pinned: boolean }> {
    const account = await this.deps.sessions.account(input.sessionId);
    const { peer, id } = await account.resolvePeer(input.chatId);
    if (input.messageId !== undefined) {
      await account.invoke(new Api.messages.UpdatePinnedMessage({ peer, id: input.messageId, unpin: true }));
    } else {
      const res = await account.invoke(new Api.messages.UnpinAllMessages({ peer }));
      account.affected(res, isChannelId(id) ? id : undefined);
    }
    return { chatId: id, messageId: input.messageId ?? null, pinned: false };
  }

  /** Answers the id the chat is read up to afterwards, as Telegram's dialog reports it. */
  async read(input: In<typeof readBody>): Promise<{ chatId: string; maxId: number }> {
    const account = await this.deps.sessions.account(input.sessionId);
    const { peer, id } = await account.resolvePeer(input.chatId);
    const requested = input.maxId ?? 0; // 0: up to the newest message
    if (isChannelId(id)) {
      const channel = account.inputChannel(id);
      if (!channel) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
      await account.invoke(new Api.channels.ReadHistory({ channel, maxId: requested }));
    } else {
      const res = await account.invoke(new Api.messages.ReadHistory({ peer, maxId: requested }));
      account.affected(res);
    }
    const maxId = await readInboxMaxId(account, peer);
    await this.deps.sessions.publish('message.read', input.sessionId, { chatId: id, maxId });
    return { chatId: id, maxId };
  }

  async history(input: In<typeof historyQuery>): Promise<MessageView[]> {
    const account = await this.deps.sessions.account(input.sessionId);
    const { peer } = await account.resolvePeer(input.chatId);
    const res = await account.invoke(
      new Api.messages.GetHistory({
        peer,
        offsetId: input.offsetId ?? 0,
        offsetDate: 0,
        addOffset: 0,
        limit: input.limit,
        maxId: 0,
        minId: 0,
        hash: helpers.returnBigInt(0),
      }),
    );
    if (res instanceof Api.messages.MessagesNotModified) return [];
    return res.messages
      .filter((m) => !(m instanceof Api.MessageEmpty))
      .map((m) => messageView(m, account.selfId));
  }

  private async fetch(
    account: TelegramAccount,
    chatId: string,
    peer: Api.TypeInputPeer,
    ids: number[],
  ): Promise<Api.TypeMessage[]> {
    const inputIds = ids.map((id) => new Api.InputMessageID({ id }));
    let res: Api.messages.TypeMessages;
    if (isChannelId(chatId)) {
      const channel = account.inputChannel(chatId);
      if (!channel) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
      res = await account.invoke(new Api.channels.GetMessages({ channel, id: inputIds }));
    } else {
      res = await account.invoke(new Api.messages.GetMessages({ id: inputIds }));
    }
    if (res instanceof Api.messages.MessagesNotModified) return [];
    return res.messages.filter(
      (m) => !(m instanceof Api.MessageEmpty) && (isChannelId(chatId) || sameChat(m, chatId, peer, account)),
    );
  }

  private async fetchOne(account: TelegramAccount, chatId: string, messageId: number): Promise<MessageView> {
    const { peer, id } = await account.resolvePeer(chatId);
    const [msg] = await this.fetch(account, id, peer, [messageId]);
    if (!msg) throw new AppError('MESSAGE_NOT_FOUND', 'Message not found');
    return messageView(msg, account.selfId);
  }
}

/** messages.getMessages looks ids up across all private chats and groups: keep those of this chat. */
function sameChat(
  m: Api.TypeMessage,
  chatId: string,
  peer: Api.TypeInputPeer,
  account: TelegramAccount,
): boolean {
  if (!('peerId' in m) || !m.peerId) return false;
  const target = peer instanceof Api.InputPeerSelf ? account.selfId : chatId;
  return peerToBotApiId(m.peerId) === target;
}

/** How far this account has read a chat (0 when the chat has no dialog yet). */
async function readInboxMaxId(account: TelegramAccount, peer: Api.TypeInputPeer): Promise<number> {
  const res = await account.invoke(
    new Api.messages.GetPeerDialogs({ peers: [new Api.InputDialogPeer({ peer })] }),
  );
  const dialog = res.dialogs[0];
  return dialog instanceof Api.Dialog ? dialog.readInboxMaxId : 0;
}

export function updatesOf(res: Api.TypeUpdates): Api.TypeUpdate[] {
  if (res instanceof Api.Updates || res instanceof Api.UpdatesCombined) return res.updates;
  if (res instanceof Api.UpdateShort) return [res.update];
  return [];
}

/** The messages created by a send or forward, in the order of their random ids. */
export function sentMessages(res: Api.TypeUpdates, randomIds: bigint[]): Api.TypeMessage[] {
  const updates = updatesOf(res);
  const idByRandom = new Map<string, number>();
  for (const u of updates)
    if (u instanceof Api.UpdateMessageID && u.randomId !== undefined)
      idByRandom.set(u.randomId.toString(), u.id);
  const byId = new Map<number, Api.TypeMessage>();
  for (const u of updates) {
    if (
      (u instanceof Api.UpdateNewMessage ||
        u instanceof Api.UpdateNewChannelMessage ||
        u instanceof Api.UpdateNewScheduledMessage) &&
      u.message
    )
      byId.set(u.message.id, u.message);
  }
  const ordered = randomIds
    .map((r) => idByRandom.get(r.toString()))
    .map((id) => (id === undefined ? undefined : byId.get(id)))
    .filter((m): m is Api.TypeMessage => m !== undefined);
  return ordered.length > 0 ? ordered : [...byId.values()];
}

export const RANDOM_ID_DUPLICATE = Symbol('RANDOM_ID_DUPLICATE');
/** How far before the first attempt a message it sent may be dated (clocks differ). */
const SENT_AT_SLACK_SECONDS = 120;

/**
 * Runs a send; RANDOM_ID_DUPLICATE (Telegram already has a message with these random ids: an
 * earlier attempt of the same Idempotency-Key got through) comes back as a marker, not an error.
 */
export async function sendOnce<T>(call: () => Promise<T>): Promise<T | typeof RANDOM_ID_DUPLICATE> {
  try {
    return await call();
  } catch (err) {
    const details =
      err instanceof AppError ? (err.details as { telegramError?: string } | undefined) : undefined;
    if (details?.telegramError === 'RANDOM_ID_DUPLICATE') return RANDOM_ID_DUPLICATE;
    throw err;
  }
}

/**
 * The messages an earlier attempt sent, once Telegram answered RANDOM_ID_DUPLICATE. Telegram
 * names no message in that answer and shows no random id to the sender, so they are found in
 * the chat's 100 newest messages: outgoing, with the same text (and reply, or forward), dated
 * from the first attempt on (less two minutes of clock difference), the closest to it first.
 * Two identical texts sent to one chat within minutes under other keys could be told apart
 * only by their dates.
 */
export async function findSent(
  account: TelegramAccount,
  peer: Api.TypeInputPeer,
  sentAtMs: number,
  wanted: Array<{ text: string; replyTo?: number; forwarded?: boolean }>,
): Promise<Api.Message[]> {
  const res = await account.invoke(
    new Api.messages.GetHistory({
      peer,
      offsetId: 0,
      offsetDate: 0,
      addOffset: 0,
      limit: 100,
      maxId: 0,
      minId: 0,
      hash: helpers.returnBigInt(0),
    }),
  );
  const since = Math.floor(sentAtMs / 1000) - SENT_AT_SLACK_SECONDS;
  const candidates =
    res instanceof Api.messages.MessagesNotModified
      ? []
      : res.messages.filter(
          (m): m is Api.Message => m instanceof Api.Message && m.out === true && m.date >= since,
        );
  const taken = new Set<number>();
  const found = wanted.map((w) => {
    const [best] = candidates
      .filter(
        (m) =>
          !taken.has(m.id) &&
          m.message.trim() === w.text.trim() &&
          Boolean(m.fwdFrom) === Boolean(w.forwarded) &&
          (w.replyTo === undefined ||
            (m.replyTo instanceof Api.MessageReplyHeader && m.replyTo.replyToMsgId === w.replyTo)),
      )
      .sort((a, b) => Math.abs(a.date * 1000 - sentAtMs) - Math.abs(b.date * 1000 - sentAtMs) || a.id - b.id);
    if (best) taken.add(best.id);
    return best;
  });
  if (found.length === 0 || found.some((m) => !m))
    throw new AppError(
      'CONFLICT',
      "Telegram already has the message of this Idempotency-Key (RANDOM_ID_DUPLICATE), but it is not among the chat's recent messages",
    );
  return found as Api.Message[];
}
