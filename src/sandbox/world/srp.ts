/**
 * Server side of Telegram's 2FA SRP (core.telegram.org/api/srp): the world keeps only the
 * verifier v = g^x mod p, hands out B = k*v + g^b and checks the client's proof M1, so a
 * wrong password fails exactly as on Telegram (PASSWORD_HASH_INVALID) without storing it.
 */
import { createHash, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/** Telegram's 2048-bit safe prime; the client (teleproto Password.js) accepts only this one. */
export const SRP_PRIME = Buffer.from(
  'c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f48198a0aa7c14058229493d22530f4dbfa336f6e0ac925139543aed44cce7c3720fd51f69458705ac68cd4fe6b6b13abdc9746512969328454f18faf8c595f642477fe96bb2a941d5bcd1d4ac8cc49880708fa9b378e3c4f3a9060bee67cf9a4a4a695811051907e162753b56b0f6b410dba74d8a84b2a14b3144e0ef1284754fd17ed950d5965b4b9dd46582db1178d169c6bc465b0d6ff9ca3928fef5b9ae4e418fc15e83ebea0f87fa9ff5eed70050ded2849f47bf959d956850ce929851f0d8115f635b105ee2e4e15d04b2454bf6f4fadf034b10403119cd8e3b92fcc5b',
  'hex',
);
export const SRP_G = 3;

const p = toBig(SRP_PRIME);
const g = BigInt(SRP_G);

/** What the world stores for an account with 2FA on. */
export interface PasswordRecord {
  salt1: string;
  salt2: string;
  /** The verifier g^x mod p, hex. */
  verifier: string;
  hint?: string;
}

/** One outstanding account.getPassword answer, checked by auth.checkPassword. */
export interface SrpChallenge {
  srpId: bigint;
  b: bigint;
  B: Buffer;
}

function toBig(buf: Buffer): bigint {
  return buf.length === 0 ? 0n : BigInt('0x' + buf.toString('hex'));
}

export function toPadded(value: bigint, size = 256): Buffer {
  const hex = value.toString(16).padStart(size * 2, '0');
  return Buffer.from(hex, 'hex');
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

function sha256(...parts: Buffer[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** PH2 of the SRP page: the same chain as the client's computeHash. */
export function passwordHash(password: string, salt1: Buffer, salt2: Buffer): Buffer {
  const pw = Buffer.from(password, 'utf8');
  const hash1 = sha256(salt1, pw, salt1);
  const hash2 = sha256(salt2, hash1, salt2);
  const hash3 = pbkdf2Sync(hash2, salt1, 100000, 64, 'sha512');
  return sha256(salt2, hash3, salt2);
}

export function createPasswordRecord(password: string, hint?: string): PasswordRecord {
  const salt1 = randomBytes(40);
  const salt2 = randomBytes(16);
  const x = toBig(passwordHash(password, salt1, salt2));
  const verifier = modPow(g, x, p);
  return {
    salt1: salt1.toString('hex'),
    salt2: salt2.toString('hex'),
    verifier: verifier.toString(16),
    ...(hint ? { hint } : {}),
  };
}

const k = toBig(sha256(SRP_PRIME, toPadded(g)));

/** The client rejects g^b values that are too small or too close to p (isGoodModExpFirst). */
function isGoodModExp(value: bigint): boolean {
  const diff = p - value;
  return value > 0n && diff > 0n && diff.toString(2).length >= 1984 && value.toString(2).length >= 1984;
}

export function createChallenge(record: PasswordRecord): SrpChallenge {
  const v = BigInt('0x' + record.verifier);
  for (;;) {
    const b = toBig(randomBytes(256));
    const gb = modPow(g, b, p);
    if (!isGoodModExp(gb)) continue;
    const B = (k * v + gb) % p;
    if (B <= 0n) continue;
    return { srpId: randomBytes(8).readBigInt64LE(), b, B: toPadded(B) };
  }
}

/** True when M1 proves knowledge of the password behind `record`. */
export function verifyProof(
  record: PasswordRecord,
  challenge: SrpChallenge,
  aBytes: Buffer,
  m1: Buffer,
): boolean {
  const A = toBig(aBytes);
  if (A <= 0n || A >= p) return false;
  const v = BigInt('0x' + record.verifier);
  const aPadded = toPadded(A);
  const u = toBig(sha256(aPadded, challenge.B));
  if (u === 0n) return false;
  const S = modPow((A * modPow(v, u, p)) % p, challenge.b, p);
  const K = sha256(toPadded(S));
  const pSha = sha256(SRP_PRIME);
  const gSha = sha256(toPadded(g));
  const xored = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) xored[i] = pSha[i] ^ gSha[i];
  const expected = sha256(
    xored,
    sha256(Buffer.from(record.salt1, 'hex')),
    sha256(Buffer.from(record.salt2, 'hex')),
    aPadded,
    challenge.B,
    K,
  );
  return m1.length === expected.length && timingSafeEqual(m1, expected);
}
