/**
 * The sandbox's file storage: blobs addressed by their SHA-256 (under `<dataDir>/files/`, mode
 * 0600 in a 0700 folder, or in memory without a data dir), and uploads in progress, kept per
 * (account, file_id) as Telegram keeps them per client until an InputFile names them
 * (https://core.telegram.org/api/files). With a data dir, parts go to disk as they come and are
 * joined by streaming, so a file of hundreds of MB is never held whole in memory; ranges are
 * read back from disk for upload.getFile.
 *
 * Upload rules (https://core.telegram.org/api/files, /method/upload.saveFilePart,
 * /method/upload.saveBigFilePart): every part but the last has the same size, divisible by
 * 1 KB and dividing 512 KB; the last may be smaller; file_part is 0..3999 (at most 4000 parts);
 * files over 10 MB go through saveBigFilePart with file_total_parts, smaller ones through
 * saveFilePart.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RpcError } from '../contract.js';

export const MAX_PART_SIZE = 512 * 1024;
export const MAX_PARTS = 4000;
/** Files above this size must be uploaded with upload.saveBigFilePart. */
export const BIG_FILE_THRESHOLD = 10 * 1024 * 1024;
/** Uploads not used for this long are forgotten (Telegram keeps parts "for some time"). */
const UPLOAD_IDLE_MS = 60 * 60 * 1000;

export interface StoredBlob {
  sha256: string;
  size: number;
}

/** What an InputFile turned into: the stored blob and how it came. */
export interface AssembledUpload extends StoredBlob {
  parts: number;
  big: boolean;
}

export function isValidPartSize(size: number): boolean {
  return size > 0 && size % 1024 === 0 && MAX_PART_SIZE % size === 0;
}

interface PendingUpload {
  big: boolean;
  totalParts?: number;
  /** part number -> size (bytes in `memory` or in the upload folder). */
  parts: Map<number, number>;
  memory?: Map<number, Buffer>;
  folder?: string;
  touchedAt: number;
  /** Set once an InputFile has used it: the same InputFile may be used again. */
  done?: AssembledUpload;
}

export class FileStore {
  readonly dir?: string;
  private readonly blobs = new Map<string, Buffer>();
  private readonly uploads = new Map<string, PendingUpload>();

  constructor(dataDir?: string) {
    if (dataDir) {
      this.dir = join(dataDir, 'files');
      mkdirSync(join(this.dir, 'uploads'), { recursive: true, mode: 0o700 });
    }
  }

  has(sha256: string): boolean {
    return this.dir ? existsSync(this.blobPath(sha256)) : this.blobs.has(sha256);
  }

  /** Stores bytes; returns their address. */
  async put(bytes: Buffer): Promise<StoredBlob> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (!this.dir) this.blobs.set(sha256, Buffer.from(bytes));
    else if (!this.has(sha256)) {
      const temp = join(this.dir, `.${randomBytes(8).toString('hex')}.tmp`);
      await writeFile(temp, bytes, { mode: 0o600 });
      await rename(temp, this.blobPath(sha256));
    }
    return { sha256, size: bytes.length };
  }

  /** Stores a local file by streaming it (never whole in memory with a data dir). */
  async putFile(path: string): Promise<StoredBlob> {
    if (!this.dir) return this.put(await readFile(path));
    return this.joinInto(async (write) => {
      for await (const chunk of createReadStream(path, { highWaterMark: MAX_PART_SIZE }))
        await write(chunk as Buffer);
    });
  }

  /** `length` bytes from `offset` (fewer at the end of the file). */
  async read(sha256: string, offset: number, length: number): Promise<Buffer> {
    if (!this.dir) {
      const blob = this.blobs.get(sha256);
      if (!blob) throw new RpcError(400, 'FILE_ID_INVALID');
      return Buffer.from(blob.subarray(offset, offset + length));
    }
    const handle = await open(this.blobPath(sha256), 'r').catch(() => {
      throw new RpcError(400, 'FILE_ID_INVALID');
    });
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  /** The whole blob (photos and thumbnails only: small). */
  async readAll(sha256: string): Promise<Buffer> {
    if (!this.dir) return this.read(sha256, 0, this.blobs.get(sha256)?.length ?? 0);
    return readFile(this.blobPath(sha256));
  }

  async size(sha256: string): Promise<number> {
    if (!this.dir) return this.blobs.get(sha256)?.length ?? 0;
    return (await stat(this.blobPath(sha256))).size;
  }

  /**
   * upload.saveFilePart / upload.saveBigFilePart: checks what a single part can show wrong and
   * keeps it. `totalParts` only for big files.
   */
  async savePart(
    owner: string,
    fileId: string,
    part: number,
    bytes: Buffer,
    totalParts?: number,
  ): Promise<void> {
    const big = totalParts !== undefined;
    if (big && (totalParts < 1 || totalParts > MAX_PARTS)) throw new RpcError(400, 'FILE_PARTS_INVALID');
    if (part < 0 || part >= MAX_PARTS || (big && part >= totalParts))
      throw new RpcError(400, 'FILE_PART_INVALID');
    if (bytes.length === 0) throw new RpcError(400, 'FILE_PART_EMPTY');
    if (bytes.length > MAX_PART_SIZE) throw new RpcError(400, 'FILE_PART_TOO_BIG');
    this.forgetIdle();
    const key = uploadKey(owner, fileId, big);
    let upload = this.uploads.get(key);
    if (upload?.done) {
      // The client starts a new upload under an id it used before.
      await this.discard(key);
      upload = undefined;
    }
    if (!upload) {
      upload = { big, parts: new Map(), touchedAt: Date.now(), ...(totalParts ? { totalParts } : {}) };
      if (this.dir) upload.folder = join(this.dir, 'uploads', createHash('sha256').update(key).digest('hex'));
      else upload.memory = new Map();
      this.uploads.set(key, upload);
    }
    if (big && upload.totalParts !== totalParts) throw new RpcError(400, 'FILE_PARTS_INVALID');
    const isLast = big && part === totalParts - 1;
    if (big && !isLast && !isValidPartSize(bytes.length)) throw new RpcError(400, 'FILE_PART_SIZE_INVALID');
    // Every part but the last has one size. Only a big file says which part is the last, so
    // only there can a changed size show before the InputFile is used.
    const known = big ? [...upload.parts].find(([n]) => n !== part && n !== totalParts - 1)?.[1] : undefined;
    if (known !== undefined && !isLast && bytes.length !== known)
      throw new RpcError(400, 'FILE_PART_SIZE_CHANGED');
    upload.touchedAt = Date.now();
    upload.parts.set(part, bytes.length);
    if (upload.memory) upload.memory.set(part, Buffer.from(bytes));
    else if (upload.folder) {
      await mkdir(upload.folder, { recursive: true, mode: 0o700 });
      await writeFile(join(upload.folder, String(part)), bytes, { mode: 0o600 });
    }
  }

  /**
   * The file an InputFile (inputFile / inputFileBig) names: all `parts` present and of the right
   * sizes (FILE_PART_X_MISSING, FILE_PART_SIZE_INVALID, FILE_PARTS_INVALID), the MD5 when given
   * (MD5_CHECKSUM_INVALID), small files at most 10 MB. Joined once and stored; the same InputFile
   * may be used again afterwards.
   */
  async assemble(
    owner: string,
    fileId: string,
    parts: number,
    big: boolean,
    md5Checksum?: string,
  ): Promise<AssembledUpload> {
    if (parts < 1 || parts > MAX_PARTS) throw new RpcError(400, 'FILE_PARTS_INVALID');
    const key = uploadKey(owner, fileId, big);
    const upload = this.uploads.get(key);
    if (!upload) throw new RpcError(400, 'FILE_PART_0_MISSING');
    upload.touchedAt = Date.now();
    if (upload.done) {
      if (upload.done.parts !== parts) throw new RpcError(400, 'FILE_PARTS_INVALID');
      return upload.done;
    }
    if (big && upload.totalParts !== parts) throw new RpcError(400, 'FILE_PARTS_INVALID');
    for (let n = 0; n < parts; n++)
      if (!upload.parts.has(n)) throw new RpcError(400, `FILE_PART_${n}_MISSING`);
    const partSize = upload.parts.get(0)!;
    let total = 0;
    for (let n = 0; n < parts; n++) {
      const size = upload.parts.get(n)!;
      const last = n === parts - 1;
      if (parts > 1 && !isValidPartSize(partSize)) throw new RpcError(400, 'FILE_PART_SIZE_INVALID');
      if ((!last && size !== partSize) || (last && size > partSize))
        throw new RpcError(400, 'FILE_PART_SIZE_INVALID');
      total += size;
    }
    // Files over 10 MB must come through saveBigFilePart (https://core.telegram.org/api/files).
    if (!big && total > BIG_FILE_THRESHOLD) throw new RpcError(400, 'FILE_PARTS_INVALID');
    const md5 = md5Checksum ? createHash('md5') : undefined;
    const blob = await this.joinInto(async (write) => {
      for (let n = 0; n < parts; n++) {
        const bytes = upload.memory ? upload.memory.get(n)! : await readFile(join(upload.folder!, String(n)));
        md5?.update(bytes);
        await write(bytes);
      }
    });
    if (md5 && md5.digest('hex') !== md5Checksum!.toLowerCase())
      throw new RpcError(400, 'MD5_CHECKSUM_INVALID');
    const done: AssembledUpload = { ...blob, parts, big };
    await this.discard(key);
    this.uploads.set(key, { big, parts: new Map(), touchedAt: Date.now(), done });
    return done;
  }

  /** Writes chunks to a temporary file (or memory), hashing as it goes, then stores it. */
  private async joinInto(produce: (write: (chunk: Buffer) => Promise<void>) => Promise<void>) {
    const hash = createHash('sha256');
    let size = 0;
    if (!this.dir) {
      const chunks: Buffer[] = [];
      await produce(async (chunk) => {
        chunks.push(chunk);
      });
      return this.put(Buffer.concat(chunks));
    }
    const temp = join(this.dir, `.${randomBytes(8).toString('hex')}.tmp`);
    const handle = await open(temp, 'w', 0o600);
    try {
      await produce(async (chunk) => {
        hash.update(chunk);
        size += chunk.length;
        await handle.write(chunk);
      });
    } catch (error) {
      await handle.close();
      await rm(temp, { force: true });
      throw error;
    }
    await handle.close();
    const sha256 = hash.digest('hex');
    if (this.has(sha256)) await rm(temp, { force: true });
    else await rename(temp, this.blobPath(sha256));
    return { sha256, size };
  }

  private async discard(key: string): Promise<void> {
    const upload = this.uploads.get(key);
    this.uploads.delete(key);
    if (upload?.folder) await rm(upload.folder, { recursive: true, force: true });
  }

  private forgetIdle(): void {
    const cutoff = Date.now() - UPLOAD_IDLE_MS;
    for (const [key, upload] of this.uploads) if (upload.touchedAt < cutoff) void this.discard(key);
  }

  private blobPath(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RpcError(400, 'FILE_ID_INVALID');
    return join(this.dir!, sha256);
  }
}

function uploadKey(owner: string, fileId: string, big: boolean): string {
  return `${owner}:${big ? 'big' : 'small'}:${fileId}`;
}
