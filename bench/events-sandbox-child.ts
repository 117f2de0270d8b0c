/**
 * Helper process of bench/events.ts (never run alone): TeleFlow alone in its process, pointed at
 * a sandbox, so that neither the load generator nor the webhook receiver shares its event loop.
 * Arguments: <sandbox host> <sandbox port> <sandbox public key PEM file>. SQLite in a temp dir,
 * silent logs. Sends {url, apiKey} over IPC once listening on 127.0.0.1; on "exit" it closes,
 * removes its data and exits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

const [host, port, pemFile] = process.argv.slice(2) as [string, string, string];
const dataDir = mkdtempSync(join(tmpdir(), 'teleflow-bench-events-sbx-'));
const config = loadConfig({
  NODE_ENV: 'production',
  DATA_DIR: dataDir,
  LOG_LEVEL: 'silent',
  TELEGRAM_DC: `${host}:${port}`,
  TELEGRAM_DC_PUBLIC_KEY_FILE: pemFile,
  TELEGRAM_API_ID: '12345',
  TELEGRAM_API_HASH: '0123456789abcdef0123456789abcdef',
  JWT_SECRET: 'bench-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz',
  API_KEY: 'tf_bench_admin_key_0123456789abcdefghijklmn',
  SESSION_ENCRYPTION_KEY: 'bench-encryption-key-0123456789abcdefghijklmnop',
  RATE_LIMIT_MAX: '1000000',
  // The receiver listens on loopback, which production refuses by default (SSRF guard).
  WEBHOOK_ALLOW_PRIVATE: 'true',
});
// Without a logger the app logs nothing.
const app = await buildApp(config);
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.send!({ url, apiKey: config.apiKey });

let closing = false;
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}
process.on('message', (cmd) => {
  if (cmd === 'exit') void close();
});
// The parent went away: do not linger.
process.on('disconnect', () => void close());
