/**
 * An optional disk cache of downloaded files under DATA_DIR/media-cache, capped at
 * MEDIA_CACHE_MAX_BYTES (0 turns it off) with least-recently-used eviction. A file enters it
 * only when a download read it whole from Telegram; it is written to a temporary name and
 * renamed into place once complete, so a reader never sees half a file. A Telegram file's
 * bytes never change, so entries are keyed by its id (and thumbnail size) and never go stale;
 * access is still checked through the session before a cached file is served.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';

export interface CacheWriter {
  write(chunk: Buffer): Promise<void>;
  /** Keeps the file when exactly `size` bytes were written; drops it otherwise. */
  commit(): Promise<void>;
  abort(): void;
}

const ENTRY = /^f(-?\d+)_([A-Za-z]?)$/;

export class MediaCache {
  /** key -> bytes, least recently used first. */
  private readonly entries = new Map<string, number>();
  private readonly writing = new Set<string>();
  private total = 0;
  private ready: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    readonly maxBytes: number,
    private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  get usedBytes(): number {
    return this.total;
  }

  /** Reads what an earlier run left, oldest use first (file times record the last use). */
  private init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const found: { key: string; size: number; used: number }[] = [];
      for (const name of await readdir(this.dir)) {
        const path = join(this.dir, name);
        if (!ENTRY.test(name)) {
          if (name.endsWith('.part')) await unlink(path).catch(() => undefined);
          continue;
        }
        const s = await stat(path).catch(() => undefined);
        if (s?.isFile()) found.push({ key: name, size: s.size, used: s.mtimeMs });
      }
      for (const e of found.sort((a, b) => a.used - b.used)) this.add(e.key, e.size);
      await this.evict();
    })();
    return this.ready;
  }

  static key(fileId: string, thumb: string): string | undefined {
    const key = `f${fileId}_${thumb}`;
    return ENTRY.test(key) ? key : undefined;
  }

  /** The cached file's path (and marks it used), or undefined. */
  async lookup(key: string): Promise<string | undefined> {
    if (!this.enabled) return undefined;
    await this.init();
    const size = this.entries.get(key);
    if (size === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, size);
    const path = join(this.dir, key);
    const now = new Date();
    utimes(path, now, now).catch(() => this.remove(key));
    return path;
  }

  /** A writer for a file of `size` bytes, or undefined (cache off, file too large, already being written). */
  async writer(key: string, size: number): Promise<CacheWriter | undefined> {
    if (!this.enabled || size > this.maxBytes || this.writing.has(key) || this.entries.has(key))
      return undefined;
    await this.init();
    this.writing.add(key);
    const temp = join(this.dir, `${key}.${randomBytes(4).toString('hex')}.part`);
    const out: WriteStream = createWriteStream(temp, { mode: 0o600 });
    let written = 0;
    let failed = false;
    out.on('error', (err) => {
      failed = true;
      this.log.warn({ err }, 'media cache: write failed');
    });
    const finish = () => this.writing.delete(key);
    return {
      write: (chunk) =>
        new Promise<void>((resolve) => {
          written += chunk.length;
          if (failed || out.write(chunk)) resolve();
          else out.once('drain', resolve);
        }),
      commit: async () => {
        await new Promise<void>((resolve) => out.end(resolve));
        try {
          if (failed || written !== size) throw new Error(`incomplete: ${written} of ${size} bytes`);
          await rename(temp, join(this.dir, key));
          this.add(key, size);
          await this.evict();
        } catch (err) {
          this.log.debug({ err }, 'media cache: file not kept');
          await unlink(temp).catch(() => undefined);
        } finally {
          finish();
        }
      },
      abort: () => {
        out.destroy();
        void unlink(temp).catch(() => undefined);
        finish();
      },
    };
  }

  private add(key: string, size: number): void {
    this.remove(key);
    this.entries.set(key, size);
    this.total += size;
  }

  private remove(key: string): void {
    const size = this.entries.get(key);
    if (size === undefined) return;
    this.entries.delete(key);
    this.total -= size;
  }

  /** Drops the least recently used files until the cache fits its cap. */
  private async evict(): Promise<void> {
    while (this.total > this.maxBytes) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.remove(oldest);
      await unlink(join(this.dir, oldest)).catch(() => undefined);
    }
  }
}
