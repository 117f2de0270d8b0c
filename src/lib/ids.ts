import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A random id with a readable prefix, e.g. `key_4f9x...`: 128 bits of entropy. */
export function newId(prefix: string): string {
  const bytes = randomBytes(20);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % 36];
  return `${prefix}_${out.slice(0, 25)}`;
}

/** Request ids: short, url-safe, unique enough for correlating logs. */
export function newRequestId(): string {
  return randomBytes(12).toString('base64url');
}
