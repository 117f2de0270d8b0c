/**
 * The sandbox alone in its own process, so that bench/sandbox.ts can read the sandbox's memory
 * and CPU apart from the clients'. Prints one JSON line `{"ready": {...}}` on stdout, then
 * answers each line read on stdin with one JSON line:
 *   "mem"   -> {"mem": process.memoryUsage() after a full GC (run node with --expose-gc),
 *              "cpu": process.cpuUsage(), "gc", "connections", "sessions"}
 *   "peek"  -> the same without the GC: for CPU marks and memory traces that must not disturb
 *   "close" -> closes the sandbox and exits.
 * Errors the sandbox logs go to stderr (SANDBOX_LOG_LEVEL, default error).
 */
import { createInterface } from 'node:readline';
import pino from 'pino';
import { startSandbox } from '../src/sandbox/index.js';

const logger = pino({ level: process.env.SANDBOX_LOG_LEVEL || 'error' }, pino.destination(2));
const sandbox = await startSandbox({ host: '127.0.0.1', port: 0, controlPort: 0, logger });

function reply(message: unknown): void {
  process.stdout.write(JSON.stringify(message) + '\n');
}

// Private, read for diagnostics only: a session map that grows without bound would be a leak.
// Summed over the five DCs' listeners (accounts live on their home DC's).
const listeners = [...sandbox.servers.values()];
const sessionCount = (): number | undefined =>
  listeners.reduce<number | undefined>((total, server) => {
    const size = (server as unknown as { sessions?: Map<unknown, unknown> }).sessions?.size;
    return size === undefined ? total : (total ?? 0) + size;
  }, undefined);

function sample(collect: boolean): unknown {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (collect && gc) {
    gc();
    gc();
  }
  return {
    mem: process.memoryUsage(),
    cpu: process.cpuUsage(),
    gc: Boolean(gc),
    connections: listeners.reduce((total, server) => total + server.connectionCount, 0),
    sessions: sessionCount() ?? null,
  };
}

reply({
  ready: {
    host: sandbox.host,
    port: sandbox.port,
    controlUrl: sandbox.controlUrl,
    publicKeyPem: sandbox.publicKeyPem,
    // Its five DCs, as TELEGRAM_DC's `1=host:port,...` form (each listens on a port of its own).
    dc: sandbox.dcs.map((d) => `${d.id}=${d.host}:${d.port}`).join(','),
    pid: process.pid,
  },
});

const lines = createInterface({ input: process.stdin });
let closing = false;
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  lines.close();
  await sandbox.close();
  reply({ closed: true });
  process.exit(0);
}

lines.on('line', (line) => {
  const command = line.trim();
  if (command === 'mem') reply(sample(true));
  else if (command === 'peek') reply(sample(false));
  else if (command === 'close') void close();
  else reply({ error: `unknown command ${command}` });
});
// The parent went away: do not linger.
lines.on('close', () => void close());
