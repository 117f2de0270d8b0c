import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A random id with a readable prefix, e.g. `key_4f9x...`: 128 bits of entropy. */
export function newId(prefix: string): string {
  const bytes = randomBytes(20);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % 36];
  return `${prefix}_${out.slice(0, 25)}`;
}

const ID_POOL_BYTES = 12 * 512;
let idPool = Buffer.alloc(0);
let idOffset = 0;

/**
 * Request ids: short, url-safe, unique enough for correlating logs. Taken from a pool of random
 * bytes refilled in large blocks: one call into the CSPRNG per request showed up in profiles.
 */
export function newRequestId(): string {
  if (idOffset + 12 > idPool.length) {
    idPool = randomBytes(ID_POOL_BYTES);
    idOffset = 0;
  }
  idOffset += 12;
  return idPool.toString('base64url', idOffset - 12, idOffset);
}
