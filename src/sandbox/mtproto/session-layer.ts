/**
 * The receiving half of the encrypted MTProto 2.0 layer: decrypting a client's message, its
 * session (new_session_created), msg_id, seqno and salt checks (bad_msg_notification,
 * bad_server_salt), containers, gzip_packed bodies, duplicates and acks. What is left, one TL
 * object per message, goes to `handleObject`.
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync, inflateSync } from 'node:zlib';
import type { Logger } from 'pino';
import type { RpcDispatcher } from '../contract.js';
import type { ClientConnection } from './connection.js';
import { computeMsgKey, deriveAesKeyIv, igeDecrypt } from './crypto.js';
import { BAD_MSG, checkMsgId } from './msg-ids.js';
import type { RpcInvoker } from './rpc-invocation.js';
import type { ServerSalts } from './salts.js';
import { CONSTRUCTORS, TlReader, TlWriter, readTlObject } from './tl.js';
import { TransportError } from './transport.js';

// Oldest sessions are forgotten first; a client coming back with one simply gets new_session_created.
const MAX_SESSIONS = 10_000;
const RECENT_MSG_IDS_PER_SESSION = 500;
/** What a gzip_packed body may unpack to: a packet's own limit, so a small bomb cannot take gigabytes. */
const MAX_UNPACKED_BYTES = 16 * 1024 * 1024;

/** gzip_packed data (gzip, or a zlib stream), refused once it unpacks beyond MAX_UNPACKED_BYTES. */
function unpackGzip(data: Buffer): Buffer {
  const options = { maxOutputLength: MAX_UNPACKED_BYTES };
  try {
    return data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data, options) : inflateSync(data, options);
  } catch (error) {
    throw new TransportError(`gzip_packed body refused: ${(error as Error).message}`);
  }
}

export interface SessionState {
  authKeyId: bigint;
  /** The key itself, refreshed from the store with every message received. */
  authKey: Buffer;
  sessionId: bigint;
  /** Number of content-related messages sent by the server in this session. */
  contentSent: number;
  announced: boolean;
  recentMsgIds: Set<bigint>;
}

/** A message that is neither a container, gzip_packed nor msgs_ack: a service message or a call. */
export type ObjectHandler = (
  connection: ClientConnection,
  session: SessionState,
  msgId: bigint,
  object: unknown,
  log: Logger,
) => void;

export class SessionLayer {
  private readonly sessions = new Map<string, SessionState>();

  constructor(
    private readonly deps: {
      salts: ServerSalts;
      dispatcher: RpcDispatcher;
      rpc: RpcInvoker;
      handleObject: ObjectHandler;
    },
  ) {}

  /** An encrypted packet (auth_key_id, msg_key, data) under a key the store knows. */
  receive(
    connection: ClientConnection,
    authKeyId: bigint,
    authKey: Buffer,
    packet: Buffer,
    log: Logger,
  ): void {
    const { salts } = this.deps;
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
        this.deps.dispatcher.onSession?.(this.deps.rpc.contextFor(connection, session));
      } catch (error) {
        log.error({ err: error }, 'onSession failed');
      }
    }

    const badMsgCode = checkMsgId(msgId);
    if (badMsgCode !== undefined) {
      log.debug({ msgId: msgId.toString(), code: badMsgCode }, 'bad_msg_notification');
      this.sendBadMsg(connection, session, msgId, seqNo, badMsgCode);
      return;
    }
    if (!salts.isValidSalt(authKeyId, salt)) {
      const notification = new TlWriter()
        .uint(CONSTRUCTORS.badServerSalt)
        .long(msgId)
        .int(seqNo)
        .int(BAD_MSG.badServerSalt)
        .raw(salts.currentSalt(authKeyId))
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
        .raw(salts.currentSalt(authKeyId))
        .getBytes();
      connection.queue(session, { body: created, contentRelated: true, kind: 3 });
    }
    this.handleMessage(connection, session, msgId, seqNo, body, log);
  }

  /** Forgets a session of this auth key (destroy_session); false when there was none. */
  forget(authKeyId: bigint, sessionId: bigint): boolean {
    return this.sessions.delete(`${authKeyId}:${sessionId}`);
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
      if (seqNo % 2 === 1)
        this.deps.rpc.sendRpcError(connection, session, msgId, 400, 'INPUT_CONSTRUCTOR_INVALID');
      return;
    }
    if ((object as { classType?: string })?.classType === 'request' && seqNo % 2 === 0) {
      // Queries are content-related: they must carry an odd seqno.
      this.sendBadMsg(connection, session, msgId, seqNo, BAD_MSG.oddSeqNoExpected);
      return;
    }
    this.deps.handleObject(connection, session, msgId, object, log);
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
}
