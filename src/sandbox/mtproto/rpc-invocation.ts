/**
 * Calls: the option-carrying wrappers (invokeWithLayer, initConnection, invokeAfterMsg, ...) are
 * peeled off and remembered per auth key, the query goes to the world's RpcDispatcher, and its
 * answer or error goes back inside rpc_result. Updates the world pushes go to every connection
 * of the auth keys named.
 */
import type { Logger } from 'pino';
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { CallContext, ClientInfo, RpcDispatcher, RpcResult } from '../contract.js';
import type { ClientConnection } from './connection.js';
import type { SessionState } from './session-layer.js';
import { CONSTRUCTORS, TlWriter, gzipPacked, isTlObject, toBigInt, vectorResultKind } from './tl.js';

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

interface KeyInfo {
  layer?: number;
  client?: ClientInfo;
}

export class RpcInvoker {
  private readonly keyInfo = new Map<bigint, KeyInfo>();
  /** Connections that made at least one call (a connection only open is not using its key). */
  private readonly callers = new WeakSet<ClientConnection>();
  /**
   * Per auth key, the most open connections that were making calls at once, from any address:
   * a diagnostic for clients that must never use one key twice (the control API reports it).
   */
  readonly callerPeaks = new Map<bigint, number>();

  constructor(
    private readonly dispatcher: RpcDispatcher,
    /** Results and updates larger than this many bytes travel gzip_packed (when that is smaller). */
    private readonly gzipThreshold: number,
    /** The server's open connections (to tell whether a key is in use from another address). */
    private readonly connections: () => Iterable<ClientConnection>,
  ) {}

  contextFor(connection: ClientConnection, session: SessionState, msgId?: bigint): CallContext {
    const info = this.keyInfo.get(session.authKeyId);
    return {
      authKeyId: session.authKeyId,
      sessionId: session.sessionId,
      connectionId: connection.id,
      layer: info?.layer,
      client: info?.client,
      msgId,
      keyInUseElsewhere: this.keyInUseElsewhere(connection, session.authKeyId),
    };
  }

  /**
   * Whether another open connection of this auth key comes from a different remote address;
   * also counts the key's connections making calls at once (callerPeaks).
   */
  private keyInUseElsewhere(connection: ClientConnection, authKeyId: bigint): boolean {
    const address = connection.socket.remoteAddress;
    this.callers.add(connection);
    let elsewhere = false;
    let calling = 1;
    for (const other of this.connections()) {
      if (other === connection || other.closed || other.authKeyId !== authKeyId) continue;
      if (this.callers.has(other)) calling += 1;
      if (other.socket.remoteAddress !== address) elsewhere = true;
    }
    if (calling > (this.callerPeaks.get(authKeyId) ?? 0)) this.callerPeaks.set(authKeyId, calling);
    return elsewhere;
  }

  /** A TL object that is no service message: a request is queued on the connection's call chain. */
  handleRequest(
    connection: ClientConnection,
    session: SessionState,
    msgId: bigint,
    object: unknown,
    log: Logger,
  ): void {
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
      const result = await this.dispatcher.invoke(ctx, request);
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

  sendRpcResult(connection: ClientConnection, session: SessionState, reqMsgId: bigint, result: Buffer): void {
    const body = new TlWriter()
      .uint(CONSTRUCTORS.rpcResult)
      .long(reqMsgId)
      .raw(this.maybeGzip(result))
      .getBytes();
    connection.queue(session, { body, contentRelated: true, kind: 1 });
  }

  sendRpcError(
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

  /** Queues `updates` on every connection speaking for one of `authKeyIds` (UpdateSink.push). */
  push(
    connections: Iterable<ClientConnection>,
    authKeyIds: Iterable<bigint>,
    updates: Api.TypeUpdates,
  ): void {
    const wanted = new Set(authKeyIds);
    if (wanted.size === 0) return;
    let body: Buffer | undefined;
    for (const connection of connections) {
      if (connection.authKeyId === undefined || !connection.session || !wanted.has(connection.authKeyId))
        continue;
      body ??= this.maybeGzip(updates.getBytes());
      connection.queue(connection.session, { body, contentRelated: true, kind: 3 });
    }
  }

  private maybeGzip(body: Buffer): Buffer {
    if (body.length <= this.gzipThreshold) return body;
    const packed = gzipPacked(body);
    return packed.length < body.length ? packed : body;
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
