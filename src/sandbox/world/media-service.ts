/**
 * `World.media`: what the RPC handlers (rpc-media.ts) and the control API do with files —
 * upload parts, turn InputMedia into a photo or document, serve upload.getFile, age file
 * references, list an account's uploads, and make media from bytes the control API is given.
 */
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { WorldContext } from './context.js';
import type { MessageMediaRecord, UploadedFileRecord } from './state.js';
import { BIG_FILE_THRESHOLD, MAX_PART_SIZE, type StoredBlob } from './files.js';
import { expireFileReferences } from './file-references.js';
import { getFile } from './downloads.js';
import { MAX_PHOTO_BYTES } from './photo-sizes.js';
import {
  apiMessageMedia,
  createDocument,
  createPhoto,
  mediaFromInput,
  mediaKind,
  recordUpload,
} from './media.js';
import type { MediaKind } from './media.js';
import { readFile } from 'node:fs/promises';

/** The kinds of media the control API sends (API.md, "Sandbox"). */
export const CONTROL_MEDIA_KINDS = [
  'photo',
  'video',
  'document',
  'audio',
  'voice',
  'video_note',
  'animation',
  'sticker',
] as const;
export type ControlMediaKind = (typeof CONTROL_MEDIA_KINDS)[number];

export interface ControlMediaInput {
  kind: ControlMediaKind;
  /** The file's bytes, or a local file to read them from. */
  bytes?: Buffer;
  path?: string;
  fileName: string;
  mimeType?: string;
  duration?: number;
  width?: number;
  height?: number;
  /** Voice messages: 5-bit samples packed as Telegram does. */
  waveform?: Buffer;
  title?: string;
  performer?: string;
}

const DEFAULT_MIME: Record<ControlMediaKind, string> = {
  photo: 'image/jpeg',
  video: 'video/mp4',
  document: 'application/octet-stream',
  audio: 'audio/mpeg',
  voice: 'audio/ogg',
  video_note: 'video/mp4',
  animation: 'video/mp4',
  sticker: 'image/webp',
};

/** The attributes a Telegram app sets for each kind (https://core.telegram.org/api/files). */
function attributesFor(input: ControlMediaInput): Api.TypeDocumentAttribute[] {
  const duration = input.duration ?? 0;
  const w = input.width ?? 0;
  const h = input.height ?? 0;
  const fileName = new Api.DocumentAttributeFilename({ fileName: input.fileName });
  switch (input.kind) {
    case 'video':
      return [new Api.DocumentAttributeVideo({ duration, w, h, supportsStreaming: true }), fileName];
    case 'video_note':
      return [new Api.DocumentAttributeVideo({ roundMessage: true, duration, w, h })];
    case 'animation':
      return [
        new Api.DocumentAttributeAnimated(),
        new Api.DocumentAttributeVideo({ duration, w, h }),
        fileName,
      ];
    case 'audio':
      return [
        new Api.DocumentAttributeAudio({
          duration: Math.round(duration),
          ...(input.title ? { title: input.title } : {}),
          ...(input.performer ? { performer: input.performer } : {}),
        }),
        fileName,
      ];
    case 'voice':
      return [
        new Api.DocumentAttributeAudio({
          voice: true,
          duration: Math.round(duration),
          ...(input.waveform ? { waveform: input.waveform } : {}),
        }),
      ];
    case 'sticker':
      return [
        new Api.DocumentAttributeSticker({ alt: '', stickerset: new Api.InputStickerSetEmpty() }),
        new Api.DocumentAttributeImageSize({ w, h }),
        fileName,
      ];
    default:
      return [fileName];
  }
}

export class MediaService {
  constructor(private readonly ctx: WorldContext) {}

  /** upload.saveFilePart (no `totalParts`) / upload.saveBigFilePart. */
  async savePart(userId: number, fileId: bigint, part: number, bytes: Buffer, totalParts?: number) {
    const calls = this.ctx.uploadCalls.get(userId) ?? { saveFilePart: 0, saveBigFilePart: 0 };
    this.ctx.uploadCalls.set(userId, calls);
    if (totalParts === undefined) calls.saveFilePart++;
    else calls.saveBigFilePart++;
    await this.ctx.files.savePart(String(userId), fileId.toString(), part, bytes, totalParts);
  }

  fromInput(userId: number, media: Api.TypeInputMedia): Promise<MessageMediaRecord> {
    return mediaFromInput(this.ctx, userId, media);
  }

  render(viewerId: number, media: MessageMediaRecord): Api.TypeMessageMedia {
    return apiMessageMedia(this.ctx, viewerId, media);
  }

  kindOf(media: MessageMediaRecord | undefined): MediaKind | undefined {
    return mediaKind(this.ctx, media);
  }

  getFile(dcId: number | undefined, request: Api.upload.GetFile): Promise<Api.upload.File> {
    return getFile(this.ctx, dcId, request);
  }

  expireFileReferences(userId?: number): void {
    expireFileReferences(this.ctx, userId);
  }

  /** The files an account uploaded and how many part calls it made (control API GET /files). */
  uploadsOf(userId: number): {
    files: UploadedFileRecord[];
    calls: { saveFilePart: number; saveBigFilePart: number };
  } {
    return {
      files: this.ctx.state.uploadedFiles?.[userId] ?? [],
      calls: this.ctx.uploadCalls.get(userId) ?? { saveFilePart: 0, saveBigFilePart: 0 },
    };
  }

  /**
   * Media a user sends from their own app through the control API: stored on the user's home
   * DC and listed among their uploads as the parts their app would have sent (512 KB each).
   */
  async fromControl(userId: number, input: ControlMediaInput): Promise<MessageMediaRecord> {
    if (input.kind === 'photo') {
      if (input.path && (await statSize(input.path)) > MAX_PHOTO_BYTES)
        throw new RpcError(400, 'PHOTO_SAVE_FILE_INVALID');
      const bytes = input.bytes ?? (await readLocal(input.path));
      const blob = await this.ctx.files.put(bytes);
      this.noteControlUpload(userId, blob);
      return { photo: (await createPhoto(this.ctx, userId, bytes)).id };
    }
    const blob = input.bytes
      ? await this.ctx.files.put(input.bytes)
      : await this.ctx.files.putFile(await checkedPath(input.path));
    this.noteControlUpload(userId, blob);
    const document = await createDocument(
      this.ctx,
      userId,
      blob,
      input.mimeType ?? DEFAULT_MIME[input.kind],
      attributesFor(input),
    );
    return { document: document.id };
  }

  private noteControlUpload(userId: number, blob: StoredBlob): void {
    const big = blob.size > BIG_FILE_THRESHOLD;
    const parts = Math.max(1, Math.ceil(blob.size / MAX_PART_SIZE));
    recordUpload(this.ctx, userId, (randomBytes(8).readBigUInt64LE() >> 1n).toString(), {
      ...blob,
      parts,
      big,
    });
  }
}

async function statSize(path: string): Promise<number> {
  return (await stat(await checkedPath(path))).size;
}

async function checkedPath(path: string | undefined): Promise<string> {
  if (!path) throw new RpcError(400, 'FILE_PATH_MISSING');
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new RpcError(400, 'FILE_PATH_INVALID');
  return path;
}

async function readLocal(path: string | undefined): Promise<Buffer> {
  return readFile(await checkedPath(path));
}
