/**
 * Helper process of bench/messages.ts section 1 (never run alone): TeleFlow alone in its process,
 * pointed at the sandbox, with send pacing off. It runs apart from the benchmark so that work
 * TeleFlow does after it has answered (recording message.sent, deferred past the reply) is not
 * charged to the HTTP client that measures it, as it would be on one shared event loop.
 * Arguments: <sandbox host> <sandbox port> <sandbox public key PEM file>. SQLite in a temp dir.
 * Sends {url, apiKey} over IPC once listening on 127.0.0.1. IPC commands:
 *   "skip-events"    the event log's publish becomes a no-op (diagnostic), answers {ok: true}
 *   "restore-events" puts it back, answers {ok: true}
 *   "exit"           closes, removes its data and exits.
 */
import { rmSync } from 'node:fs';
import { buildApp } from '../src/app.js';
import { sandboxBenchConfig } from './_teleflow-child.js';

const [host, port, pemFile] = process.argv.slice(2) as [string, string, string];
const { config, dataDir } = sandboxBenchConfig(
  'msg-app',
  { host, port, pemFile },
  {
    LOG_LEVEL: 'error',
    // Pacing is a deliberate throttle, not overhead.
    SEND_RATE_PER_CHAT: '0',
    SEND_RATE_PER_SESSION: '0',
  },
);
// Without a logger the app logs nothing.
const app = await buildApp(config);
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.send!({ url, apiKey: config.apiKey });

const events = app.services.events as unknown as { publish: (e: unknown) => Promise<void> };
const publish = events.publish;

let closing = false;
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}
process.on('message', (cmd) => {
  if (cmd === 'skip-events') {
    events.publish = async () => {};
    process.send!({ ok: true });
  } else if (cmd === 'restore-events') {
    events.publish = publish;
    process.send!({ ok: true });
  } else if (cmd === 'exit') void close();
});
// The parent went away: do not linger.
process.on('disconnect', () => void close());
