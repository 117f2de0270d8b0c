/**
 * A real MtprotoServer with a small dispatcher, for the wire-layer tests: help.getConfig
 * answers a valid Config pointing at the server, a few methods can be scripted per test, and
 * anything else fails with METHOD_NOT_IMPLEMENTED_SANDBOX.
 */
import pino from 'pino';
import { Api } from 'teleproto';
import { RpcError } from '../../src/sandbox/contract.js';
import type { AuthKeyStore, CallContext, RpcDispatcher, RpcResult } from '../../src/sandbox/contract.js';
import { MtprotoServer } from '../../src/sandbox/mtproto/server.js';
import { generateServerKey } from '../../src/sandbox/mtproto/rsa.js';
import type { ServerKey } from '../../src/sandbox/mtproto/rsa.js';

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

export function sandboxConfig(host: string, port: number): Api.Config {
  const now = Math.floor(Date.now() / 1000);
  return new Api.Config({
    date: now,
    expires: now + 3600,
    testMode: false,
    thisDc: SANDBOX_DC_ID,
    dcOptions: [1, 2, 3, 4, 5].map((id) => new Api.DcOption({ id, ipAddress: host, port })),
    dcTxtDomainName: 'sandbox.invalid',
    chatSizeMax: 200,
    megagroupSizeMax: 200000,
    forwardedCountMax: 100,
    onlineUpdatePeriodMs: 210000,
    offlineBlurTimeoutMs: 5000,
    offlineIdleTimeoutMs: 30000,
    onlineCloudTimeoutMs: 300000,
    notifyCloudDelayMs: 30000,
    notifyDefaultDelayMs: 1500,
    pushChatPeriodMs: 60000,
    pushChatLimit: 2,
    editTimeLimit: 172800,
    revokeTimeLimit: 2147483647,
    revokePmTimeLimit: 2147483647,
    ratingEDecay: 2419200,
    stickersRecentLimit: 200,
    channelsReadMediaPeriod: 604800,
    callReceiveTimeoutMs: 20000,
    callRingTimeoutMs: 90000,
    callConnectTimeoutMs: 30000,
    callPacketTimeoutMs: 10000,
    meUrlPrefix: 'https://t.me/',
    captionLengthMax: 1024,
    messageLengthMax: 4096,
    webfileDcId: SANDBOX_DC_ID,
  });
}

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
