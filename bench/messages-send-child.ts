/**
 * Helper process of bench/messages.ts section 1 (never run alone): TeleFlow alone in its process,
 * pointed at the sandbox, with send pacing off. It runs apart from the benchmark so that work
 * TeleFlow does after it has answered (saving the update state, its timers) is not charged to
 * the HTTP client that measures it, as it would be on one shared event loop.
 * Beside TeleFlow it serves the floor: a bare Fastify instance whose one route,
 * POST /send {sessionId, chatId}, hands messages.sendMessage straight to the session's Telegram
 * adapter (no auth, validation, idempotency, pacing or event log): what any HTTP hop in front of
 * the client library costs on this machine.
 * Arguments: <sandbox DCs as TELEGRAM_DC> <sandbox public key PEM file>. SQLite in a temp dir.
 * Sends {url, apiKey, floorUrl} over IPC once listening on 127.0.0.1. IPC commands:
 *   {cmd: "skip-events"}    the event log's publish becomes a no-op (diagnostic), answers {ok: true}
 *   {cmd: "restore-events"} puts it back, answers {ok: true}
 *   {cmd: "cpu"}            answers {cpuMicros}: this process's CPU time so far
 *   {cmd: "exit"}           closes, removes its data and exits.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import Fastify from 'fastify';
import { Api, helpers } from 'teleproto';
import { buildApp } from '../src/app.js';
import { sandboxBenchConfig } from './_teleflow-child.js';

const [dc, pemFile] = process.argv.slice(2) as [string, string];
const { config, dataDir } = sandboxBenchConfig(
  'msg-app',
  { dc, pemFile },
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

const floor = Fastify();
floor.post<{ Body: { sessionId: string; chatId: string } }>('/send', async (request) => {
  const account = await app.services.sessions.account(request.body.sessionId);
  const { peer } = await account.resolvePeer(request.body.chatId);
  const sent = await account.invoke(
    new Api.messages.SendMessage({
      peer,
      message: 'bench',
      randomId: helpers.returnBigInt(randomBytes(8).readBigInt64LE()),
    }),
  );
  return { ok: true, data: { id: sent instanceof Api.UpdateShortSentMessage ? sent.id : null } };
});
const floorUrl = await floor.listen({ host: '127.0.0.1', port: 0 });
process.send!({ url, apiKey: config.apiKey, floorUrl });

const events = app.services.events as unknown as { publish: (e: unknown) => Promise<void> };
const publish = events.publish;

let closing = false;
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await floor.close();
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}
process.on('message', ({ cmd }: { cmd: string }) => {
  if (cmd === 'skip-events') {
    events.publish = async () => {};
    process.send!({ ok: true });
  } else if (cmd === 'restore-events') {
    events.publish = publish;
    process.send!({ ok: true });
  } else if (cmd === 'cpu') {
    const used = process.cpuUsage();
    process.send!({ cpuMicros: used.user + used.system });
  } else if (cmd === 'exit') void close();
});
// The parent went away: do not linger.
process.on('disconnect', () => void close());
