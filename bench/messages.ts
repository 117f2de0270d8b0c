/**
 * `npm run bench -- messages` (or `npx tsx bench/messages.ts`): TeleFlow against the client
 * library alone, with the sandbox in its own process.
 *   1. POST /api/v1/messages/send over real HTTP beside the same number of direct teleproto
 *      messages.sendMessage calls from the same account, interleaved: p50, p99, messages per
 *      second (one at a time, then BENCH_IN_FLIGHT at once), and the latency ratio (target:
 *      TeleFlow at most 1.3x direct). Send pacing is off here: it is a deliberate throttle, not
 *      overhead, and would measure SEND_RATE_* instead of TeleFlow.
 *   2. RSS per connected idle session with BENCH_SESSIONS sessions (default 300) in TeleFlow
 *      beside the same sessions as bare teleproto clients, each side in its own process, sampled
 *      every BENCH_SAMPLE_SECONDS over BENCH_IDLE_SECONDS (default 60; 600 for the 10-minute run).
 * BENCH_MESSAGES (default 300) sets the size of section 1; BENCH_SKIP_MEMORY=1 skips section 2.
 * Section 1 also prints, as a diagnostic, TeleFlow's latency with the event log's write skipped.
 *
 * Processes in section 1: the sandbox (bench/sandbox-child.ts) and TeleFlow
 * (bench/messages-send-child.ts) each run in their own process; this process holds only the HTTP
 * client and the direct teleproto client. TeleFlow does work after it has answered (it records
 * message.sent once the reply is on its way); on an event loop shared with the measuring client
 * that work would run before the client reads the answer and be counted in a latency that a real
 * client, always another process, never sees. Both sides use the same account: the direct client
 * runs on the session TeleFlow exports.
 */
import { fork, spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { Api, helpers } from 'teleproto';
import { createSandboxClient } from '../test/helpers/sandbox-client.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 300);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 16);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 300);

interface JsonChild {
  next(): Promise<any>;
  send(line: string): void;
  done: Promise<void>;
}

function spawnJsonChild(args: string[], env: Record<string, string> = {}): JsonChild {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', ...args], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const queue: any[] = [];
  const waiting: ((v: any) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      process.stderr.write(`[child] ${line}\n`);
      return;
    }
    const w = waiting.shift();
    if (w) w(parsed);
    else queue.push(parsed);
  });
  const done = new Promise<void>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 || code === null ? resolve() : reject(new Error(`child exited ${code}`)),
    ),
  );
  return {
    next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r))),
    send: (line) => child.stdin!.write(`${line}\n`),
    done,
  };
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const ms = (v: number) => `${v.toFixed(2)} ms`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} kB`;

async function control(url: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`control ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

const sandbox = spawnJsonChild([join(here, 'sandbox-child.ts')], { SANDBOX_LOG_LEVEL: 'error' });
const { ready } = (await sandbox.next()) as {
  ready: { host: string; port: number; controlUrl: string; publicKeyPem: string };
};
const work = mkdtempSync(join(tmpdir(), 'teleflow-bench-msg-'));
const pemFile = join(work, 'server.pem');
writeFileSync(pemFile, ready.publicKeyPem);
const ctl = (method: string, path: string, body?: unknown) => control(ready.controlUrl, method, path, body);

/** Signs an account in with a bare client and returns its StringSession. */
async function newAccountSession(phone: string): Promise<string> {
  const client = createSandboxClient({
    host: ready.host,
    port: ready.port,
    publicKeyPem: ready.publicKeyPem,
  });
  try {
    await client.connect();
    const sent = await client.invoke(
      new Api.auth.SendCode({
        phoneNumber: phone,
        apiId: 12345,
        apiHash: '0123456789abcdef0123456789abcdef',
        settings: new Api.CodeSettings({}),
      }),
    );
    const { code } = await ctl('GET', `/codes?phone=${phone}`);
    await client.invoke(
      new Api.auth.SignIn({
        phoneNumber: phone,
        phoneCodeHash: (sent as Api.auth.SentCode).phoneCodeHash,
        phoneCode: code,
      }),
    );
    return String(client.session.save());
  } finally {
    await client.destroy();
  }
}

try {
  // ------------------------------------------------------------ 1. send latency and throughput
  const sender = '15557000001';
  const receiver = '15557000002';
  await ctl('POST', '/users', { phone: sender, firstName: 'Sender' });
  const receiverUser = await ctl('POST', '/users', {
    phone: receiver,
    firstName: 'Receiver',
    username: 'bench_receiver',
  });
  const teleflow = fork(join(here, 'messages-send-child.ts'), [ready.host, String(ready.port), pemFile], {
    cwd: repoRoot,
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  const teleflowExited = new Promise<void>((resolve) => teleflow.once('exit', () => resolve()));
  const replies: unknown[] = [];
  const waiting: { resolve: (m: unknown) => void; reject: (e: Error) => void }[] = [];
  teleflow.on('message', (m) => {
    const w = waiting.shift();
    if (w) w.resolve(m);
    else replies.push(m);
  });
  teleflow.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`TeleFlow child exited (code ${code})`));
  });
  const nextReply = <T>() =>
    new Promise<T>((resolve, reject) => {
      if (replies.length) resolve(replies.shift() as T);
      else if (teleflow.exitCode !== null) reject(new Error('TeleFlow child has exited'));
      else waiting.push({ resolve: resolve as (m: unknown) => void, reject });
    });
  const askTeleflow = (cmd: string) => {
    teleflow.send(cmd);
    return nextReply<unknown>();
  };
  const { url: base, apiKey } = await nextReply<{ url: string; apiKey: string }>();
  const headers = { 'x-api-key': apiKey, 'content-type': 'application/json' };
  // node:http with keep-alive: the HTTP client's own cost stays small next to what is measured.
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const api = (path: string, body: unknown) =>
    new Promise<any>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = http.request(
        `${base}/api/v1${path}`,
        { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(payload) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: any };
            if ((res.statusCode ?? 500) >= 400)
              reject(new Error(`${path}: ${res.statusCode} ${JSON.stringify(json)}`));
            else resolve(json.data);
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const created = await api('/sessions', { phone: sender });
  const { code } = await ctl('GET', `/codes?phone=${sender}`);
  await api('/sessions/verify-code', { sessionId: created.id, code });
  const sessionId = created.id as string;
  await api('/messages/send', { sessionId, chatId: '@bench_receiver', text: 'warm-up' });
  const { sessionString } = await api(`/sessions/${sessionId}/export`, {});

  const direct = createSandboxClient({
    host: ready.host,
    port: ready.port,
    publicKeyPem: ready.publicKeyPem,
    session: sessionString,
  });
  await direct.connect();
  const resolved = await direct.invoke(new Api.contacts.ResolveUsername({ username: 'bench_receiver' }));
  const peerUser = resolved.users[0] as Api.User;
  const peer = new Api.InputPeerUser({ userId: peerUser.id, accessHash: peerUser.accessHash! });

  const viaTeleflow = () => api('/messages/send', { sessionId, chatId: receiverUser.id, text: 'bench' });
  const viaDirect = () =>
    direct.invoke(
      new Api.messages.SendMessage({
        peer,
        message: 'bench',
        randomId: helpers.returnBigInt(randomBytes(8).readBigInt64LE()),
      }),
    );

  for (let i = 0; i < 30; i++) {
    await viaTeleflow();
    await viaDirect();
  }
  const lat = { teleflow: [] as number[], direct: [] as number[] };
  const wall = { teleflow: 0, direct: 0 };
  for (let i = 0; i < MESSAGES; i++) {
    // Alternate which goes first, so neither side always pays for the other's leftovers.
    const order = i % 2 ? (['teleflow', 'direct'] as const) : (['direct', 'teleflow'] as const);
    for (const side of order) {
      const t0 = performance.now();
      await (side === 'teleflow' ? viaTeleflow() : viaDirect());
      const d = performance.now() - t0;
      lat[side].push(d);
      wall[side] += d;
    }
  }
  async function burst(fn: () => Promise<unknown>): Promise<number> {
    let left = MESSAGES;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (left-- > 0) await fn();
      }),
    );
    return MESSAGES / ((performance.now() - t0) / 1000);
  }
  // Diagnostic: the same sends with the event log's write skipped, to show what it costs.
  await askTeleflow('skip-events');
  const noEvents: number[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const t0 = performance.now();
    await viaTeleflow();
    noEvents.push(performance.now() - t0);
  }
  await askTeleflow('restore-events');
  const burstTeleflow = await burst(viaTeleflow);
  const burstDirect = await burst(viaDirect);
  await direct.destroy();
  agent.destroy();
  teleflow.send('exit');
  const killer = setTimeout(() => teleflow.kill('SIGKILL'), 5000);
  await teleflowExited;
  clearTimeout(killer);

  const rows = (['teleflow', 'direct'] as const).map((side) => {
    const sorted = [...lat[side]].sort((a, b) => a - b);
    return { side, p50: pct(sorted, 50), p99: pct(sorted, 99), seq: (MESSAGES / wall[side]) * 1000 };
  });
  const [tf, dr] = rows as [(typeof rows)[0], (typeof rows)[0]];
  console.log(`\n1. messages.sendMessage, ${MESSAGES} each, sandbox and TeleFlow each in its own process`);
  console.log(
    '   side               p50        p99        msg/s (1 at a time)   msg/s (' + IN_FLIGHT + ' in flight)',
  );
  console.log(
    `   TeleFlow HTTP   ${ms(tf.p50).padStart(10)} ${ms(tf.p99).padStart(10)}   ${tf.seq.toFixed(0).padStart(10)}             ${burstTeleflow.toFixed(0).padStart(8)}`,
  );
  console.log(
    `   teleproto       ${ms(dr.p50).padStart(10)} ${ms(dr.p99).padStart(10)}   ${dr.seq.toFixed(0).padStart(10)}             ${burstDirect.toFixed(0).padStart(8)}`,
  );
  console.log(
    `   latency ratio (TeleFlow / direct): p50 ${(tf.p50 / dr.p50).toFixed(2)}x, p99 ${(tf.p99 / dr.p99).toFixed(2)}x (target <= 1.3x)`,
  );
  const quiet = [...noEvents].sort((a, b) => a - b);
  console.log(
    `   diagnostic, TeleFlow with the event log's write skipped: p50 ${ms(pct(quiet, 50))}, ` +
      `p99 ${ms(pct(quiet, 99))}, ratio p50 ${(pct(quiet, 50) / dr.p50).toFixed(2)}x`,
  );

  // ------------------------------------------------------------ 2. idle memory per session
  if (!process.env.BENCH_SKIP_MEMORY) {
    console.log(`\n2. idle memory with ${SESSIONS} connected sessions (creating ${SESSIONS} accounts...)`);
    const phones = Array.from({ length: SESSIONS }, (_, i) => `1555800${String(i).padStart(4, '0')}`);
    for (const phone of phones) await ctl('POST', '/users', { phone, firstName: 'Idle' });
    const strings: string[] = [];
    const queue = [...phones];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let p = queue.shift(); p; p = queue.shift()) {
          strings.push(await newAccountSession(p));
          if (strings.length % 50 === 0)
            process.stderr.write(`   ... ${strings.length}/${SESSIONS} accounts\n`);
        }
      }),
    );
    const file = join(work, 'sessions.json');
    writeFileSync(file, JSON.stringify(strings));
    for (const mode of ['teleflow', 'bare'] as const) {
      const child = spawnJsonChild([
        join(here, 'messages-child.ts'),
        mode,
        file,
        ready.host,
        String(ready.port),
        pemFile,
      ]);
      const lines: any[] = [];
      for (let line = await child.next(); !line.done; line = await child.next()) lines.push(line);
      await child.done;
      const baseline = lines.find((l) => l.baseline).baseline.rss as number;
      const connected = lines.find((l) => l.connected);
      const idle = lines.filter((l) => l.idle);
      const per = (rss: number) => (rss - baseline) / SESSIONS;
      const label = mode === 'teleflow' ? 'TeleFlow' : 'bare teleproto';
      console.log(
        `   ${label.padEnd(15)} baseline ${mb(baseline)}, connected in ${connected.seconds.toFixed(1)} s: ` +
          `${mb(connected.connected.rss)} = ${kb(per(connected.connected.rss))}/session; ` +
          `statuses ${JSON.stringify(lines.find((l) => l.statuses)?.statuses)}`,
      );
      console.log(
        `   ${''.padEnd(15)} idle per session: ${idle.map((l) => `${l.t}s ${kb(per(l.idle.rss))}`).join(', ') || '(no samples)'}`,
      );
    }
  }
} finally {
  sandbox.send('close');
  await sandbox.done.catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}
