/**
 * The upload store: files clients hand TeleFlow, kept content-addressed (DATA_DIR/uploads/<sha256>,
 * directory 0700, files 0600) for MEDIA_UPLOAD_TTL, at most MEDIA_STORE_MAX_BYTES in all. Each
 * upload is a row (its own id, name and expiry); rows with the same bytes share one file, which
 * goes when the last of them does. Files to be sent once are staged in `tmp/` and removed after.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database, MediaUploadsTable } from '../../db/types.js';
import type { Clock } from '../../lib/clock.js';
import { AppError } from '../../lib/errors.js';
import { makePrivateDir } from '../../lib/files.js';
import { newId } from '../../lib/ids.js';

/** A file on disk ready to send: where it is, what it is, and whether it goes after the send. */
export interface StagedFile {
  path: string;
  sha256: string;
  size: number;
  /** Its first bytes, to tell its type. */
  head: Buffer;
  /** True for a file staged for one send (removed afterwards), false for a stored upload. */
  temporary: boolean;
}

export interface UploadView {
  uploadId: string;
  sha256: string;
  size: number;
  mimeType: string;
  fileName: string;
  expiresAt: string;
}

const HEAD_BYTES = 4096;
const SHA256_NAME = /^[0-9a-f]{64}$/;

/**
 * In a cluster (CLUSTER=true): this instance's id, written on the uploads it keeps, and how to
 * read the file of an upload another instance holds on its disk (src/modules/cluster/uploads.ts).
 */
export interface RemoteUploads {
  readonly instanceId: string;
  open(holder: string, uploadId: string): Promise<Readable>;
}

export interface UploadStoreOptions {
  db: Kysely<Database>;
  dataDir: string;
  clock: Clock;
  log: Logger;
  ttlSeconds: number;
  maxStoreBytes: number;
  remote?: RemoteUploads;
}

export class UploadStore {
  readonly dir: string;
  private readonly tmpDir: string;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: UploadStoreOptions) {
    this.dir = join(opts.dataDir, 'uploads');
    this.tmpDir = join(this.dir, 'tmp');
  }

  /** Prepares the directories, drops files staged by an earlier process, sweeps now and then. */
  async start(): Promise<void> {
    makePrivateDir(this.tmpDir);
    await rm(this.tmpDir, { recursive: true, force: true });
    makePrivateDir(this.tmpDir);
    await this.sweep();
    // A quarter of the lifetime, between a minute and ten: expired files do not linger long.
    const every = Math.min(600, Math.max(60, this.opts.ttlSeconds / 4)) * 1000;
    this.timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.opts.log.warn({ err }, 'upload store sweep failed'));
    }, every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Streams bytes into a staged file while hashing them, never holding the whole file in memory;
   * more than `maxBytes` is 413 PAYLOAD_TOO_LARGE (and nothing stays on disk).
   */
  async stage(source: Readable | Buffer, maxBytes: number): Promise<StagedFile> {
    const path = this.tempPath();
    const hash = createHash('sha256');
    let size = 0;
    const heads: Buffer[] = [];
    let headSize = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > maxBytes) {
          done(tooLarge(maxBytes));
          return;
        }
        if (headSize < HEAD_BYTES) {
          heads.push(chunk.subarray(0, HEAD_BYTES - headSize));
          headSize += Math.min(chunk.length, HEAD_BYTES - headSize);
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const input = Buffer.isBuffer(source) ? Readable.from([source]) : source;
    try {
      await pipeline(input, counter, createWriteStream(path, { mode: 0o600 }));
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
    return { path, sha256: hash.digest('hex'), size, head: Buffer.concat(heads), temporary: true };
  }

  /** A fresh path among the staged files (for a conversion's output). */
  tempPath(): string {
    makePrivateDir(this.tmpDir);
    return join(this.tmpDir, newId('stg'));
  }

  /** Removes a staged file (stored uploads stay). */
  async discard(file: StagedFile | undefined): Promise<void> {
    if (file?.temporary) await rm(file.path, { force: true });
  }

  /** Keeps a staged file as an upload: 413 when the store would exceed its size cap. */
  async keep(file: StagedFile, meta: { mimeType: string; fileName: string }): Promise<UploadView> {
    const target = this.pathOf(file.sha256);
    const present = await exists(target);
    if (!present) {
      await this.sweep();
      const used = await this.usedBytes();
      if (used + file.size > this.opts.maxStoreBytes) {
        await this.discard(file);
        throw new AppError(
          'PAYLOAD_TOO_LARGE',
          'The upload store is full (MEDIA_STORE_MAX_BYTES); delete uploads or wait until they expire',
          { storeMaxBytes: this.opts.maxStoreBytes, usedBytes: used, size: file.size },
        );
      }
    }
    const now = this.opts.clock.now();
    const row: MediaUploadsTable = {
      id: newId('upl'),
      sha256: file.sha256,
      size: file.size,
      mime_type: meta.mimeType,
      file_name: meta.fileName,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + this.opts.ttlSeconds * 1000).toISOString(),
      instance_id: this.opts.remote?.instanceId ?? null,
    };
    // The row first: a sweep running meanwhile sees the file as used.
    await this.opts.db.insertInto('media_uploads').values(row).execute();
    if (present) await this.discard(file);
    else {
      await rename(file.path, target);
      await chmod(target, 0o600);
    }
    return toView(row);
  }

  /**
   * An upload that has not expired, as a file to send (404 UPLOAD_NOT_FOUND otherwise). In a
   * cluster, a file another instance holds (and this one has no copy of) is fetched from it
   * into a staged file, checked against its SHA-256, and removed after the send.
   */
  async openUpload(uploadId: string): Promise<{ upload: UploadView; file: StagedFile }> {
    const row = await this.row(uploadId);
    const upload = toView(row);
    const path = this.pathOf(upload.sha256);
    const head = await readHead(path).catch(() => undefined);
    if (head)
      return { upload, file: { path, sha256: upload.sha256, size: upload.size, head, temporary: false } };
    const remote = this.opts.remote;
    if (!remote || !row.instance_id || row.instance_id === remote.instanceId) throw notFound();
    const file = await this.stage(await remote.open(row.instance_id, uploadId), upload.size);
    if (file.sha256 !== upload.sha256 || file.size !== upload.size) {
      await this.discard(file);
      throw new AppError(
        'UPLOAD_NOT_FOUND',
        `Upload not found (instance ${row.instance_id} has other bytes)`,
      );
    }
    return { upload, file };
  }

  /** The file of an upload this instance holds, to hand to another instance of the cluster. */
  async readLocal(uploadId: string): Promise<{ upload: UploadView; stream: Readable }> {
    const upload = toView(await this.row(uploadId));
    try {
      const handle = await open(this.pathOf(upload.sha256), 'r');
      return { upload, stream: handle.createReadStream() };
    } catch {
      throw notFound();
    }
  }

  async get(uploadId: string): Promise<UploadView> {
    return toView(await this.row(uploadId));
  }

  private async row(uploadId: string): Promise<MediaUploadsTable> {
    const row = await this.opts.db
      .selectFrom('media_uploads')
      .selectAll()
      .where('id', '=', uploadId)
      .executeTakeFirst();
    if (!row || Date.parse(row.expires_at) <= this.opts.clock.now().getTime()) throw notFound();
    return row;
  }

  async delete(uploadId: string): Promise<void> {
    const row = await this.opts.db
      .deleteFrom('media_uploads')
      .where('id', '=', uploadId)
      .returning(['sha256'])
      .executeTakeFirst();
    if (!row) throw notFound();
    await this.removeIfUnused(row.sha256);
  }

  /** Drops expired uploads, then every stored file no upload refers to. */
  async sweep(): Promise<void> {
    const now = this.opts.clock.now().toISOString();
    await this.opts.db.deleteFrom('media_uploads').where('expires_at', '<=', now).execute();
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    for (const name of names.filter((n) => SHA256_NAME.test(n))) await this.removeIfUnused(name);
  }

  pathOf(sha256: string): string {
    return join(this.dir, sha256);
  }

  private async removeIfUnused(sha256: string): Promise<void> {
    const used = await this.opts.db
      .selectFrom('media_uploads')
      .select('id')
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    if (!used) await rm(this.pathOf(sha256), { force: true });
  }

  /**
   * Bytes of the stored files (each file once, however many uploads share it); in a cluster,
   * of the files on this instance's disk.
   */
  private async usedBytes(): Promise<number> {
    const instanceId = this.opts.remote?.instanceId;
    const rows = await this.opts.db
      .selectFrom('media_uploads')
      .select(['sha256', (eb) => eb.fn.max('size').as('size')])
      .$if(instanceId !== undefined, (q) => q.where('instance_id', '=', instanceId!))
      .groupBy('sha256')
      .execute();
    return rows.reduce((sum, r) => sum + Number(r.size), 0);
  }
}

function toView(row: MediaUploadsTable): UploadView {
  return {
    uploadId: row.id,
    sha256: row.sha256,
    size: Number(row.size),
    mimeType: row.mime_type,
    fileName: row.file_name,
    expiresAt: row.expires_at,
  };
}

const notFound = () => new AppError('UPLOAD_NOT_FOUND', 'Upload not found (or expired)');

export function tooLarge(maxBytes: number): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `The file is larger than ${maxBytes} bytes`, { maxBytes });
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The first bytes of a file, to tell its type. */
export async function readHead(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
