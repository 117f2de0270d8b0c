/**
 * Photos and documents: made from uploaded files (inputMediaUploadedPhoto /
 * inputMediaUploadedDocument, https://core.telegram.org/method/messages.sendMedia), found again
 * by id (inputPhoto / inputDocument with access hash and file reference), and rendered for a
 * viewer as messageMediaPhoto / messageMediaDocument with a fresh file reference. Every photo or
 * document lives on its uploader's home DC (photo.dc_id / document.dc_id,
 * https://core.telegram.org/api/datacenter). Unlike peers' access hashes, a photo's or
 * document's access hash is the same for everyone who receives it (the same file is forwarded
 * and sent again by id); what is per viewer and ages is the file reference
 * (https://core.telegram.org/api/file_reference, file-references.ts).
 */
import { randomBytes } from 'node:crypto';
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { WorldContext } from './context.js';
import type {
  DocumentRecord,
  MessageMediaRecord,
  PhotoRecord,
  PhotoSizeRecord,
  UploadedFileRecord,
} from './state.js';
import type { AssembledUpload, StoredBlob } from './files.js';
import { checkFileReference, issueFileReference } from './file-references.js';
import { MAX_PHOTO_BYTES, decodePhoto, fitBox, photoSizes, scaleImage } from './photo-sizes.js';
import { UNSUPPORTED_METHOD_ERROR, decodeTlList, encodeTl, long, now, toBigint } from './tl.js';
import { homeDcOf } from './data-centres.js';

/** Captions are at most 1024 characters (https://core.telegram.org/api/config#caption-length-limit). */
export const MAX_CAPTION_LENGTH = 1024;

function randomLong(): string {
  return (randomBytes(8).readBigUInt64LE() >> 1n).toString();
}

function photosOf(ctx: WorldContext): Record<string, PhotoRecord> {
  return (ctx.state.photos ??= {});
}

function documentsOf(ctx: WorldContext): Record<string, DocumentRecord> {
  return (ctx.state.documents ??= {});
}

function newFileObject(ctx: WorldContext, ownerId: number) {
  return {
    id: randomLong(),
    accessHash: randomLong(),
    secret: randomBytes(16).toString('hex'),
    dc: homeDcOf(ctx, ownerId),
    date: now(),
    ownerId,
  };
}

/** Notes a file an account uploaded, for the control API's GET /files. */
export function recordUpload(
  ctx: WorldContext,
  userId: number,
  fileId: string,
  upload: AssembledUpload,
): UploadedFileRecord {
  const list = ((ctx.state.uploadedFiles ??= {})[userId] ??= []);
  const existing = list.find((f) => f.id === fileId && f.sha256 === upload.sha256);
  if (existing) return existing;
  const record: UploadedFileRecord = {
    id: fileId,
    dc: homeDcOf(ctx, userId),
    size: upload.size,
    sha256: upload.sha256,
    parts: upload.parts,
    big: upload.big,
    date: now(),
  };
  list.push(record);
  if (list.length > 1000) list.splice(0, list.length - 1000);
  ctx.changed();
  return record;
}

/** The bytes of an InputFile the account uploaded (parts joined and stored). */
export async function uploadedFile(
  ctx: WorldContext,
  userId: number,
  file: Api.TypeInputFile,
): Promise<AssembledUpload> {
  const big = file instanceof Api.InputFileBig;
  if (!(file instanceof Api.InputFile) && !big) throw new RpcError(400, 'FILE_ID_INVALID');
  const fileId = toBigint(file.id).toString();
  const upload = await ctx.files.assemble(
    String(userId),
    fileId,
    file.parts,
    big,
    file instanceof Api.InputFile ? file.md5Checksum : undefined,
  );
  recordUpload(ctx, userId, fileId, upload);
  return upload;
}

async function storeSizes(
  ctx: WorldContext,
  sizes: Array<{ type: string; w: number; h: number; bytes: Buffer }>,
): Promise<PhotoSizeRecord[]> {
  const records: PhotoSizeRecord[] = [];
  for (const size of sizes) {
    const blob = await ctx.files.put(size.bytes);
    records.push({ type: size.type, w: size.w, h: size.h, size: blob.size, sha256: blob.sha256 });
  }
  return records;
}

/** A photo from an image's bytes: decoded, scaled into Telegram's sizes, stored. */
export async function createPhoto(ctx: WorldContext, ownerId: number, bytes: Buffer): Promise<PhotoRecord> {
  const { sizes, stripped } = photoSizes(decodePhoto(bytes));
  const photo: PhotoRecord = {
    ...newFileObject(ctx, ownerId),
    sizes: await storeSizes(ctx, sizes),
    stripped: stripped.toString('base64'),
  };
  photosOf(ctx)[photo.id] = photo;
  ctx.changed();
  return photo;
}

/** A document from a stored blob; `thumb` (a JPEG or PNG) becomes its thumbs (m and i). */
export async function createDocument(
  ctx: WorldContext,
  ownerId: number,
  blob: StoredBlob,
  mimeType: string,
  attributes: Api.TypeDocumentAttribute[],
  thumb?: Buffer,
): Promise<DocumentRecord> {
  const document: DocumentRecord = {
    ...newFileObject(ctx, ownerId),
    mimeType: mimeType || 'application/octet-stream',
    size: blob.size,
    sha256: blob.sha256,
    attributes: encodeTl(attributes),
  };
  if (thumb) {
    // Document thumbnails: one size "m" in a 320 box and the stripped one
    // (https://core.telegram.org/api/files#image-thumbnail-types).
    const image = decodePhoto(thumb);
    const box = fitBox(image.width, image.height, 320);
    const { sizes, stripped } = photoSizes(scaleImage(image, box.w, box.h));
    const largest = sizes[sizes.length - 1];
    document.thumbs = await storeSizes(ctx, [{ ...largest, type: 'm' }]);
    document.stripped = stripped.toString('base64');
  }
  documentsOf(ctx)[document.id] = document;
  ctx.changed();
  return document;
}

/** An uploaded image, read whole only when it is within Telegram's 10 MB photo limit. */
async function imageBytes(ctx: WorldContext, upload: StoredBlob): Promise<Buffer> {
  if (upload.size > MAX_PHOTO_BYTES) throw new RpcError(400, 'PHOTO_SAVE_FILE_INVALID');
  return ctx.files.readAll(upload.sha256);
}

/** What inputMediaUploadedDocument's attributes say, with a file name from the InputFile when
 * none is given (as Telegram keeps it). */
function documentAttributes(
  attributes: Api.TypeDocumentAttribute[],
  fileName: string | undefined,
): Api.TypeDocumentAttribute[] {
  const kept = attributes.filter((a) => !(a instanceof Api.DocumentAttributeFilename) || a.fileName);
  if (fileName && !kept.some((a) => a instanceof Api.DocumentAttributeFilename))
    kept.push(new Api.DocumentAttributeFilename({ fileName }));
  return kept;
}

export function findPhoto(ctx: WorldContext, input: Api.TypeInputPhoto, checkReference = true): PhotoRecord {
  if (!(input instanceof Api.InputPhoto)) throw new RpcError(400, 'PHOTO_INVALID');
  const photo = photosOf(ctx)[toBigint(input.id).toString()];
  if (!photo || photo.accessHash !== toBigint(input.accessHash).toString())
    throw new RpcError(400, 'PHOTO_INVALID');
  if (checkReference) checkFileReference(ctx, photo.secret, input.fileReference);
  return photo;
}

export function findDocument(
  ctx: WorldContext,
  input: Api.TypeInputDocument,
  checkReference = true,
): DocumentRecord {
  if (!(input instanceof Api.InputDocument)) throw new RpcError(400, 'DOCUMENT_INVALID');
  const document = documentsOf(ctx)[toBigint(input.id).toString()];
  if (!document || document.accessHash !== toBigint(input.accessHash).toString())
    throw new RpcError(400, 'DOCUMENT_INVALID');
  if (checkReference) checkFileReference(ctx, document.secret, input.fileReference);
  return document;
}

/**
 * The media of messages.sendMedia / uploadMedia / sendMultiMedia: uploaded photos and documents,
 * or ones the world has (by id, access hash and file reference); inputMediaEmpty is MEDIA_EMPTY,
 * and anything else (geo points, contacts, polls, dice...) is refused as not modelled.
 */
export async function mediaFromInput(
  ctx: WorldContext,
  userId: number,
  media: Api.TypeInputMedia,
): Promise<MessageMediaRecord> {
  const spoiler = (media as { spoiler?: boolean }).spoiler ? { spoiler: true } : {};
  if (media instanceof Api.InputMediaUploadedPhoto) {
    const bytes = await imageBytes(ctx, await uploadedFile(ctx, userId, media.file));
    return { photo: (await createPhoto(ctx, userId, bytes)).id, ...spoiler };
  }
  if (media instanceof Api.InputMediaUploadedDocument) {
    const upload = await uploadedFile(ctx, userId, media.file);
    const thumb = media.thumb
      ? await imageBytes(ctx, await uploadedFile(ctx, userId, media.thumb))
      : undefined;
    const fileName = (media.file as { name?: string }).name;
    const document = await createDocument(
      ctx,
      userId,
      upload,
      media.mimeType,
      documentAttributes(media.attributes ?? [], fileName),
      thumb,
    );
    return { document: document.id, ...spoiler };
  }
  if (media instanceof Api.InputMediaPhoto) return { photo: findPhoto(ctx, media.id).id, ...spoiler };
  if (media instanceof Api.InputMediaDocument)
    return { document: findDocument(ctx, media.id).id, ...spoiler };
  if (media instanceof Api.InputMediaEmpty) throw new RpcError(400, 'MEDIA_EMPTY');
  // Geo points, contacts, polls, dice, web documents...: not modelled, refused loudly.
  throw new RpcError(400, UNSUPPORTED_METHOD_ERROR);
}

function apiSizes(sizes: PhotoSizeRecord[], stripped: string | undefined): Api.TypePhotoSize[] {
  return [
    ...(stripped ? [new Api.PhotoStrippedSize({ type: 'i', bytes: Buffer.from(stripped, 'base64') })] : []),
    ...sizes.map((s) => new Api.PhotoSize({ type: s.type, w: s.w, h: s.h, size: s.size })),
  ];
}

export function apiPhoto(viewerId: number, photo: PhotoRecord): Api.Photo {
  return new Api.Photo({
    id: long(photo.id),
    accessHash: long(photo.accessHash),
    fileReference: issueFileReference(photo.secret, viewerId),
    date: photo.date,
    sizes: apiSizes(photo.sizes, photo.stripped),
    dcId: photo.dc,
  });
}

export function apiDocument(viewerId: number, document: DocumentRecord): Api.Document {
  return new Api.Document({
    id: long(document.id),
    accessHash: long(document.accessHash),
    fileReference: issueFileReference(document.secret, viewerId),
    date: document.date,
    mimeType: document.mimeType,
    size: long(document.size),
    ...(document.thumbs?.length ? { thumbs: apiSizes(document.thumbs, document.stripped) } : {}),
    dcId: document.dc,
    attributes: decodeTlList<Api.TypeDocumentAttribute>(document.attributes),
  });
}

/** A message's media as one viewer receives it (with a file reference issued now). */
export function apiMessageMedia(
  ctx: WorldContext,
  viewerId: number,
  media: MessageMediaRecord,
): Api.TypeMessageMedia {
  const spoiler = media.spoiler ? { spoiler: true } : {};
  if (media.photo) {
    const photo = photosOf(ctx)[media.photo];
    return new Api.MessageMediaPhoto({
      ...(photo ? { photo: apiPhoto(viewerId, photo) } : { photo: new Api.PhotoEmpty({ id: long(0) }) }),
      ...spoiler,
    });
  }
  const document = media.document ? documentsOf(ctx)[media.document] : undefined;
  if (!document) return new Api.MessageMediaUnsupported();
  const attributes = decodeTlList<Api.TypeDocumentAttribute>(document.attributes);
  const video = attributes.find((a) => a instanceof Api.DocumentAttributeVideo);
  const audio = attributes.find((a) => a instanceof Api.DocumentAttributeAudio);
  return new Api.MessageMediaDocument({
    document: apiDocument(viewerId, document),
    ...(video && !video.roundMessage ? { video: true } : {}),
    ...(video?.roundMessage ? { round: true } : {}),
    ...(audio?.voice ? { voice: true } : {}),
    ...spoiler,
  });
}

/** What a search filter sees of a message's media. */
export type MediaKind = 'photo' | 'video' | 'round' | 'voice' | 'audio' | 'gif' | 'sticker' | 'document';

export function mediaKind(ctx: WorldContext, media: MessageMediaRecord | undefined): MediaKind | undefined {
  if (!media) return undefined;
  if (media.photo) return 'photo';
  const document = media.document ? documentsOf(ctx)[media.document] : undefined;
  if (!document) return undefined;
  const attributes = decodeTlList<Api.TypeDocumentAttribute>(document.attributes);
  if (attributes.some((a) => a instanceof Api.DocumentAttributeSticker)) return 'sticker';
  if (attributes.some((a) => a instanceof Api.DocumentAttributeAnimated)) return 'gif';
  const video = attributes.find((a) => a instanceof Api.DocumentAttributeVideo);
  if (video) return video.roundMessage ? 'round' : 'video';
  const audio = attributes.find((a) => a instanceof Api.DocumentAttributeAudio);
  if (audio) return audio.voice ? 'voice' : 'audio';
  return 'document';
}

/**
 * Which media may share an album (https://core.telegram.org/api/files#albums-grouped-media):
 * photos and videos together, or documents only, or music only; other kinds never.
 */
export function albumGroupOf(kind: MediaKind | undefined): 'visual' | 'document' | 'audio' | undefined {
  if (kind === 'photo' || kind === 'video') return 'visual';
  if (kind === 'document' || kind === 'audio') return kind;
  return undefined;
}
