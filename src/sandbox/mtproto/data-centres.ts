/**
 * The sandbox's five data centres on the wire: one MTProto listener per DC (ids 1-5) on five
 * consecutive ports, DC 1 first; each call carries the DC whose port it came in on; the world's
 * pushes and drops reach every DC's connections (https://core.telegram.org/api/datacenter).
 */
import type { Api } from 'teleproto';
import type { RpcDispatcher, UpdateSink } from '../contract.js';
import type { MtprotoServer } from './server.js';

export const DC_COUNT = 5;

/** How often a random first port is tried before giving up on finding five free ones in a row. */
const FREE_PORT_ATTEMPTS = 20;

/**
 * Starts one listener per DC: DC n on `basePort + n - 1`. With `basePort` 0 the OS picks DC 1's
 * port and the next four are tried; if one is taken, everything is closed and tried again.
 */
export async function listenDataCentres(
  basePort: number,
  create: (dcId: number, port: number) => MtprotoServer,
): Promise<Map<number, { server: MtprotoServer; port: number }>> {
  const attempts = basePort === 0 ? FREE_PORT_ATTEMPTS : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const started = new Map<number, { server: MtprotoServer; port: number }>();
    try {
      const first = create(1, basePort);
      const firstPort = (await first.listen()).port;
      started.set(1, { server: first, port: firstPort });
      if (firstPort + DC_COUNT - 1 > 65535) throw new Error('no room for five consecutive ports');
      for (let dcId = 2; dcId <= DC_COUNT; dcId++) {
        const server = create(dcId, firstPort + dcId - 1);
        const { port } = await server.listen();
        started.set(dcId, { server, port });
      }
      return started;
    } catch (error) {
      lastError = error;
      await Promise.allSettled([...started.values()].map((entry) => entry.server.close()));
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/** The world's dispatcher as one DC's listener sees it: every call tagged with that DC. */
export function dispatcherFor(dispatcher: RpcDispatcher, dcId: number): RpcDispatcher {
  return {
    invoke: (ctx, request) => dispatcher.invoke({ ...ctx, dcId }, request),
    ...(dispatcher.onSession ? { onSession: (ctx) => dispatcher.onSession!({ ...ctx, dcId }) } : {}),
    ...(dispatcher.onDisconnect ? { onDisconnect: (ctx) => dispatcher.onDisconnect!(ctx) } : {}),
  };
}

/** The world's UpdateSink over every DC: an auth key lives on one DC, so each push lands once. */
export class DataCentreSinks implements UpdateSink {
  constructor(private readonly servers: readonly MtprotoServer[]) {}

  push(authKeyIds: Iterable<bigint>, updates: Api.TypeUpdates): void {
    const keys = [...authKeyIds];
    for (const server of this.servers) server.push(keys, updates);
  }

  drop(authKeyIds?: Iterable<bigint>): number {
    const keys = authKeyIds === undefined ? undefined : [...authKeyIds];
    return this.servers.reduce((count, server) => count + server.drop(keys), 0);
  }

  keyCallerPeaks(): Map<bigint, number> {
    const peaks = new Map<bigint, number>();
    for (const server of this.servers) {
      for (const [key, peak] of server.keyCallerPeaks()) peaks.set(key, Math.max(peak, peaks.get(key) ?? 0));
    }
    return peaks;
  }

  refuseConnections(ms: number): void {
    for (const server of this.servers) server.refuseConnections(ms);
  }

  answerKeyNotFound(authKeyIds: Iterable<bigint>, count: number): void {
    const keys = [...authKeyIds];
    for (const server of this.servers) server.answerKeyNotFound(keys, count);
  }
}
