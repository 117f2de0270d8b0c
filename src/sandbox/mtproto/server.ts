/**
 * The sandbox's MTProto server: TCP listener, transports, auth-key creation and the encrypted
 * MTProto 2.0 layer with its service messages. Requests are unwrapped (invokeWithLayer,
 * initConnection, invokeAfterMsg, ...) and handed to the world's RpcDispatcher; its answers go
 * back inside rpc_result. The world pushes updates and cuts connections through UpdateSink.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type {
  AuthKeyStore,
  CallContext,
  ClientInfo,
  RpcDispatcher,
  RpcResult,
  UpdateSink,
} from '../contract.js';
import { computeMsgKey, deriveAesKeyIv, igeDecrypt, igeEncrypt } from './crypto.js';
import { Handshake, HandshakeError } from './handshake.js';
import { describeKey } from './rsa.js';
import {
  CONSTRUCTORS,
  TlReader,
  TlWriter,
  gzipPacked,
  isTlObject,
  readTlObject,
  toBigInt,
  vectorResultKind,
} from './tl.js';
import { TransportDecoder, TransportError } from './transport.js';

/** gzip_packed data (gzip, or a zlib stream), refused once it unpacks beyond MAX_UNPACKED_BYTES. */
function unpackGzip(data: Buffer): Buffer {
  const options = { maxOutputLength: MAX_UNPACKED_BYTES };
  try {
    return data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data, options) : inflateSync(data, options);
  } catch (error) {
    throw new TransportError(`gzip_packed body refused: ${(error as Error).message}`);
  }
}

export interface MtprotoServerOptions {
  host: string;
  /** 0 picks a free port; listen() tells which. */
  port: number;
  /** The server's RSA-2048 private key (PEM or KeyObject); its public half must be known to clients. */
  rsaPrivateKey: string | KeyObject;
  authKeys: AuthKeyStore;
  dispatcher: RpcDispatcher;
  logger: Logger;
  /** Milliseconds added to a ping_delay_disconnect's disconnect_delay before the connection is closed. */
  pingDisconnectGrace?: number;
  /** Results and updates larger than this many bytes travel gzip_packed (when that is smaller). */
  gzipThreshold?: number;
}

export interface ConnectionInfo {
  connectionId: number;
  remoteAddress: string;
  /** e.g. "full", "abridged", "obfuscated/abridged"; "unknown" before the first bytes. */
  transport: string;
  authKeyId?: bigint;
  sessionId?: bigint;
}

/** Transport error a client gets for an auth_key_id the server does not know. */
export const TRANSPORT_ERROR_AUTH_KEY_NOT_FOUND = -404;

const MAX_MESSAGE_TIME_PAST = 300;
const MAX_MESSAGE_TIME_FUTURE = 30;
const SALT_PERIOD_SECONDS = 3600;
// Oldest sessions are forgotten first; a client coming back with one simply gets new_session_created.
const MAX_SESSIONS = 10_000;
const RECENT_MSG_IDS_PER_SESSION = 500;
const MAX_MESSAGES_PER_CONTAINER = 100;
/** Larger messages travel alone rather than inside a container. */
const MAX_CONTAINER_BYTES = 256 * 1024;
/** What a gzip_packed body may unpack to: a packet's own limit, so a small bomb cannot take gigabytes. */
const MAX_UNPACKED_BYTES = 16 * 1024 * 1024;

/** bad_msg_notification error codes (core.telegram.org/mtproto/service_messages_about_messages). */
const BAD_MSG = {
  msgIdTooLow: 16,
  msgIdTooHigh: 17,
  msgIdParity: 18,
  evenSeqNoExpected: 34,
  oddSeqNoExpected: 35,
  badServerSalt: 48,
} as const;

/** Wrappers that only carry options around the real query. */
const WRAPPER_CLASSES = [
  Api.InvokeWithLayer,
  Api.InitConnection,
  Api.InvokeAfterMsg,
  Api.InvokeAfterMsgs,
  Api.InvokeWithoutUpdates,
  Api.InvokeWithMessagesRange,
  Api.InvokeWithTakeout,
  Api.InvokeWithBusinessConnection,
  Api.InvokeWithGooglePlayIntegrity,
  Api.InvokeWithApnsSecret,
  Api.InvokeWithReCaptcha,
] as const;

interface SessionState {
  authKeyId: bigint;
  /** The key itself, refreshed from the store with every message received. */
  authKey: Buffer;
  sessionId: bigint;
  /** Number of content-related messages sent by the server in this session. */
  contentSent: number;
  announced: boolean;
  recentMsgIds: Set<bigint>;
}

interface OutgoingMessage {
  body: Buffer;
  contentRelated: boolean;
  /** 1 for answers to a client message, 3 for messages the server starts. */
  kind: 1 | 3;
}

interface KeyInfo {
  layer?: number;
  client?: ClientInfo;
}

let nextConnectionId = 1;

class ClientConnection {
  readonly id = nextConnectionId++;
  readonly transport = new TransportDecoder();
  readonly handshake: Handshake;
  authKeyId: bigint | undefined;
  session: SessionState | undefined;
  closed = false;
  /** Dispatcher calls of this connection run one after another, in order of arrival. */
  rpcChain: Promise<void> = Promise.resolve();
  disconnectTimer: NodeJS.Timeout | undefined;
  private outbox = new Map<SessionState, OutgoingMessage[]>();
  private pendingAcks = new Map<SessionState, bigint[]>();
  private flushScheduled = false;

  constructor(
    readonly socket: Socket,
    private readonly server: MtprotoServer,
  ) {
    this.handshake = new Handshake(server.handshakeKeys);
  }

  queue(session: SessionState, message: OutgoingMessage): void {
    if (this.closed) return;
    let list = this.outbox.get(session);
    if (!list) this.outbox.set(session, (list = []));
    list.push(message);
    this.scheduleFlush();
  }

  ack(session: SessionState, msgId: bigint): void {
    let list = this.pendingAcks.get(session);
    if (!list) this.pendingAcks.set(session, (list = []));
    list.push(msgId);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Sends everything queued: one message alone, several in a msg_container. */
  flush(): void {
    if (this.closed) {
      this.outbox.clear();
      this.pendingAcks.clear();
      return;
    }
    const sessions = new Set([...this.pendingAcks.keys(), ...this.outbox.keys()]);
    for (const session of sessions) {
      const messages = this.outbox.get(session) ?? [];
      const acks = this.pendingAcks.get(session);
      if (acks?.length) {
        const body = new TlWriter().uint(CONSTRUCTORS.msgsAck).uint(CONSTRUCTORS.vector).int(acks.length);
        for (const id of acks) body.long(id);
        messages.push({ body: body.getBytes(), contentRelated: false, kind: 3 });
      }
      let batch: OutgoingMessage[] = [];
      let batchBytes = 0;
      for (const message of messages) {
        if (
          batch.length === MAX_MESSAGES_PER_CONTAINER ||
          batchBytes + message.body.length > MAX_CONTAINER_BYTES
        ) {
          this.sendBatch(session, batch);
          batch = [];
          batchBytes = 0;
        }
        batch.push(message);
        batchBytes += message.body.length + 16;
      }
      this.sendBatch(session, batch);
    }
    this.outbox.clear();
    this.pendingAcks.clear();
  }

  private sendBatch(session: SessionState, messages: OutgoingMessage[]): void {
    if (messages.length === 0) return;
    if (messages.length === 1) {
      const [message] = messages;
      this.sendEncrypted(
        session,
        this.server.nextMsgId(message.kind),
        this.nextSeqNo(session, message.contentRelated),
        message.body,
      );
      return;
    }
    const container = new TlWriter().uint(CONSTRUCTORS.msgContainer).int(messages.length);
    for (const message of messages) {
      container
        .long(this.server.nextMsgId(message.kind))
        .int(this.nextSeqNo(session, message.contentRelated))
        .int(message.body.length)
        .raw(message.body);
    }
    this.sendEncrypted(
      session,
      this.server.nextMsgId(3),
      this.nextSeqNo(session, false),
      container.getBytes(),
    );
  }

  private nextSeqNo(session: SessionState, contentRelated: boolean): number {
    if (!contentRelated) return session.contentSent * 2;
    return session.contentSent++ * 2 + 1;
  }

  private sendEncrypted(session: SessionState, msgId: bigint, seqNo: number, body: Buffer): void {
    const { authKey } = session;
    const header = new TlWriter()
      .raw(this.server.currentSalt(session.authKeyId))
      .long(session.sessionId)
      .long(msgId)
      .int(seqNo)
      .int(body.length)
      .getBytes();
    const unpadded = header.length + body.length;
    // 12..1024 bytes of padding, total a multiple of 16 (MTProto 2.0).
    const paddingLength = 12 + ((16 - ((unpadded + 12) % 16)) % 16);
    const plaintext = Buffer.concat([header, body, randomBytes(paddingLength)]);
    const msgKey = computeMsgKey(authKey, plaintext, 8);
    const { key, iv } = deriveAesKeyIv(authKey, msgKey, 8);
    const keyId = Buffer.alloc(8);
    keyId.writeBigUInt64LE(session.authKeyId, 0);
    this.write(Buffer.concat([keyId, msgKey, igeEncrypt(plaintext, key, iv)]));
  }

  write(payload: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(this.transport.encode(payload));
  }

  writeTransportError(code: number): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(this.transport.encodeError(code));
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

/**
 * A local MTProto server that the unmodified teleproto client connects to as to Telegram.
 * Also the world's UpdateSink.
 */
export class MtprotoServer implements UpdateSink {
  readonly handshakeKeys: { privateKey: KeyObject; fingerprint: bigint };
  /** Public half of the server key, PKCS#1 PEM. */
  readonly publicKeyPem: string;
  private readonly options: MtprotoServerOptions;
  private readonly log: Logger;
  private readonly server: Server;
  private readonly connections = new Set<ClientConnection>();
  private readonly sessions = new Map<string, SessionState>();
  private readonly keyInfo = new Map<bigint, KeyInfo>();
  private readonly saltSecret = randomBytes(32);
  private readonly saltCache = new Map<bigint, { period: number; salt: Buffer }>();
  private readonly gzipThreshold: number;
  private lastMsgId = 0n;
  private refuseUntil = 0;

  constructor(options: MtprotoServerOptions) {
    this.options = options;
    this.log = options.logger;
    const key = describeKey(options.rsaPrivateKey);
    this.handshakeKeys = { privateKey: key.privateKey, fingerprint: key.fingerprint };
    this.publicKeyPem = key.publicKeyPem;
    this.gzipThreshold = options.gzipThreshold ?? 512;
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Server key fingerprint, as resPQ announces it (signed 64-bit). */
  get fingerprint(): bigint {
    return this.handshakeKeys.fingerprint;
  }

  /** Number of open TCP connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** The open connections, for diagnostics (control API, logs). */
  listConnections(): ConnectionInfo[] {
    return [...this.connections].map((connection) => ({
      connectionId: connection.id,
      remoteAddress: `${connection.socket.remoteAddress}:${connection.socket.remotePort}`,
      transport: connection.transport.describe(),
      authKeyId: connection.authKeyId,
      sessionId: connection.session?.sessionId,
    }));
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', onError);
        this.server.on('error', (error) => this.log.error({ err: error }, 'MTProto listener error'));
        const address = this.server.address() as AddressInfo;
        this.log.info({ host: address.address, port: address.port }, 'MTProto server listening');
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  close(): Promise<void> {
    for (const connection of this.connections) connection.close();
    return new Promise((resolve, reject) => {
      if (!this.server.listening) return resolve();
      this.server.close((error) => (error ? reject(error) : resolve()));
    });
  }

  // UpdateSink

  push(authKeyIds: Iterable<bigint>, updates: Api.TypeUpdates): void {
    const wanted = new Set(authKeyIds);
    if (wanted.size === 0) return;
    let body: Buffer | undefined;
    for (const connection of this.connections) {
      if (connection.authKeyId === undefined || !connection.session || !wanted.has(connection.authKeyId))
        continue;
      body ??= this.maybeGzip(updates.getBytes());
      connection.queue(connection.session, { body, contentRelated: true, kind: 3 });
    }
  }

  drop(authKeyIds?: Iterable<bigint>): number {
    const wanted = authKeyIds === undefined ? undefined : new Set(authKeyIds);
    let count = 0;
    for (const connection of this.connections) {
      if (wanted && (connection.authKeyId === undefined || !wanted.has(connection.authKeyId))) continue;
      connection.close();
      count++;
    }
    if (count > 0) this.log.info({ count }, 'dropped connections');
    return count;
  }

  refuseConnections(ms: number): void {
    this.refuseUntil = ms > 0 ? Date.now() + ms : 0;
  }

  // Message ids and salts

  /** A server msg_id: unixtime << 32 plus a fraction, = kind (mod 4), strictly increasing. */
  nextMsgId(kind: 1 | 3): bigint {
    const now = Date.now();
    const seconds = BigInt(Math.floor(now / 1000));
    const fraction = BigInt(Math.floor(((now % 1000) / 1000) * 2 ** 32)) & ~3n;
    let id = (seconds << 32n) | fraction | BigInt(kind);
    if (id <= this.lastMsgId) id = ((this.lastMsgId >> 2n) + 1n) * 4n + BigInt(kind);
    this.lastMsgId = id;
    return id;
  }

  /** Salt for an auth key in a given hour: derived, so no table is needed. */
  saltFor(authKeyId: bigint, period: number): Buffer {
    const input = Buffer.alloc(16);
    input.writeBigUInt64LE(authKeyId, 0);
    input.writeBigInt64LE(BigInt(period), 8);
    return createHmac('sha256', this.saltSecret).update(input).digest().subarray(0, 8);
  }

  currentSalt(authKeyId: bigint): Buffer {
    const period = Math.floor(Date.now() / 1000 / SALT_PERIOD_SECONDS);
    const cached = this.saltCache.get(authKeyId);
    if (cached?.period === period) return cached.salt;
    const salt = this.saltFor(authKeyId, period);
    this.saltCache.set(authKeyId, { period, salt });
    return salt;
  }

  private isValidSalt(authKeyId: bigint, salt: Buffer): boolean {
    const current = this.currentSalt(authKeyId);
    if (salt.equals(current)) return true;
    // The previous hour's salt stays valid a while, as Telegram's do.
    const period = Math.floor(Date.now() / 1000 / SALT_PERIOD_SECONDS);
    return salt.equals(this.saltFor(authKeyId, period - 1));
  }

  // Connections

  private accept(socket: Socket): void {
    if (Date.now() < this.refuseUntil) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const connection = new ClientConnection(socket, this);
    this.connections.add(connection);
    const log = this.log.child({ connectionId: connection.id });
    log.debug({ remote: `${socket.remoteAddress}:${socket.remotePort}` }, 'connection opened');
    socket.on('data', (chunk: Buffer) => {
      if (connection.closed) return;
      try {
        for (const packet of connection.transport.push(chunk)) this.handlePacket(connection, packet, log);
      } catch (error) {
        if (
          error instanceof TransportError ||
          error instanceof HandshakeError ||
          error instanceof RangeError
        ) {
          log.warn(
            { err: error.message, transport: connection.transport.describe() },
            'protocol error, closing connection',
          );
        } else {
          log.error({ err: error }, 'unexpected error handling a packet, closing connection');
        }
        connection.close();
      }
    });
    socket.on('error', (error) => log.debug({ err: error.message }, 'socket error'));
    socket.on('close', () => {
      connection.closed = true;
      clearTimeout(connection.disconnectTimer);
      this.connections.delete(connection);
      log.debug('connection closed');
      if (connection.authKeyId !== undefined) {
        try {
          this.options.dispatcher.onDisconnect?.({
            connectionId: connection.id,
            authKeyId: connection.authKeyId,
          });
        } catch (error) {
          log.error({ err: error }, 'onDisconnect failed');
        }
      }
    });
  }

  private handlePacket(connection: ClientConnection, packet: Buffer, log: Logger): void {
    if (packet.length < 8) throw new TransportError(`packet too short (${packet.length} bytes)`);
    const authKeyId = packet.readBigUInt64LE(0);
    if (authKeyId === 0n) {
      this.handlePlain(connection, packet);
      return;
    }
    // Looked up on every message: a key the world deletes (revoked) must stop working at once.
    const authKey = this.options.authKeys.get(authKeyId);
    if (!authKey) {
      log.info({ authKeyId: authKeyId.toString() }, 'unknown auth key, answering -404');
      connection.writeTransportError(TRANSPORT_ERROR_AUTH_KEY_NOT_FOUND);
      return;
    }
    if (packet.length < 24 + 16) throw new TransportError('encrypted message too short');
    const msgKey = packet.subarray(8, 24);
    // Padded intermediate may append bytes beyond the last 16-byte block.
    const encryptedLength = Math.floor((packet.length - 24) / 16) * 16;
    const { key, iv } = deriveAesKeyIv(authKey, msgKey, 0);
    const plaintext = igeDecrypt(packet.subarray(24, 24 + encryptedLength), key, iv);
    if (!computeMsgKey(authKey, plaintext, 0).equals(msgKey)) throw new TransportError('msg_key mismatch');
    const reader = new TlReader(plaintext);
    const salt = reader.raw(8);
    const sessionId = reader.long();
    const msgId = reader.long();
    const seqNo = reader.int();
    const length = reader.int();
    if (
      length < 0 ||
      length % 4 !== 0 ||
      32 + length > plaintext.length ||
      plaintext.length - 32 - length < 12
    ) {
      throw new TransportError(`bad message length ${length}`);
    }
    const body = plaintext.subarray(32, 32 + length);

    // A connection belongs to the latest (auth key, session) it has spoken in.
    connection.authKeyId = authKeyId;
    const session = this.sessionFor(authKeyId, authKey, sessionId);
    if (connection.session !== session) {
      connection.session = session;
      try {
        this.options.dispatcher.onSession?.(this.contextFor(connection, session));
      } catch (error) {
        log.error({ err: error }, 'onSession failed');
      }
    }

    const badMsgCode = this.checkMsgId(msgId);
    if (badMsgCode !== undefined) {
      log.debug({ msgId: msgId.toString(), code: badMsgCode }, 'bad_msg_notification');
      this.sendBadMsg(connection, session, msgId, seqNo, badMsgCode);
      return;
    }
    if (!this.isValidSalt(authKeyId, salt)) {
      const notification = new TlWriter()
        .uint(CONSTRUCTORS.badServerSalt)
        .long(msgId)
        .int(seqNo)
        .int(BAD_MSG.badServerSalt)
        .raw(this.currentSalt(authKeyId))
        .getBytes();
      connection.queue(session, { body: notification, contentRelated: false, kind: 1 });
      return;
    }
    if (!session.announced) {
      session.announced = true;
      const created = new TlWriter()
        .uint(CONSTRUCTORS.newSessionCreated)
        .long(msgId)
        .raw(randomBytes(8))
        .raw(this.currentSalt(authKeyId))
        .getBytes();
      connection.queue(session, { body: created, contentRelated: true, kind: 3 });
    }
    this.handleMessage(connection, session, msgId, seqNo, body, log);
  }

  private checkMsgId(msgId: bigint): number | undefined {
    if (msgId % 4n !== 0n) return BAD_MSG.msgIdParity;
    const seconds = Number(msgId >> 32n);
    const now = Date.now() / 1000;
    if (seconds < now - MAX_MESSAGE_TIME_PAST) return BAD_MSG.msgIdTooLow;
    if (seconds > now + MAX_MESSAGE_TIME_FUTURE) return BAD_MSG.msgIdTooHigh;
    return undefined;
  }

  private sessionFor(authKeyId: bigint, authKey: Buffer, sessionId: bigint): SessionState {
    const key = `${authKeyId}:${sessionId}`;
    let session = this.sessions.get(key);
    if (session) {
      session.authKey = authKey;
    } else {
      session = { authKeyId, authKey, sessionId, contentSent: 0, announced: false, recentMsgIds: new Set() };
      this.sessions.set(key, session);
      if (this.sessions.size > MAX_SESSIONS) {
        const oldest = this.sessions.keys().next().value;
        if (oldest !== undefined) this.sessions.delete(oldest);
      }
    }
    return session;
  }

  private contextFor(connection: ClientConnection, session: SessionState, msgId?: bigint): CallContext {
    const info = this.keyInfo.get(session.authKeyId);
    return {
      authKeyId: session.authKeyId,
      sessionId: session.sessionId,
      connectionId: connection.id,
      layer: info?.layer,
      client: info?.client,
      msgId,
    };
  }

  /** One message (possibly a container or gzip_packed) from the client. */
  private handleMessage(
    connection: ClientConnection,
    session: SessionState,
    msgId: bigint,
    seqNo: number,
    body: Buffer,
    log: Logger,
  ): void {
    if (body.length < 4) throw new TransportError('empty message body');
    const constructor = body.readUInt32LE(0);
    if (
      (constructor === CONSTRUCTORS.msgContainer || constructor === CONSTRUCTORS.msgsAck) &&
      seqNo % 2 === 1
    ) {
      this.sendBadMsg(connection, session, msgId, seqNo, BAD_MSG.evenSeqNoExpected);
      return;
    }
    if (constructor === CONSTRUCTORS.msgContainer) {
      const reader = new TlReader(body);
      reader.uint();
      const count = reader.int();
      for (let i = 0; i < count; i++) {
        const innerMsgId = reader.long();
        const innerSeqNo = reader.int();
        const innerLength = reader.int();
        const innerBody = reader.raw(innerLength);
        this.handleMessage(connection, session, innerMsgId, innerSeqNo, innerBody, log);
      }
      return;
    }
    if (constructor === CONSTRUCTORS.gzipPacked) {
      const reader = new TlReader(body);
      reader.uint();
      this.handleMessage(connection, session, msgId, seqNo, unpackGzip(reader.bytes()), log);
      return;
    }
    if (session.recentMsgIds.has(msgId)) {
      log.debug({ msgId: msgId.toString() }, 'duplicate msg_id ignored');
      return;
    }
    session.recentMsgIds.add(msgId);
    if (session.recentMsgIds.size > RECENT_MSG_IDS_PER_SESSION) {
      session.recentMsgIds.delete(session.recentMsgIds.values().next().value!);
    }
    // Content-related messages (odd seqno) are acknowledged.
    if (seqNo % 2 === 1) connection.ack(session, msgId);
    if (constructor === CONSTRUCTORS.msgsAck) return;

    let object: unknown;
    try {
      object = readTlObject(body);
    } catch (error) {
      log.warn(
        { constructor: `0x${constructor.toString(16)}`, err: (error as Error).message },
        'unreadable message',
      );
      if (seqNo % 2 === 1) this.sendRpcError(connection, session, msgId, 400, 'INPUT_CONSTRUCTOR_INVALID');
      return;
    }
    if ((object as { classType?: string })?.classType === 'request' && seqNo % 2 === 0) {
      // Queries are content-related: they must carry an odd seqno.
      this.sendBadMsg(connection, session, msgId, seqNo, BAD_MSG.oddSeqNoExpected);
      return;
    }
    this.handleObject(connection, session, msgId, object, log);
  }

  private sendBadMsg(
    connection: ClientConnection,
    session: SessionState,
    msgId: bigint,
    seqNo: number,
    code: number,
  ): void {
    const notification = new TlWriter()
      .uint(CONSTRUCTORS.badMsgNotification)
      .long(msgId)
      .int(seqNo)
      .int(code)
      .getBytes();
    connection.queue(session, { body: notification, contentRelated: false, kind: 1 });
  }

  private handleObject(
    connection: ClientConnection,
    session: SessionState,
    msgId: bigint,
    object: unknown,
    log: Logger,
  ): void {
    if (object instanceof Api.Ping || object instanceof Api.PingDelayDisconnect) {
      const pong = new TlWriter()
        .uint(CONSTRUCTORS.pong)
        .long(msgId)
        .long(toBigInt(object.pingId))
        .getBytes();
      connection.queue(session, { body: pong, contentRelated: true, kind: 1 });
      if (object instanceof Api.PingDelayDisconnect)
        this.armDisconnectTimer(connection, object.disconnectDelay, log);
      return;
    }
    if (object instanceof Api.GetFutureSalts) {
      connection.queue(session, {
        body: this.futureSalts(session.authKeyId, msgId, object.num),
        contentRelated: true,
        kind: 1,
      });
      return;
    }
    if (object instanceof Api.DestroySession) {
      const target = toBigInt(object.sessionId);
      const key = `${session.authKeyId}:${target}`;
      const existed = target !== session.sessionId && this.sessions.delete(key);
      const result = new TlWriter()
        .uint(existed ? CONSTRUCTORS.destroySessionOk : CONSTRUCTORS.destroySessionNone)
        .long(target)
        .getBytes();
      this.sendRpcResult(connection, session, msgId, result);
      return;
    }
    if (object instanceof Api.MsgsStateReq) {
      this.sendStateInfo(connection, session, msgId, object.msgIds.map(toBigInt));
      return;
    }
    if (object instanceof Api.MsgResendReq) {
      // Answers are not kept, so resending is impossible; report what is known instead.
      this.sendStateInfo(connection, session, msgId, object.msgIds.map(toBigInt));
      return;
    }
    if (object instanceof Api.RpcDropAnswer) {
      const result = new TlWriter().uint(CONSTRUCTORS.rpcAnswerUnknown).getBytes();
      this.sendRpcResult(connection, session, msgId, result);
      return;
    }
    if (!isTlObject(object) || (object as { classType?: string }).classType !== 'request') {
      log.debug({ className: (object as { className?: string })?.className }, 'ignoring non-request message');
      return;
    }
    const request = this.unwrap(session.authKeyId, object as Api.AnyRequest);
    const ctx = this.contextFor(connection, session, msgId);
    connection.rpcChain = connection.rpcChain
      .then(() => this.invoke(connection, session, msgId, ctx, request, log))
      .catch((error: unknown) => log.error({ err: error }, 'failed to answer a call'));
  }

  /** Peels off invokeWithLayer, initConnection and the other option-carrying wrappers. */
  private unwrap(authKeyId: bigint, request: Api.AnyRequest): Api.AnyRequest {
    let current: unknown = request;
    for (;;) {
      if (current instanceof Api.InvokeWithLayer) {
        this.keyInfoFor(authKeyId).layer = current.layer;
      } else if (current instanceof Api.InitConnection) {
        this.keyInfoFor(authKeyId).client = {
          apiId: current.apiId,
          deviceModel: current.deviceModel,
          systemVersion: current.systemVersion,
          appVersion: current.appVersion,
          systemLangCode: current.systemLangCode,
          langPack: current.langPack,
          langCode: current.langCode,
        };
      }
      if (!WRAPPER_CLASSES.some((wrapper) => current instanceof wrapper)) return current as Api.AnyRequest;
      current = (current as { query: unknown }).query;
    }
  }

  private keyInfoFor(authKeyId: bigint): KeyInfo {
    let info = this.keyInfo.get(authKeyId);
    if (!info) this.keyInfo.set(authKeyId, (info = {}));
    return info;
  }

  private async invoke(
    connection: ClientConnection,
    session: SessionState,
    msgId: bigint,
    ctx: CallContext,
    request: Api.AnyRequest,
    log: Logger,
  ): Promise<void> {
    if (connection.closed) return;
    // The layer and client info may have been set by this very request's wrappers.
    const info = this.keyInfo.get(session.authKeyId);
    ctx.layer = info?.layer;
    ctx.client = info?.client;
    const method = request.className;
    const started = performance.now();
    try {
      const result = await this.options.dispatcher.invoke(ctx, request);
      const bytes = serializeResult(request, result);
      log.debug({ method, ms: Math.round(performance.now() - started) }, 'rpc');
      this.sendRpcResult(connection, session, msgId, bytes);
    } catch (error) {
      if (error instanceof RpcError || isRpcErrorLike(error)) {
        log.debug({ method, code: error.errorCode, error: error.errorMessage }, 'rpc error');
        this.sendRpcError(connection, session, msgId, error.errorCode, error.errorMessage);
      } else {
        log.error({ err: error, method }, 'rpc failed unexpectedly');
        this.sendRpcError(connection, session, msgId, 500, 'INTERNAL');
      }
    }
  }

  private sendRpcResult(
    connection: ClientConnection,
    session: SessionState,
    reqMsgId: bigint,
    result: Buffer,
  ): void {
    const body = new TlWriter()
      .uint(CONSTRUCTORS.rpcResult)
      .long(reqMsgId)
      .raw(this.maybeGzip(result))
      .getBytes();
    connection.queue(session, { body, contentRelated: true, kind: 1 });
  }

  private sendRpcError(
    connection: ClientConnection,
    session: SessionState,
    reqMsgId: bigint,
    code: number,
    message: string,
  ): void {
    const error = new TlWriter()
      .uint(CONSTRUCTORS.rpcError)
      .int(code)
      .bytes(Buffer.from(message, 'utf8'))
      .getBytes();
    this.sendRpcResult(connection, session, reqMsgId, error);
  }

  private sendStateInfo(
    connection: ClientConnection,
    session: SessionState,
    reqMsgId: bigint,
    msgIds: bigint[],
  ): void {
    // 1: nothing known, 4: received (core.telegram.org/mtproto/service_messages_about_messages).
    const info = Buffer.from(msgIds.map((id) => (session.recentMsgIds.has(id) ? 4 : 1)));
    const body = new TlWriter().uint(CONSTRUCTORS.msgsStateInfo).long(reqMsgId).bytes(info).getBytes();
    connection.queue(session, { body, contentRelated: true, kind: 1 });
  }

  private futureSalts(authKeyId: bigint, reqMsgId: bigint, requested: number): Buffer {
    const count = Math.max(1, Math.min(64, requested));
    const now = Math.floor(Date.now() / 1000);
    const period = Math.floor(now / SALT_PERIOD_SECONDS);
    const writer = new TlWriter().uint(CONSTRUCTORS.futureSalts).long(reqMsgId).int(now).int(count);
    for (let i = 0; i < count; i++) {
      const since = (period + i) * SALT_PERIOD_SECONDS;
      // Bare vector<future_salt>: no constructor id on the elements.
      writer
        .int(since)
        .int(since + 2 * SALT_PERIOD_SECONDS)
        .raw(this.saltFor(authKeyId, period + i));
    }
    return writer.getBytes();
  }

  private armDisconnectTimer(connection: ClientConnection, delaySeconds: number, log: Logger): void {
    clearTimeout(connection.disconnectTimer);
    const ms = delaySeconds * 1000 + (this.options.pingDisconnectGrace ?? 0);
    // Timers cap at 2^31-1 ms; a longer delay simply never fires.
    if (ms > 2 ** 31 - 1) return;
    connection.disconnectTimer = setTimeout(() => {
      log.debug({ delaySeconds }, 'no ping within disconnect_delay, closing');
      connection.close();
    }, ms);
    connection.disconnectTimer.unref();
  }

  private maybeGzip(body: Buffer): Buffer {
    if (body.length <= this.gzipThreshold) return body;
    const packed = gzipPacked(body);
    return packed.length < body.length ? packed : body;
  }

  private handlePlain(connection: ClientConnection, packet: Buffer): void {
    const reader = new TlReader(packet);
    reader.long();
    reader.long(); // msg_id
    const length = reader.int();
    if (length <= 0 || 20 + length > packet.length)
      throw new TransportError(`bad unencrypted length ${length}`);
    const { reply, created } = connection.handshake.handle(packet.subarray(20, 20 + length));
    if (created) {
      this.options.authKeys.put(created.authKeyId, created.authKey);
      this.log.debug(
        { connectionId: connection.id, authKeyId: created.authKeyId.toString() },
        'auth key created',
      );
    }
    const out = new TlWriter().long(0n).long(this.nextMsgId(1)).int(reply.length).raw(reply).getBytes();
    connection.write(out);
  }
}

function isRpcErrorLike(error: unknown): error is { errorCode: number; errorMessage: string } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { errorCode?: unknown }).errorCode === 'number' &&
    typeof (error as { errorMessage?: unknown }).errorMessage === 'string'
  );
}

/** Serializes a dispatcher result as documented on RpcResult in contract.ts. */
export function serializeResult(request: Api.AnyRequest, result: RpcResult): Buffer {
  if (typeof result === 'boolean') {
    return new TlWriter().uint(result ? CONSTRUCTORS.boolTrue : CONSTRUCTORS.boolFalse).getBytes();
  }
  if (Array.isArray(result)) {
    const kind = vectorResultKind(request.CONSTRUCTOR_ID);
    const writer = new TlWriter().uint(CONSTRUCTORS.vector).int(result.length);
    for (const item of result as readonly unknown[]) {
      if (kind === 'long') writer.long(toBigInt(item));
      else if (kind === 'int') writer.int(Number(item));
      else if (isTlObject(item)) writer.raw(item.getBytes());
      else if (typeof item === 'bigint') writer.long(item);
      else if (typeof item === 'number' && Number.isInteger(item)) writer.int(item);
      else throw new TypeError(`cannot serialize vector item of ${request.className}: ${String(item)}`);
    }
    return writer.getBytes();
  }
  if (isTlObject(result)) return result.getBytes();
  if (typeof result === 'object' && result !== null && Buffer.isBuffer((result as { raw?: unknown }).raw)) {
    return (result as { raw: Buffer }).raw;
  }
  throw new TypeError(`cannot serialize result of ${request.className}: ${String(result)}`);
}
