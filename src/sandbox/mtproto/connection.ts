/**
 * One client's TCP connection: its transport framing and handshake, and the sending half of the
 * encrypted layer (queued messages and acks batched into msg_containers, seqno, encryption).
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { computeMsgKey, deriveAesKeyIv, igeEncrypt } from './crypto.js';
import { Handshake } from './handshake.js';
import type { HandshakeKeys } from './handshake.js';
import type { ServerMsgIds } from './msg-ids.js';
import type { ServerSalts } from './salts.js';
import type { SessionState } from './session-layer.js';
import { CONSTRUCTORS, TlWriter } from './tl.js';
import { TransportDecoder } from './transport.js';

const MAX_MESSAGES_PER_CONTAINER = 100;
/** Larger messages travel alone rather than inside a container. */
const MAX_CONTAINER_BYTES = 256 * 1024;

export interface OutgoingMessage {
  body: Buffer;
  contentRelated: boolean;
  /** 1 for answers to a client message, 3 for messages the server starts. */
  kind: 1 | 3;
}

let nextConnectionId = 1;

export class ClientConnection {
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
    handshakeKeys: HandshakeKeys,
    private readonly msgIds: ServerMsgIds,
    private readonly salts: ServerSalts,
  ) {
    this.handshake = new Handshake(handshakeKeys);
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
        this.msgIds.nextMsgId(message.kind),
        this.nextSeqNo(session, message.contentRelated),
        message.body,
      );
      return;
    }
    const container = new TlWriter().uint(CONSTRUCTORS.msgContainer).int(messages.length);
    for (const message of messages) {
      container
        .long(this.msgIds.nextMsgId(message.kind))
        .int(this.nextSeqNo(session, message.contentRelated))
        .int(message.body.length)
        .raw(message.body);
    }
    this.sendEncrypted(
      session,
      this.msgIds.nextMsgId(3),
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
      .raw(this.salts.currentSalt(session.authKeyId))
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
