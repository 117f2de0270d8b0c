/**
 * MTProto transports (core.telegram.org/mtproto/mtproto-transports), recognised from the
 * first bytes a client sends: abridged (0xef), intermediate (0xeeeeeeee), padded intermediate
 * (0xdddddddd), obfuscated (64-byte random header, AES-256-CTR both ways, inner tag at 56..59)
 * and full (length | seq | payload | crc32). Replies go out in the transport the client chose.
 */
import { createCipheriv, randomBytes, randomInt } from 'node:crypto';
import type { Cipher } from 'node:crypto';
import { crc32 } from 'node:zlib';

export type TransportName = 'full' | 'abridged' | 'intermediate' | 'padded-intermediate';

export class TransportError extends Error {}

/** Splits a byte stream into MTProto packets and frames outgoing payloads. */
export interface PacketCodec {
  readonly name: TransportName;
  /** Returns the next complete packet from `buffer` and how many bytes it used, or undefined. */
  decode(buffer: Buffer): { packet: Buffer; used: number } | undefined;
  encode(payload: Buffer): Buffer;
}

const MAX_PACKET = 16 * 1024 * 1024;

class FullCodec implements PacketCodec {
  readonly name = 'full';
  private receiveSeq = 0;
  private sendSeq = 0;

  decode(buffer: Buffer) {
    if (buffer.length < 4) return undefined;
    const length = buffer.readInt32LE(0);
    if (length < 12 || length > MAX_PACKET) throw new TransportError(`bad full-transport length ${length}`);
    if (buffer.length < length) return undefined;
    const seq = buffer.readInt32LE(4);
    const expectedCrc = buffer.readUInt32LE(length - 4);
    if (crc32(buffer.subarray(0, length - 4)) !== expectedCrc) throw new TransportError('bad crc32');
    if (seq !== this.receiveSeq)
      throw new TransportError(`bad sequence number ${seq}, expected ${this.receiveSeq}`);
    this.receiveSeq++;
    return { packet: buffer.subarray(8, length - 4), used: length };
  }

  encode(payload: Buffer): Buffer {
    const out = Buffer.alloc(payload.length + 12);
    out.writeInt32LE(payload.length + 12, 0);
    out.writeInt32LE(this.sendSeq++, 4);
    payload.copy(out, 8);
    out.writeUInt32LE(crc32(out.subarray(0, payload.length + 8)), payload.length + 8);
    return out;
  }
}

class AbridgedCodec implements PacketCodec {
  readonly name = 'abridged';

  decode(buffer: Buffer) {
    if (buffer.length < 1) return undefined;
    // The high bit asks for a quick ack, which this server does not send.
    let words = buffer[0] & 0x7f;
    let header = 1;
    if (words === 0x7f) {
      if (buffer.length < 4) return undefined;
      words = buffer.readUIntLE(1, 3);
      header = 4;
    }
    const length = words * 4;
    if (length > MAX_PACKET) throw new TransportError(`bad abridged length ${length}`);
    if (buffer.length < header + length) return undefined;
    return { packet: buffer.subarray(header, header + length), used: header + length };
  }

  encode(payload: Buffer): Buffer {
    const words = payload.length >> 2;
    if (words < 0x7f) return Buffer.concat([Buffer.from([words]), payload]);
    const header = Buffer.alloc(4);
    header[0] = 0x7f;
    header.writeUIntLE(words, 1, 3);
    return Buffer.concat([header, payload]);
  }
}

class IntermediateCodec implements PacketCodec {
  constructor(readonly name: 'intermediate' | 'padded-intermediate') {}

  decode(buffer: Buffer) {
    if (buffer.length < 4) return undefined;
    const length = buffer.readUInt32LE(0) & 0x7fffffff;
    if (length > MAX_PACKET) throw new TransportError(`bad intermediate length ${length}`);
    if (buffer.length < 4 + length) return undefined;
    // Padded intermediate appends 0..15 random bytes; the message layer ignores trailing bytes.
    return { packet: buffer.subarray(4, 4 + length), used: 4 + length };
  }

  encode(payload: Buffer): Buffer {
    const padding = this.name === 'padded-intermediate' ? randomBytes(randomInt(16)) : Buffer.alloc(0);
    const header = Buffer.alloc(4);
    header.writeUInt32LE(payload.length + padding.length, 0);
    return Buffer.concat([header, payload, padding]);
  }
}

const TAG_ABRIDGED = 0xefefefef;
const TAG_INTERMEDIATE = 0xeeeeeeee;
const TAG_PADDED = 0xdddddddd;

function codecForTag(tag: number): PacketCodec | undefined {
  if (tag === TAG_ABRIDGED) return new AbridgedCodec();
  if (tag === TAG_INTERMEDIATE) return new IntermediateCodec('intermediate');
  if (tag === TAG_PADDED) return new IntermediateCodec('padded-intermediate');
  return undefined;
}

/**
 * One connection's transport state: feed it raw socket bytes, get whole packets back; frame
 * (and, when obfuscated, encrypt) outgoing payloads.
 */
export class TransportDecoder {
  private codec: PacketCodec | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private decryptor: Cipher | undefined;
  private encryptor: Cipher | undefined;

  /** Whether the connection uses the obfuscated (AES-CTR) envelope. */
  get obfuscated(): boolean {
    return this.encryptor !== undefined;
  }

  get transportName(): TransportName | undefined {
    return this.codec?.name;
  }

  /** Describes the transport for logs, e.g. "obfuscated/abridged". */
  describe(): string {
    return `${this.obfuscated ? 'obfuscated/' : ''}${this.codec?.name ?? 'unknown'}`;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.decryptor) chunk = this.decryptor.update(chunk);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (!this.codec && !this.detect()) return [];
    const packets: Buffer[] = [];
    for (;;) {
      const result = this.codec!.decode(this.pending);
      if (!result) break;
      packets.push(Buffer.from(result.packet));
      this.pending = this.pending.subarray(result.used);
    }
    return packets;
  }

  encode(payload: Buffer): Buffer {
    if (!this.codec) throw new TransportError('transport not yet known');
    const framed = this.codec.encode(payload);
    return this.encryptor ? this.encryptor.update(framed) : framed;
  }

  /** Transport errors (e.g. -404) travel as a 4-byte payload in the connection's transport. */
  encodeError(code: number): Buffer {
    const payload = Buffer.alloc(4);
    payload.writeInt32LE(code, 0);
    return this.encode(payload);
  }

  private detect(): boolean {
    const data = this.pending;
    if (data.length < 1) return false;
    if (data[0] === 0xef) {
      this.codec = new AbridgedCodec();
      this.pending = data.subarray(1);
      return true;
    }
    if (data.length < 8) return false;
    const first = data.readUInt32LE(0);
    if (first === TAG_INTERMEDIATE || first === TAG_PADDED) {
      this.codec = codecForTag(first);
      this.pending = data.subarray(4);
      return true;
    }
    const ascii = data.subarray(0, 4).toString('latin1');
    if (['GET ', 'POST', 'HEAD', 'OPTI', 'PVrG'].includes(ascii)) {
      throw new TransportError('HTTP transport is not supported');
    }
    // The full transport's first packet has seq 0; obfuscated clients never put zeros there.
    if (data.readUInt32LE(4) === 0) {
      this.codec = new FullCodec();
      return true;
    }
    if (data.length < 64) return false;
    this.startObfuscation(data.subarray(0, 64));
    const rest = this.decryptor!.update(data.subarray(64));
    this.pending = rest;
    return true;
  }

  private startObfuscation(header: Buffer): void {
    const decryptKey = header.subarray(8, 40);
    const decryptIv = header.subarray(40, 56);
    const reversed = Buffer.from(header.subarray(8, 56)).reverse();
    const encryptKey = reversed.subarray(0, 32);
    const encryptIv = reversed.subarray(32, 48);
    const decryptor = createCipheriv('aes-256-ctr', decryptKey, decryptIv);
    const decryptedHeader = decryptor.update(header);
    const codec = codecForTag(decryptedHeader.readUInt32LE(56));
    if (!codec) throw new TransportError('unknown protocol tag in obfuscated header');
    this.codec = codec;
    this.decryptor = decryptor;
    this.encryptor = createCipheriv('aes-256-ctr', encryptKey, encryptIv);
  }
}
