/**
 * Auth-key creation (core.telegram.org/mtproto/auth_key) over unencrypted messages:
 * req_pq(_multi) -> resPQ, req_DH_params -> server_DH_params_ok, set_client_DH_params ->
 * dh_gen_ok. The key is built exactly as the client builds it (leading zero bytes dropped).
 */
import { createDiffieHellman, randomBytes } from 'node:crypto';
import type { DiffieHellman, KeyObject } from 'node:crypto';
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
 * pq = 0x37fffd * 0x3ffffd, fixed. The spec only asks for a product of two distinct odd
 * primes below 2^63 (the client reads it as signed). Telegram's usual 31-bit factors cost the
 * client's Pollard rho about 50 ms per handshake; 22-bit ones cost it about 3 ms.
 */
const PQ = Buffer.from('0dfffe980009', 'hex');
const P = Buffer.from('37fffd', 'hex');
const Q = Buffer.from('3ffffd', 'hex');

const PRIME = bufferToBigInt(TELEGRAM_DH_PRIME);

let sharedDh: DiffieHellman | undefined;
/**
 * OpenSSL's modular exponentiation is ten times faster than BigInt's, but building a
 * DiffieHellman object checks the prime (about 0.2 s), so one object serves every handshake,
 * its private key set before each use.
 */
function dhGroup(): DiffieHellman {
  sharedDh ??= createDiffieHellman(TELEGRAM_DH_PRIME, Buffer.from([TELEGRAM_DH_G]));
  return sharedDh;
}

/** g^a mod p for a 2048-bit secret a. */
function dhPublic(secretA: Buffer): Buffer {
  const dh = dhGroup();
  dh.setPrivateKey(secretA);
  return leftPad(dh.generateKeys(), 256);
}

/** g_b^a mod p, left-padded to 256 bytes. */
function dhShared(secretA: Buffer, gB: Buffer): Buffer {
  const dh = dhGroup();
  dh.setPrivateKey(secretA);
  return leftPad(dh.computeSecret(gB), 256);
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
  private secretA: Buffer | undefined;

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
    this.secretA = undefined;
    return new TlWriter()
      .uint(CONSTRUCTORS.resPQ)
      .raw(this.nonce)
      .raw(this.serverNonce)
      .bytes(PQ)
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
    if (!p.equals(P) || !q.equals(Q)) throw new HandshakeError('wrong factorization of pq');
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
    if (!pq.equals(PQ) || !innerP.equals(P) || !innerQ.equals(Q))
      throw new HandshakeError('p_q_inner_data mismatch');
    this.checkNonces(inner);
    this.newNonce = Buffer.from(inner.raw(32));

    // a: 2048 random bits, as the spec asks (core.telegram.org/mtproto/auth_key, step 5).
    this.secretA = randomBytes(256);
    const gA = dhPublic(this.secretA);
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
    if (!this.newNonce || this.secretA === undefined)
      throw new HandshakeError('set_client_DH_params before req_DH_params');
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
    const authKey = stripLeadingZeros(dhShared(this.secretA, gBBytes));
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
    this.secretA = undefined;
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

export function bufferToBigInt(buffer: Buffer): bigint {
  return buffer.length === 0 ? 0n : BigInt('0x' + buffer.toString('hex'));
}
