/**
 * upload.* and the messages.* methods that send media
 * (https://core.telegram.org/api/files, /method/messages.sendMedia, /method/messages.uploadMedia,
 * /method/messages.sendMultiMedia).
 */
import { randomBytes } from 'node:crypto';
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { Call, HandlerTable } from './rpc.js';
import { resolvePeer } from './rpc-peers.js';
import { UNSUPPORTED_METHOD_ERROR, toBigint } from './tl.js';
import { albumGroupOf } from './media.js';
import type { MessageMediaRecord } from './state.js';
import { mergeUpdates } from './updates.js';

function replyToId(replyTo: Api.TypeInputReplyTo | undefined): { replyToId?: number } {
  return replyTo instanceof Api.InputReplyToMessage ? { replyToId: replyTo.replyToMsgId } : {};
}

function refuseUnmodelled(req: { scheduleDate?: number; sendAs?: unknown }): void {
  // Scheduled messages and sending as a channel are not modelled: refuse rather than send now.
  if (req.scheduleDate || req.sendAs) throw new RpcError(400, UNSUPPORTED_METHOD_ERROR);
}

async function sendMedia(call: Call, req: Api.messages.SendMedia): Promise<Api.TypeUpdates> {
  refuseUnmodelled(req);
  const peer = resolvePeer(call.world, call.userId, req.peer);
  const randomId = toBigint(req.randomId);
  // A repeated random_id is refused before anything is stored (RANDOM_ID_DUPLICATE).
  call.world.checkRandomIds(call.userId, [randomId]);
  const media = await call.world.media.fromInput(call.userId, req.media);
  return call.world.sendMessage(
    call.userId,
    peer,
    {
      text: req.message ?? '',
      entities: req.entities ?? undefined,
      silent: req.silent ?? false,
      media,
      ...replyToId(req.replyTo),
    },
    { keyId: call.ctx.authKeyId, randomId },
  ).result;
}

/** Albums hold 2-10 items (https://core.telegram.org/api/files#albums-grouped-media). */
export const ALBUM_MIN = 2;
export const ALBUM_MAX = 10;

export function newGroupedId(): string {
  return (randomBytes(8).readBigUInt64LE() >> 1n).toString();
}

/**
 * messages.sendMultiMedia (https://core.telegram.org/method/messages.sendMultiMedia): an album
 * of photos/videos, documents or music, each item uploaded first with messages.uploadMedia and
 * named by id (inputMediaPhoto / inputMediaDocument); more than 10 items answer
 * MULTI_MEDIA_TOO_LONG, fewer than 2, other media or a mix of groups MEDIA_INVALID. The messages
 * share a grouped_id; the caller gets them in one Updates and every other connection in one
 * batch.
 */
async function sendMultiMedia(call: Call, req: Api.messages.SendMultiMedia): Promise<Api.TypeUpdates> {
  refuseUnmodelled(req);
  const { world, userId } = call;
  const peer = resolvePeer(world, userId, req.peer);
  if (req.multiMedia.length > ALBUM_MAX) throw new RpcError(400, 'MULTI_MEDIA_TOO_LONG');
  if (req.multiMedia.length < ALBUM_MIN) throw new RpcError(400, 'MEDIA_INVALID');
  const randomIds = req.multiMedia.map((item) => toBigint(item.randomId));
  world.checkRandomIds(userId, randomIds);
  const items = req.multiMedia as Api.InputSingleMedia[];
  if (
    items.some(
      (item) => !(item.media instanceof Api.InputMediaPhoto || item.media instanceof Api.InputMediaDocument),
    )
  )
    throw new RpcError(400, 'MEDIA_INVALID');
  const media: MessageMediaRecord[] = [];
  for (const item of items) media.push(await world.media.fromInput(userId, item.media));
  const groups = new Set(media.map((record) => albumGroupOf(world.media.kindOf(record))));
  if (groups.size > 1 || groups.has(undefined)) throw new RpcError(400, 'MEDIA_INVALID');
  const groupedId = newGroupedId();
  const results = world.batchPushes(() =>
    items.map(
      (item, index) =>
        world.sendMessage(
          userId,
          peer,
          {
            text: item.message ?? '',
            entities: item.entities ?? undefined,
            silent: req.silent ?? false,
            media: media[index],
            groupedId,
            ...replyToId(req.replyTo),
          },
          { keyId: call.ctx.authKeyId, randomId: randomIds[index] },
        ).result,
    ),
  );
  return mergeUpdates(results);
}

export const mediaHandlers: HandlerTable = {
  authorized: {
    'upload.SaveFilePart': async (call, req: Api.upload.SaveFilePart) => {
      await call.world.media.savePart(call.userId, toBigint(req.fileId), req.filePart, req.bytes);
      return true;
    },
    'upload.SaveBigFilePart': async (call, req: Api.upload.SaveBigFilePart) => {
      await call.world.media.savePart(
        call.userId,
        toBigint(req.fileId),
        req.filePart,
        req.bytes,
        req.fileTotalParts,
      );
      return true;
    },
    'upload.GetFile': (call, req: Api.upload.GetFile) => call.world.media.getFile(call.ctx.dcId, req),
    'messages.SendMedia': (call, req: Api.messages.SendMedia) => sendMedia(call, req),
    'messages.SendMultiMedia': (call, req: Api.messages.SendMultiMedia) => sendMultiMedia(call, req),
    // Uploads a photo or file for later use (albums): the answer is the media as a message would
    // carry it, with ids and a file reference (https://core.telegram.org/method/messages.uploadMedia).
    'messages.UploadMedia': async (call, req: Api.messages.UploadMedia) => {
      resolvePeer(call.world, call.userId, req.peer);
      const media = await call.world.media.fromInput(call.userId, req.media);
      return call.world.media.render(call.userId, media);
    },
  },
};
