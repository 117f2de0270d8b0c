/**
 * The sandbox's own RSA-2048 server key: generated once, kept as PEM in the data dir, and
 * identified by the fingerprint Telegram clients compute (see SANDBOX-NOTES "RSA key").
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { constants } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serializeBytes } from './tl.js';

export const PRIVATE_KEY_FILE = 'server-key.pem';
/** The name API.md gives the sandbox's public key: TELEGRAM_DC_PUBLIC_KEY_FILE points here. */
export const PUBLIC_KEY_FILE = 'server-public.pem';

export interface ServerKey {
  privateKey: KeyObject;
  /** PKCS#1 PEM ("BEGIN RSA PUBLIC KEY"), the form Telegram publishes its keys in. */
  publicKeyPem: string;
  /** Signed 64-bit fingerprint, as the client's `_serverKeys` map and resPQ carry it. */
  fingerprint: bigint;
}

/** The modulus and exponent of an RSA public key, big-endian, without leading zeros. */
export function publicKeyComponents(key: KeyObject | string): { n: Buffer; e: Buffer } {
  const publicKey =
    typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'RSA' || !jwk.n || !jwk.e) throw new Error('Not an RSA public key');
  return {
    n: stripLeadingZeros(Buffer.from(jwk.n, 'base64url')),
    e: stripLeadingZeros(Buffer.from(jwk.e, 'base64url')),
  };
}

/** Low 64 bits of SHA1(TL-bytes(n) + TL-bytes(e)), read little-endian and signed. */
export function rsaFingerprint(key: KeyObject | string): bigint {
  const { n, e } = publicKeyComponents(key);
  const digest = createHash('sha1')
    .update(Buffer.concat([serializeBytes(n), serializeBytes(e)]))
    .digest();
  return digest.readBigInt64LE(12);
}

export function generateServerKey(): ServerKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
  return describeKey(privateKey);
}

export function describeKey(privateKey: KeyObject | string): ServerKey {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const publicKeyPem = createPublicKey(key).export({ type: 'pkcs1', format: 'pem' }).toString();
  return { privateKey: key, publicKeyPem, fingerprint: rsaFingerprint(key) };
}

/**
 * Reads the key pair from `dir` (creating both PEM files on first use); without a dir the key
 * lives only in memory.
 */
export async function loadOrCreateServerKey(dir: string | undefined): Promise<ServerKey> {
  if (dir === undefined) return generateServerKey();
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  let pem: string | undefined;
  try {
    pem = await readFile(privatePath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (pem !== undefined) return describeKey(pem);
  const key = generateServerKey();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privatePem = key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await writeFile(privatePath, privatePem, { mode: 0o600 });
  await writeFile(join(dir, PUBLIC_KEY_FILE), key.publicKeyPem);
  return key;
}

/** Textbook RSA (m = c^d mod n), as MTProto's RSA_PAD expects; result padded to 256 bytes. */
export function rsaDecryptRaw(privateKey: KeyObject, cipher: Buffer): Buffer {
  const plain = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, cipher);
  if (plain.length >= 256) return plain;
  return Buffer.concat([Buffer.alloc(256 - plain.length), plain]);
}

function stripLeadingZeros(buffer: Buffer): Buffer {
  let start = 0;
  while (start < buffer.length - 1 && buffer[start] === 0) start++;
  return buffer.subarray(start);
}
