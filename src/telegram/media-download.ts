/**
 * Reading a message's file from Telegram as it is asked for (https://core.telegram.org/api/files):
 * upload.getFile in parts of 512 KB at offsets that are multiples of it (so every request keeps
 * Telegram's rules: offset and limit divisible by 4 KB, 1 MB divisible by limit, no part
 * crossing a 1 MB boundary, https://core.telegram.org/method/upload.getFile), a few parts in
 * flight and no more than the reader takes (backpressure). A file kept on another DC is read
 * through a connection to that DC (its dc_id, or FILE_MIGRATE_X, https://core.telegram.org/api/datacenter);
 * an expired file reference is renewed by fetching the message again
 * (https://core.telegram.org/api/file_reference) and the part asked again.
 */
import { Api, errors, helpers } from 'teleproto';
import { AppError } from '../lib/errors.js';
import type { MediaKind } from '../lib/telegram-views.js';
import {
  decodeMediaId,
  mediaLocation,
  type FileSize,
  type MediaLocation,
  type MediaRef,
} from './convert-media.js';
import { toAppErrorFromTelegram } from './errors.js';

/** Bytes per upload.getFile call: the largest limit Telegram allows. */
export const PART_SIZE = 512 * 1024;
/** Parts requested ahead of the one being sent. */
const PARTS_IN_FLIGHT = 4;
/** Tries of one part (a DC move and a renewed file reference each use one). */
const TRIES_PER_PART = 4;
const LOCATIONS_KEPT = 500;
/**
 * Parts in flight for one account, all its downloads together: they share the account's
 * connection, and more would only wait there behind each other (and its pings) until the call
 * timeout ran out for the last ones.
 */
const PARTS_PER_ACCOUNT = 8;

/** A counting semaphore, first come first served. */
class Slots {
  private readonly waiting: (() => void)[] = [];
  constructor(private free: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/** What the downloader needs of the account's connection. */
export interface DownloadHost {
  /** upload.getFile on a DC (the session's own when undefined); Telegram's errors unmapped. */
  invokeOnDc<R extends Api.AnyRequest>(request: R, dcId: number | undefined): Promise<R['__response']>;
  /** The session's home DC. */
  homeDc(): number | undefined;
  /** A fresh copy of a message of a chat (undefined when it is gone or not in that chat). */
  fetchMessage(chatId: string, messageId: number): Promise<Api.TypeMessage | undefined>;
}

/** Where one read stands: the file's location (renewed in place) and the DC it is on. */
interface ReadState {
  location: MediaLocation;
  dcId: number;
  renewing?: Promise<void>;
  renew(): Promise<void>;
}

/** A file (or one of its thumbnails) ready to be read. */
export interface MediaFile {
  /** The file's Telegram id and the size read (a thumbnail letter, or '' for the file). */
  fileId: string;
  thumb: string;
  kind: MediaKind;
  size: number;
  mimeType: string;
  fileName?: string;
  /** The bytes from `start` to `end` inclusive, part by part as Telegram sends them. */
  read(start: number, end: number, signal?: AbortSignal): AsyncGenerator<Buffer>;
}

const notFound = (what = 'Media not found') => new AppError('MEDIA_NOT_FOUND', what);

const errorName = (err: unknown) => (err as { errorMessage?: string } | undefined)?.errorMessage ?? '';

function migratedTo(err: unknown): number | undefined {
  if (err instanceof errors.FileMigrateError) return err.newDc;
  const m = /^FILE_MIGRATE_(\d+)$/.exec(errorName(err));
  return m ? Number(m[1]) : undefined;
}

const isExpiredReference = (err: unknown) =>
  /^FILE_REFERENCE_(EXPIRED|INVALID|\w*_EXPIRED)$/.test(errorName(err));

/** The files of one account's messages, located once and renewed when Telegram says so. */
export class MediaDownloader {
  /** mediaId -> where its file is (LRU by insertion order). */
  private readonly locations = new Map<string, Promise<MediaLocation>>();
  private readonly slots = new Slots(PARTS_PER_ACCOUNT);

  constructor(private readonly host: DownloadHost) {}

  /** The file named by `mediaId`, or its thumbnail of size type `thumb`; 404 MEDIA_NOT_FOUND otherwise. */
  async open(mediaId: string, thumb?: string): Promise<MediaFile> {
    const ref = decodeMediaId(mediaId);
    if (!ref) throw notFound();
    let location = await this.locate(mediaId, ref, false);
    const size = thumb ? location.thumbnails.find((t) => t.type === thumb) : undefined;
    if (thumb && !size) throw notFound(`This file has no thumbnail of size "${thumb}"`);
    const file: MediaFile = {
      fileId: location.ref.fileId,
      thumb: thumb ?? '',
      kind: thumb ? 'photo' : location.kind,
      size: size ? size.size : location.size,
      mimeType: thumb ? 'image/jpeg' : location.mimeType,
      ...(location.fileName && !thumb ? { fileName: location.fileName } : {}),
      read: (start, end, signal) => {
        if (size?.bytes) return inline(size, start, end);
        const state: ReadState = {
          location,
          dcId: location.dcId,
          renew: async () => {
            location = await this.locate(mediaId, ref, true);
            state.location = location;
          },
        };
        return this.readParts(state, thumb ?? location.mainSize, start, end, signal);
      },
    };
    return file;
  }

  private locate(mediaId: string, ref: MediaRef, renew: boolean): Promise<MediaLocation> {
    const known = this.locations.get(mediaId);
    if (known && !renew) {
      this.locations.delete(mediaId);
      this.locations.set(mediaId, known);
      return known;
    }
    const found = this.fetchLocation(ref);
    this.locations.set(mediaId, found);
    found.catch(() => this.locations.get(mediaId) === found && this.locations.delete(mediaId));
    while (this.locations.size > LOCATIONS_KEPT) this.locations.delete(this.locations.keys().next().value!);
    return found;
  }

  private async fetchLocation(ref: MediaRef): Promise<MediaLocation> {
    let msg: Api.TypeMessage | undefined;
    try {
      msg = await this.host.fetchMessage(ref.chatId, ref.messageId);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'CHAT_NOT_FOUND' || code === 'MESSAGE_NOT_FOUND' || code === 'BAD_REQUEST')
        throw notFound();
      throw err;
    }
    const location = msg ? mediaLocation(msg) : undefined;
    if (!location || location.ref.type !== ref.type || location.ref.fileId !== ref.fileId) throw notFound();
    return location;
  }

  private async *readParts(
    state: ReadState,
    sizeType: string,
    start: number,
    end: number,
    signal?: AbortSignal,
  ): AsyncGenerator<Buffer> {
    const stop = end + 1;
    let next = Math.floor(start / PART_SIZE) * PART_SIZE;
    const inFlight: { offset: number; bytes: Promise<Buffer> }[] = [];
    const request = () => {
      while (inFlight.length < PARTS_IN_FLIGHT && next < stop) {
        const bytes = this.part(state, sizeType, next);
        bytes.catch(() => undefined);
        inFlight.push({ offset: next, bytes });
        next += PART_SIZE;
      }
    };
    request();
    while (inFlight.length > 0) {
      if (signal?.aborted) return;
      const { offset, bytes } = inFlight.shift()!;
      const data = await bytes;
      const from = Math.max(start, offset) - offset;
      const to = Math.min(stop, offset + data.length) - offset;
      if (to <= from) throw new AppError('TELEGRAM_ERROR', 'Telegram sent fewer bytes than the file has');
      request();
      yield data.subarray(from, to);
      if (offset + data.length < Math.min(stop, offset + PART_SIZE))
        throw new AppError('TELEGRAM_ERROR', 'Telegram sent fewer bytes than the file has');
    }
  }

  /** One part at `offset`, following the file to its DC and renewing its reference as needed. */
  private async part(state: ReadState, sizeType: string, offset: number): Promise<Buffer> {
    let lastError: unknown;
    for (let tries = 0; tries < TRIES_PER_PART; tries++) {
      const location = state.location;
      const dcId = state.dcId === this.host.homeDc() ? undefined : state.dcId;
      try {
        const request = new Api.upload.GetFile({
          location: inputLocation(location, sizeType),
          offset: helpers.returnBigInt(offset),
          limit: PART_SIZE,
        });
        const res = await this.slots.run(() => this.host.invokeOnDc(request, dcId));
        if (!(res instanceof Api.upload.File))
          throw new AppError('TELEGRAM_ERROR', 'Telegram redirected the download to a CDN');
        return Buffer.isBuffer(res.bytes) ? res.bytes : Buffer.from(res.bytes);
      } catch (err) {
        lastError = err;
        const dc = migratedTo(err);
        if (dc !== undefined) state.dcId = dc;
        else if (isExpiredReference(err)) {
          // Parts in flight share one renewal: the first to see the expired reference asks.
          if (state.location === location) {
            state.renewing ??= state.renew().finally(() => (state.renewing = undefined));
            await state.renewing;
          }
        } else throw err instanceof AppError ? err : toAppErrorFromTelegram(err);
      }
    }
    throw toAppErrorFromTelegram(lastError);
  }
}

function inputLocation(location: MediaLocation, sizeType: string): Api.TypeInputFileLocation {
  const fields = {
    id: location.id,
    accessHash: location.accessHash,
    fileReference: location.fileReference,
    thumbSize: sizeType,
  };
  return location.ref.type === 'photo'
    ? new Api.InputPhotoFileLocation(fields)
    : new Api.InputDocumentFileLocation(fields);
}

// A size Telegram sent with the message itself (photoCachedSize) needs no download.
async function* inline(size: FileSize, start: number, end: number): AsyncGenerator<Buffer> {
  yield size.bytes!.subarray(start, end + 1);
}
