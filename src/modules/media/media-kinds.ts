/**
 * What each kind of media accepts: the file types (told by their first bytes, not by the name or
 * the type a client declares), the size limits, and which kinds an album may mix.
 */
import { extname } from 'node:path';
import { AppError } from '../../lib/errors.js';

import type { MediaKind } from '../../lib/telegram-views.js';

/** Kinds an album holds: photos and videos together, or documents only (Telegram's rule). */
export const ALBUM_KINDS = ['photo', 'video', 'document'] as const;

/** The MIME type of a file from its first bytes (at least 64); undefined when unknown. */
export function sniffMimeType(head: Buffer, fileName = ''): string | undefined {
  const ascii = (from: number, to: number) => head.subarray(from, to).toString('latin1');
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return 'image/gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'audio/wav';
  if (ascii(0, 2) === 'BM') return 'image/bmp';
  if (ascii(0, 4) === '%PDF') return 'application/pdf';
  if (ascii(0, 4) === 'OggS') return oggType(head);
  if (ascii(0, 4) === 'fLaC') return 'audio/flac';
  if (ascii(0, 3) === 'ID3') return 'audio/mpeg';
  // An MPEG audio frame: 11 sync bits, then a layer that is not "reserved".
  if (head[0] === 0xff && (head[1]! & 0xe0) === 0xe0 && (head[1]! & 0x06) !== 0) return 'audio/mpeg';
  if (starts(0x1a, 0x45, 0xdf, 0xa3)) return head.includes('webm') ? 'video/webm' : 'video/x-matroska';
  if (ascii(4, 8) === 'ftyp') return isoBrandType(ascii(8, 12));
  // A Telegram animated sticker is gzipped Lottie JSON named .tgs.
  if (starts(0x1f, 0x8b))
    return extname(fileName).toLowerCase() === '.tgs' ? 'application/x-tgsticker' : 'application/gzip';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'application/zip';
  return undefined;
}

function oggType(head: Buffer): string {
  const text = head.toString('latin1');
  if (text.includes('OpusHead') || text.includes('vorbis') || text.includes('Speex')) return 'audio/ogg';
  if (text.includes('theora')) return 'video/ogg';
  return 'audio/ogg';
}

/** ISO base media files (MP4, MOV, M4A, 3GP) by their major brand. */
function isoBrandType(brand: string): string {
  if (brand === 'qt  ') return 'video/quicktime';
  if (brand.startsWith('M4A') || brand === 'M4B ' || brand === 'F4A ') return 'audio/mp4';
  if (brand.startsWith('3g')) return 'video/3gpp';
  return 'video/mp4';
}

const isAudio = (m: string) => m.startsWith('audio/');
const isVideo = (m: string) => m.startsWith('video/');

const PHOTO_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/bmp']);
const STICKER_TYPES = new Set(['image/webp', 'application/x-tgsticker', 'video/webm']);

/** Which files a kind takes (`converting`: the kinds ffmpeg turns into the right format). */
const ACCEPTS: Record<MediaKind, { ok: (mime: string, converting: boolean) => boolean; wants: string }> = {
  photo: { ok: (m) => PHOTO_TYPES.has(m), wants: 'a JPEG, PNG, WebP or BMP image' },
  video: { ok: (m) => isVideo(m), wants: 'a video (MP4, WebM, MOV, ...)' },
  document: { ok: () => true, wants: 'any file' },
  audio: { ok: (m) => isAudio(m), wants: 'an audio file (MP3, M4A, OGG, FLAC, WAV, ...)' },
  voice: {
    ok: (m, converting) => isAudio(m) || (converting && isVideo(m)),
    wants: 'audio (OGG/Opus plays everywhere; convert: true makes it from MP3, WAV, M4A, ...)',
  },
  video_note: {
    ok: (m) => isVideo(m),
    wants: 'a video (a square MP4 of at most 640 px; convert: true makes one from any video)',
  },
  animation: {
    ok: (m) => m === 'image/gif' || m === 'video/mp4' || m === 'video/webm',
    wants: 'a GIF or a silent MP4/WebM video',
  },
  sticker: { ok: (m) => STICKER_TYPES.has(m), wants: 'a WebP image, a TGS animation or a WebM video' },
};

/** The MIME type a file is sent with: what its bytes say, else the declared one, else a guess. */
export function effectiveMimeType(sniffed: string | undefined, declared: string | undefined): string {
  return sniffed ?? declared ?? 'application/octet-stream';
}

/** 400 when the file cannot be sent as this kind (a sticker that is not WebP/TGS/WebM, ...). */
export function assertKindFits(
  kind: MediaKind,
  mimeType: string,
  converting: boolean,
  field = 'body.kind',
): void {
  const rule = ACCEPTS[kind];
  if (rule.ok(mimeType, converting)) return;
  throw new AppError('VALIDATION_ERROR', `This file (${mimeType}) cannot be sent as ${kind}`, [
    { field, message: `A ${kind} must be ${rule.wants}; this file is ${mimeType}` },
  ]);
}

export interface SizeLimits {
  maxPhotoBytes: number;
  maxFileBytes: number;
}

/** 413 PAYLOAD_TOO_LARGE above Telegram's limit for the kind (or the lower configured one). */
export function assertSizeFits(kind: MediaKind, size: number, limits: SizeLimits): void {
  const max = kind === 'photo' ? limits.maxPhotoBytes : limits.maxFileBytes;
  if (size <= max) return;
  throw new AppError(
    'PAYLOAD_TOO_LARGE',
    kind === 'photo'
      ? `A photo may have at most ${max} bytes (send a larger image as a document); this one has ${size}`
      : `A file may have at most ${max} bytes; this one has ${size}`,
    { kind, size, maxBytes: max },
  );
}

/** 400 unless the kinds can form one album: photos and videos, or documents alone. */
export function assertAlbumKinds(kinds: readonly MediaKind[]): void {
  const bad = kinds.findIndex((k) => !(ALBUM_KINDS as readonly string[]).includes(k));
  if (bad >= 0)
    throw new AppError('VALIDATION_ERROR', 'Request validation failed', [
      { field: `body.items.${bad}.kind`, message: 'An album holds photos, videos or documents' },
    ]);
  const documents = kinds.filter((k) => k === 'document').length;
  if (documents > 0 && documents < kinds.length)
    throw new AppError('VALIDATION_ERROR', 'Request validation failed', [
      { field: 'body.items', message: 'Documents form an album only with other documents' },
    ]);
}

/** A file name for a file sent without one. */
export function defaultFileName(kind: MediaKind, mimeType: string): string {
  const ext: Record<string, string> = {
    'image/jpeg': 'jpg',
    'image/png': 'png',
    'image/gif': 'gif',
    'image/webp': 'webp',
    'image/bmp': 'bmp',
    'audio/mpeg': 'mp3',
    'audio/ogg': 'ogg',
    'audio/mp4': 'm4a',
    'audio/wav': 'wav',
    'audio/flac': 'flac',
    'video/mp4': 'mp4',
    'video/webm': 'webm',
    'video/quicktime': 'mov',
    'application/pdf': 'pdf',
    'application/x-tgsticker': 'tgs',
    'application/zip': 'zip',
  };
  return `${kind}.${ext[mimeType] ?? 'bin'}`;
}
