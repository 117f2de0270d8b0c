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
  /** The layer the client announced through invokeWithLayer, if any. */
  layer?: number;
}

/**
 * The result of a call: a TL object the wire layer serializes inside rpc_result, or raw
 * bytes already serialized (used for bare vectors such as Vector<User>).
 */
export type RpcResult = Api.AnyRequest['__response'] | { serialize?: never; raw: Buffer } | unknown;

/** The world's side: answers the unwrapped inner query (invokeWithLayer, initConnection,
 * invokeAfterMsg(s), invokeWithoutUpdates are peeled off by the wire layer). */
export interface RpcDispatcher {
  invoke(ctx: CallContext, request: Api.AnyRequest): Promise<RpcResult>;
  /** Called when a connection's auth key is first seen or a new MTProto session starts. */
  onSession?(ctx: CallContext): void;
  /** Called when a TCP connection closes. */
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
}
