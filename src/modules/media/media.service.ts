/**
 * Downloads of received media: finds the file through the session that saw the message (so a
 * session only reaches what its account can), serves it from the disk cache when it is there,
 * otherwise streams it from Telegram part by part; mints signed links.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Clock } from '../../lib/clock.js';
import { AppError } from '../../lib/errors.js';
import type { MediaFile } from '../../telegram/media-download.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { MediaCache, type CacheWriter } from './cache.js';
import type { MediaLinks } from './links.js';

/** A file ready to be answered with: its facts and a reader of any byte range. */
export interface MediaSource {
  size: number;
  mimeType: string;
  fileName: string;
  /** A strong validator: a Telegram file's bytes never change. */
  etag: string;
  /** Bytes `start`..`end` inclusive. */
  open(start: number, end: number): Readable;
}

export interface MediaServiceDeps {
  sessions: SessionManager;
  cache: MediaCache;
  links: MediaLinks;
  clock: Clock;
  log: Logger;
}

/** Seconds a signed link lives by default, and at most. */
export const LINK_TTL_DEFAULT = 3600;
export const LINK_TTL_MAX = 7 * 24 * 3600;

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'video/mp4': 'mp4',
  'video/webm': 'webm',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'application/x-tgsticker': 'tgs',
  'application/pdf': 'pdf',
};

export class MediaService {
  constructor(private readonly deps: MediaServiceDeps) {}

  /** The file (or thumbnail) through `sessionId`; 404 MEDIA_NOT_FOUND when that session cannot see it. */
  async open(sessionId: string, mediaId: string, thumb?: string): Promise<MediaSource> {
    const file = await this.file(sessionId, mediaId, thumb);
    const key = MediaCache.key(file.fileId, file.thumb);
    const cached = key ? await this.deps.cache.lookup(key) : undefined;
    return {
      size: file.size,
      mimeType: file.mimeType,
      fileName: file.fileName ?? defaultName(file, mediaId),
      etag: `"${createHash('sha256').update(`${file.fileId}:${file.thumb}:${file.size}`).digest('base64url').slice(0, 27)}"`,
      open: (start, end) => {
        if (cached) return createReadStream(cached, { start, end });
        const whole = start === 0 && end === file.size - 1;
        return Readable.from(whole && key ? this.readAndKeep(file, key) : file.read(start, end), {
          objectMode: false,
        });
      },
    };
  }

  /** A signed URL path that downloads the file without credentials until `expiresIn` seconds pass. */
  async link(
    sessionId: string,
    mediaId: string,
    thumb: string | undefined,
    expiresIn: number,
  ): Promise<{ path: string; expiresAt: string }> {
    await this.file(sessionId, mediaId, thumb);
    const expiresAt = Math.floor(this.deps.clock.now().getTime() / 1000) + expiresIn;
    const token = this.deps.links.sign({ sessionId, mediaId, ...(thumb ? { thumb } : {}), expiresAt });
    return { path: `/media/links/${token}`, expiresAt: new Date(expiresAt * 1000).toISOString() };
  }

  /** The claims of a signed link (401 when expired or tampered with). */
  verifyLink(token: string): { sessionId: string; mediaId: string; thumb?: string; expiresAt: number } {
    return this.deps.links.verify(token, Math.floor(this.deps.clock.now().getTime() / 1000));
  }

  private async file(sessionId: string, mediaId: string, thumb?: string): Promise<MediaFile> {
    try {
      const account = await this.deps.sessions.account(sessionId);
      return await account.openMedia(mediaId, thumb);
    } catch (err) {
      // An unknown session looks like an unknown file (API.md: 404 MEDIA_NOT_FOUND).
      if (err instanceof AppError && err.code === 'SESSION_NOT_FOUND')
        throw new AppError('MEDIA_NOT_FOUND', 'Media not found');
      throw err;
    }
  }

  /** The whole file from Telegram, written to the cache on the way when it is on. */
  private async *readAndKeep(file: MediaFile, key: string): AsyncGenerator<Buffer> {
    const writer: CacheWriter | undefined = await this.deps.cache.writer(key, file.size);
    let complete = false;
    try {
      for await (const chunk of file.read(0, file.size - 1)) {
        if (writer) await writer.write(chunk);
        yield chunk;
      }
      complete = true;
    } finally {
      if (writer) {
        if (complete) await writer.commit();
        else writer.abort();
      }
    }
  }
}

/** A name for a file Telegram keeps without one (photos, voice notes): `<kind>_<id>.<ext>`. */
function defaultName(file: MediaFile, mediaId: string): string {
  const ext = EXTENSIONS[file.mimeType] ?? 'bin';
  return `${file.thumb ? `thumb_${file.thumb}` : file.kind}_${mediaId.slice(-12)}.${ext}`;
}
