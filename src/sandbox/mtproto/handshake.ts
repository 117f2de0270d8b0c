/**
 * Auth-key creation (core.telegram.org/mtproto/auth_key) over unencrypted messages:
 * req_pq(_multi) -> resPQ, req_DH_params -> server_DH_params_ok, set_client_DH_params ->
 * dh_gen_ok. The key is built exactly as the client builds it (leading zero bytes dropped).
 */
import { createPublicKey, diffieHellman, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject, KeyPairKeyObjectResult } from 'node:crypto';
import {
  TELEGRAM_DH_G,
  TELEGRAM_DH_PRIME,
  authKeyIdOf,
  handshakeAesKeyIv,
  igeDecrypt,
  igeEncrypt,
  sha1,
  sha256,
  stripLeadingZeros,
  xorBuffers,
} from './crypto.js';
import { rsaDecryptRaw } from './rsa.js';
import { CONSTRUCTORS, TlReader, TlWriter } from './tl.js';

/**
 * pq = 0xfff1 * 0xffffffffa9 (16- and 40-bit primes), fixed. The spec only asks for a product
 * of two distinct odd primes below 2^63 (the client reads it as signed). The client factors it
 * with Pollard's rho: Telegram-like pairs of 31-bit primes cost it about 50 ms, and pairs of
 * equal size now and then defeat it (it answers p = 1, about once in 3000 for 22-bit
 * primes); with factors this unequal it takes about 0.5 ms and did not fail in 150,000 tries.
 */
const P = 0xfff1n;
const Q = 0xffffffffa9n;
/** Sent as 8 bytes, like Telegram's: the leading zero keeps the client's signed read positive. */
const PQ_BYTES = Buffer.from('00fff0ffffa90519', 'hex');

const PRIME = bufferToBigInt(TELEGRAM_DH_PRIME);

/**
 * The DH exchange runs in OpenSSL through KeyObjects: ten times faster than BigInt
 * exponentiation, and unlike createDiffieHellman it does not re-check the prime (0.2 s).
 * OpenSSL draws the 2048-bit secret a; keys travel as SPKI DER (PKCS#3 dhKeyAgreement).
 */
export interface DhKeyPair {
  privateKey: KeyObject;
  /** g^a mod p, 256 bytes big-endian. */
  publicValue: Buffer;
}

// Node supports 'dh' key generation; @types/node has no overload for it.
const generateDhKeys = generateKeyPairSync as unknown as (
  type: 'dh',
  options: { prime: Buffer; generator: number },
) => KeyPairKeyObjectResult;

export function generateDhKeyPair(): DhKeyPair {
  const { privateKey, publicKey } = generateDhKeys('dh', {
    prime: TELEGRAM_DH_PRIME,
    generator: TELEGRAM_DH_G,
  });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return { privateKey, publicValue: leftPad(readSpkiPublicValue(spki), 256) };
}

/** g_b^a mod p, left-padded to 256 bytes. */
export function dhSharedSecret(privateKey: KeyObject, gB: Buffer): Buffer {
  const publicKey = createPublicKey({ key: dhSpki(gB), format: 'der', type: 'spki' });
  return leftPad(diffieHellman({ privateKey, publicKey }), 256);
}

const DH_KEY_AGREEMENT_OID = Buffer.from('06092a864886f70d010301', 'hex');

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

function derInteger(value: Buffer): Buffer {
  const stripped = stripLeadingZeros(value);
  const positive =
    stripped.length === 0 || stripped[0] & 0x80 ? Buffer.concat([Buffer.from([0]), stripped]) : stripped;
  return der(0x02, positive);
}

function dhSpki(publicValue: Buffer): Buffer {
  const params = der(
    0x30,
    Buffer.concat([derInteger(TELEGRAM_DH_PRIME), derInteger(Buffer.from([TELEGRAM_DH_G]))]),
  );
  const algorithm = der(0x30, Buffer.concat([DH_KEY_AGREEMENT_OID, params]));
  const key = der(0x03, Buffer.concat([Buffer.from([0]), derInteger(publicValue)]));
  return der(0x30, Buffer.concat([algorithm, key]));
}

/** Reads one DER element at `offset`: its tag, content and where the next element starts. */
function readDer(data: Buffer, offset: number): { tag: number; content: Buffer; end: number } {
  const tag = data[offset];
  let length = data[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = data.readUIntBE(start, count);
    start += count;
  }
  return { tag, content: data.subarray(start, start + length), end: start + length };
}

/** The y INTEGER of a DH SubjectPublicKeyInfo: SEQUENCE { algorithm, BIT STRING { INTEGER y } }. */
function readSpkiPublicValue(spki: Buffer): Buffer {
  const outer = readDer(spki, 0).content;
  const algorithm = readDer(outer, 0);
  const bitString = readDer(outer, algorithm.end);
  if (bitString.tag !== 0x03) throw new Error('unexpected DH public key encoding');
  const integer = readDer(bitString.content, 1);
  if (integer.tag !== 0x02) throw new Error('unexpected DH public key encoding');
  return stripLeadingZeros(integer.content);
}

function leftPad(buffer: Buffer, length: number): Buffer {
  return buffer.length >= length ? buffer : Buffer.concat([Buffer.alloc(length - buffer.length), buffer]);
}

export class HandshakeError extends Error {}

export interface HandshakeKeys {
  privateKey: KeyObject;
  fingerprint: bigint;
}

export interface NewAuthKey {
  authKeyId: bigint;
  authKey: Buffer;
  /** First server salt per the spec: new_nonce[0:8] xor server_nonce[0:8]. */
  initialSalt: Buffer;
}

/** State of one connection's key exchange. */
export class Handshake {
  private nonce: Buffer | undefined;
  private serverNonce: Buffer | undefined;
  private newNonce: Buffer | undefined;
  private dh: DhKeyPair | undefined;

  constructor(private readonly keys: HandshakeKeys) {}

  /**
   * Answers one unencrypted message body; returns the reply body and, after the last step,
   * the new auth key.
   */
  handle(body: Buffer): { reply: Buffer; created?: NewAuthKey } {
    const reader = new TlReader(body);
    const constructor = reader.uint();
    switch (constructor) {
      case CONSTRUCTORS.reqPq:
      case CONSTRUCTORS.reqPqMulti:
        return { reply: this.resPq(reader.raw(16)) };
      case CONSTRUCTORS.reqDhParams:
        return { reply: this.dhParams(reader) };
      case CONSTRUCTORS.setClientDhParams:
        return this.clientDhParams(reader);
      default:
        throw new HandshakeError(`unexpected unencrypted constructor 0x${constructor.toString(16)}`);
    }
  }

  private resPq(nonce: Buffer): Buffer {
    this.nonce = Buffer.from(nonce);
    this.serverNonce = randomBytes(16);
    this.newNonce = undefined;
    this.dh = undefined;
    return new TlWriter()
      .uint(CONSTRUCTORS.resPQ)
      .raw(this.nonce)
      .raw(this.serverNonce)
      .bytes(PQ_BYTES)
      .uint(CONSTRUCTORS.vector)
      .int(1)
      .long(this.keys.fingerprint)
      .getBytes();
  }

  private checkNonces(reader: TlReader): void {
    const nonce = reader.raw(16);
    const serverNonce = reader.raw(16);
    if (
      !this.nonce ||
      !this.serverNonce ||
      !nonce.equals(this.nonce) ||
      !serverNonce.equals(this.serverNonce)
    ) {
      throw new HandshakeError('nonce mismatch');
    }
  }

  private dhParams(reader: TlReader): Buffer {
    this.checkNonces(reader);
    const p = reader.bytes();
    const q = reader.bytes();
    const fingerprint = reader.long();
    const encrypted = reader.bytes();
    if (!isFactorization(p, q)) {
      throw new HandshakeError(`wrong factorization of pq: ${p.toString('hex')} x ${q.toString('hex')}`);
    }
    if (fingerprint !== this.keys.fingerprint) throw new HandshakeError('unknown public key fingerprint');
    if (encrypted.length !== 256) throw new HandshakeError('encrypted_data must be 256 bytes');

    const inner = new TlReader(decryptRsaPad(this.keys.privateKey, encrypted));
    const innerConstructor = inner.uint();
    if (
      innerConstructor !== CONSTRUCTORS.pqInnerData &&
      innerConstructor !== CONSTRUCTORS.pqInnerDataDc &&
      innerConstructor !== CONSTRUCTORS.pqInnerDataTemp &&
      innerConstructor !== CONSTRUCTORS.pqInnerDataTempDc
    ) {
      throw new HandshakeError('p_q_inner_data expected');
    }
    const pq = inner.bytes();
    const innerP = inner.bytes();
    const innerQ = inner.bytes();
    if (bufferToBigInt(pq) !== P * Q || !isFactorization(innerP, innerQ)) {
      throw new HandshakeError('p_q_inner_data mismatch');
    }
    this.checkNonces(inner);
    this.newNonce = Buffer.from(inner.raw(32));

    // a is drawn by OpenSSL as large as the prime allows (the spec asks for 2048 random bits).
    this.dh = generateDhKeyPair();
    const gA = this.dh.publicValue;
    const answer = new TlWriter()
      .uint(CONSTRUCTORS.serverDhInnerData)
      .raw(this.nonce!)
      .raw(this.serverNonce!)
      .int(TELEGRAM_DH_G)
      .bytes(TELEGRAM_DH_PRIME)
      .bytes(gA)
      .int(Math.floor(Date.now() / 1000))
      .getBytes();
    const withHash = Buffer.concat([sha1(answer), answer]);
    const padded = Buffer.concat([withHash, randomBytes((16 - (withHash.length % 16)) % 16)]);
    const { key, iv } = handshakeAesKeyIv(this.serverNonce!, this.newNonce);
    return new TlWriter()
      .uint(CONSTRUCTORS.serverDhParamsOk)
      .raw(this.nonce!)
      .raw(this.serverNonce!)
      .bytes(igeEncrypt(padded, key, iv))
      .getBytes();
  }

  private clientDhParams(reader: TlReader): { reply: Buffer; created: NewAuthKey } {
    this.checkNonces(reader);
    if (!this.newNonce || !this.dh) throw new HandshakeError('set_client_DH_params before req_DH_params');
    const encrypted = reader.bytes();
    if (encrypted.length % 16 !== 0) throw new HandshakeError('encrypted_data not a multiple of 16');
    const { key, iv } = handshakeAesKeyIv(this.serverNonce!, this.newNonce);
    const plain = igeDecrypt(encrypted, key, iv);
    const hash = plain.subarray(0, 20);
    const inner = new TlReader(plain.subarray(20));
    if (inner.uint() !== CONSTRUCTORS.clientDhInnerData)
      throw new HandshakeError('client_DH_inner_data expected');
    this.checkNonces(inner);
    inner.long(); // retry_id
    const gBBytes = inner.bytes();
    const gB = bufferToBigInt(gBBytes);
    if (!sha1(plain.subarray(20, 20 + inner.offset)).equals(hash))
      throw new HandshakeError('client_DH_inner_data hash mismatch');
    if (gB <= 1n || gB >= PRIME - 1n) throw new HandshakeError('g_b out of range');

    // The client keeps getByteArray(g^ab): no leading zeros, so sometimes 255 bytes or fewer.
    const authKey = stripLeadingZeros(dhSharedSecret(this.dh.privateKey, gBBytes));
    const authKeyHash = sha1(authKey);
    const newNonceHash1 = sha1(this.newNonce, Buffer.from([1]), authKeyHash.subarray(0, 8)).subarray(4, 20);
    const reply = new TlWriter()
      .uint(CONSTRUCTORS.dhGenOk)
      .raw(this.nonce!)
      .raw(this.serverNonce!)
      .raw(newNonceHash1)
      .getBytes();
    const created: NewAuthKey = {
      authKey: Buffer.from(authKey),
      authKeyId: authKeyIdOf(authKey),
      initialSalt: xorBuffers(this.newNonce.subarray(0, 8), this.serverNonce!.subarray(0, 8)),
    };
    this.nonce = this.serverNonce = this.newNonce = undefined;
    this.dh = undefined;
    return { reply, created };
  }
}

/**
 * RSA_PAD decoding (core.telegram.org/mtproto/auth_key, step 4): m = c^d mod n;
 * temp_key = m[0:32] xor sha256(m[32:]); AES-IGE-decrypt m[32:] with temp_key and a zero IV;
 * the first 192 bytes are data_with_padding reversed, the last 32 its SHA256 with temp_key.
 */
export function decryptRsaPad(privateKey: KeyObject, encrypted: Buffer): Buffer {
  const m = rsaDecryptRaw(privateKey, encrypted);
  const aesEncrypted = m.subarray(32);
  const tempKey = xorBuffers(m.subarray(0, 32), sha256(aesEncrypted));
  const dataWithHash = igeDecrypt(aesEncrypted, tempKey, Buffer.alloc(32));
  const dataWithPadding = Buffer.from(dataWithHash.subarray(0, 192)).reverse();
  if (!sha256(tempKey, dataWithPadding).equals(dataWithHash.subarray(192, 224))) {
    throw new HandshakeError('RSA_PAD hash mismatch');
  }
  return dataWithPadding;
}

/** p and q as the client sends them: big-endian, p < q (core.telegram.org/mtproto/auth_key). */
function isFactorization(p: Buffer, q: Buffer): boolean {
  return bufferToBigInt(p) === P && bufferToBigInt(q) === Q;
}

export function bufferToBigInt(buffer: Buffer): bigint {
  return buffer.length === 0 ? 0n : BigInt('0x' + buffer.toString('hex'));
}
