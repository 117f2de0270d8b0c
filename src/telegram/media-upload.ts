/**
 * Giving Telegram a file: the upload in parts (https://core.telegram.org/api/files#uploading-files),
 * the input media of each kind with its attributes, and the id, access hash and file reference
 * of a file Telegram already has, to send it again without uploading
 * (https://core.telegram.org/api/file_reference).
 */
import { open } from 'node:fs/promises';
import { Api, helpers } from 'teleproto';
import { AppError } from '../lib/errors.js';
import { randomInt64 } from '../lib/ids.js';
import type { MediaKind } from '../lib/telegram-views.js';
import type { TelegramAccount } from './account.js';

/** Parts of 512 KiB: the largest Telegram takes (a multiple of 1 KiB dividing 512 KiB). */
const PART_SIZE = 512 * 1024;
/** Files above 10 MiB go through upload.saveBigFilePart. */
const BIG_FILE_BYTES = 10 * 1024 * 1024;
/**
 * Parts in flight at once: Telegram takes a file's parts in any order and in parallel
 * (https://core.telegram.org/api/files#uploading-files). Six (3 MB in memory at most) keep the
 * connection busy across a round trip to a distant DC: the rate is at most parts x 512 KB per
 * round trip (15 MB/s at 100 ms with three). On loopback against the sandbox three and six
 * measure the same.
 */
const PARALLEL_PARTS = 6;

export interface LocalFile {
  path: string;
  size: number;
  fileName: string;
}

/** Uploads a file from disk, part by part (only a few parts in memory), and names it for sending. */
export async function uploadFile(account: TelegramAccount, file: LocalFile): Promise<Api.TypeInputFile> {
  if (file.size === 0)
    throw new AppError('VALIDATION_ERROR', 'The file is empty', [{ field: 'file', message: 'empty' }]);
  const fileId = helpers.returnBigInt(randomInt64());
  const big = file.size > BIG_FILE_BYTES;
  const parts = Math.ceil(file.size / PART_SIZE);
  const handle = await open(file.path, 'r');
  try {
    let next = 0;
    const worker = async () => {
      for (let part = next++; part < parts; part = next++) {
        const bytes = Buffer.alloc(Math.min(PART_SIZE, file.size - part * PART_SIZE));
        await handle.read(bytes, 0, bytes.length, part * PART_SIZE);
        const saved = await account.invoke(
          big
            ? new Api.upload.SaveBigFilePart({ fileId, filePart: part, fileTotalParts: parts, bytes })
            : new Api.upload.SaveFilePart({ fileId, filePart: part, bytes }),
        );
        if (!saved) throw new AppError('TELEGRAM_ERROR', `Telegram did not save part ${part} of the file`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, parts) }, worker));
  } finally {
    await handle.close();
  }
  return big
    ? new Api.InputFileBig({ id: fileId, parts, name: file.fileName })
    : new Api.InputFile({ id: fileId, parts, name: file.fileName, md5Checksum: '' });
}

/** What is known of the file beyond its bytes (from ffprobe and the request). */
export interface MediaMeta {
  kind: MediaKind;
  mimeType: string;
  fileName: string;
  /** Seconds. */
  duration?: number;
  width?: number;
  height?: number;
  /** Packed 5-bit voice waveform. */
  waveform?: Buffer;
  title?: string;
  performer?: string;
}

/** The input media of an uploaded file, with the attributes that make Telegram show it as `kind`. */
export function uploadedMedia(file: Api.TypeInputFile, meta: MediaMeta): Api.TypeInputMedia {
  if (meta.kind === 'photo') return new Api.InputMediaUploadedPhoto({ file });
  const duration = meta.duration ?? 0;
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  const name = new Api.DocumentAttributeFilename({ fileName: meta.fileName });
  const video = (extra: { roundMessage?: boolean; supportsStreaming?: boolean; nosound?: boolean }) =>
    new Api.DocumentAttributeVideo({ duration, w, h, ...extra });
  const isVideoFile = meta.mimeType.startsWith('video/');
  const attributes: Record<MediaKind, Api.TypeDocumentAttribute[]> = {
    photo: [],
    document: [name],
    video: [video({ supportsStreaming: true }), name],
    video_note: [video({ roundMessage: true })],
    voice: [
      new Api.DocumentAttributeAudio({
        voice: true,
        duration: Math.round(duration),
        ...(meta.waveform ? { waveform: meta.waveform } : {}),
      }),
    ],
    audio: [
      new Api.DocumentAttributeAudio({
        duration: Math.round(duration),
        ...(meta.title ? { title: meta.title } : {}),
        ...(meta.performer ? { performer: meta.performer } : {}),
      }),
      name,
    ],
    animation: [
      new Api.DocumentAttributeAnimated(),
      ...(isVideoFile ? [video({ nosound: true })] : []),
      name,
    ],
    sticker: [
      new Api.DocumentAttributeSticker({ alt: '', stickerset: new Api.InputStickerSetEmpty() }),
      ...(isVideoFile ? [video({})] : []),
      name,
    ],
  };
  return new Api.InputMediaUploadedDocument({
    file,
    mimeType: meta.mimeType,
    attributes: attributes[meta.kind],
    ...(meta.kind === 'document' ? { forceFile: true } : {}),
    ...(meta.kind === 'animation' && isVideoFile ? { nosoundVideo: true } : {}),
  });
}

/** A file Telegram already has: enough to send it again. */
export interface FileRef {
  mediaType: 'photo' | 'document';
  id: string;
  accessHash: string;
  fileReference: Buffer;
}

/** The file of a sent message (or of messages.uploadMedia's answer), if it has one. */
export function fileRefOf(media: Api.TypeMessageMedia | undefined): FileRef | undefined {
  const ref = (mediaType: FileRef['mediaType'], file: Api.Photo | Api.Document): FileRef => ({
    mediaType,
    id: file.id.toString(),
    accessHash: file.accessHash.toString(),
    fileReference: Buffer.from(file.fileReference),
  });
  if (media instanceof Api.MessageMediaPhoto && media.photo instanceof Api.Photo)
    return ref('photo', media.photo);
  if (media instanceof Api.MessageMediaDocument && media.document instanceof Api.Document)
    return ref('document', media.document);
  return undefined;
}

/** The input media that sends a file Telegram already has. */
export function mediaFromRef(ref: FileRef): Api.TypeInputMedia {
  const id = helpers.returnBigInt(ref.id);
  const accessHash = helpers.returnBigInt(ref.accessHash);
  return ref.mediaType === 'photo'
    ? new Api.InputMediaPhoto({
        id: new Api.InputPhoto({ id, accessHash, fileReference: ref.fileReference }),
      })
    : new Api.InputMediaDocument({
        id: new Api.InputDocument({ id, accessHash, fileReference: ref.fileReference }),
      });
}

/**
 * Telegram's answers that a remembered file can no longer be sent by id: its file reference
 * expired or is unknown, or the file itself is (https://core.telegram.org/api/file_reference).
 */
export function isStaleFileRef(err: unknown): boolean {
  const name = (err as { details?: { telegramError?: string } } | undefined)?.details?.telegramError ?? '';
  return /^FILE_REFERENCE_/.test(name) || name === 'MEDIA_EMPTY' || name === 'FILE_ID_INVALID';
}
