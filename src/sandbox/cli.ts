/**
 * `npm run sandbox`: the sandbox standalone, with its world kept in SANDBOX_DIR.
 * Environment: SANDBOX_HOST (127.0.0.1), SANDBOX_PORT (9443: DC 1, DCs 2-5 on 9444-9447),
 * SANDBOX_CONTROL_PORT (9444: served by DC 2's listener, which tells HTTP from MTProto),
 * SANDBOX_DIR (./data/sandbox), SANDBOX_LOG_LEVEL (info).
 */
import { resolve } from 'node:path';
import pino from 'pino';
import { sandboxBanner, startSandbox } from './index.js';

function portFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`${name} must be a port number (0-65535), got ${raw}`);
    process.exit(2);
  }
  return port;
}

const host = process.env.SANDBOX_HOST || '127.0.0.1';
const port = portFrom('SANDBOX_PORT', 9443);
const controlPort = portFrom('SANDBOX_CONTROL_PORT', 9444);
const dataDir = resolve(process.env.SANDBOX_DIR || './data/sandbox');
const logger = pino({ level: process.env.SANDBOX_LOG_LEVEL || 'info' });

const sandbox = await startSandbox({ host, port, controlPort, dataDir, logger });

console.log(sandboxBanner(sandbox, { dataDir }));

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'sandbox stopping');
  const timer = setTimeout(() => process.exit(1), 5000);
  timer.unref();
  await sandbox.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
