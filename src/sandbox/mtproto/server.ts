/**
 * The sandbox's MTProto server: the TCP listener and each connection's life (transport framing,
 * refusal, drops), the unencrypted handshake that creates auth keys, and the routing of packets.
 * The encrypted layer is session-layer.ts (receiving) and connection.ts (sending); service
 * messages are answered in service-messages.ts; calls are unwrapped and handed to the world's
 * RpcDispatcher in rpc-invocation.ts, their answers going back inside rpc_result. The world
 * pushes updates and cuts connections through UpdateSink.
 */
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Api } from 'teleproto';
import type { AuthKeyStore, RpcDispatcher, UpdateSink } from '../contract.js';
import { ClientConnection } from './connection.js';
import { HandshakeError } from './handshake.js';
import { ServerMsgIds } from './msg-ids.js';
import { describeKey } from './rsa.js';
import { RpcInvoker } from './rpc-invocation.js';
import { ServerSalts } from './salts.js';
import { ServiceMessages } from './service-messages.js';
import { SessionLayer } from './session-layer.js';
import type { SessionState } from './session-layer.js';
import { TlReader, TlWriter } from './tl.js';
import { TransportError } from './transport.js';

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
  /**
   * Takes connections that start like an HTTP request, so one port serves MTProto and HTTP (the
   * control API shares DC 2's port by default). MTProto's obfuscation rules keep that apart: an
   * obfuscated header never starts with HEAD, POST, GET or OPTI (core.telegram.org/mtproto/mtproto-transports
   * "Transport obfuscation"), and the other transports start with a length or a marker byte.
   */
  httpHandoff?: (socket: Socket, head: Buffer) => void;
}

/** First bytes of an HTTP/1.x request line: a method name and a space. */
const HTTP_REQUEST_START = /^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS) /;

function looksLikeHttp(head: Buffer): boolean {
  return HTTP_REQUEST_START.test(head.subarray(0, 8).toString('latin1'));
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
  private readonly msgIds = new ServerMsgIds();
  private readonly salts = new ServerSalts();
  private readonly rpc: RpcInvoker;
  private readonly sessions: SessionLayer;
  private readonly services: ServiceMessages;
  private refuseUntil = 0;
  /** Auth keys whose next packets get -404 although the key is known (answerKeyNotFound). */
  private readonly spuriousNotFound = new Map<bigint, number>();

  constructor(options: MtprotoServerOptions) {
    this.options = options;
    this.log = options.logger;
    const key = describeKey(options.rsaPrivateKey);
    this.handshakeKeys = { privateKey: key.privateKey, fingerprint: key.fingerprint };
    this.publicKeyPem = key.publicKeyPem;
    this.rpc = new RpcInvoker(options.dispatcher, options.gzipThreshold ?? 512, () => this.connections);
    this.sessions = new SessionLayer({
      salts: this.salts,
      dispatcher: options.dispatcher,
      rpc: this.rpc,
      handleObject: (connection, session, msgId, object, log) =>
        this.handleObject(connection, session, msgId, object, log),
    });
    this.services = new ServiceMessages({
      salts: this.salts,
      sessions: this.sessions,
      rpc: this.rpc,
      pingDisconnectGrace: options.pingDisconnectGrace,
    });
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
    this.rpc.push(this.connections, authKeyIds, updates);
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

  /** Per auth key, the most connections that made calls at the same time. */
  keyCallerPeaks(): Map<bigint, number> {
    return this.rpc.callerPeaks;
  }

  refuseConnections(ms: number): void {
    this.refuseUntil = ms > 0 ? Date.now() + ms : 0;
  }

  answerKeyNotFound(authKeyIds: Iterable<bigint>, count: number): void {
    for (const id of authKeyIds) this.spuriousNotFound.set(id, count);
  }

  // Connections

  private accept(socket: Socket): void {
    const handoff = this.options.httpHandoff;
    if (!handoff) {
      this.serve(socket);
      return;
    }
    // The first bytes tell HTTP from MTProto; an HTTP request line comes in its first segment.
    const onEarlyError = (error: Error) => this.log.debug({ err: error.message }, 'socket error');
    socket.on('error', onEarlyError);
    socket.once('data', (head: Buffer) => {
      socket.pause();
      socket.off('error', onEarlyError);
      if (looksLikeHttp(head)) {
        socket.unshift(head);
        handoff(socket, head);
        return;
      }
      this.serve(socket, head);
      socket.resume();
    });
  }

  private serve(socket: Socket, head?: Buffer): void {
    if (Date.now() < this.refuseUntil) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const connection = new ClientConnection(socket, this.handshakeKeys, this.msgIds, this.salts);
    this.connections.add(connection);
    const log = this.log.child({ connectionId: connection.id });
    log.debug({ remote: `${socket.remoteAddress}:${socket.remotePort}` }, 'connection opened');
    const onData = (chunk: Buffer) => {
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
    };
    if (head) onData(head);
    socket.on('data', onData);
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
    const spurious = this.spuriousNotFound.get(authKeyId) ?? 0;
    if (spurious > 0) {
      if (spurious === 1) this.spuriousNotFound.delete(authKeyId);
      else this.spuriousNotFound.set(authKeyId, spurious - 1);
    }
    if (!authKey || spurious > 0) {
      log.info({ authKeyId: authKeyId.toString() }, 'unknown auth key, answering -404');
      connection.writeTransportError(TRANSPORT_ERROR_AUTH_KEY_NOT_FOUND);
      return;
    }
    this.sessions.receive(connection, authKeyId, authKey, packet, log);
  }

  /** One TL object from the client: a service message the server answers, or a call. */
  private handleObject(
    connection: ClientConnection,
    session: SessionState,
    msgId: bigint,
    object: unknown,
    log: Logger,
  ): void {
    if (this.services.handle(connection, session, msgId, object, log)) return;
    this.rpc.handleRequest(connection, session, msgId, object, log);
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
    const out = new TlWriter()
      .long(0n)
      .long(this.msgIds.nextMsgId(1))
      .int(reply.length)
      .raw(reply)
      .getBytes();
    connection.write(out);
  }
}
