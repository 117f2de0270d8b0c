/**
 * `npm run bench -- events` (or `npx tsx bench/events.ts`): the event pipeline on loopback.
 *   1. Sustained publishing into one webhook at BENCH_RATES events/s (default 1000,2000) for
 *      BENCH_SECONDS each (default 10): every event is recorded (SQLite file, WAL) and delivered
 *      in order to a receiver in its own process; reports loss (must be 0), the delivered rate and
 *      publish-to-received latency p50/p99.
 *   2. BENCH_CLIENTS stream clients (default 1000; half SSE via eventsource, half WebSocket via ws,
 *      in their own process) while BENCH_STREAM_RATE events/s (default 20) are published for
 *      BENCH_SECONDS: delivery latency p50/p99 over every frame, frames lost, server RSS.
 * Publish-to-received latency is measured with wall clocks of two processes on one machine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

const here = dirname(fileURLToPath(import.meta.url));
const RATES = (process.env.BENCH_RATES ?? '1000,2000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const STREAM_RATE = Number(process.env.BENCH_STREAM_RATE ?? 20);
const now = () => performance.timeOrigin + performance.now();

interface Child {
  proc: ChildProcess;
  ask<T>(cmd: string): Promise<T>;
  next<T>(): Promise<T>;
}

function startChild(args: string[]): Child {
  const proc = fork(join(here, 'events-child.ts'), args, { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const queue: unknown[] = [];
  const waiting: ((m: unknown) => void)[] = [];
  proc.on('message', (m) => {
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const next = <T>() =>
    new Promise<T>((resolve) => {
      if (queue.length) resolve(queue.shift() as T);
      else waiting.push(resolve as (m: unknown) => void);
    });
  return {
    proc,
    next,
    ask<T>(cmd: string) {
      proc.send(cmd);
      return next<T>();
    },
  };
}

const ms = (n: number) => `${n.toFixed(1)} ms`;
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

export async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'teleflow-bench-events-'));
  const config = loadConfig({
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_MAX: '1000000',
    JWT_SECRET: 'bench-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    API_KEY: 'tf_bench_admin_key_0123456789abcdefghijklmn',
    SESSION_ENCRYPTION_KEY: 'bench-encryption-key-0123456789abcdefghijklmnop',
    STREAM_HEARTBEAT_MS: '15000',
  });
  const app = await buildApp(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/v1`;
  const events = app.services.events;
  const receiver = startChild(['receiver']);
  const clients: Child[] = [];
  try {
    const { port } = await receiver.next<{ port: number }>();
    const created = await fetch(`${base}/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': config.apiKey },
      body: JSON.stringify({ url: `http://127.0.0.1:${port}/hook`, events: ['message.*'] }),
    });
    if (created.status !== 201) throw new Error(`webhook creation failed: ${await created.text()}`);
    const webhookId = ((await created.json()) as { data: { id: string } }).data.id;

    console.log(`\n== 1. Sustained publishing into one webhook (SQLite, ${SECONDS} s per rate) ==`);
    for (const rate of RATES) {
      await receiver.ask('reset');
      const total = rate * SECONDS;
      const tickMs = 10;
      const perTick = rate / (1000 / tickMs);
      const started = now();
      let published = 0;
      const pending: Promise<unknown>[] = [];
      while (published < total) {
        const due = Math.min(total, Math.floor(((now() - started) / 1000) * rate) + perTick);
        for (; published < due; published++) {
          pending.push(
            events.publish({
              type: 'message.received',
              sessionId: 'bench',
              data: {
                t0: now(),
                message: {
                  id: published,
                  chatId: '1',
                  senderId: '2',
                  date: new Date().toISOString(),
                  text: 'bench',
                  out: false,
                },
              },
            }),
          );
        }
        await new Promise((r) => setTimeout(r, tickMs));
      }
      await Promise.all(pending);
      const publishSeconds = (now() - started) / 1000;
      const deadline = now() + 120_000;
      let stats = await receiver.ask<{
        distinct: number;
        requests: number;
        lastAt: number;
        p50: number;
        p99: number;
        max: number;
      }>('stats');
      while (stats.distinct < total && now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        stats = await receiver.ask('stats');
      }
      const deliverSeconds = (stats.lastAt - started) / 1000;
      console.log(
        `target ${rate}/s: published ${total} in ${publishSeconds.toFixed(1)} s (${(total / publishSeconds).toFixed(0)}/s); ` +
          `received ${stats.distinct}/${total} distinct (lost ${total - stats.distinct}, duplicates ${stats.requests - stats.distinct}); ` +
          `delivered rate ${(stats.distinct / deliverSeconds).toFixed(0)}/s; publish-to-received p50 ${ms(stats.p50)}, p99 ${ms(stats.p99)}, max ${ms(stats.max)}`,
      );
    }
    await fetch(`${base}/webhooks/${webhookId}`, {
      method: 'DELETE',
      headers: { 'x-api-key': config.apiKey },
    });

    console.log(
      `\n== 2. ${CLIENTS} stream clients (half SSE, half WebSocket), ${STREAM_RATE} events/s for ${SECONDS} s ==`,
    );
    const rssBefore = process.memoryUsage().rss;
    const perChild = Math.ceil(CLIENTS / 2);
    for (let i = 0; i < 2; i++)
      clients.push(
        startChild(['clients', base, config.apiKey, String(Math.min(perChild, CLIENTS - i * perChild))]),
      );
    await Promise.all(clients.map((c) => c.next()));
    await new Promise((r) => setTimeout(r, 500));
    const rssConnected = process.memoryUsage().rss;
    const total = STREAM_RATE * SECONDS;
    for (let i = 0; i < total; i++) {
      await events.publish({
        type: 'user.typing',
        sessionId: 'bench',
        data: { t0: now(), userId: '1', chatId: '2', action: 'typing' },
      });
      await new Promise((r) => setTimeout(r, 1000 / STREAM_RATE));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const rssPeak = process.memoryUsage().rss;
    const parts = await Promise.all(
      clients.map((c) => c.ask<{ received: number; p50: number; p99: number; max: number }>('stats')),
    );
    const received = parts.reduce((s, p) => s + p.received, 0);
    console.log(
      `${app.services.streams.size} clients connected; frames ${received}/${total * CLIENTS} (lost ${total * CLIENTS - received}); ` +
        `delivery latency p50 ${ms(Math.max(...parts.map((p) => p.p50)))}, p99 ${ms(Math.max(...parts.map((p) => p.p99)))}, max ${ms(Math.max(...parts.map((p) => p.max)))} ` +
        `(worst of the two client processes)`,
    );
    console.log(
      `server RSS: ${mb(rssBefore)} before, ${mb(rssConnected)} with ${CLIENTS} clients (${((rssConnected - rssBefore) / 1024 / CLIENTS).toFixed(1)} kB each), ${mb(rssPeak)} after the run`,
    );
  } finally {
    receiver.proc.send('exit');
    for (const c of clients) c.proc.send('exit');
    await new Promise((r) => setTimeout(r, 300));
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
