/**
 * `npm run bench -- fleet`: many signed-in sessions in one TeleFlow process. The sandbox
 * (`src/sandbox/cli.ts`) and TeleFlow (`src/server.ts`, SQLite in a temp dir) each run in a
 * process of their own; this process plays the users (the sandbox's control API) and reads
 * TeleFlow through its HTTP API and one SSE stream.
 *   1. sign-in: BENCH_SESSIONS accounts (default 1000, on DC 1 so no sign-in migrates) are created
 *      through the control API and signed in through TeleFlow's API (POST /sessions, the code,
 *      POST /sessions/verify-code), BENCH_SIGNIN_CONCURRENCY at once (default 16): a new auth key
 *      per account, as for a real fleet. Bounded by BENCH_SIGNIN_TIMEOUT seconds (default 600).
 *   2. memory: TeleFlow's RSS (from /proc) before the first session and with every session
 *      connected and idle (after BENCH_SETTLE_SECONDS, default 5): RSS per idle session.
 *   3. receiving: BENCH_RECEIVERS sessions (default 200) each receive BENCH_MESSAGES_EACH messages
 *      (default 10) at once, sent by 20 other sandbox users through the control API with
 *      BENCH_SEND_IN_FLIGHT calls in flight (default 64); message.received events per second on
 *      one SSE client, from the first send to the last event, beside the rate the sends went
 *      out at (TeleFlow cannot record faster than the sandbox delivers), and how many were lost
 *      or doubled (both must be 0).
 *   4. restart: TeleFlow stops (SIGTERM); while it is down every session gets one message; then
 *      it starts again. Time from the start of the process to every session connected (GET
 *      /sessions), and to every missed message recorded (message.received on SSE resumed with
 *      Last-Event-ID): target under 60 s.
 * BENCH_TELEFLOW_NODE_OPTIONS is NODE_OPTIONS for the TeleFlow process only (--cpu-prof...).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import { TEST_SECRETS } from '../test/helpers/app.js';
import { callApi, cpuTimeMs, startSandboxProcess, type SandboxProcess } from '../test/helpers/cluster.js';
import { freePort, startServer, stopServer, type ServerProcess } from '../test/helpers/server-process.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1000);
const SIGNIN_CONCURRENCY = Number(process.env.BENCH_SIGNIN_CONCURRENCY ?? 16);
const SIGNIN_TIMEOUT_S = Number(process.env.BENCH_SIGNIN_TIMEOUT ?? 600);
const SETTLE_S = Number(process.env.BENCH_SETTLE_SECONDS ?? 5);
const RECEIVERS = Math.min(SESSIONS, Number(process.env.BENCH_RECEIVERS ?? 200));
const MESSAGES_EACH = Number(process.env.BENCH_MESSAGES_EACH ?? 10);
const SEND_IN_FLIGHT = Number(process.env.BENCH_SEND_IN_FLIGHT ?? 64);
const SENDERS = 20;
const RESTART_TARGET_S = 60;
const WAIT_LIMIT_MS = 180_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.match(/(\d+)/)?.[1] ?? 0) * 1024;
}

/** Runs `work(n)` for n in 0..count-1 with `concurrency` at once; stops starting new ones after `deadline`. */
async function pool(
  count: number,
  concurrency: number,
  work: (n: number) => Promise<void>,
  deadline = Infinity,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let n = next++; n < count; n = next++) {
        if (Date.now() > deadline) throw new Error(`out of time after ${n} of ${count}`);
        await work(n);
      }
    }),
  );
}

async function until(probe: () => Promise<boolean> | boolean, what: string, limitMs = WAIT_LIMIT_MS) {
  const deadline = Date.now() + limitMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** One SSE client on message.received, collecting message texts (resumable with Last-Event-ID). */
function receivedStream(base: string, lastEventId?: string) {
  const texts = new Map<string, number>();
  let lastId = lastEventId;
  let lastAt = 0;
  let opened = false;
  const es = new EventSource(`${base}/api/v1/events?types=message.received`, {
    fetch: (input, init) =>
      fetch(input, {
        ...init,
        headers: {
          ...init?.headers,
          'x-api-key': TEST_SECRETS.API_KEY,
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
      }),
  });
  es.addEventListener('open', () => (opened = true));
  es.addEventListener('message.received', (e) => {
    const text = (JSON.parse(e.data) as { data: { message?: { text?: string } } }).data.message?.text ?? '';
    texts.set(text, (texts.get(text) ?? 0) + 1);
    lastId = e.lastEventId;
    lastAt = performance.now();
  });
  return {
    texts,
    opened: () => opened,
    lastId: () => lastId,
    lastAt: () => lastAt,
    close: () => es.close(),
  };
}

const work = mkdtempSync(join(tmpdir(), 'teleflow-bench-fleet-'));
let sandbox: SandboxProcess | undefined;
let teleflow: ServerProcess | undefined;

try {
  sandbox = await startSandboxProcess();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...TEST_SECRETS,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: join(work, 'data'),
    DATABASE_URL: `file:${join(work, 'teleflow.db')}`,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '1000000',
    TELEGRAM_DC: sandbox.dc,
    TELEGRAM_DC_PUBLIC_KEY_FILE: sandbox.pemFile,
    TELEGRAM_API_ID: '12345',
    TELEGRAM_API_HASH: '0123456789abcdef0123456789abcdef',
    SEND_RATE_PER_CHAT: '0',
    // For a profile of TeleFlow alone, e.g. BENCH_TELEFLOW_NODE_OPTIONS=--cpu-prof.
    ...(process.env.BENCH_TELEFLOW_NODE_OPTIONS
      ? { NODE_OPTIONS: process.env.BENCH_TELEFLOW_NODE_OPTIONS }
      : {}),
  };
  const api = async (method: string, path: string, body?: unknown) => {
    const answer = await callApi(base, method, path, body);
    if (answer.status >= 300)
      throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.data;
  };
  const connectedCount = async () =>
    ((await api('GET', '/api/v1/sessions')) as { status: string }[]).filter((s) => s.status === 'connected')
      .length;

  console.log(`== Fleet: ${SESSIONS} sessions in one TeleFlow process, the sandbox in another ==`);
  teleflow = await startServer(env);
  await sleep(2000);
  const rssEmpty = rssOf(teleflow.child.pid!);

  // ------------------------------------------------------------------ 1. accounts and sign-ins
  const phones = Array.from({ length: SESSIONS }, (_, n) => `999661${String(n).padStart(4, '0')}`);
  const senders = Array.from({ length: SENDERS }, (_, n) => `999662${String(n).padStart(4, '0')}`);
  let started = performance.now();
  await pool(phones.length + senders.length, 32, (n) => {
    const phone = n < phones.length ? phones[n]! : senders[n - phones.length]!;
    return sandbox!.control('POST', '/users', { phone, firstName: `Fleet${n}`, dc: 1 });
  });
  console.log(
    `accounts created in the sandbox: ${phones.length + senders.length} in ${seconds(performance.now() - started)}`,
  );

  started = performance.now();
  const cpuBefore = [cpuTimeMs(teleflow.child.pid!), cpuTimeMs(sandbox.child.pid!)];
  const deadline = Date.now() + SIGNIN_TIMEOUT_S * 1000;
  let lastReport = performance.now();
  let signedIn = 0;
  await pool(
    SESSIONS,
    SIGNIN_CONCURRENCY,
    async (n) => {
      const phone = phones[n]!;
      const created = (await api('POST', '/api/v1/sessions', { phone, name: `fleet ${n}` })) as {
        id: string;
      };
      const verified = (await api('POST', '/api/v1/sessions/verify-code', {
        sessionId: created.id,
        code: phone[5]!.repeat(5),
      })) as { status: string };
      if (verified.status !== 'connected') throw new Error(`session ${n}: ${verified.status}`);
      signedIn++;
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        console.log(`  ... ${signedIn} signed in (${seconds(lastReport - started)})`);
      }
    },
    deadline,
  );
  const signInMs = performance.now() - started;
  const [teleflowCpu, sandboxCpu] = [
    cpuTimeMs(teleflow.child.pid!) - cpuBefore[0]!,
    cpuTimeMs(sandbox.child.pid!) - cpuBefore[1]!,
  ];
  console.log(
    `sign-ins through TeleFlow: ${SESSIONS} in ${seconds(signInMs)} (${((SESSIONS / signInMs) * 1000).toFixed(1)}/s, ${SIGNIN_CONCURRENCY} at once); ` +
      `CPU per sign-in: TeleFlow ${(teleflowCpu / SESSIONS).toFixed(0)} ms, sandbox ${(sandboxCpu / SESSIONS).toFixed(0)} ms`,
  );
  await until(async () => (await connectedCount()) === SESSIONS, 'every session connected');

  // ------------------------------------------------------------------ 2. memory
  await sleep(SETTLE_S * 1000);
  const rssFleet = rssOf(teleflow.child.pid!);
  console.log(
    `RSS: ${mib(rssEmpty)} with no session, ${mib(rssFleet)} with ${SESSIONS} idle: ${(
      (rssFleet - rssEmpty) /
      SESSIONS /
      1024
    ).toFixed(0)} KiB per idle session`,
  );

  // ------------------------------------------------------------------ 3. receiving at once
  const stream = receivedStream(base);
  await until(() => stream.opened(), 'the SSE stream to open', 10_000);
  const total = RECEIVERS * MESSAGES_EACH;
  const texts = Array.from({ length: total }, (_, n) => `fleet burst ${n}`);
  started = performance.now();
  await pool(total, SEND_IN_FLIGHT, (n) =>
    sandbox!.control('POST', '/messages', {
      from: senders[n % SENDERS],
      to: phones[n % RECEIVERS],
      text: texts[n],
    }),
  );
  const sentMs = performance.now() - started;
  const seen = () => texts.filter((t) => stream.texts.has(t)).length;
  await until(() => seen() === total, `${total} message.received events`, 60_000).catch((error: Error) =>
    console.log(`  ${error.message}`),
  );
  await sleep(1000);
  const receivedMs = stream.lastAt() - started;
  const lost = total - seen();
  const doubled = texts.reduce((sum, t) => sum + Math.max(0, (stream.texts.get(t) ?? 0) - 1), 0);
  console.log(
    `receiving: ${RECEIVERS} sessions x ${MESSAGES_EACH} messages = ${total} sent in ${seconds(sentMs)} ` +
      `(${((total / sentMs) * 1000).toFixed(0)}/s); message.received on SSE: ${((seen() / receivedMs) * 1000).toFixed(0)} events/s, ` +
      `the last ${(receivedMs - sentMs).toFixed(0)} ms after the last send; lost ${lost}, doubled ${doubled}`,
  );
  const resumeFrom = stream.lastId();
  stream.close();

  // ------------------------------------------------------------------ 4. restart
  await stopServer(teleflow, 'SIGTERM');
  teleflow = undefined;
  const missed = phones.map((_, n) => `fleet missed ${n}`);
  await pool(SESSIONS, 32, (n) =>
    sandbox!.control('POST', '/messages', { from: senders[n % SENDERS], to: phones[n], text: missed[n] }),
  );
  started = performance.now();
  teleflow = await startServer(env);
  const listeningMs = performance.now() - started;
  const resumed = receivedStream(base, resumeFrom);
  let connectedMs = NaN;
  let caughtUpMs = NaN;
  try {
    await until(async () => {
      if (Number.isNaN(connectedMs) && (await connectedCount()) === SESSIONS)
        connectedMs = performance.now() - started;
      if (Number.isNaN(caughtUpMs) && missed.every((t) => resumed.texts.has(t)))
        caughtUpMs = performance.now() - started;
      return !Number.isNaN(connectedMs) && !Number.isNaN(caughtUpMs);
    }, 'every session connected and caught up');
  } catch (error) {
    console.log(
      `  ${(error as Error).message}: ${missed.filter((t) => resumed.texts.has(t)).length} of ${SESSIONS} missed messages recorded`,
    );
  }
  const slowest = Math.max(connectedMs, caughtUpMs);
  // Busy for all of it, or waiting on the network (the reconnects run a few at a time)?
  const restartCpu = cpuTimeMs(teleflow.child.pid!);
  console.log(
    `restart: listening after ${seconds(listeningMs)}, all ${SESSIONS} connected after ${seconds(connectedMs)}, ` +
      `every missed message recorded after ${seconds(caughtUpMs)} (target < ${RESTART_TARGET_S} s: ${
        slowest < RESTART_TARGET_S * 1000 ? 'met' : 'NOT met'
      })`,
  );
  const doubledAfter = missed.reduce((sum, t) => sum + Math.max(0, (resumed.texts.get(t) ?? 0) - 1), 0);
  console.log(
    `  missed messages recorded twice: ${doubledAfter}; TeleFlow's CPU from its start until then: ` +
      `${seconds(restartCpu)} (${((restartCpu / slowest) * 100).toFixed(0)}% of one core); RSS after the restart: ${mib(
        rssOf(teleflow.child.pid!),
      )}`,
  );
  resumed.close();
} finally {
  await stopServer(teleflow, 'SIGTERM').catch(() => {});
  await sandbox?.close();
  rmSync(work, { recursive: true, force: true });
}
