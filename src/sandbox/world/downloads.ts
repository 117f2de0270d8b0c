/**
 * upload.getFile for photos (inputPhotoFileLocation, one of photo.sizes by thumb_size) and
 * documents (inputDocumentFileLocation; thumb_size "" for the file, else one of its thumbs),
 * with Telegram's rules (https://core.telegram.org/api/files#downloading-files,
 * https://core.telegram.org/method/upload.getFile):
 * - offset divisible by 4 KB, limit divisible by 4 KB, 1 MB divisible by limit, and the chunk
 *   inside one 1 MB block (else OFFSET_INVALID / LIMIT_INVALID);
 * - with `precise`: offset and limit divisible by 1 KB, limit at most 1 MB, any block;
 * - the file lives on one DC (photo.dc_id / document.dc_id): asked anywhere else, the answer is
 *   303 FILE_MIGRATE_X and the client exports its authorization there
 *   (https://core.telegram.org/api/datacenter);
 * - id and access hash must match (FILE_ID_INVALID), the file reference must be live
 *   (FILE_REFERENCE_EXPIRED / _INVALID / _EMPTY, file-references.ts);
 * - the stripped size "i" is never downloaded (the client builds it): LOCATION_INVALID.
 * The answer is upload.file: storage.fileJpeg for photo sizes and thumbnails; for a document,
 * its type by MIME type when the chunk is the whole file, storage.filePartial otherwise; bytes
 * past the end are empty.
 */
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { WorldContext } from './context.js';
import type { PhotoSizeRecord } from './state.js';
import { checkFileReference } from './file-references.js';
import { num, toBigint } from './tl.js';

const KB = 1024;
const MB = 1024 * 1024;

export function checkRange(offset: number, limit: number, precise: boolean): void {
  if (precise) {
    if (limit <= 0 || limit % KB !== 0 || limit > MB) throw new RpcError(400, 'LIMIT_INVALID');
    if (offset < 0 || offset % KB !== 0) throw new RpcError(400, 'OFFSET_INVALID');
    return;
  }
  if (limit <= 0 || limit % (4 * KB) !== 0 || MB % limit !== 0) throw new RpcError(400, 'LIMIT_INVALID');
  if (offset < 0 || offset % (4 * KB) !== 0) throw new RpcError(400, 'OFFSET_INVALID');
  if (Math.floor(offset / MB) !== Math.floor((offset + limit - 1) / MB))
    throw new RpcError(400, 'LIMIT_INVALID');
}

const MIME_FILE_TYPES: Record<string, () => Api.storage.TypeFileType> = {
  'image/jpeg': () => new Api.storage.FileJpeg(),
  'image/png': () => new Api.storage.FilePng(),
  'image/gif': () => new Api.storage.FileGif(),
  'image/webp': () => new Api.storage.FileWebp(),
  'application/pdf': () => new Api.storage.FilePdf(),
  'audio/mpeg': () => new Api.storage.FileMp3(),
  'video/mp4': () => new Api.storage.FileMp4(),
  'video/quicktime': () => new Api.storage.FileMov(),
};

interface Target {
  dc: number;
  secret: string;
  sha256: string;
  size: number;
  date: number;
  type: (whole: boolean) => Api.storage.TypeFileType;
}

function sizeOf(sizes: PhotoSizeRecord[] | undefined, type: string): PhotoSizeRecord {
  const size = sizes?.find((s) => s.type === type);
  if (!size) throw new RpcError(400, 'LOCATION_INVALID');
  return size;
}

function targetOf(ctx: WorldContext, location: Api.TypeInputFileLocation): Target & { reference: Buffer } {
  if (location instanceof Api.InputPhotoFileLocation) {
    const photo = ctx.state.photos?.[toBigint(location.id).toString()];
    if (!photo || photo.accessHash !== toBigint(location.accessHash).toString())
      throw new RpcError(400, 'FILE_ID_INVALID');
    const size = sizeOf(photo.sizes, location.thumbSize);
    return {
      ...photo,
      sha256: size.sha256,
      size: size.size,
      reference: location.fileReference,
      type: () => new Api.storage.FileJpeg(),
    };
  }
  if (location instanceof Api.InputDocumentFileLocation) {
    const document = ctx.state.documents?.[toBigint(location.id).toString()];
    if (!document || document.accessHash !== toBigint(location.accessHash).toString())
      throw new RpcError(400, 'FILE_ID_INVALID');
    if (location.thumbSize) {
      const thumb = sizeOf(document.thumbs, location.thumbSize);
      return {
        ...document,
        sha256: thumb.sha256,
        size: thumb.size,
        reference: location.fileReference,
        type: () => new Api.storage.FileJpeg(),
      };
    }
    const byMime = MIME_FILE_TYPES[document.mimeType];
    return {
      ...document,
      reference: location.fileReference,
      type: (whole) =>
        whole ? (byMime?.() ?? new Api.storage.FileUnknown()) : new Api.storage.FilePartial(),
    };
  }
  throw new RpcError(400, 'LOCATION_INVALID');
}

/** upload.getFile on DC `dcId` (undefined: a call not made through a DC's port). */
export async function getFile(
  ctx: WorldContext,
  dcId: number | undefined,
  request: Api.upload.GetFile,
): Promise<Api.upload.File> {
  const offset = num(request.offset);
  const limit = request.limit;
  checkRange(offset, limit, Boolean(request.precise));
  const target = targetOf(ctx, request.location);
  if (dcId !== undefined && dcId !== target.dc) throw new RpcError(303, `FILE_MIGRATE_${target.dc}`);
  checkFileReference(ctx, target.secret, target.reference);
  const bytes = offset >= target.size ? Buffer.alloc(0) : await ctx.files.read(target.sha256, offset, limit);
  return new Api.upload.File({
    type: target.type(offset === 0 && bytes.length === target.size),
    mtime: target.date,
    bytes,
  });
}
