/**
 * `npm run bench -- sandbox` (or `npx tsx bench/sandbox.ts`): the sandbox measured with the
 * real teleproto client on loopback.
 *   1. handshake plus sign-in time of fresh clients, by code and with 2FA (SRP);
 *   2. messages per second from one account to another, counted in the receiver's NewMessage
 *      handler, with send-to-receive latency and a loss/duplicate check;
 *   3. the sandbox's RSS with 100 connected, signed-in, idle clients.
 * The sandbox runs in a child process (bench/sandbox-child.ts) so its memory is not mixed with
 * the clients'; both sections 1-2 and section 3 get a fresh one. Sizes can be changed with
 * BENCH_SIGNINS, BENCH_MESSAGES, BENCH_IN_FLIGHT, BENCH_IDLE_CLIENTS and BENCH_IDLE_SECONDS;
 * BENCH_SANDBOX_NODE_ARGS passes node flags to the sandbox's process (for a CPU profile).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import { Api, helpers } from 'teleproto';
import type { TelegramClient } from 'teleproto';
import { computeCheck } from 'teleproto/Password.js';
import { NewMessage } from 'teleproto/events/index.js';
import type { NewMessageEvent } from 'teleproto/events/index.js';
import { createSandboxClient, TEST_API_HASH, TEST_API_ID } from '../test/helpers/sandbox-client.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..');

function sizeFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

// ---------------------------------------------------------------- the sandbox in a child process

interface MemorySample {
  mem: NodeJS.MemoryUsage;
  cpu: NodeJS.CpuUsage;
  gc: boolean;
  connections: number;
  sessions: number | null;
}

interface ChildSandbox {
  host: string;
  port: number;
  controlUrl: string;
  publicKeyPem: string;
  pid: number;
  /** Memory after a full GC in the sandbox's process. */
  memory(): Promise<MemorySample>;
  /** Memory and CPU as they are, no GC. */
  peek(): Promise<MemorySample>;
  /** Rejects as soon as the child dies unexpectedly, so a crash fails the bench loudly. */
  died: Promise<never>;
  close(): Promise<void>;
}

async function startChildSandbox(): Promise<ChildSandbox> {
  // --expose-gc lets the child collect before each memory sample, so samples compare live data.
  // BENCH_SANDBOX_NODE_ARGS adds node flags to the sandbox's process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const extra = (process.env.BENCH_SANDBOX_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child: ChildProcess = spawn(
    process.execPath,
    ['--expose-gc', ...extra, '--import', 'tsx', join(here, 'sandbox-child.ts')],
    {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  const waiting: ((line: unknown) => void)[] = [];
  let closing = false;
  const died = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) => {
      if (!closing)
        reject(new Error(`sandbox child process exited unexpectedly (code ${code}, signal ${signal})`));
    });
  });
  died.catch(() => {});
  lines.on('line', (line) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      process.stderr.write(`[sandbox child] ${line}\n`);
      return;
    }
    waiting.shift()?.(parsed);
  });
  const nextLine = () => Promise.race([new Promise<any>((resolve) => waiting.push(resolve)), died]);
  const ready = (await nextLine()).ready as Omit<ChildSandbox, 'memory' | 'peek' | 'close' | 'died'>;
  return {
    ...ready,
    died,
    async memory() {
      const answer = nextLine();
      child.stdin!.write('mem\n');
      return (await answer) as MemorySample;
    },
    async peek() {
      const answer = nextLine();
      child.stdin!.write('peek\n');
      return (await answer) as MemorySample;
    },
    async close() {
      closing = true;
      const exited = new Promise<void>((resolve) =>
        child.exitCode !== null ? resolve() : child.once('exit', () => resolve()),
      );
      child.stdin!.end('close\n');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

async function control<T = any>(
  sandbox: ChildSandbox,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(sandbox.controlUrl + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const parsed = (await response.json()) as T;
  if (!response.ok)
    throw new Error(`control ${method} ${path}: ${response.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

// ---------------------------------------------------------------- clients and sign-in

/** Phones 99966XYYYY get the code XXXXX from the sandbox (API.md), so no code needs reading. */
function benchPhone(digit: number, index: number): string {
  return `99966${digit}${String(index).padStart(4, '0')}`;
}
const codeFor = (phone: string) => phone[5].repeat(5);

interface ClientError {
  client: string;
  message: string;
  /** Milliseconds after destroy() was called on that client, or undefined while it was in use. */
  afterDestroyMs?: number;
}

/** Errors the clients raise on their own (failed pings above all), kept to tell apart in the report. */
const clientErrors: ClientError[] = [];
const destroyedAt = new WeakMap<TelegramClient, number>();

function newClient(sandbox: ChildSandbox, label: string): TelegramClient {
  const client = createSandboxClient({
    host: sandbox.host,
    port: sandbox.port,
    publicKeyPem: sandbox.publicKeyPem,
    timeout: 20,
    connectionRetries: 1,
    requestRetries: 1,
  });
  // teleproto also prints these on stderr whatever its log level.
  client.onError = async (error: Error) => {
    const now = performance.now();
    const destroyed = destroyedAt.get(client);
    clientErrors.push({
      client: label,
      message: error.message,
      ...(destroyed === undefined ? {} : { afterDestroyMs: now - destroyed }),
    });
  };
  return client;
}

/** No step may hang the benchmark: a missing answer or a dead sandbox fails it with a name. */
const STEP_TIMEOUT_MS = 15_000;

function bounded<T>(
  sandbox: ChildSandbox,
  what: string,
  promise: Promise<T>,
  ms = STEP_TIMEOUT_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout, sandbox.died]).finally(() => clearTimeout(timer));
}

interface SignInTiming {
  connectMs: number;
  signInMs: number;
}

/**
 * connect() (auth key DH handshake + initConnection/help.getConfig), then auth.sendCode and
 * auth.signIn, and with a password account.getPassword and auth.checkPassword (real SRP).
 */
async function connectAndSignIn(
  sandbox: ChildSandbox,
  client: TelegramClient,
  phone: string,
  password?: string,
): Promise<SignInTiming> {
  const step = <T>(what: string, promise: Promise<T>) => bounded(sandbox, `${what} of ${phone}`, promise);
  const started = performance.now();
  await step('connect()', client.connect());
  const connected = performance.now();
  const sent = await step(
    'auth.sendCode',
    client.invoke(
      new Api.auth.SendCode({
        phoneNumber: phone,
        apiId: TEST_API_ID,
        apiHash: TEST_API_HASH,
        settings: new Api.CodeSettings({}),
      }),
    ),
  );
  if (!(sent instanceof Api.auth.SentCode)) throw new Error(`auth.sendCode answered ${sent.className}`);
  let authorization: Api.auth.TypeAuthorization;
  try {
    authorization = await step(
      'auth.signIn',
      client.invoke(
        new Api.auth.SignIn({
          phoneNumber: phone,
          phoneCodeHash: sent.phoneCodeHash,
          phoneCode: codeFor(phone),
        }),
      ),
    );
    if (password !== undefined) throw new Error(`${phone} has a password but signed in without it`);
  } catch (error) {
    if (
      password === undefined ||
      (error as { errorMessage?: string }).errorMessage !== 'SESSION_PASSWORD_NEEDED'
    )
      throw error;
    const srp = await step('account.getPassword', client.invoke(new Api.account.GetPassword()));
    const check = await computeCheck(srp, password);
    authorization = await step(
      'auth.checkPassword',
      client.invoke(new Api.auth.CheckPassword({ password: check })),
    );
  }
  if (!(authorization instanceof Api.auth.Authorization))
    throw new Error(`sign-in of ${phone} answered ${authorization.className}`);
  const done = performance.now();
  return { connectMs: connected - started, signInMs: done - connected };
}

async function destroyAll(clients: TelegramClient[]): Promise<void> {
  const now = performance.now();
  for (const client of clients) destroyedAt.set(client, now);
  await Promise.allSettled(clients.map((client) => client.destroy()));
  clients.length = 0;
}

/** Runs `task(i)` for i in [0, count) with at most `inFlight` running at once. */
async function pool(count: number, inFlight: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

// ---------------------------------------------------------------- figures

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function summary(values: number[]): { p50: number; p95: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
  };
}

interface CpuMark {
  sandbox: NodeJS.CpuUsage;
  clients: NodeJS.CpuUsage;
}

/** CPU used so far by the sandbox's process and by this one (all the clients). */
async function cpuMark(sandbox: ChildSandbox): Promise<CpuMark> {
  return { sandbox: (await sandbox.peek()).cpu, clients: process.cpuUsage() };
}

/** CPU ms (user + system) spent between two marks, divided by `per`. */
function cpuSpent(from: CpuMark, to: CpuMark, per = 1): { sandbox: string; clients: string } {
  const spent = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) =>
    (b.user - a.user + b.system - a.system) / 1000 / per;
  return {
    sandbox: spent(from.sandbox, to.sandbox).toFixed(1),
    clients: spent(from.clients, to.clients).toFixed(1),
  };
}

/** Other work on the machine skews every figure; say how busy it was. */
const loadNote = () =>
  `Load average (1/5/15 min): ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')}`;

const ms = (value: number) => value.toFixed(1).padStart(8);
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

function printTimingRows(rows: [string, number[]][]): void {
  console.log(`  ${''.padEnd(44)}${'p50'.padStart(8)}${'p95'.padStart(8)}${'max'.padStart(8)}  (ms)`);
  for (const [label, values] of rows) {
    const s = summary(values);
    console.log(`  ${label.padEnd(44)}${ms(s.p50)}${ms(s.p95)}${ms(s.max)}`);
  }
}

// ---------------------------------------------------------------- 1. handshake + sign-in

async function benchSignIn(sandbox: ChildSandbox, count: number): Promise<void> {
  console.log(`\n1. Handshake + sign-in: ${count} fresh clients, one after another`);
  const password = 'bench correct horse battery staple';
  for (let i = 0; i < count; i++) {
    await control(sandbox, 'POST', '/users', { phone: benchPhone(1, i), firstName: `Code${i}` });
    await control(sandbox, 'POST', '/users', { phone: benchPhone(2, i), firstName: `Srp${i}`, password });
  }
  const clients: TelegramClient[] = [];
  const byCode: SignInTiming[] = [];
  const bySrp: SignInTiming[] = [];
  const marks: CpuMark[] = [await cpuMark(sandbox)];
  try {
    for (let i = 0; i < count; i++) {
      const client = newClient(sandbox, `code ${i}`);
      clients.push(client);
      byCode.push(await connectAndSignIn(sandbox, client, benchPhone(1, i)));
    }
    marks.push(await cpuMark(sandbox));
    for (let i = 0; i < count; i++) {
      const client = newClient(sandbox, `2FA ${i}`);
      clients.push(client);
      bySrp.push(await connectAndSignIn(sandbox, client, benchPhone(2, i), password));
    }
    marks.push(await cpuMark(sandbox));
  } finally {
    await destroyAll(clients);
  }
  printTimingRows([
    ['connect() (DH handshake + getConfig)', byCode.map((t) => t.connectMs)],
    ['sign-in by code (sendCode + signIn)', byCode.map((t) => t.signInMs)],
    ['total, by code', byCode.map((t) => t.connectMs + t.signInMs)],
    ['2FA: connect()', bySrp.map((t) => t.connectMs)],
    ['2FA: sign-in (code, getPassword, SRP check)', bySrp.map((t) => t.signInMs)],
    ['total, with 2FA', bySrp.map((t) => t.connectMs + t.signInMs)],
  ]);
  const code = cpuSpent(marks[0], marks[1], count);
  const srp = cpuSpent(marks[1], marks[2], count);
  console.log(
    `  CPU per client, connect + sign-in: sandbox ${code.sandbox} ms, client ${code.clients} ms by code; sandbox ${srp.sandbox} ms, client ${srp.clients} ms with 2FA`,
  );
  console.log('  (2FA includes PBKDF2-SHA512 x 100k for the SRP proof on the client, as against Telegram)');
}

// ---------------------------------------------------------------- 2. messages per second

async function benchMessages(sandbox: ChildSandbox, total: number, inFlight: number): Promise<void> {
  console.log(
    `\n2. Messages: account A sends ${total} to account B, ${inFlight} in flight; B counts them in a NewMessage handler`,
  );
  const senderPhone = benchPhone(3, 1);
  const receiverPhone = benchPhone(3, 2);
  await control(sandbox, 'POST', '/users', { phone: senderPhone, firstName: 'Sender' });
  await control(sandbox, 'POST', '/users', {
    phone: receiverPhone,
    firstName: 'Receiver',
    username: 'bench_receiver',
  });
  const sender = newClient(sandbox, 'sender');
  const receiver = newClient(sandbox, 'receiver');
  try {
    await connectAndSignIn(sandbox, sender, senderPhone);
    await connectAndSignIn(sandbox, receiver, receiverPhone);
    // The NewMessage builder needs to know who "me" is.
    await bounded(sandbox, 'getMe', receiver.getMe());
    await bounded(sandbox, 'getMe', sender.getMe());
    const peer = await bounded(
      sandbox,
      'resolving @bench_receiver',
      sender.getInputEntity('@bench_receiver'),
    );

    const prefix = 'bench message ';
    const sentAt = new Float64Array(total);
    const receivedAt = new Float64Array(total);
    let received = 0;
    let duplicates = 0;
    let strangers = 0;
    let warmups = 0;
    let allReceived: () => void = () => {};
    const everything = new Promise<void>((resolve) => (allReceived = resolve));
    receiver.addEventHandler(
      (event: NewMessageEvent) => {
        const now = performance.now();
        const text = event.message.message ?? '';
        if (text === 'warm-up') {
          warmups++;
          return;
        }
        const index = text.startsWith(prefix) ? Number(text.slice(prefix.length)) : NaN;
        if (!Number.isInteger(index) || index < 0 || index >= total) {
          strangers++;
          return;
        }
        if (receivedAt[index] !== 0) {
          duplicates++;
          return;
        }
        receivedAt[index] = now;
        received++;
        if (received === total) allReceived();
      },
      new NewMessage({ incoming: true }),
    );

    const send = (message: string) =>
      bounded(
        sandbox,
        `messages.sendMessage "${message}"`,
        sender.invoke(
          new Api.messages.SendMessage({ peer, message, randomId: helpers.generateRandomLong() }),
        ),
      );
    // Warm-up: JIT and connection paths on both sides, then wait for it to arrive.
    for (let i = 0; i < 20; i++) await send('warm-up');
    const warmDeadline = Date.now() + 5000;
    while (warmups < 20 && Date.now() < warmDeadline) await new Promise((r) => setTimeout(r, 10));

    const cpuBefore = await cpuMark(sandbox);
    const started = performance.now();
    let sendErrors = 0;
    await Promise.race([
      pool(total, inFlight, async (index: number) => {
        sentAt[index] = performance.now();
        try {
          await send(prefix + index);
        } catch (error) {
          sendErrors++;
          if (sendErrors <= 3) console.error(`  send ${index} failed: ${(error as Error).message}`);
        }
      }),
      sandbox.died,
    ]);
    const allSent = performance.now();
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000).unref());
    const outcome = await Promise.race([everything.then(() => 'done' as const), timeout, sandbox.died]);
    const cpuAfter = await cpuMark(sandbox);
    const lastReceived = received ? Math.max(...receivedAt) : allSent;
    const sent = total - sendErrors;
    const latencies: number[] = [];
    for (let i = 0; i < total; i++) if (receivedAt[i] !== 0) latencies.push(receivedAt[i] - sentAt[i]);
    const lat = summary(latencies);
    const sendSeconds = (allSent - started) / 1000;
    const receiveSeconds = (lastReceived - started) / 1000;
    console.log(
      `  sent        ${sent} in ${sendSeconds.toFixed(2)} s = ${(sent / sendSeconds).toFixed(0)} msg/s (RPC answered)`,
    );
    console.log(
      `  received    ${received} in ${receiveSeconds.toFixed(2)} s = ${(received / receiveSeconds).toFixed(0)} msg/s (NewMessage at B)`,
    );
    console.log(
      `  latency     send to receive p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms, max ${lat.max.toFixed(1)} ms`,
    );
    const cpu = cpuSpent(cpuBefore, cpuAfter, total / 1000);
    console.log(
      `  CPU         per 1000 messages: sandbox ${cpu.sandbox} ms, clients (A and B together) ${cpu.clients} ms`,
    );
    const lost = total - received;
    const verdict =
      lost === 0 && duplicates === 0 && sendErrors === 0 && strangers === 0 ? 'OK, zero loss' : 'PROBLEM';
    console.log(
      `  check       received == sent: ${received === sent} (lost ${lost}, duplicates ${duplicates}, send errors ${sendErrors}, unexpected ${strangers}${outcome === 'timeout' ? ', gave up waiting after 15 s' : ''}) -> ${verdict}`,
    );
  } finally {
    await destroyAll([sender, receiver]);
  }
}

// ---------------------------------------------------------------- 3. memory with idle clients

async function benchIdleMemory(sandbox: ChildSandbox, count: number, idleSeconds: number): Promise<void> {
  console.log(
    `\n3. Sandbox memory (its own process, pid ${sandbox.pid}, full GC before each sample) with ${count} connected, signed-in, idle clients`,
  );
  for (let i = 0; i < count; i++)
    await control(sandbox, 'POST', '/users', { phone: benchPhone(4, i), firstName: `Idle${i}` });
  await control(sandbox, 'POST', '/users', { phone: benchPhone(5, 0), firstName: 'Warm' });
  const sleep = (ms: number) => Promise.race([new Promise((r) => setTimeout(r, ms)), sandbox.died]);
  // One client through the whole path first, so the baseline already holds loaded code and JIT output.
  const warm = newClient(sandbox, 'memory warm-up');
  try {
    await connectAndSignIn(sandbox, warm, benchPhone(5, 0));
  } finally {
    await destroyAll([warm]);
  }
  await sleep(1000);

  const rows: [string, MemorySample][] = [];
  const sample = async (label: string) => {
    const memory = await sandbox.memory();
    rows.push([label, memory]);
    return memory;
  };
  const before = await sample('before clients (after one warm-up client)');
  const clients: TelegramClient[] = [];
  const trace: number[] = [];
  let signedIn: number;
  let signInSeconds: number;
  let idleCpuPerSecond: number;
  try {
    const started = performance.now();
    await Promise.race([
      pool(count, 10, async (i) => {
        const client = newClient(sandbox, `idle ${i}`);
        clients.push(client);
        await connectAndSignIn(sandbox, client, benchPhone(4, i));
      }),
      sandbox.died,
    ]);
    signInSeconds = (performance.now() - started) / 1000;
    signedIn = clients.length;
    await sample(`${signedIn} clients signed in`);
    // Pings (ping_delay_disconnect every 9 s) keep flowing while the clients sit idle; RSS is
    // traced every 5 s without GC to show its drift.
    const idleFrom = await sandbox.peek();
    for (let elapsed = 0; elapsed < idleSeconds; elapsed += 5) {
      await sleep(Math.min(5, idleSeconds - elapsed) * 1000);
      trace.push((await sandbox.peek()).mem.rss);
    }
    const idleTo = await sandbox.peek();
    idleCpuPerSecond =
      (idleTo.cpu.user - idleFrom.cpu.user + idleTo.cpu.system - idleFrom.cpu.system) / 1000 / idleSeconds;
    const stillConnected = clients.filter((client) => client.connected).length;
    await sample(`after ${idleSeconds} s idle (${stillConnected} still connected)`);
  } finally {
    await destroyAll(clients);
  }
  await sleep(500);
  await sample('after all clients disconnected');
  console.log(
    `  ${count} clients connected and signed in (10 at a time) in ${signInSeconds.toFixed(2)} s = ${(count / signInSeconds).toFixed(0)} sign-ins/s`,
  );
  console.log(
    `  ${''.padEnd(44)}${'RSS MB'.padStart(8)}${'heap MB'.padStart(9)}${'ext MB'.padStart(8)}${'conns'.padStart(7)}${'sessions'.padStart(10)}`,
  );
  for (const [label, memory] of rows) {
    console.log(
      `  ${label.padEnd(44)}${mb(memory.mem.rss).padStart(8)}${mb(memory.mem.heapUsed).padStart(9)}${mb(memory.mem.external).padStart(8)}` +
        `${String(memory.connections).padStart(7)}${String(memory.sessions ?? '?').padStart(10)}`,
    );
  }
  console.log(`  RSS every 5 s while idle (no GC): ${trace.map(mb).join(', ')} MB`);
  const [, connected] = rows[1];
  const [, idle] = rows[2];
  const perClient = (bytes: number) => (bytes / 1024 / signedIn).toFixed(1);
  const live = (m: MemorySample) => m.mem.heapUsed + m.mem.external;
  console.log(
    `  per client, signed in: RSS ${perClient(connected.mem.rss - before.mem.rss)} kB, heap+external ${perClient(live(connected) - live(before))} kB; ` +
      `after idling: RSS ${perClient(idle.mem.rss - before.mem.rss)} kB, heap+external ${perClient(live(idle) - live(before))} kB`,
  );
  console.log(
    `  sandbox CPU while idle: ${idleCpuPerSecond.toFixed(1)} ms per second (pings, GC and the samples themselves)`,
  );
  const idleErrors = clientErrors.filter(
    (e) => e.client.startsWith('idle ') && e.afterDestroyMs === undefined,
  );
  console.log(
    `  errors of the idle clients while connected: ${idleErrors.length}${
      idleErrors.length
        ? ` (${idleErrors
            .slice(0, 5)
            .map((e) => `${e.client}: ${e.message}`)
            .join('; ')})`
        : ''
    }`,
  );
  if (!before.gc) console.log('  (the sandbox ran without --expose-gc: samples include garbage)');
}

// ---------------------------------------------------------------- main

export async function main(): Promise<void> {
  const signIns = sizeFrom('BENCH_SIGNINS', 20);
  const messages = sizeFrom('BENCH_MESSAGES', 2000);
  const inFlight = sizeFrom('BENCH_IN_FLIGHT', 16);
  const idleClients = sizeFrom('BENCH_IDLE_CLIENTS', 100);
  const idleSeconds = sizeFrom('BENCH_IDLE_SECONDS', 30);
  const started = performance.now();
  console.log(
    `Sandbox benchmark: real teleproto client, TCP full transport on 127.0.0.1; the sandbox in its own process (Node ${process.version}, ${cpus().length} CPUs)`,
  );
  console.log(loadNote());

  let sandbox = await startChildSandbox();
  try {
    await benchSignIn(sandbox, signIns);
    await benchMessages(sandbox, messages, inFlight);
  } finally {
    await sandbox.close();
  }
  // A fresh sandbox, so the memory baseline holds no accounts or messages from above.
  sandbox = await startChildSandbox();
  try {
    await benchIdleMemory(sandbox, idleClients, idleSeconds);
  } finally {
    await sandbox.close();
  }
  const inUse = clientErrors.filter((e) => e.afterDestroyMs === undefined);
  const afterDestroy = clientErrors.filter((e) => e.afterDestroyMs !== undefined);
  console.log(
    `\nClient-side errors (the "Error: TIMEOUT" lines teleproto prints for failed pings): ${inUse.length} while a client was in use, ${afterDestroy.length} after destroy()` +
      (afterDestroy.length
        ? ` (${afterDestroy
            .slice(0, 5)
            .map((e) => `${e.client} ${(e.afterDestroyMs! / 1000).toFixed(1)} s after`)
            .join(', ')})`
        : ''),
  );
  for (const error of inUse.slice(0, 10)) console.log(`  ${error.client}: ${error.message}`);
  console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(1)} s. ${loadNote()}`);
}

// Run when started directly (`npx tsx bench/sandbox.ts`) or by bench/run.ts, which imports it.
const entry = process.argv[1] ? pathToFileURL(resolve(process.argv[1])).href : '';
if (entry === import.meta.url || entry === pathToFileURL(join(here, 'run.ts')).href) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
