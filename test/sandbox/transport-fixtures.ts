/**
 * A real MtprotoServer with a small dispatcher, for the wire-layer tests: help.getConfig
 * answers a valid Config pointing at the server, a few methods can be scripted per test, and
 * anything else fails with METHOD_NOT_IMPLEMENTED_SANDBOX.
 */
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import type { Cipher } from 'node:crypto';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { crc32 } from 'node:zlib';
import pino from 'pino';
import { Api, Logger, helpers } from 'teleproto';
import { AuthKey } from 'teleproto/crypto/AuthKey.js';
import { BinaryReader } from 'teleproto/extensions/index.js';
import { LogLevel } from 'teleproto/extensions/Logger.js';
import { doAuthentication } from 'teleproto/network/Authenticator.js';
import { MTProtoState } from 'teleproto/network/MTProtoState.js';
import { computeMsgKey, deriveAesKeyIv, igeDecrypt } from '../../src/sandbox/mtproto/crypto.js';
import { CONSTRUCTORS, TlReader } from '../../src/sandbox/mtproto/tl.js';
import { trustServerPublicKey } from '../../src/telegram/dc.js';
import { RpcError } from '../../src/sandbox/contract.js';
import type { AuthKeyStore, CallContext, RpcDispatcher, RpcResult } from '../../src/sandbox/contract.js';
import { MtprotoServer } from '../../src/sandbox/mtproto/server.js';
import { generateServerKey } from '../../src/sandbox/mtproto/rsa.js';
import type { ServerKey } from '../../src/sandbox/mtproto/rsa.js';
import { sandboxConfig } from '../../src/sandbox/world/rpc-account.js';

export const SANDBOX_DC_ID = 2;

export class MemoryAuthKeyStore implements AuthKeyStore {
  readonly keys = new Map<bigint, Buffer>();
  get(authKeyId: bigint): Buffer | undefined {
    return this.keys.get(authKeyId);
  }
  put(authKeyId: bigint, key: Buffer): void {
    this.keys.set(authKeyId, key);
  }
  delete(authKeyId: bigint): void {
    this.keys.delete(authKeyId);
  }
}

export type TestHandler = (ctx: CallContext, request: Api.AnyRequest) => Promise<RpcResult> | RpcResult;

export { sandboxConfig };

export class TestDispatcher implements RpcDispatcher {
  readonly handlers = new Map<string, TestHandler>();
  readonly calls: Array<{ ctx: CallContext; request: Api.AnyRequest }> = [];
  readonly sessions: CallContext[] = [];
  readonly disconnects: number[] = [];
  host = '127.0.0.1';
  port = 0;

  async invoke(ctx: CallContext, request: Api.AnyRequest): Promise<RpcResult> {
    this.calls.push({ ctx, request });
    const handler = this.handlers.get(request.className);
    if (handler) return handler(ctx, request);
    if (request instanceof Api.help.GetConfig) return sandboxConfig(this.host, this.port);
    if (request instanceof Api.help.GetNearestDc) {
      return new Api.NearestDc({ country: 'ZZ', thisDc: SANDBOX_DC_ID, nearestDc: SANDBOX_DC_ID });
    }
    throw new RpcError(400, 'METHOD_NOT_IMPLEMENTED_SANDBOX');
  }

  onSession(ctx: CallContext): void {
    this.sessions.push(ctx);
  }

  onDisconnect(ctx: { connectionId: number }): void {
    this.disconnects.push(ctx.connectionId);
  }
}

let sharedKey: ServerKey | undefined;
/** One RSA key for all tests of a process: generating one costs a noticeable fraction of a second. */
export function testServerKey(): ServerKey {
  sharedKey ??= generateServerKey();
  return sharedKey;
}

export interface TestServer {
  server: MtprotoServer;
  dispatcher: TestDispatcher;
  authKeys: MemoryAuthKeyStore;
  host: string;
  port: number;
  publicKeyPem: string;
  close(): Promise<void>;
}

export async function startTestServer(options: { pingDisconnectGrace?: number } = {}): Promise<TestServer> {
  const key = testServerKey();
  const dispatcher = new TestDispatcher();
  const authKeys = new MemoryAuthKeyStore();
  const server = new MtprotoServer({
    host: '127.0.0.1',
    port: 0,
    rsaPrivateKey: key.privateKey,
    authKeys,
    dispatcher,
    logger: pino({ level: process.env.SANDBOX_TEST_LOG ?? 'silent' }),
    pingDisconnectGrace: options.pingDisconnectGrace,
  });
  const { host, port } = await server.listen();
  // Raw clients use teleproto's Authenticator, which looks the key up in the same map.
  trustServerPublicKey(key.publicKeyPem);
  dispatcher.host = host;
  dispatcher.port = port;
  return {
    server,
    dispatcher,
    authKeys,
    host,
    port,
    publicKeyPem: key.publicKeyPem,
    close: () => server.close(),
  };
}

export type RawTransport = 'full' | 'abridged' | 'intermediate' | 'padded-intermediate';

/** Framing inside an obfuscated (AES-256-CTR) envelope, or none. */
export type RawObfuscation = 'abridged' | 'intermediate' | 'padded-intermediate' | undefined;

const OBFUSCATION_TAGS = {
  abridged: 'efefefef',
  intermediate: 'eeeeeeee',
  'padded-intermediate': 'dddddddd',
} as const;

export interface RawMessage {
  msgId: bigint;
  seqNo: number;
  body: Buffer;
  constructorId: number;
  /** Whether the message arrived inside a msg_container. */
  inContainer: boolean;
}

const silentClientLog = new Logger(LogLevel.NONE);

/**
 * A minimal MTProto client over a plain socket, for checking the wire byte by byte: teleproto
 * creates the auth key and encrypts what is sent; what arrives is decrypted and listed
 * message by message (containers flattened), so tests see exactly what the server sent.
 */
export class RawMtprotoClient {
  readonly socket: Socket;
  authKey: AuthKey | undefined;
  state: MTProtoState | undefined;
  closed = false;
  readonly closedPromise: Promise<void>;
  private received = Buffer.alloc(0);
  private packets: Buffer[] = [];
  private packetWaiters: Array<() => void> = [];
  private messages: RawMessage[] = [];
  private sendSeq = 0;
  private headerSent = false;
  private encryptor: Cipher | undefined;
  private decryptor: Cipher | undefined;
  readonly transport: RawTransport;

  private constructor(
    socket: Socket,
    transport: RawTransport,
    readonly obfuscation: RawObfuscation,
  ) {
    this.socket = socket;
    this.transport = obfuscation ?? transport;
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (this.decryptor) chunk = this.decryptor.update(chunk);
      this.received = Buffer.concat([this.received, chunk]);
      for (;;) {
        const packet = this.takePacket();
        if (!packet) break;
        this.packets.push(packet);
      }
      this.wake();
    });
  }

  /** Opens a socket speaking `transport`; with `obfuscation`, that framing inside the obfuscated envelope. */
  static open(
    host: string,
    port: number,
    transport: RawTransport = 'full',
    obfuscation?: RawObfuscation,
  ): Promise<RawMtprotoClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.off('error', reject);
        resolve(new RawMtprotoClient(socket, transport, obfuscation));
      });
      socket.once('error', reject);
    });
  }

  /** The 64-byte obfuscation header (core.telegram.org/mtproto/mtproto-transports#transport-obfuscation). */
  private obfuscationHeader(tag: string): Buffer {
    let header: Buffer;
    do header = randomBytes(64);
    while (
      header[0] === 0xef ||
      header.readUInt32LE(4) === 0 ||
      ['GET ', 'POST', 'HEAD', 'PVrG'].includes(header.subarray(0, 4).toString('latin1')) ||
      header.readUInt32LE(0) === 0xeeeeeeee ||
      header.readUInt32LE(0) === 0xdddddddd
    );
    Buffer.from(tag, 'hex').copy(header, 56);
    const reversed = Buffer.from(header.subarray(8, 56)).reverse();
    this.encryptor = createCipheriv('aes-256-ctr', header.subarray(8, 40), header.subarray(40, 56));
    this.decryptor = createCipheriv('aes-256-ctr', reversed.subarray(0, 32), reversed.subarray(32, 48));
    const encrypted = this.encryptor.update(header);
    return Buffer.concat([header.subarray(0, 56), encrypted.subarray(56, 64)]);
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.packetWaiters;
    this.packetWaiters = [];
    for (const wake of waiters) wake();
  }

  private takePacket(): Buffer | undefined {
    const data = this.received;
    let header: number;
    let length: number;
    let trailer = 0;
    switch (this.transport) {
      case 'full':
        if (data.length < 4) return undefined;
        length = data.readInt32LE(0) - 12;
        header = 8;
        trailer = 4;
        break;
      case 'abridged':
        if (data.length < 1) return undefined;
        if (data[0] < 0x7f) {
          length = data[0] * 4;
          header = 1;
        } else {
          if (data.length < 4) return undefined;
          length = data.readUIntLE(1, 3) * 4;
          header = 4;
        }
        break;
      default:
        if (data.length < 4) return undefined;
        length = data.readInt32LE(0);
        header = 4;
    }
    if (data.length < header + length + trailer) return undefined;
    if (this.transport === 'full') {
      const crc = data.readUInt32LE(header + length);
      if (crc !== crc32(data.subarray(0, header + length))) throw new Error('bad crc from server');
    }
    this.received = data.subarray(header + length + trailer);
    return Buffer.from(data.subarray(header, header + length));
  }

  /** Frames and writes one payload in this client's transport. */
  sendPacket(payload: Buffer): void {
    const parts: Buffer[] = [];
    let obfuscationHeader: Buffer | undefined;
    if (!this.headerSent) {
      this.headerSent = true;
      if (this.obfuscation) obfuscationHeader = this.obfuscationHeader(OBFUSCATION_TAGS[this.obfuscation]);
      else if (this.transport === 'abridged') parts.push(Buffer.from([0xef]));
      else if (this.transport === 'intermediate') parts.push(Buffer.from('eeeeeeee', 'hex'));
      else if (this.transport === 'padded-intermediate') parts.push(Buffer.from('dddddddd', 'hex'));
    }
    if (this.transport === 'full') {
      const head = Buffer.alloc(8);
      head.writeInt32LE(payload.length + 12, 0);
      head.writeInt32LE(this.sendSeq++, 4);
      const crc = Buffer.alloc(4);
      crc.writeUInt32LE(crc32(Buffer.concat([head, payload])), 0);
      parts.push(head, payload, crc);
    } else if (this.transport === 'abridged') {
      const words = payload.length / 4;
      parts.push(
        words < 0x7f
          ? Buffer.from([words])
          : Buffer.from([0x7f, words & 0xff, (words >> 8) & 0xff, words >> 16]),
        payload,
      );
    } else {
      const padding = this.transport === 'padded-intermediate' ? randomBytes(7) : Buffer.alloc(0);
      const head = Buffer.alloc(4);
      head.writeInt32LE(payload.length + padding.length, 0);
      parts.push(head, payload, padding);
    }
    const framed = Buffer.concat(parts);
    if (obfuscationHeader) this.socket.write(obfuscationHeader);
    this.socket.write(this.encryptor ? this.encryptor.update(framed) : framed);
  }

  async nextPacket(timeoutMs = 2000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.packets.length === 0) {
      if (this.closed) throw new Error('connection closed');
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error('timed out waiting for a packet');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.packetWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.packets.shift()!;
  }

  /** Sends an unencrypted request (handshake) and reads the unencrypted answer. */
  async sendPlain(request: { getBytes(): Buffer }): Promise<unknown> {
    const body = request.getBytes();
    const message = Buffer.alloc(20 + body.length);
    const msgId = (BigInt(Math.floor(Date.now() / 1000)) << 32n) | (BigInt(this.sendSeq + 1) << 2n);
    message.writeBigInt64LE(msgId, 8);
    message.writeInt32LE(body.length, 16);
    body.copy(message, 20);
    this.sendPacket(message);
    const reply = await this.nextPacket();
    if (reply.length === 4) throw new Error(`transport error ${reply.readInt32LE(0)}`);
    assert.equal(reply.readBigInt64LE(0), 0n);
    return new BinaryReader(reply.subarray(20)).tgReadObject();
  }

  /** Creates an auth key with teleproto's own Authenticator. */
  async handshake(): Promise<bigint> {
    const { authKey } = await doAuthentication(
      { send: (request: Api.AnyRequest) => this.sendPlain(request) } as never,
      silentClientLog,
    );
    this.authKey = authKey;
    this.state = new MTProtoState(authKey, silentClientLog);
    return BigInt(authKey.keyId!.toString());
  }

  get sessionId(): bigint {
    return BigInt((this.state as unknown as { id: { toString(): string } }).id.toString());
  }

  /** A client msg_id for now (divisible by 4), or as given. */
  newMsgId(): bigint {
    return BigInt(
      (this.state as unknown as { _getNewMsgId(): { toString(): string } })._getNewMsgId().toString(),
    );
  }

  /** Encrypts and sends one message; returns its msg_id. */
  async send(
    body: Buffer | { getBytes(): Buffer },
    options: { msgId?: bigint; seqNo?: number; contentRelated?: boolean } = {},
  ): Promise<bigint> {
    const bytes = Buffer.isBuffer(body) ? body : body.getBytes();
    const msgId = options.msgId ?? this.newMsgId();
    const contentRelated = options.contentRelated ?? true;
    const seqNo = options.seqNo ?? this.state!._getSeqNo(contentRelated);
    const header = Buffer.alloc(16);
    header.writeBigInt64LE(msgId, 0);
    header.writeInt32LE(seqNo, 8);
    header.writeInt32LE(bytes.length, 12);
    this.sendPacket(await this.state!.encryptMessageData(Buffer.concat([header, bytes])));
    return msgId;
  }

  /** Sends several messages in one msg_container; returns their msg_ids. */
  async sendContainer(bodies: Array<{ getBytes(): Buffer }>): Promise<bigint[]> {
    const ids: bigint[] = [];
    const parts: Buffer[] = [];
    for (const body of bodies) {
      const bytes = body.getBytes();
      const msgId = this.newMsgId();
      ids.push(msgId);
      const header = Buffer.alloc(16);
      header.writeBigInt64LE(msgId, 0);
      header.writeInt32LE(this.state!._getSeqNo(true), 8);
      header.writeInt32LE(bytes.length, 12);
      parts.push(header, bytes);
    }
    const container = Buffer.alloc(8);
    container.writeUInt32LE(CONSTRUCTORS.msgContainer, 0);
    container.writeInt32LE(bodies.length, 4);
    await this.send(Buffer.concat([container, ...parts]), { contentRelated: false });
    return ids;
  }

  set salt(value: bigint) {
    this.state!.salt = helpers.returnBigInt(value);
  }

  /** Next message from the server (containers flattened); a 4-byte packet is a transport error. */
  async nextMessage(timeoutMs = 2000): Promise<RawMessage> {
    while (this.messages.length === 0) {
      const packet = await this.nextPacket(timeoutMs);
      if (packet.length === 4) throw new TransportErrorReceived(packet.readInt32LE(0));
      this.messages.push(...this.decrypt(packet));
    }
    return this.messages.shift()!;
  }

  /**
   * Waits for the first message matching `predicate`; messages passed over stay queued for
   * later calls (acks, new_session_created, ...).
   */
  async waitForMatch(predicate: (message: RawMessage) => boolean, timeoutMs = 2000): Promise<RawMessage> {
    const deadline = Date.now() + timeoutMs;
    for (let scanned = 0; ;) {
      for (; scanned < this.messages.length; scanned++) {
        if (predicate(this.messages[scanned])) return this.messages.splice(scanned, 1)[0];
      }
      const packet = await this.nextPacket(Math.max(1, deadline - Date.now()));
      if (packet.length === 4) throw new TransportErrorReceived(packet.readInt32LE(0));
      this.messages.push(...this.decrypt(packet));
    }
  }

  /** Waits for a message with this constructor. */
  waitFor(constructorId: number, timeoutMs = 2000): Promise<RawMessage> {
    return this.waitForMatch((message) => message.constructorId === constructorId, timeoutMs);
  }

  /** Waits for the rpc_result of `reqMsgId` and returns its inner bytes (still gzip_packed if so). */
  async waitForResult(reqMsgId: bigint, timeoutMs = 2000): Promise<Buffer> {
    const message = await this.waitForMatch(
      (m) => m.constructorId === CONSTRUCTORS.rpcResult && m.body.readBigInt64LE(4) === reqMsgId,
      timeoutMs,
    );
    return message.body.subarray(12);
  }

  private decrypt(packet: Buffer): RawMessage[] {
    const key = this.authKey!.getKey()!;
    assert.equal(
      packet.readBigUInt64LE(0),
      BigInt(this.authKey!.keyId!.toString()),
      'auth_key_id of a server message',
    );
    const msgKey = packet.subarray(8, 24);
    const { key: aesKey, iv } = deriveAesKeyIv(key, msgKey, 8);
    // Padded intermediate appends up to 15 random bytes after the last block.
    const encryptedLength = Math.floor((packet.length - 24) / 16) * 16;
    const plaintext = igeDecrypt(packet.subarray(24, 24 + encryptedLength), aesKey, iv);
    assert.ok(computeMsgKey(key, plaintext, 8).equals(msgKey), 'msg_key of a server message');
    const reader = new TlReader(plaintext);
    reader.raw(8); // salt
    assert.equal(reader.long(), this.sessionId, 'session_id of a server message');
    const msgId = reader.long();
    const seqNo = reader.int();
    const length = reader.int();
    const padding = plaintext.length - 32 - length;
    assert.ok(padding >= 12 && padding <= 1024, `padding of ${padding} bytes`);
    return flattenMessage(msgId, seqNo, reader.raw(length), false);
  }
}

function flattenMessage(msgId: bigint, seqNo: number, body: Buffer, inContainer: boolean): RawMessage[] {
  const constructorId = body.readUInt32LE(0);
  if (constructorId !== CONSTRUCTORS.msgContainer)
    return [{ msgId, seqNo, body, constructorId, inContainer }];
  const reader = new TlReader(body);
  reader.uint();
  const count = reader.int();
  const messages: RawMessage[] = [];
  for (let i = 0; i < count; i++) {
    const innerId = reader.long();
    const innerSeq = reader.int();
    const length = reader.int();
    messages.push(...flattenMessage(innerId, innerSeq, reader.raw(length), true));
  }
  return messages;
}

export class TransportErrorReceived extends Error {
  constructor(readonly code: number) {
    super(`transport error ${code}`);
  }
}
