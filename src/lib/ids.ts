import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const ID_CHARS = 25;

/**
 * A random id with a readable prefix, e.g. `key_4f9x...`: 25 characters of [0-9a-z], about 128
 * bits of entropy (a byte modulo 36 favours four of the 36 characters by 1/64).
 */
export function newId(prefix: string): string {
  const bytes = randomBytes(ID_CHARS);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % 36];
  return `${prefix}_${out}`;
}

/**
 * Random bytes handed out from a block refilled by one call into the CSPRNG: a call per id cost
 * 10-35 µs on the send path when the process had been idle for a moment (profiled between sends),
 * against a fraction of a µs from the block. Each byte is handed out once.
 */
class RandomPool {
  private block = Buffer.alloc(0);
  private offset = 0;
  constructor(private readonly blockSize: number) {}
  /** The offset in `buffer` of `n` fresh random bytes. */
  take(n: number): number {
    if (this.offset + n > this.block.length) {
      this.block = randomBytes(this.blockSize);
      this.offset = 0;
    }
    this.offset += n;
    return this.offset - n;
  }
  get buffer(): Buffer {
    return this.block;
  }
}

const requestIdPool = new RandomPool(12 * 512);
const int64Pool = new RandomPool(8 * 512);

/** A random signed 64-bit integer (Telegram's random_id of a message, a file part's id). */
export function randomInt64(): bigint {
  const at = int64Pool.take(8);
  return int64Pool.buffer.readBigInt64LE(at);
}

/**
 * Request ids: short, url-safe, unique enough for correlating logs. Taken from a pool of random
 * bytes refilled in large blocks: one call into the CSPRNG per request showed up in profiles.
 */
export function newRequestId(): string {
  const at = requestIdPool.take(12);
  return requestIdPool.buffer.toString('base64url', at, at + 12);
}
