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
  },
};
