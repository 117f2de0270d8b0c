/**
 * One side of the idle-memory measurement of bench/messages.ts, alone in its process so its RSS
 * is its own: `teleflow` imports N saved sessions into a TeleFlow app (connected, update state
 * fetched, watchdog on); `bare` opens the same N sessions as plain teleproto clients (connect +
 * getMe). Prints JSON lines: {"baseline": mem}, {"connected": mem, "seconds"}, then
 * {"idle": mem, "t"} every BENCH_SAMPLE_SECONDS until BENCH_IDLE_SECONDS, then {"done": true}.
 * Arguments: <mode> <sessions.json> <sandbox DCs as TELEGRAM_DC> <pem file>.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api } from 'teleproto';
import { buildApp } from '../src/app.js';
import { loadConfig, parseDcAddresses } from '../src/config.js';
import { createSandboxClient } from '../test/helpers/sandbox-client.js';

const [mode, sessionsFile, dc, pemFile] = process.argv.slice(2);
const sessions = JSON.parse(readFileSync(sessionsFile!, 'utf8')) as string[];
const dcs = parseDcAddresses(dc!)!;
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const sampleSeconds = Number(process.env.BENCH_SAMPLE_SECONDS ?? 10);

const emit = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);
function memory(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage();
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: size }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

async function idle(): Promise<void> {
  const started = Date.now();
  while ((Date.now() - started) / 1000 < idleSeconds) {
    await new Promise((r) => setTimeout(r, sampleSeconds * 1000));
    emit({ idle: memory(), t: Math.round((Date.now() - started) / 1000) });
  }
}

if (mode === 'teleflow') {
  const dataDir = mkdtempSync(join(tmpdir(), 'teleflow-bench-'));
  const config = loadConfig({
    NODE_ENV: 'production',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'error',
    TELEGRAM_DC: dc!,
    TELEGRAM_DC_PUBLIC_KEY_FILE: pemFile!,
    TELEGRAM_API_ID: '12345',
    TELEGRAM_API_HASH: '0123456789abcdef0123456789abcdef',
    JWT_SECRET: 'bench-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    API_KEY: 'tf_bench_admin_key_0123456789abcdefghijklmn',
    SESSION_ENCRYPTION_KEY: 'bench-encryption-key-0123456789abcdefghijklmnop',
  });
  const app = await buildApp(config);
  await app.ready();
  emit({ baseline: memory() });
  const started = Date.now();
  await inBatches(sessions, 8, async (sessionString) => {
    await app.services.sessions.importSession({ sessionString });
  });
  emit({ connected: memory(), seconds: (Date.now() - started) / 1000 });
  await idle();
  const counts = await app.services.sessions.countByStatus();
  emit({ statuses: counts });
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
} else {
  const publicKeyPem = readFileSync(pemFile!, 'utf8');
  emit({ baseline: memory() });
  const started = Date.now();
  const clients: ReturnType<typeof createSandboxClient>[] = [];
  await inBatches(sessions, 8, async (session) => {
    const client = createSandboxClient({
      host: dcs[0]!.host,
      port: dcs[0]!.port,
      dcs,
      publicKeyPem,
      session,
    });
    await client.connect();
    await client.invoke(new Api.users.GetUsers({ id: [new Api.InputUserSelf()] }));
    clients.push(client);
  });
  emit({ connected: memory(), seconds: (Date.now() - started) / 1000 });
  await idle();
  emit({ statuses: { connected: clients.filter((c) => c.connected).length } });
  await Promise.all(clients.map((c) => c.destroy()));
}
emit({ done: true });
process.exit(0);
