/**
 * Helper process of bench/events.ts (never run alone): TeleFlow alone in its process, pointed at
 * a sandbox, so that neither the load generator nor the webhook receiver shares its event loop.
 * Arguments: <sandbox DCs as TELEGRAM_DC> <sandbox public key PEM file>. SQLite in a temp dir,
 * silent logs. Sends {url, apiKey} over IPC once listening on 127.0.0.1; on "exit" it closes,
 * removes its data and exits.
 */
import { rmSync } from 'node:fs';
import { buildApp } from '../src/app.js';
import { sandboxBenchConfig } from './_teleflow-child.js';

const [dc, pemFile] = process.argv.slice(2) as [string, string];
const { config, dataDir } = sandboxBenchConfig(
  'events-sbx',
  { dc, pemFile },
  {
    LOG_LEVEL: 'silent',
    // The receiver listens on loopback, which production refuses by default (SSRF guard).
    WEBHOOK_ALLOW_PRIVATE: 'true',
  },
);
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
