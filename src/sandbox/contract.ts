/**
 * The seam between the sandbox's wire layer (src/sandbox/mtproto/) and its world
 * (src/sandbox/world/): the wire layer decrypts, unwraps and answers; the world decides.
 * Both sides may extend this file; keep it small and documented.
 */
import type { Api } from 'teleproto';

/** An RPC error as Telegram sends it: `rpc_error#2144ca19 error_code:int error_message:string`. */
export class RpcError extends Error {
  constructor(
    readonly errorCode: number,
    readonly errorMessage: string,
  ) {
    super(`${errorCode} ${errorMessage}`);
    this.name = 'RpcError';
  }
}

/** Who is calling: filled in by the wire layer for every request. */
export interface CallContext {
  /** auth_key_id of the encrypted message, as the unsigned 64-bit number the client computes. */
  authKeyId: bigint;
  /** MTProto session_id of the message. */
  sessionId: bigint;
  /** A number unique to the TCP connection within this server's life. */
  connectionId: number;
  /** The layer the client announced through invokeWithLayer, if any (remembered per auth key). */
  layer?: number;
  /** What the client said in initConnection, if it has (remembered per auth key). */
  client?: ClientInfo;
  /** msg_id of the request (the outer message, before invokeWithLayer etc. were peeled off). */
  msgId?: bigint;
  /** The data centre (1-5) whose port the call came in on. */
  dcId?: number;
  /** Another open connection of the same auth key comes from a different remote address (the
   * key is in use from two IP addresses at once: AUTH_KEY_DUPLICATED). */
  keyInUseElsewhere?: boolean;
}

/** The fields of initConnection that describe the client application. */
export interface ClientInfo {
  apiId: number;
  deviceModel: string;
  systemVersion: string;
  appVersion: string;
  systemLangCode: string;
  langPack: string;
  langCode: string;
}

/** Anything with the client's TL serialization: every `Api.*` object. */
export interface TlSerializable {
  getBytes(): Buffer;
}

/**
 * The result of a call, serialized by the wire layer inside rpc_result:
 * - a TL object (`Api.*`): its getBytes();
 * - a boolean: boolTrue / boolFalse;
 * - an array: a boxed Vector (0x1cb5c415, count, items). Items are TL objects, except for
 *   methods whose schema result is Vector<long> or Vector<int> (contacts.getContactIDs,
 *   messages.receivedQueue, ...): there the wire layer reads the declared type from the
 *   client's schema and writes each number (number or bigint) as long or int.
 *   For any other method a bigint item is written as a long and a number as an int;
 * - `{ raw }`: bytes already serialized, written as they are.
 */
export type RpcResult =
  TlSerializable | boolean | ReadonlyArray<TlSerializable | bigint | number> | { raw: Buffer };

/** The world's side: answers the unwrapped inner query (invokeWithLayer, initConnection,
 * invokeAfterMsg(s), invokeWithoutUpdates, invokeWithMessagesRange, invokeWithTakeout and the
 * other invokeWith* wrappers are peeled off by the wire layer). Calls of one connection
 * arrive one at a time, in order; a thrown RpcError becomes rpc_error, anything else
 * INTERNAL (500, logged). Service messages (ping, acks, salts...) never reach the world. */
export interface RpcDispatcher {
  invoke(ctx: CallContext, request: Api.AnyRequest): Promise<RpcResult>;
  /** Called when a connection's (auth key, MTProto session) pair is first seen: its first
   * encrypted message, or a later message carrying a different session_id. */
  onSession?(ctx: CallContext): void;
  /** Called when a TCP connection closes that had carried encrypted messages. */
  onDisconnect?(ctx: Pick<CallContext, 'connectionId' | 'authKeyId'>): void;
}

/** Auth keys live with the world's persistence; the wire layer reads and creates them. */
export interface AuthKeyStore {
  get(authKeyId: bigint): Buffer | undefined;
  /** Store a freshly negotiated key (256 bytes, or fewer: see SANDBOX-NOTES "getByteArray"). */
  put(authKeyId: bigint, key: Buffer): void;
  /** Forget a key (logged out or revoked): later messages on it get -404. */
  delete(authKeyId: bigint): void;
}

/** The wire layer's side, used by the world to push updates and to cut connections. */
export interface UpdateSink {
  /** Send an Updates object (top level, not in rpc_result) on every live connection bound to
   * one of these auth keys; silently skips keys with no connection. */
  push(authKeyIds: Iterable<bigint>, updates: Api.TypeUpdates): void;
  /** Close connections: those of the given auth keys, or all when omitted. */
  drop(authKeyIds?: Iterable<bigint>): number;
  /** Refuse new TCP connections for this many milliseconds (0 lifts it). */
  refuseConnections(ms: number): void;
  /** Per auth key, the most open connections that made calls at the same time (diagnostics). */
  keyCallerPeaks?(): Map<bigint, number>;
  /**
   * Answer transport error -404 to the next `count` packets of these auth keys although the
   * keys stay valid (what Telegram answers to a packet it cannot read).
   */
  answerKeyNotFound?(authKeyIds: Iterable<bigint>, count: number): void;
}
