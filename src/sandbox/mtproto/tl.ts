/**
 * Small TL reading and writing for what the wire layer builds by hand (handshake, service
 * messages, rpc_result framing); everything else goes through the client's own TL classes.
 */
import { gzipSync, inflateSync, gunzipSync } from 'node:zlib';
import { BinaryReader } from 'teleproto/extensions/index.js';
import apiTl from 'teleproto/tl/apiTl.js';

export const CONSTRUCTORS = {
  vector: 0x1cb5c415,
  boolTrue: 0x997275b5,
  boolFalse: 0xbc799737,
  msgContainer: 0x73f1f8dc,
  gzipPacked: 0x3072cfa1,
  rpcResult: 0xf35c6d01,
  rpcError: 0x2144ca19,
  msgsAck: 0x62d6b459,
  pong: 0x347773c5,
  newSessionCreated: 0x9ec20908,
  badMsgNotification: 0xa7eff811,
  badServerSalt: 0xedab447b,
  futureSalt: 0x0949d9dc,
  futureSalts: 0xae500895,
  msgsStateInfo: 0x04deb57d,
  destroySessionOk: 0xe22045fc,
  destroySessionNone: 0x62d350c9,
  rpcAnswerUnknown: 0x5e2ad36e,
  // Handshake (schema of core.telegram.org/mtproto/auth_key).
  reqPq: 0x60469778,
  reqPqMulti: 0xbe7e8ef1,
  resPQ: 0x05162463,
  reqDhParams: 0xd712e4be,
  pqInnerData: 0x83c95aec,
  pqInnerDataDc: 0xa9f55f95,
  pqInnerDataTemp: 0x3c6a84d4,
  pqInnerDataTempDc: 0x56fddf88,
  serverDhParamsOk: 0xd0e8075c,
  serverDhInnerData: 0xb5890dba,
  setClientDhParams: 0xf5045f1f,
  clientDhInnerData: 0x6643b654,
  dhGenOk: 0x3bcbf734,
} as const;

export class TlWriter {
  private parts: Buffer[] = [];

  int(value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value, 0);
    this.parts.push(b);
    return this;
  }

  uint(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0, 0);
    this.parts.push(b);
    return this;
  }

  /** A 64-bit integer; negative and unsigned values are written as their two's complement. */
  long(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, value), 0);
    this.parts.push(b);
    return this;
  }

  raw(data: Buffer): this {
    this.parts.push(data);
    return this;
  }

  bytes(data: Buffer): this {
    this.parts.push(serializeBytes(data));
    return this;
  }

  getBytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export class TlReader {
  offset = 0;
  constructor(readonly data: Buffer) {}

  private need(n: number): void {
    if (this.offset + n > this.data.length) throw new RangeError('TL data too short');
  }

  int(): number {
    this.need(4);
    const v = this.data.readInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  uint(): number {
    this.need(4);
    const v = this.data.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  long(): bigint {
    this.need(8);
    const v = this.data.readBigInt64LE(this.offset);
    this.offset += 8;
    return v;
  }

  raw(n: number): Buffer {
    this.need(n);
    const v = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  bytes(): Buffer {
    this.need(1);
    let length = this.data[this.offset];
    let header = 1;
    if (length === 254) {
      this.need(4);
      length = this.data.readUIntLE(this.offset + 1, 3);
      header = 4;
    }
    const padding = (4 - ((header + length) % 4)) % 4;
    this.need(header + length + padding);
    const v = this.data.subarray(this.offset + header, this.offset + header + length);
    this.offset += header + length + padding;
    return v;
  }
}

export function serializeBytes(data: Buffer): Buffer {
  const header =
    data.length < 254
      ? Buffer.from([data.length])
      : Buffer.from([254, data.length & 0xff, (data.length >> 8) & 0xff, (data.length >> 16) & 0xff]);
  const padding = (4 - ((header.length + data.length) % 4)) % 4;
  return Buffer.concat([header, data, Buffer.alloc(padding)]);
}

export function gzipPacked(body: Buffer): Buffer {
  return new TlWriter().uint(CONSTRUCTORS.gzipPacked).bytes(gzipSync(body)).getBytes();
}

/** Unpacks gzip_packed data; clients send gzip, but zlib streams are accepted too. */
export function gunzipPacked(data: Buffer): Buffer {
  return data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : inflateSync(data);
}

/** Parses one TL object with the client's own classes (requests included). */
export function readTlObject(data: Buffer): unknown {
  return new BinaryReader(data).tgReadObject();
}

let vectorResultKinds: Map<number, 'int' | 'long'> | undefined;

/**
 * Methods whose declared result is Vector<int> or Vector<long>, from the client's TL schema:
 * their elements are bare numbers, which the wire layer must write with the right width.
 */
export function vectorResultKind(constructorId: number): 'int' | 'long' | undefined {
  if (!vectorResultKinds) {
    vectorResultKinds = new Map();
    const pattern = /^[\w.]+#([0-9a-f]+)\b.*=\s*Vector<(int|long)>;\s*$/gm;
    for (const match of (apiTl as string).matchAll(pattern)) {
      vectorResultKinds.set(parseInt(match[1], 16), match[2] as 'int' | 'long');
    }
  }
  return vectorResultKinds.get(constructorId);
}

export function isTlObject(value: unknown): value is { getBytes(): Buffer; className?: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { getBytes?: unknown }).getBytes === 'function'
  );
}

/** A big-integer (the client's 64-bit representation) or native bigint/number, as bigint. */
export function toBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(value);
  if (typeof value === 'object' && value !== null && 'toString' in value) return BigInt(String(value));
  throw new TypeError(`not an integer: ${String(value)}`);
}
