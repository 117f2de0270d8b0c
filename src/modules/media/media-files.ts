/**
 * From what a request gives (a multipart file, base64, a URL or an uploadId) to a file on disk
 * that fits its kind: type told by the bytes, size limits, the optional ffmpeg conversion, and
 * duration and picture size from ffprobe.
 */
import { stat } from 'node:fs/promises';
import { sha256Hex } from '../../lib/crypto.js';
import { AppError } from '../../lib/errors.js';
import type { MediaKind } from '../../lib/telegram-views.js';
import type { MediaMeta } from '../../telegram/media-upload.js';
import type { MediaTools } from './convert.js';
import { fetchToStore, type FetchOptions } from './fetch-source.js';
import {
  assertKindFits,
  assertSizeFits,
  defaultFileName,
  sniffMimeType,
  type SizeLimits,
} from './media-kinds.js';
import { readHead, tooLarge, type StagedFile, type UploadStore, type UploadView } from './upload-store.js';

/** A file part of a multipart request, already streamed to disk. */
export interface MultipartFile {
  file: StagedFile;
  fileName?: string;
  mimeType?: string;
}

/** Where a file comes from: exactly one of these. */
export interface FileSource {
  uploadId?: string;
  url?: string;
  base64?: string;
  fileName?: string;
  mimeType?: string;
}

/** A file ready to upload: on disk, checked against its kind, with what Telegram shows of it. */
export interface PreparedFile {
  file: StagedFile;
  meta: MediaMeta;
  /** With the SHA-256, what a sent file is remembered by for re-sending: see refKindOf. */
  refKind: string;
  /** Files to remove once sent (staged and converted ones). */
  temporary: StagedFile[];
}

export interface MediaFilesOptions {
  store: UploadStore;
  tools: MediaTools;
  limits: SizeLimits;
  fetch: Omit<FetchOptions, 'maxBytes'>;
}

const BASE64 = /^[A-Za-z0-9+/\-_]*={0,2}$/;
const invalid = (field: string, message: string) =>
  new AppError('VALIDATION_ERROR', 'Request validation failed', [{ field, message }]);

export class MediaFiles {
  constructor(private readonly opts: MediaFilesOptions) {}

  /** Stages the file of a source; `field` names the source in error details (`body`, `body.items.0`). */
  async stage(
    source: FileSource,
    multipart: MultipartFile | undefined,
    field: string,
  ): Promise<{ file: StagedFile; fileName?: string; mimeType?: string }> {
    const given = [multipart, source.uploadId, source.url, source.base64].filter((v) => v !== undefined);
    if (given.length !== 1)
      throw invalid(
        field,
        given.length === 0
          ? 'Give the file: uploadId, url, base64, or a multipart "file" part'
          : 'Give only one of uploadId, url, base64 and a multipart "file" part',
      );
    const maxBytes = this.opts.limits.maxFileBytes;
    if (multipart)
      return {
        file: multipart.file,
        fileName: source.fileName ?? multipart.fileName,
        mimeType: source.mimeType ?? multipart.mimeType,
      };
    if (source.uploadId !== undefined) {
      const { upload, file } = await this.opts.store.openUpload(source.uploadId);
      return {
        file,
        fileName: source.fileName ?? upload.fileName,
        mimeType: source.mimeType ?? upload.mimeType,
      };
    }
    if (source.url !== undefined) {
      const fetched = await fetchToStore(
        this.opts.store,
        source.url,
        { ...this.opts.fetch, maxBytes },
        `${field}.url`,
      );
      return {
        file: fetched.file,
        fileName: source.fileName ?? fetched.fileName,
        mimeType: source.mimeType ?? fetched.mimeType,
      };
    }
    const bytes = decodeBase64(source.base64!, maxBytes, `${field}.base64`);
    return {
      file: await this.opts.store.stage(bytes, maxBytes),
      fileName: source.fileName,
      mimeType: source.mimeType,
    };
  }

  /**
   * Checks the staged file against its kind and limits, converts it when asked, and reads its
   * duration and size. Removes the staged file when it does not fit.
   */
  async prepare(
    kind: MediaKind,
    staged: { file: StagedFile; fileName?: string; mimeType?: string },
    options: { convert?: boolean; title?: string; performer?: string; field: string },
  ): Promise<PreparedFile> {
    const temporary = [staged.file];
    try {
      return await this.check(kind, staged, options, temporary);
    } catch (err) {
      await Promise.all(temporary.map((f) => this.opts.store.discard(f)));
      throw err;
    }
  }

  private async check(
    kind: MediaKind,
    staged: { file: StagedFile; fileName?: string; mimeType?: string },
    options: { convert?: boolean; title?: string; performer?: string; field: string },
    temporary: StagedFile[],
  ): Promise<PreparedFile> {
    const convert = options.convert === true;
    if (convert && kind !== 'voice' && kind !== 'video_note')
      throw invalid(`${options.field}.convert`, 'convert applies to voice and video_note only');
    const detected = detectType(staged);
    const sniffed = detected.sniffed;
    // The bytes decide what the file is; a declared type only names files the bytes do not tell.
    assertKindFits(kind, sniffed ?? 'application/octet-stream', convert, `${options.field}.kind`);
    assertSizeFits(kind, staged.file.size, this.opts.limits);
    let file = staged.file;
    let mimeType = detected.mimeType;
    let fileName = staged.fileName ?? defaultFileName(kind, mimeType);
    if (convert) {
      const output = this.opts.store.tempPath();
      const converted: StagedFile = {
        path: output,
        sha256: file.sha256,
        size: 0,
        head: Buffer.alloc(0),
        temporary: true,
      };
      temporary.push(converted);
      if (kind === 'voice') await this.opts.tools.toVoice(file.path, output);
      else await this.opts.tools.toRoundVideo(file.path, output);
      converted.size = (await stat(output)).size;
      converted.head = await readHead(output);
      if (converted.size > this.opts.limits.maxFileBytes) throw tooLarge(this.opts.limits.maxFileBytes);
      file = converted;
      mimeType = kind === 'voice' ? 'audio/ogg' : 'video/mp4';
      fileName = `${fileName.replace(/\.[^.]*$/, '')}.${kind === 'voice' ? 'ogg' : 'mp4'}`;
    }
    const meta: MediaMeta = { kind, mimeType, fileName };
    if (kind !== 'photo' && kind !== 'document') {
      const probed = await this.opts.tools.probe(file.path);
      if (probed?.duration !== undefined) meta.duration = probed.duration;
      if (probed?.width) {
        meta.width = probed.width;
        meta.height = probed.height;
      }
      const title = options.title ?? probed?.title;
      const performer = options.performer ?? probed?.artist;
      if (kind === 'audio' && title) meta.title = title;
      if (kind === 'audio' && performer) meta.performer = performer;
      if (kind === 'voice') {
        const waveform = await this.opts.tools.waveform(file.path, meta.duration);
        if (waveform) meta.waveform = waveform;
      }
    }
    return { file, meta, refKind: refKindOf(meta, convert), temporary };
  }

  /** A new upload in the store (POST /api/v1/uploads). */
  async createUpload(source: FileSource, multipart: MultipartFile | undefined): Promise<UploadView> {
    if (source.base64 !== undefined && !source.fileName)
      throw invalid('body.fileName', 'Required with base64');
    if (source.uploadId !== undefined) throw invalid('body.uploadId', 'Unknown field');
    const staged = await this.stage(source, multipart, 'body');
    const { mimeType } = detectType(staged);
    const fileName = staged.fileName ?? defaultFileName('document', mimeType).replace(/^document/, 'file');
    return this.opts.store.keep(staged.file, { mimeType, fileName });
  }

  async discard(prepared: PreparedFile | undefined): Promise<void> {
    if (prepared) await Promise.all(prepared.temporary.map((f) => this.opts.store.discard(f)));
  }
}

/**
 * A file sent again by Telegram's id keeps the attributes of its first send: it is the same only
 * for the same kind, conversion, name and audio tags (photos have no name).
 */
function refKindOf(meta: MediaMeta, converted: boolean): string {
  const kind = converted ? `${meta.kind}:converted` : meta.kind;
  if (meta.kind === 'photo') return kind;
  return `${kind}:${sha256Hex(JSON.stringify([meta.fileName, meta.title ?? null, meta.performer ?? null])).slice(0, 16)}`;
}

/** The type the bytes tell (`sniffed`), and the one the file is sent with (else the declared one). */
function detectType(staged: { file: StagedFile; fileName?: string; mimeType?: string }): {
  sniffed?: string;
  mimeType: string;
} {
  const declared = staged.mimeType?.toLowerCase();
  let sniffed = sniffMimeType(staged.file.head, staged.fileName);
  // A TGS sticker is gzip: its name or declared type tells it from other gzip files.
  if (sniffed === 'application/gzip' && declared === 'application/x-tgsticker') sniffed = declared;
  return { ...(sniffed ? { sniffed } : {}), mimeType: sniffed ?? declared ?? 'application/octet-stream' };
}

/** base64 (or a `data:` URL) to bytes: 413 above the limit before anything is decoded. */
function decodeBase64(value: string, maxBytes: number, field: string): Buffer {
  const data = value.startsWith('data:') ? value.slice(value.indexOf(',') + 1) : value;
  const compact = /\s/.test(data) ? data.replace(/\s+/g, '') : data;
  if (Math.floor((compact.length * 3) / 4) - 2 > maxBytes) throw tooLarge(maxBytes);
  if (!BASE64.test(compact)) throw invalid(field, 'Not valid base64');
  const bytes = Buffer.from(compact, compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64');
  if (bytes.length === 0) throw invalid(field, 'The file is empty');
  return bytes;
}
