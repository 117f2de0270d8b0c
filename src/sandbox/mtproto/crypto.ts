/**
 * MTProto 2.0 cryptography on node:crypto: AES-256-IGE, the msg_key/AES key derivation, and
 * the DH group. The client's own IGE builds a cipher per 16-byte block; this one reuses a
 * single ECB cipher per message, which matters once messages flow by the thousand.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';

/** Telegram's 2048-bit safe prime; the client's SRP code accepts only this one (with g in 3,4,5,7). */
export const TELEGRAM_DH_PRIME = Buffer.from(
  'c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f48198a0aa7c14058229493d22530f4dbfa336f6e0ac925139543aed44cce7c3720fd51f69458705ac68cd4fe6b6b13abdc9746512969328454f18faf8c595f642477fe96bb2a941d5bcd1d4ac8cc49880708fa9b378e3c4f3a9060bee67cf9a4a4a695811051907e162753b56b0f6b410dba74d8a84b2a14b3144e0ef1284754fd17ed950d5965b4b9dd46582db1178d169c6bc465b0d6ff9ca3928fef5b9ae4e418fc15e83ebea0f87fa9ff5eed70050ded2849f47bf959d956850ce929851f0d8115f635b105ee2e4e15d04b2454bf6f4fadf034b10403119cd8e3b92fcc5b',
  'hex',
);
export const TELEGRAM_DH_G = 3;

export function sha1(...parts: Buffer[]): Buffer {
  const hash = createHash('sha1');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

export function sha256(...parts: Buffer[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

export function xorBuffers(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

function xorInto(target: Buffer, targetOffset: number, a: Buffer, b: Buffer, length: number): void {
  for (let i = 0; i < length; i++) target[targetOffset + i] = a[i] ^ b[i];
}

/** AES-256-IGE encryption; `plain` must be a multiple of 16 bytes. */
export function igeEncrypt(plain: Buffer, key: Buffer, iv: Buffer): Buffer {
  if (plain.length % 16 !== 0) throw new Error('IGE input must be a multiple of 16 bytes');
  const cipher = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  const out = Buffer.alloc(plain.length);
  let prevCipher = iv.subarray(0, 16);
  let prevPlain = iv.subarray(16, 32);
  const block = Buffer.alloc(16);
  for (let offset = 0; offset < plain.length; offset += 16) {
    const plainBlock = plain.subarray(offset, offset + 16);
    xorInto(block, 0, plainBlock, prevCipher, 16);
    const encrypted = cipher.update(block);
    xorInto(out, offset, encrypted, prevPlain, 16);
    prevCipher = out.subarray(offset, offset + 16);
    prevPlain = plainBlock;
  }
  return out;
}

/** AES-256-IGE decryption; `encrypted` must be a multiple of 16 bytes. */
export function igeDecrypt(encrypted: Buffer, key: Buffer, iv: Buffer): Buffer {
  if (encrypted.length % 16 !== 0) throw new Error('IGE input must be a multiple of 16 bytes');
  const decipher = createDecipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  const out = Buffer.alloc(encrypted.length);
  let prevCipher = iv.subarray(0, 16);
  let prevPlain = iv.subarray(16, 32);
  const block = Buffer.alloc(16);
  for (let offset = 0; offset < encrypted.length; offset += 16) {
    const cipherBlock = encrypted.subarray(offset, offset + 16);
    xorInto(block, 0, cipherBlock, prevPlain, 16);
    const decrypted = decipher.update(block);
    xorInto(out, offset, decrypted, prevCipher, 16);
    prevCipher = cipherBlock;
    prevPlain = out.subarray(offset, offset + 16);
  }
  return out;
}

/**
 * MTProto 2.0 key derivation (core.telegram.org/mtproto/description): x = 0 for messages
 * from the client, x = 8 for messages from the server.
 */
export function deriveAesKeyIv(authKey: Buffer, msgKey: Buffer, x: 0 | 8): { key: Buffer; iv: Buffer } {
  const a = sha256(msgKey, authKey.subarray(x, x + 36));
  const b = sha256(authKey.subarray(40 + x, 76 + x), msgKey);
  const key = Buffer.concat([a.subarray(0, 8), b.subarray(8, 24), a.subarray(24, 32)]);
  const iv = Buffer.concat([b.subarray(0, 8), a.subarray(8, 24), b.subarray(24, 32)]);
  return { key, iv };
}

/** msg_key = middle 128 bits of SHA256(auth_key[88+x : 120+x] + plaintext_with_padding). */
export function computeMsgKey(authKey: Buffer, plaintext: Buffer, x: 0 | 8): Buffer {
  return sha256(authKey.subarray(88 + x, 120 + x), plaintext).subarray(8, 24);
}

/**
 * auth_key_id as the client computes it (AuthKey.keyId): sha1(key)[12:20] read little-endian
 * unsigned. The key may be shorter than 256 bytes (leading zeros dropped, as the client does).
 */
export function authKeyIdOf(authKey: Buffer): bigint {
  return sha1(authKey).readBigUInt64LE(12);
}

/** Drops leading zero bytes, like the client's getByteArray for a positive integer. */
export function stripLeadingZeros(buffer: Buffer): Buffer {
  let start = 0;
  while (start < buffer.length && buffer[start] === 0) start++;
  return buffer.subarray(start);
}

/** tmp_aes_key and tmp_aes_iv of the DH exchange, from server_nonce and new_nonce (raw TL bytes). */
export function handshakeAesKeyIv(serverNonce: Buffer, newNonce: Buffer): { key: Buffer; iv: Buffer } {
  const h1 = sha1(newNonce, serverNonce);
  const h2 = sha1(serverNonce, newNonce);
  const h3 = sha1(newNonce, newNonce);
  return {
    key: Buffer.concat([h1, h2.subarray(0, 12)]),
    iv: Buffer.concat([h2.subarray(12, 20), h3, newNonce.subarray(0, 4)]),
  };
}
