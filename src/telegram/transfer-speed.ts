/**
 * Two fixes to teleproto's hot path for large transfers (applied by account.ts).
 *
 * MTProto's AES-256-IGE (https://core.telegram.org/mtproto/description#defining-aes-key-and-initialization-vector)
 * without teleproto's per-block cost: its crypto/IGE.js makes a new AES cipher object and two
 * new buffers for every 16-byte block, so a 512 KB download part cost 32768 cipher objects and
 * downloads were bound by that CPU at a few MB/s (with garbage that swelled the process). Here
 * one ECB cipher serves a whole message, fed block by block (IGE chains blocks, so they cannot
 * be handed over at once), and the XORs write into buffers made once. Encryption (every part
 * TeleFlow uploads) goes further, as one native AES-CBC call over the whole message: see
 * encryptIgeWithCbc. Same bytes in and out (test/media/download-parts.test.ts compares both).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { IGE } from 'teleproto/crypto/IGE.js';
import { PromisedNetSockets } from 'teleproto/extensions/PromisedNetSockets.js';

const BLOCK = 16;

interface IgeInstance {
  key: Buffer;
  iv: Buffer;
}

type IgeMethods = {
  encryptIge(this: IgeInstance, plainText: Buffer): Buffer;
  decryptIge(this: IgeInstance, cipherText: Buffer): Buffer;
};

const proto = IGE.prototype as unknown as IgeMethods;
/** The library's own methods, kept for comparison in tests. */
export const originalIge: IgeMethods = { encryptIge: proto.encryptIge, decryptIge: proto.decryptIge };

/**
 * IGE over one AES-ECB object: `out_i = AES(in_i ^ out_{i-1}) ^ in_{i-1}`, the IV's halves
 * standing in before the first block (encryption: out_0 = iv[0:16], in_0 = iv[16:32];
 * decryption the other way round).
 */
function ige(key: Buffer, iv: Buffer, input: Buffer, encrypt: boolean): Buffer {
  const aes = encrypt ? createCipheriv('aes-256-ecb', key, null) : createDecipheriv('aes-256-ecb', key, null);
  aes.setAutoPadding(false);
  const out = Buffer.allocUnsafe(input.length);
  const block = Buffer.allocUnsafe(BLOCK);
  let x = encrypt ? iv.subarray(0, BLOCK) : iv.subarray(BLOCK, 2 * BLOCK);
  let y = encrypt ? iv.subarray(BLOCK, 2 * BLOCK) : iv.subarray(0, BLOCK);
  for (let i = 0; i < input.length; i += BLOCK) {
    for (let j = 0; j < BLOCK; j++) block[j] = input[i + j]! ^ x[j]!;
    const done = aes.update(block);
    for (let j = 0; j < BLOCK; j++) out[i + j] = done[j]! ^ y[j]!;
    x = out.subarray(i, i + BLOCK);
    y = input.subarray(i, i + BLOCK);
  }
  aes.final();
  return out;
}

/**
 * IGE encryption as AES-CBC, in one native call instead of one per block. IGE encrypts
 * `c_i = E(p_i ^ c_{i-1}) ^ p_{i-1}`; with `y_i = E(p_i ^ c_{i-1})` (so `c_i = y_i ^ p_{i-1}`),
 * `p_i ^ c_{i-1} = (p_i ^ p_{i-2}) ^ y_{i-1}`: the y are AES-CBC of `m_i = p_i ^ p_{i-2}` with
 * the IV `c_0`, taking `p_{-1} = 0` (so `m_1 = p_1`). Then each `c_i = y_i ^ p_{i-1}`. (Decryption
 * has no such form: the block to decrypt depends on the plaintext before it.)
 */
function encryptIgeWithCbc(key: Buffer, iv: Buffer, plain: Buffer): Buffer {
  const c0 = iv.subarray(0, BLOCK);
  const p0 = iv.subarray(BLOCK, 2 * BLOCK);
  const m = Buffer.allocUnsafe(plain.length);
  for (let i = 0; i < plain.length; i++) {
    // p_{i-2} is the block two back; before the first two blocks: p_0 (the IV's half), then 0.
    const back = i - 2 * BLOCK;
    const earlier = back >= 0 ? plain[back]! : i >= BLOCK ? p0[i - BLOCK]! : 0;
    m[i] = plain[i]! ^ earlier;
  }
  const cbc = createCipheriv('aes-256-cbc', key, c0);
  cbc.setAutoPadding(false);
  const y = Buffer.concat([cbc.update(m), cbc.final()]);
  for (let i = 0; i < y.length; i++) y[i] = y[i]! ^ (i >= BLOCK ? plain[i - BLOCK]! : p0[i]!);
  return y;
}

/**
 * Reading one packet: the library's readExactly appends each piece as it comes (a copy of all
 * it has so far per piece, so a 512 KB part read in 64 KB pieces copied 2.3 MB). Here the pieces
 * are joined once.
 */
function patchReadExactly(): void {
  const sockets = PromisedNetSockets.prototype as unknown as {
    read(n: number): Promise<Buffer>;
    readExactly(n: number): Promise<Buffer>;
  };
  sockets.readExactly = async function readExactly(this: typeof sockets, number: number) {
    const pieces: Buffer[] = [];
    let left = number;
    for (;;) {
      const piece = await this.read(left);
      pieces.push(piece);
      left -= piece.length;
      // -437: the library's own stop value (a transport error code read as a length).
      if (!left || left === -437) return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    }
  };
}

let applied = false;

export function applyTransferSpeedups(): void {
  if (applied) return;
  applied = true;
  patchReadExactly();
  proto.encryptIge = function encryptIge(plainText) {
    const padding = plainText.length % BLOCK;
    const padded = padding === 0 ? plainText : Buffer.concat([plainText, randomBytes(BLOCK - padding)]);
    return encryptIgeWithCbc(this.key, this.iv, padded);
  };
  proto.decryptIge = function decryptIge(cipherText) {
    if (cipherText.length % BLOCK !== 0) throw new Error('Cipher text must be multiple of 16 bytes');
    return ige(this.key, this.iv, cipherText, false);
  };
}
