/**
 * A message's photo or document as the `media` object of API.md, and where its bytes are
 * (https://core.telegram.org/api/files): the file's id, access hash, file reference and DC,
 * each size of a photo and each thumbnail of a document by its type letter
 * (https://core.telegram.org/constructor/photoSize).
 */
import { Api } from 'teleproto';
import type { MediaKind, MediaView } from '../lib/telegram-views.js';
import { peerToBotApiId } from './ids.js';

/** What a mediaId names: the message that carries the file, and the file itself. */
export interface MediaRef {
  chatId: string;
  messageId: number;
  type: 'photo' | 'document';
  fileId: string;
}

const MEDIA_ID = /^1\.(-?\d{1,20})\.(\d{1,10})\.([pd])\.(-?\d{1,20})$/;

/** Opaque to clients (base64url), but only names what a fresh copy of the message is found by. */
export function encodeMediaId(ref: MediaRef): string {
  const type = ref.type === 'photo' ? 'p' : 'd';
  return Buffer.from(`1.${ref.chatId}.${ref.messageId}.${type}.${ref.fileId}`).toString('base64url');
}

export function decodeMediaId(mediaId: string): MediaRef | undefined {
  if (!/^[A-Za-z0-9_-]{1,120}$/.test(mediaId)) return undefined;
  const m = MEDIA_ID.exec(Buffer.from(mediaId, 'base64url').toString('latin1'));
  if (!m) return undefined;
  return { chatId: m[1]!, messageId: Number(m[2]), type: m[3] === 'p' ? 'photo' : 'document', fileId: m[4]! };
}

/** One downloadable size: a photo's size or a document's thumbnail. */
export interface FileSize {
  type: string;
  width: number;
  height: number;
  /** Bytes; a cached size carries them itself (`bytes`), with no download needed. */
  size: number;
  bytes?: Buffer;
}

/** Everything needed to download a message's file, taken from a fresh copy of the message. */
export interface MediaLocation {
  ref: MediaRef;
  kind: MediaKind;
  id: Api.long;
  accessHash: Api.long;
  fileReference: Buffer;
  dcId: number;
  size: number;
  mimeType: string;
  fileName?: string;
  /** A photo is downloaded by its largest size's letter; a document by none. */
  mainSize: string;
  thumbnails: FileSize[];
}

/**
 * Downloadable sizes by their letter. Stripped (`i`) and vector outline (`j`) sizes are inline
 * previews, not files (https://core.telegram.org/api/files#stripped-thumbnails).
 */
function fileSizes(sizes: readonly Api.TypePhotoSize[] | undefined): FileSize[] {
  const out: FileSize[] = [];
  for (const s of sizes ?? []) {
    if (s instanceof Api.PhotoSize) out.push({ type: s.type, width: s.w, height: s.h, size: s.size });
    else if (s instanceof Api.PhotoCachedSize)
      out.push({ type: s.type, width: s.w, height: s.h, size: s.bytes.length, bytes: Buffer.from(s.bytes) });
    else if (s instanceof Api.PhotoSizeProgressive && s.sizes.length > 0)
      out.push({ type: s.type, width: s.w, height: s.h, size: Math.max(...s.sizes) });
  }
  return out;
}

function documentKind(doc: Api.Document): MediaKind {
  const attrs = doc.attributes;
  const has = <T>(cls: new (...args: never[]) => T) =>
    attrs.find((a): a is T & Api.TypeDocumentAttribute => a instanceof cls);
  if (has(Api.DocumentAttributeSticker)) return 'sticker';
  const video = has(Api.DocumentAttributeVideo);
  if (video?.roundMessage) return 'video_note';
  if (has(Api.DocumentAttributeAnimated)) return 'animation';
  if (video) return 'video';
  const audio = has(Api.DocumentAttributeAudio);
  if (audio) return audio.voice ? 'voice' : 'audio';
  return 'document';
}

function photoLocation(ref: Omit<MediaRef, 'type' | 'fileId'>, photo: Api.Photo): MediaLocation | undefined {
  const sizes = fileSizes(photo.sizes);
  if (sizes.length === 0) return undefined;
  const largest = sizes.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));
  return {
    ref: { ...ref, type: 'photo', fileId: photo.id.toString() },
    kind: 'photo',
    id: photo.id,
    accessHash: photo.accessHash,
    fileReference: Buffer.from(photo.fileReference),
    dcId: photo.dcId,
    size: largest.size,
    mimeType: 'image/jpeg',
    mainSize: largest.type,
    thumbnails: sizes.filter((s) => s !== largest),
  };
}

function documentLocation(ref: Omit<MediaRef, 'type' | 'fileId'>, doc: Api.Document): MediaLocation {
  const location: MediaLocation = {
    ref: { ...ref, type: 'document', fileId: doc.id.toString() },
    kind: documentKind(doc),
    id: doc.id,
    accessHash: doc.accessHash,
    fileReference: Buffer.from(doc.fileReference),
    dcId: doc.dcId,
    size: Number(doc.size.toString()),
    mimeType: doc.mimeType || 'application/octet-stream',
    mainSize: '',
    thumbnails: fileSizes(doc.thumbs),
  };
  const name = doc.attributes.find((a) => a instanceof Api.DocumentAttributeFilename);
  if (name?.fileName) location.fileName = name.fileName;
  return location;
}

/** Where the file of a message is, or undefined for a message without a downloadable file. */
export function mediaLocation(msg: Api.TypeMessage): MediaLocation | undefined {
  if (!(msg instanceof Api.Message) || !msg.media) return undefined;
  const ref = { chatId: peerToBotApiId(msg.peerId), messageId: msg.id };
  const media = msg.media;
  if (media instanceof Api.MessageMediaPhoto && media.photo instanceof Api.Photo)
    return photoLocation(ref, media.photo);
  if (media instanceof Api.MessageMediaDocument && media.document instanceof Api.Document)
    return documentLocation(ref, media.document);
  return undefined;
}

/** Width, height and duration from a document's attributes (a photo's come from its size). */
function dimensions(
  msg: Api.Message,
  location: MediaLocation,
): Pick<MediaView, 'width' | 'height' | 'duration'> {
  if (location.kind === 'photo') {
    const main = (msg.media as Api.MessageMediaPhoto).photo as Api.Photo;
    const largest = fileSizes(main.sizes).find((s) => s.type === location.mainSize);
    return largest ? { width: largest.width, height: largest.height } : {};
  }
  const out: Pick<MediaView, 'width' | 'height' | 'duration'> = {};
  const doc = (msg.media as Api.MessageMediaDocument).document as Api.Document;
  for (const a of doc.attributes) {
    if (a instanceof Api.DocumentAttributeVideo) {
      out.width = a.w;
      out.height = a.h;
      out.duration = a.duration;
    } else if (a instanceof Api.DocumentAttributeImageSize && out.width === undefined) {
      out.width = a.w;
      out.height = a.h;
    } else if (a instanceof Api.DocumentAttributeAudio) {
      out.duration = a.duration;
    }
  }
  return out;
}

/** The `media` object of a message: null for a message without a file (text, polls, locations). */
export function mediaView(msg: Api.TypeMessage): MediaView | null {
  const location = mediaLocation(msg);
  if (!location || !(msg instanceof Api.Message)) return null;
  return {
    mediaId: encodeMediaId(location.ref),
    kind: location.kind,
    mimeType: location.mimeType,
    ...(location.fileName ? { fileName: location.fileName } : {}),
    size: location.size,
    ...dimensions(msg, location),
    thumbnails: location.thumbnails.map((t) => ({ size: t.type, width: t.width, height: t.height })),
  };
}
