/**
 * File references (https://core.telegram.org/api/file_reference): opaque bytes that come with
 * every photo and document a client receives and must be passed back to download it
 * (upload.getFile) or to send it again (inputPhoto / inputDocument). They age: after
 * `fileReferenceTtlMs` (world option, default 2 hours) the server answers
 * FILE_REFERENCE_EXPIRED and the client fetches the message again (messages.getMessages,
 * channels.getMessages, history), which carries a fresh one. A reference that was never issued
 * for the file is FILE_REFERENCE_INVALID; an empty one FILE_REFERENCE_EMPTY.
 *
 * Layout (the sandbox's own; clients treat it as opaque): version 1, the issue time in ms
 * (8 bytes), the viewer's user id (8 bytes), and 12 bytes of HMAC-SHA256 keyed by the file's
 * secret over the rest.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { RpcError } from '../contract.js';
import type { WorldContext } from './context.js';

const VERSION = 1;
const BODY_LENGTH = 17;
const MAC_LENGTH = 12;

function mac(secret: string, body: Buffer): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'hex')).update(body).digest().subarray(0, MAC_LENGTH);
}

/** A fresh reference to a file (keyed by its secret) for one viewer. */
export function issueFileReference(secret: string, viewerId: number, at = Date.now()): Buffer {
  const body = Buffer.alloc(BODY_LENGTH);
  body[0] = VERSION;
  body.writeBigUInt64BE(BigInt(at), 1);
  body.writeBigUInt64BE(BigInt(viewerId), 9);
  return Buffer.concat([body, mac(secret, body)]);
}

/** Throws FILE_REFERENCE_EMPTY / _INVALID / _EXPIRED unless `reference` is a live reference to
 * the file with this secret. */
export function checkFileReference(ctx: WorldContext, secret: string, reference: Buffer | undefined): void {
  if (!reference || reference.length === 0) throw new RpcError(400, 'FILE_REFERENCE_EMPTY');
  if (reference.length !== BODY_LENGTH + MAC_LENGTH || reference[0] !== VERSION)
    throw new RpcError(400, 'FILE_REFERENCE_INVALID');
  const body = reference.subarray(0, BODY_LENGTH);
  if (!timingSafeEqual(mac(secret, body), reference.subarray(BODY_LENGTH)))
    throw new RpcError(400, 'FILE_REFERENCE_INVALID');
  const issuedAt = Number(body.readBigUInt64BE(1));
  const viewerId = Number(body.readBigUInt64BE(9));
  const expiredBefore = Math.max(
    ctx.fileReferencesExpiredBefore.get(0) ?? 0,
    ctx.fileReferencesExpiredBefore.get(viewerId) ?? 0,
  );
  if (Date.now() - issuedAt > ctx.options.fileReferenceTtlMs || issuedAt < expiredBefore)
    throw new RpcError(400, 'FILE_REFERENCE_EXPIRED');
}

/**
 * Ages every reference handed out so far (to one user, or to everyone) at once, as if their
 * lifetime had passed; references issued afterwards are fresh.
 */
export function expireFileReferences(ctx: WorldContext, userId?: number): void {
  // +1: a reference issued within this very millisecond is one handed out before the call.
  ctx.fileReferencesExpiredBefore.set(userId ?? 0, Date.now() + 1);
}
