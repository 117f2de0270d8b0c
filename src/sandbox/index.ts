/**
 * Starting the sandbox in-process: RSA key, world (loaded from the data dir when there is one),
 * MTProto server and control API, wired together. `npm run sandbox` (cli.ts), TeleFlow's
 * TELEGRAM_SANDBOX=true and the tests all come through here.
 */
import { join } from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';
import { MtprotoServer } from './mtproto/server.js';
import { loadOrCreateServerKey, PUBLIC_KEY_FILE } from './mtproto/rsa.js';
import { World } from './world/world.js';
import { FaultInjector } from './world/faults.js';
import { RateLimiter, TELEGRAM_LIKE_BUDGETS, type RateLimitBudgets } from './world/rate-limits.js';
import { createRpcDispatcher } from './world/rpc.js';
import { SnapshotWriter, loadWorldState } from './world/persistence.js';
import { startControlServer } from './control/server.js';
import type { ControlServer } from './control/server.js';
import { DataCentreSinks, dispatcherFor, listenDataCentres } from './mtproto/data-centres.js';
import type { Socket } from 'node:net';

export const PUBLIC_KEY_PEM_FILE = PUBLIC_KEY_FILE;

export interface StartSandboxOptions {
  host?: string;
  /** MTProto port of DC 1; DCs 2-5 listen on the next four ports. 0 picks five free ones. */
  port?: number;
  /** Control API port (always on loopback); 0 picks a free one. */
  controlPort?: number;
  /** Where the world, auth keys and RSA key live; memory only when omitted. */
  dataDir?: string;
  logger?: Logger;
  /** World tuning for tests (difference slice size, log retention, token lifetimes). */
  world?: {
    differenceSliceSize?: number;
    logRetention?: number;
    codeTtlSeconds?: number;
    loginTokenTtlSeconds?: number;
    shortMessageUpdates?: boolean;
    /** Invalidate an auth key used from two remote addresses at once (default true, as Telegram). */
    authKeyDuplicated?: boolean;
    /** Lifetime of file references (default 2 hours), then FILE_REFERENCE_EXPIRED. */
    fileReferenceTtlMs?: number;
  };
  /** Flood limits per account and method (Telegram-like by default; false: none). */
  rateLimits?: RateLimitBudgets | false;
}

/** One data centre's MTProto address. */
export interface SandboxDc {
  id: number;
  host: string;
  port: number;
}

export interface Sandbox {
  /** DC 1's address (DC n listens on port + n - 1). */
  host: string;
  port: number;
  /** The five data centres, ids 1-5 on consecutive ports. */
  dcs: SandboxDc[];
  controlUrl: string;
  publicKeyPem: string;
  /** The PEM file in the data dir (only with a data dir). */
  publicKeyFile?: string;
  world: World;
  faults: FaultInjector;
  /** The flood limits, which also count every call per method (and account). */
  rateLimits: RateLimiter;
  /** DC 1's listener. */
  server: MtprotoServer;
  /** Every DC's listener, by DC id. */
  servers: Map<number, MtprotoServer>;
  control: ControlServer;
  close(): Promise<void>;
}

export async function startSandbox(options: StartSandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? pino({ level: 'silent' });
  const { dataDir } = options;
  const serverKey = await loadOrCreateServerKey(dataDir);
  const state = dataDir ? loadWorldState(dataDir) : undefined;
  let snapshots: SnapshotWriter | undefined;
  const world = new World(
    {
      host,
      port: options.port ?? 0,
      logger,
      onChange: () => snapshots?.schedule(),
      ...(dataDir ? { dataDir } : {}),
      ...options.world,
    },
    state,
  );
  if (dataDir) snapshots = new SnapshotWriter(dataDir, () => world.state, 100, logger);
  const faults = new FaultInjector();
  const rateLimits = new RateLimiter(
    options.rateLimits === false ? {} : (options.rateLimits ?? TELEGRAM_LIKE_BUDGETS),
  );
  const dispatcher = createRpcDispatcher({ world, faults, rateLimits, logger });
  const controlOptions = { world, faults, logger, methods: dispatcher.methods() };
  // A control port among the DCs' ports (the standalone default: 9444, DC 2's) is served by that
  // DC's listener, which hands HTTP connections over.
  const basePort = options.port ?? 0;
  const sharedPort =
    basePort > 0 &&
    options.controlPort !== undefined &&
    options.controlPort >= basePort &&
    options.controlPort < basePort + 5
      ? options.controlPort
      : undefined;
  const sharedControl =
    sharedPort === undefined
      ? undefined
      : await startControlServer({ ...controlOptions, port: { shared: sharedPort } });
  const servers = await listenDataCentres(basePort, (dcId, port) => {
    const server = new MtprotoServer({
      host,
      port,
      rsaPrivateKey: serverKey.privateKey,
      authKeys: world.authKeyStoreFor(dcId),
      dispatcher: dispatcherFor(dispatcher, dcId),
      logger: logger.child({ dc: dcId }),
      ...(sharedControl && port === sharedPort
        ? { httpHandoff: (socket: Socket) => sharedControl.acceptConnection(socket) }
        : {}),
    });
    return server;
  });
  const dcs = [...servers].map(([id, entry]) => ({ id, host, port: entry.port }));
  const server = servers.get(1)!.server;
  const listeners = new Map([...servers].map(([id, entry]) => [id, entry.server]));
  world.attachSink(new DataCentreSinks([...listeners.values()]));
  world.options.port = dcs[0].port;
  world.options.dcs = dcs;
  const closeServers = () => Promise.allSettled([...listeners.values()].map((s) => s.close()));
  let control: ControlServer;
  try {
    control =
      sharedControl ?? (await startControlServer({ ...controlOptions, port: options.controlPort ?? 0 }));
  } catch (error) {
    await closeServers();
    throw error;
  }
  let publicKeyFile: string | undefined;
  if (dataDir) {
    // loadOrCreateServerKey wrote it next to the private key.
    publicKeyFile = join(dataDir, PUBLIC_KEY_PEM_FILE);
  }
  let closed = false;
  return {
    host,
    port: dcs[0].port,
    dcs,
    controlUrl: control.url,
    publicKeyPem: serverKey.publicKeyPem,
    ...(publicKeyFile ? { publicKeyFile } : {}),
    world,
    faults,
    rateLimits,
    server,
    servers: listeners,
    control,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([control.close(), closeServers()]);
      snapshots?.flush();
    },
  };
}

/**
 * What `npm run sandbox` prints, and TeleFlow when TELEGRAM_SANDBOX=true starts one: where the
 * servers are, how to point a client at them, and a few control API calls to start with.
 */
export function sandboxBanner(
  sandbox: Pick<Sandbox, 'host' | 'port' | 'controlUrl' | 'publicKeyFile'>,
  options: { dataDir?: string; embedded?: boolean } = {},
): string {
  const keyFile = sandbox.publicKeyFile ?? '<the PEM of GET /api/v1/sandbox>';
  const control = sandbox.controlUrl;
  return `${
    options.embedded
      ? 'TeleFlow sandbox (a local Telegram) is running inside TeleFlow; every session uses it.\n' +
        'It is not Telegram, and its control API lets anyone on this machine act as any of its users.'
      : 'TeleFlow sandbox (a local Telegram) is running.'
  }

  MTProto server   ${sandbox.host}:${sandbox.port}   (DC 1; DCs 2-5 on the next four ports: ${
    sandbox.host
  }:${sandbox.port + 1}-${sandbox.port + 4})
  Control API      ${control}   (GET ${control}/ lists the routes)
  RSA public key   ${keyFile}${options.dataDir ? `\n  Data directory   ${options.dataDir}` : ''}

${
  options.embedded
    ? 'Point another client or TeleFlow at it (GET /api/v1/sandbox answers the same, for admins):'
    : 'Point TeleFlow at it:'
}
  TELEGRAM_DC=${sandbox.host}:${sandbox.port} TELEGRAM_DC_PUBLIC_KEY_FILE=${keyFile} npm run dev

Create a user:   curl -X POST ${control}/users -H 'content-type: application/json' -d '{"phone":"9996610000","firstName":"Alice"}'
                 (home DC 2; add "dc":1-5 for another; sign-ins elsewhere get PHONE_MIGRATE_X)
Login codes:     phones 99966XYYYY get the code XXXXX; any code: curl '${control}/codes?phone=...'
Accept a QR:     curl -X POST ${control}/login-tokens/accept -H 'content-type: application/json' -d '{"phone":"9996610000","token":"<token of the tg://login URL>"}'
`;
}

export { World } from './world/world.js';
export { FaultInjector } from './world/faults.js';
