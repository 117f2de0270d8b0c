/**
 * `npm run bench -- events [--only sandbox,webhook,streams]` (or `npx tsx bench/events.ts ...`):
 * the event pipeline on loopback. Without --only every section runs.
 *   1. sandbox: incoming sandbox message to webhook received. The sandbox (bench/sandbox-child.ts)
 *      and TeleFlow (bench/events-sandbox-child.ts, SQLite in a temp dir, silent logs) each run in
 *      their own process; one session is signed in and a webhook for message.received points at a
 *      receiver in this process. Another sandbox user sends BENCH_SANDBOX_MESSAGES messages
 *      (default 300) through the control API POST /messages, paced at BENCH_SANDBOX_RATE/s
 *      (default 50), then the same number as a burst with BENCH_SANDBOX_IN_FLIGHT calls at once
 *      (default 16). Latency runs from just before the control call to the receiver having the
 *      webhook POST (matched by text; one clock): p50/p95/p99/max, lost and duplicates (both must
 *      be 0), and the verdict on the target p50 < 20 ms (paced run).
 *   2. webhook: sustained publishing into one webhook at BENCH_RATES events/s (default 1000,2000)
 *      for BENCH_SECONDS each (default 10): every event is recorded (SQLite file, WAL) and
 *      delivered in order to a receiver in its own process; reports loss (must be 0), the
 *      delivered rate and publish-to-received latency p50/p99. BENCH_DATABASE_URL=postgres://...
 *      runs sections 2-3 on PostgreSQL, BENCH_CLUSTER=true with the cluster's shared event log.
 *   3. streams: BENCH_CLIENTS stream clients (default 1000; half SSE via eventsource, half
 *      WebSocket via ws, in their own process) while BENCH_STREAM_RATE events/s (default 20) are
 *      published for BENCH_SECONDS: delivery latency p50/p99 over every frame, frames lost, server
 *      RSS.
 * Publish-to-received latency of sections 2-3 is measured with wall clocks of two processes on
 * one machine.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

const here = dirname(fileURLToPath(import.meta.url));
const RATES = (process.env.BENCH_RATES ?? '1000,2000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const STREAM_RATE = Number(process.env.BENCH_STREAM_RATE ?? 20);
const now = () => performance.timeOrigin + performance.now();

const SECTIONS = ['sandbox', 'webhook', 'streams'] as const;
type Section = (typeof SECTIONS)[number];
const { values: args } = parseArgs({ options: { only: { type: 'string' } } });
const selected = new Set<Section>();
for (const name of args.only ? args.only.split(',') : SECTIONS) {
  if (!(SECTIONS as readonly string[]).includes(name.trim()))
    throw new Error(`--only takes a comma-separated list of ${SECTIONS.join(', ')}; got "${name}"`);
  selected.add(name.trim() as Section);
}

interface Child {
  proc: ChildProcess;
  ask<T>(cmd: string): Promise<T>;
  next<T>(): Promise<T>;
}

function startChild(args: string[], file = 'events-child.ts'): Child {
  const proc = fork(join(here, file), args, { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
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

// ------------------------------------------------------------ 1. sandbox message to webhook

const SBX_MESSAGES = Number(process.env.BENCH_SANDBOX_MESSAGES ?? 300);
const SBX_RATE = Number(process.env.BENCH_SANDBOX_RATE ?? 50);
const SBX_IN_FLIGHT = Number(process.env.BENCH_SANDBOX_IN_FLIGHT ?? 16);
const SBX_TARGET_P50_MS = 20;
const sleep = (msDelay: number) => new Promise((r) => setTimeout(r, msDelay));

interface SandboxChild {
  ready: { host: string; port: number; dc: string; controlUrl: string; publicKeyPem: string };
  close(): Promise<void>;
}

/** bench/sandbox-child.ts: the sandbox alone in its process, JSON lines on stdin/stdout. */
async function startSandboxChild(): Promise<SandboxChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'sandbox-child.ts')], {
    cwd: join(here, '..'),
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, SANDBOX_LOG_LEVEL: 'error' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) =>
      reject(new Error(`sandbox child exited (code ${code}) before it was ready`)),
    );
  });
  const { ready } = JSON.parse(first) as { ready: SandboxChild['ready'] };
  return {
    ready,
    async close() {
      if (child.exitCode === null) child.stdin.end('close\n');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

async function json(url: string, method: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as any;
}

function percentiles(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN);
  return { p50: at(50), p95: at(95), p99: at(99), max: s.at(-1) ?? NaN };
}

/**
 * Section 1: a sandbox user's message, sent through the control API, until TeleFlow's webhook
 * POST for it reaches a receiver in this process. Send time and arrival time are read from this
 * process's one monotonic clock.
 */
async function measureSandboxToWebhook(): Promise<void> {
  console.log(
    `\n== 1. Incoming sandbox message to webhook received (sandbox and TeleFlow in their own processes) ==`,
  );
  const work = mkdtempSync(join(tmpdir(), 'teleflow-bench-events-sbx-'));
  // First arrival time(s) of each message.received webhook POST, by message text.
  const arrivals = new Map<string, number[]>();
  let otherPosts = 0;
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const envelope = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        type: string;
        data: { message?: { text?: string } };
      };
      const text = envelope.data.message?.text;
      if (envelope.type === 'message.received' && text !== undefined) {
        const list = arrivals.get(text);
        if (list) list.push(at);
        else arrivals.set(text, [at]);
      } else otherPosts++;
      res.writeHead(200).end();
    });
  });
  receiver.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverPort = (receiver.address() as AddressInfo).port;

  const sandbox = await startSandboxChild();
  let teleflow: Child | undefined;
  try {
    const { ready } = sandbox;
    const pemFile = join(work, 'sandbox.pem');
    writeFileSync(pemFile, ready.publicKeyPem);
    const control = (method: string, path: string, body?: unknown) =>
      json(`${ready.controlUrl}${path}`, method, body);
    const account = '15559100001';
    const sender = '15559100002';
    await control('POST', '/users', { phone: account, firstName: 'Account' });
    await control('POST', '/users', { phone: sender, firstName: 'Sender' });

    teleflow = startChild([ready.dc, pemFile], 'events-sandbox-child.ts');
    const { url, apiKey } = await teleflow.next<{ url: string; apiKey: string }>();
    const api = (method: string, path: string, body?: unknown) =>
      json(`${url}/api/v1${path}`, method, body, { 'x-api-key': apiKey });
    const started = (await api('POST', '/sessions', { phone: account })) as { data: { id: string } };
    const { code } = (await control('GET', `/codes?phone=${account}`)) as { code: string };
    const verified = (await api('POST', '/sessions/verify-code', { sessionId: started.data.id, code })) as {
      data: { status: string };
    };
    if (verified.data.status !== 'connected')
      throw new Error(`session not connected after sign-in: ${verified.data.status}`);
    await api('POST', '/webhooks', {
      url: `http://127.0.0.1:${receiverPort}/hook`,
      events: ['message.received'],
    });

    const sentAt = new Map<string, number>();
    const controlMs: number[] = [];
    let controlErrors = 0;
    const sendOne = async (text: string) => {
      const t0 = performance.now();
      sentAt.set(text, t0);
      try {
        await control('POST', '/messages', { from: sender, to: account, text });
        controlMs.push(performance.now() - t0);
      } catch (err) {
        sentAt.delete(text);
        controlErrors++;
        console.error(`control call failed: ${(err as Error).message}`);
      }
    };
    /** Waits until every text sent has arrived (or 15 s passed), then a little for duplicates. */
    const settle = async (texts: string[]) => {
      const deadline = performance.now() + 15_000;
      while (texts.some((t) => sentAt.has(t) && !arrivals.has(t)) && performance.now() < deadline)
        await sleep(10);
      await sleep(500);
    };

    // Warm-up, one at a time: the first message of a chat also creates it, and the lane, the
    // keep-alive connection and the JIT all start cold.
    const warmUp = Array.from({ length: 20 }, (_, i) => `warm-up ${i}`);
    for (const text of warmUp) {
      await sendOne(text);
      const deadline = performance.now() + 10_000;
      while (!arrivals.has(text) && performance.now() < deadline) await sleep(2);
      if (!arrivals.has(text)) throw new Error(`warm-up message "${text}" never reached the webhook`);
    }

    const report = (label: string, texts: string[], wallMs: number) => {
      const sent = texts.filter((t) => sentAt.has(t));
      const got = sent.filter((t) => arrivals.has(t));
      const duplicates = got.reduce((n, t) => n + arrivals.get(t)!.length - 1, 0);
      const latency = percentiles(got.map((t) => arrivals.get(t)![0]! - sentAt.get(t)!));
      const lastArrival = Math.max(...got.map((t) => arrivals.get(t)![0]!));
      const firstSend = Math.min(...sent.map((t) => sentAt.get(t)!));
      console.log(
        `${label}: received ${got.length}/${sent.length} (lost ${sent.length - got.length}, duplicates ${duplicates}` +
          `${controlErrors ? `, control errors ${controlErrors}` : ''}); sent in ${(wallMs / 1000).toFixed(1)} s, ` +
          `all received in ${((lastArrival - firstSend) / 1000).toFixed(1)} s (${(got.length / ((lastArrival - firstSend) / 1000)).toFixed(0)}/s)`,
      );
      console.log(
        `  control call to webhook received: p50 ${ms(latency.p50)}, p95 ${ms(latency.p95)}, p99 ${ms(latency.p99)}, max ${ms(latency.max)}`,
      );
      const call = percentiles(controlMs);
      console.log(`  (of which the control call itself: p50 ${ms(call.p50)}, p99 ${ms(call.p99)})`);
      return { latency, lost: sent.length - got.length, duplicates };
    };

    // Paced: one message every 1000/SBX_RATE ms on a fixed schedule; a slow call does not delay the next.
    const paced = Array.from({ length: SBX_MESSAGES }, (_, i) => `paced ${i}`);
    controlMs.length = 0;
    let t = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < paced.length; i++) {
      const wait = t + (i * 1000) / SBX_RATE - performance.now();
      if (wait > 0) await sleep(wait);
      pending.push(sendOne(paced[i]!));
    }
    await Promise.all(pending);
    let wall = performance.now() - t;
    await settle(paced);
    const pacedResult = report(`paced, ${SBX_MESSAGES} messages at ${SBX_RATE}/s`, paced, wall);

    // Burst: as fast as SBX_IN_FLIGHT concurrent control calls go.
    const burst = Array.from({ length: SBX_MESSAGES }, (_, i) => `burst ${i}`);
    controlMs.length = 0;
    let next = 0;
    t = performance.now();
    await Promise.all(
      Array.from({ length: SBX_IN_FLIGHT }, async () => {
        while (next < burst.length) await sendOne(burst[next++]!);
      }),
    );
    wall = performance.now() - t;
    await settle(burst);
    const burstResult = report(
      `burst, ${SBX_MESSAGES} messages, ${SBX_IN_FLIGHT} control calls in flight`,
      burst,
      wall,
    );

    const clean =
      pacedResult.lost + pacedResult.duplicates + burstResult.lost + burstResult.duplicates === 0 &&
      otherPosts === 0;
    console.log(
      `target p50 < ${SBX_TARGET_P50_MS} ms (paced): ${pacedResult.latency.p50 < SBX_TARGET_P50_MS ? 'met' : 'NOT met'} ` +
        `(p50 ${ms(pacedResult.latency.p50)}); zero loss and no duplicates: ${clean ? 'yes' : 'NO'}` +
        `${otherPosts ? ` (${otherPosts} unexpected webhook POSTs)` : ''}`,
    );
  } finally {
    if (teleflow && teleflow.proc.exitCode === null) {
      const gone = new Promise((r) => teleflow!.proc.once('exit', r));
      teleflow.proc.send('exit');
      const killer = setTimeout(() => teleflow!.proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(killer);
    }
    await sandbox.close();
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
    rmSync(work, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------ 2-3. in-process pipeline

export async function main(): Promise<void> {
  if (selected.has('sandbox')) await measureSandboxToWebhook();
  if (selected.has('webhook') || selected.has('streams')) await inProcessSections();
}

/** Sections 2 and 3: TeleFlow in this process, events published straight into its pipeline. */
async function inProcessSections(): Promise<void> {
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
    // PostgreSQL instead of SQLite, and with CLUSTER=true the shared event log's ordering lock
    // and NOTIFY (src/modules/cluster/event-log.ts), to see what they cost.
    ...(process.env.BENCH_DATABASE_URL ? { DATABASE_URL: process.env.BENCH_DATABASE_URL } : {}),
    ...(process.env.BENCH_CLUSTER === 'true' ? { CLUSTER: 'true' } : {}),
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

    if (selected.has('webhook'))
      console.log(
        `\n== 2. Sustained publishing into one webhook (${config.databaseUrl.startsWith('postgres') ? 'PostgreSQL' : 'SQLite'}${config.cluster ? ', CLUSTER' : ''}, ${SECONDS} s per rate) ==`,
      );
    for (const rate of selected.has('webhook') ? RATES : []) {
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

    if (!selected.has('streams')) return;
    console.log(
      `\n== 3. ${CLIENTS} stream clients (half SSE, half WebSocket), ${STREAM_RATE} events/s for ${SECONDS} s ==`,
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
