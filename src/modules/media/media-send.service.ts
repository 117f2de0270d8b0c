/**
 * Sending media: one message with one file (messages.sendMedia) or an album
 * (messages.uploadMedia for each item, then messages.sendMultiMedia). Files a session has sent
 * before go out again by Telegram's id; a stale file reference uploads them again. Sends go
 * through the Idempotency-Key store (random ids stored before the call) and the pacer, like text.
 */
import type { Logger } from 'pino';
import { Api, helpers } from 'teleproto';
import { sha256Hex } from '../../lib/crypto.js';
import { AppError } from '../../lib/errors.js';
import type { TelegramAccount } from '../../telegram/account.js';
import { messageView } from '../../telegram/convert.js';
import { parseText, type ParseMode } from '../../telegram/formatting.js';
import {
  fileRefOf,
  isStaleFileRef,
  mediaFromRef,
  uploadedMedia,
  uploadFile,
} from '../../telegram/media-upload.js';
import type { MediaKind } from '../../lib/telegram-views.js';
import type { SendPacer } from '../../telegram/pacing.js';
import type { IdempotencyStore } from '../messages/idempotency.js';
import { findSent, RANDOM_ID_DUPLICATE, sendOnce, sentMessages } from '../messages/messages.service.js';
import type { MessageView } from '../messages/messages.schema.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { FileRefRepository } from './file-refs.js';
import type { FileSource, MediaFiles, MultipartFile, PreparedFile } from './media-files.js';
import { assertAlbumKinds } from './media-kinds.js';

export interface SendMediaInput extends FileSource {
  sessionId: string;
  chatId: string;
  kind: MediaKind;
  caption?: string;
  parseMode?: ParseMode;
  replyToMessageId?: number;
  silent?: boolean;
  convert?: boolean;
  title?: string;
  performer?: string;
}

export interface AlbumItemInput extends FileSource {
  kind: MediaKind;
  caption?: string;
}

export interface SendAlbumInput {
  sessionId: string;
  chatId: string;
  items: AlbumItemInput[];
  parseMode?: ParseMode;
  replyToMessageId?: number;
  silent?: boolean;
}

export interface MediaSendDeps {
  sessions: SessionManager;
  idempotency: IdempotencyStore;
  pacer: SendPacer;
  files: MediaFiles;
  refs: FileRefRepository;
  log: Logger;
}

const replyTo = (id: number | undefined) =>
  id ? new Api.InputReplyToMessage({ replyToMsgId: id }) : undefined;

/** A caption as Telegram takes it; Telegram itself checks its length (MEDIA_CAPTION_TOO_LONG). */
function caption(text: string | undefined, mode: ParseMode | undefined) {
  return text ? parseText(text, mode) : { message: '' };
}

export class MediaSendService {
  constructor(private readonly deps: MediaSendDeps) {}

  /** One message with one file. */
  async sendMedia(
    input: SendMediaInput,
    multipart?: MultipartFile,
    idempotencyKey?: string,
  ): Promise<MessageView> {
    const identity = { ...input, ...(multipart ? { file: multipart.file.sha256 } : {}) };
    return this.deps.idempotency.run(
      `send-media:${input.sessionId}`,
      idempotencyKey,
      withHashedBase64(identity),
      async (attempt) => {
        const account = await this.deps.sessions.account(input.sessionId);
        const { peer, id } = await account.resolvePeer(input.chatId);
        const text = caption(input.caption, input.parseMode);
        const staged = await this.deps.files.stage(input, multipart, 'body');
        const prepared = await this.deps.files.prepare(input.kind, staged, {
          convert: input.convert,
          title: input.title,
          performer: input.performer,
          field: 'body',
        });
        try {
          const send = (media: Api.TypeInputMedia, randomId: bigint) =>
            sendOnce(() =>
              account.invoke(
                new Api.messages.SendMedia({
                  peer,
                  media,
                  message: text.message,
                  entities: text.entities,
                  randomId: helpers.returnBigInt(randomId),
                  silent: input.silent,
                  replyTo: replyTo(input.replyToMessageId),
                }),
              ),
            );
          let { media, fromRef } = await this.inputMedia(account, prepared);
          await this.deps.pacer.acquire(input.sessionId, id);
          const [rid] = await attempt.randomIds(1, id);
          let res;
          try {
            res = await send(media, rid!);
          } catch (err) {
            if (!fromRef || !isStaleFileRef(err)) throw err;
            // The remembered file can no longer be sent by id: upload it again.
            await this.deps.refs.delete(account.sessionId, prepared.file.sha256, prepared.refKind);
            ({ media, fromRef } = await this.inputMedia(account, prepared, true));
            res = await send(media, rid!);
          }
          const [msg] =
            res === RANDOM_ID_DUPLICATE
              ? await findSent(account, peer, attempt.sentAt(), [
                  { text: text.message, replyTo: input.replyToMessageId },
                ])
              : sentMessages(res, [rid!]);
          if (!msg) throw new AppError('TELEGRAM_ERROR', 'Telegram did not return the sent message');
          await this.remember(account, prepared, msg);
          const view = messageView(msg, account.selfId);
          await this.deps.sessions.publish('message.sent', input.sessionId, { message: view });
          return view;
        } finally {
          await this.deps.files.discard(prepared);
        }
      },
    );
  }

  /** An album: 2-10 photos and videos, or documents; one random id per item. */
  async sendAlbum(input: SendAlbumInput, idempotencyKey?: string): Promise<MessageView[]> {
    assertAlbumKinds(input.items.map((i) => i.kind));
    return this.deps.idempotency.run(
      `send-album:${input.sessionId}`,
      idempotencyKey,
      withHashedBase64(input),
      async (attempt) => {
        const account = await this.deps.sessions.account(input.sessionId);
        const { peer, id } = await account.resolvePeer(input.chatId);
        const texts = input.items.map((item) => caption(item.caption, input.parseMode));
        const prepared: PreparedFile[] = [];
        try {
          for (const [i, item] of input.items.entries()) {
            const field = `body.items.${i}`;
            const staged = await this.deps.files.stage(item, undefined, field);
            prepared.push(await this.deps.files.prepare(item.kind, staged, { field }));
          }
          let medias = await Promise.all(prepared.map((p) => this.albumMedia(account, peer, p)));
          await this.deps.pacer.acquire(input.sessionId, id);
          const rids = await attempt.randomIds(prepared.length, id);
          const send = () =>
            sendOnce(() =>
              account.invoke(
                new Api.messages.SendMultiMedia({
                  peer,
                  multiMedia: medias.map(
                    ({ media }, i) =>
                      new Api.InputSingleMedia({
                        media,
                        randomId: helpers.returnBigInt(rids[i]!),
                        message: texts[i]!.message,
                        entities: texts[i]!.entities,
                      }),
                  ),
                  silent: input.silent,
                  replyTo: replyTo(input.replyToMessageId),
                }),
              ),
            );
          let res;
          try {
            res = await send();
          } catch (err) {
            if (!medias.some((m) => m.fromRef) || !isStaleFileRef(err)) throw err;
            for (const p of prepared)
              await this.deps.refs.delete(account.sessionId, p.file.sha256, p.refKind);
            medias = await Promise.all(prepared.map((p) => this.albumMedia(account, peer, p, true)));
            res = await send();
          }
          const sent =
            res === RANDOM_ID_DUPLICATE
              ? await findSent(
                  account,
                  peer,
                  attempt.sentAt(),
                  texts.map((t) => ({ text: t.message })),
                )
              : sentMessages(res, rids);
          if (sent.length === 0)
            throw new AppError('TELEGRAM_ERROR', 'Telegram did not return the sent album');
          const views = sent.map((m) => messageView(m, account.selfId));
          for (const view of views)
            await this.deps.sessions.publish('message.sent', input.sessionId, { message: view });
          return views;
        } finally {
          for (const p of prepared) await this.deps.files.discard(p);
        }
      },
    );
  }

  /** The file by Telegram's id when this session sent it before, else uploaded now. */
  private async inputMedia(
    account: TelegramAccount,
    prepared: PreparedFile,
    forceUpload = false,
  ): Promise<{ media: Api.TypeInputMedia; fromRef: boolean }> {
    const ref = forceUpload
      ? undefined
      : await this.deps.refs.get(account.sessionId, prepared.file.sha256, prepared.refKind);
    if (ref) return { media: mediaFromRef(ref), fromRef: true };
    const file = await uploadFile(account, {
      path: prepared.file.path,
      size: prepared.file.size,
      fileName: prepared.meta.fileName,
    });
    return { media: uploadedMedia(file, prepared.meta), fromRef: false };
  }

  /**
   * An album item as Telegram takes it in sendMultiMedia: a file it already has. A new file is
   * uploaded, then handed to messages.uploadMedia, whose answer names it
   * (https://core.telegram.org/api/files#albums-grouped-media).
   */
  private async albumMedia(
    account: TelegramAccount,
    peer: Api.TypeInputPeer,
    prepared: PreparedFile,
    forceUpload = false,
  ): Promise<{ media: Api.TypeInputMedia; fromRef: boolean }> {
    const first = await this.inputMedia(account, prepared, forceUpload);
    if (first.fromRef) return first;
    const uploaded = await account.invoke(new Api.messages.UploadMedia({ peer, media: first.media }));
    const ref = fileRefOf(uploaded);
    if (!ref) throw new AppError('TELEGRAM_ERROR', 'Telegram did not keep the uploaded file');
    await this.deps.refs.put(account.sessionId, prepared.file.sha256, prepared.refKind, ref);
    return { media: mediaFromRef(ref), fromRef: false };
  }

  /** Keeps the sent file's id, access hash and file reference for the next send of these bytes. */
  private async remember(
    account: TelegramAccount,
    prepared: PreparedFile,
    msg: Api.TypeMessage,
  ): Promise<void> {
    const ref = msg instanceof Api.Message ? fileRefOf(msg.media) : undefined;
    if (ref) await this.deps.refs.put(account.sessionId, prepared.file.sha256, prepared.refKind, ref);
  }
}

/** A request as its Idempotency-Key remembers it: base64 files by their SHA-256, not their bytes. */
function withHashedBase64(input: object): unknown {
  return JSON.parse(
    JSON.stringify(input, (key, value: unknown) =>
      key === 'base64' && typeof value === 'string' ? `sha256:${sha256Hex(value)}` : value,
    ),
  ) as unknown;
}
