/**
 * `npm run bench -- messages` (or `npx tsx bench/messages.ts`): TeleFlow against the client
 * library alone, with the sandbox in its own process.
 *   1. POST /api/v1/messages/send over real HTTP beside the same number of direct teleproto
 *      messages.sendMessage calls from a second account, in alternating blocks: p50, p99,
 *      messages per second (one at a time, then BENCH_IN_FLIGHT at once), and the latency ratio
 *      (target: TeleFlow at most 1.3x direct). A third side, the floor, is a bare Fastify route in
 *      TeleFlow's process handing the call straight to the same Telegram adapter: what any HTTP
 *      hop in front of the library costs here, so TeleFlow's own share can be read apart from it.
 *      Send pacing is off here: it is a deliberate throttle, not overhead, and would measure
 *      SEND_RATE_* instead of TeleFlow.
 *   2. RSS per connected idle session with BENCH_SESSIONS sessions (default 300) in TeleFlow
 *      beside the same sessions as bare teleproto clients, each side in its own process, sampled
 *      every BENCH_SAMPLE_SECONDS over BENCH_IDLE_SECONDS (default 60; 600 for the 10-minute run).
 * BENCH_MESSAGES (default 600) sets the size of section 1's one-at-a-time part, in blocks of 25;
 * BENCH_SKIP_MEMORY=1 skips section 2. The sends in flight run in BENCH_BURST_ROUNDS rounds
 * (default 8) of BENCH_BURST_SIZE sends per side (default 150), the sides taking turns; besides
 * the rates over all rounds, the ratio of TeleFlow to the floor is given per round (their median
 * and range): the machine's speed moves between rounds, a round's two sides share its spell.
 * Section 1 also prints, as a diagnostic, TeleFlow's latency with the event log's write skipped.
 *
 * Processes in section 1: the sandbox (bench/sandbox-child.ts) and TeleFlow
 * (bench/messages-send-child.ts) each run in their own process; this one holds the HTTP client
 * and the direct teleproto client, which signs in as an account of its own (same sandbox, same
 * receiver). TeleFlow does work after it has answered (saving the update state, its timers);
 * on an event loop shared with the measuring client that work would run before the client
 * reads the answer. Were both sides one account, each side's sends would be pushed
 * to the other as updates, and this process would decode TeleFlow's pushes while TeleFlow's
 * answer waits to be read.
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
import { parseDcAddresses } from '../src/config.js';
import { createSandboxClient } from '../test/helpers/sandbox-client.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 600);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 16);
const BURST_ROUNDS = Math.max(1, Number(process.env.BENCH_BURST_ROUNDS ?? 8));
const BURST_SIZE = Math.max(IN_FLIGHT, Number(process.env.BENCH_BURST_SIZE ?? 150));
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
/** The middle of sorted values (the mean of the two middle ones for an even count). */
const median = (sorted: number[]) =>
  sorted.length % 2
    ? sorted[sorted.length >> 1]!
    : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
const ms = (v: number) => `${v.toFixed(2)} ms`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} kB`;

interface IpcChild {
  next<T = unknown>(): Promise<T>;
  ask<T = unknown>(message: { cmd: string }): Promise<T>;
  /** Asks it to exit and waits (killed after 5 s). */
  close(): Promise<void>;
}

/** A helper process of this benchmark that talks over IPC, one answer per command. */
function forkIpcChild(file: string, args: string[]): IpcChild {
  const child = fork(join(here, file), args, {
    cwd: repoRoot,
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const replies: unknown[] = [];
  const waiting: { resolve: (m: unknown) => void; reject: (e: Error) => void }[] = [];
  child.on('message', (m) => {
    const w = waiting.shift();
    if (w) w.resolve(m);
    else replies.push(m);
  });
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`${file} exited (code ${code})`));
  });
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      if (replies.length) resolve(replies.shift() as T);
      else if (child.exitCode !== null) reject(new Error(`${file} has exited`));
      else waiting.push({ resolve: resolve as (m: unknown) => void, reject });
    });
  return {
    next,
    ask: <T>(message: { cmd: string }) => {
      child.send(message);
      return next<T>();
    },
    close: async () => {
      if (child.exitCode === null) child.send({ cmd: 'exit' });
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

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
  ready: { host: string; port: number; dc: string; controlUrl: string; publicKeyPem: string };
};
const dcs = parseDcAddresses(ready.dc)!;
const work = mkdtempSync(join(tmpdir(), 'teleflow-bench-msg-'));
const pemFile = join(work, 'server.pem');
writeFileSync(pemFile, ready.publicKeyPem);
const ctl = (method: string, path: string, body?: unknown) => control(ready.controlUrl, method, path, body);

/** Signs an account in with a bare client and returns its StringSession. */
async function newAccountSession(phone: string): Promise<string> {
  const client = createSandboxClient({
    host: ready.host,
    port: ready.port,
    dcs,
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
  const directSender = '15557000003';
  await ctl('POST', '/users', { phone: sender, firstName: 'Sender' });
  await ctl('POST', '/users', { phone: directSender, firstName: 'Direct' });
  const receiverUser = await ctl('POST', '/users', {
    phone: receiver,
    firstName: 'Receiver',
    username: 'bench_receiver',
  });
  const teleflow = forkIpcChild('messages-send-child.ts', [ready.dc, pemFile]);
  const {
    url: base,
    apiKey,
    floorUrl,
  } = await teleflow.next<{
    url: string;
    apiKey: string;
    floorUrl: string;
  }>();
  // node:http with keep-alive: the HTTP client's own cost stays small next to what is measured.
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    new Promise<any>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = http.request(
        url,
        {
          method: 'POST',
          agent,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: any };
            if ((res.statusCode ?? 500) >= 400)
              reject(new Error(`${url}: ${res.statusCode} ${JSON.stringify(json)}`));
            else resolve(json.data);
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const api = (path: string, body: unknown) => post(`${base}/api/v1${path}`, body, { 'x-api-key': apiKey });
  const created = await api('/sessions', { phone: sender });
  const { code } = await ctl('GET', `/codes?phone=${sender}`);
  await api('/sessions/verify-code', { sessionId: created.id, code });
  const sessionId = created.id as string;
  await api('/messages/send', { sessionId, chatId: '@bench_receiver', text: 'warm-up' });
  // The direct client signs in as an account of its own: were it TeleFlow's account, each
  // side's sends would be pushed to the other as updates, and the pushes TeleFlow's sends cause
  // would be decoded here, on the event loop that times TeleFlow.
  const direct = createSandboxClient({
    host: ready.host,
    port: ready.port,
    dcs,
    publicKeyPem: ready.publicKeyPem,
    session: await newAccountSession(directSender),
  });
  await direct.connect();
  const resolved = await direct.invoke(new Api.contacts.ResolveUsername({ username: 'bench_receiver' }));
  const peerUser = resolved.users[0] as Api.User;
  const peer = new Api.InputPeerUser({ userId: peerUser.id, accessHash: peerUser.accessHash! });

  const sides = {
    teleflow: () => api('/messages/send', { sessionId, chatId: receiverUser.id, text: 'bench' }),
    direct: () =>
      direct.invoke(
        new Api.messages.SendMessage({
          peer,
          message: 'bench',
          randomId: helpers.returnBigInt(randomBytes(8).readBigInt64LE()),
        }),
      ),
    floor: () => post(`${floorUrl}/send`, { sessionId, chatId: receiverUser.id }),
    // Diagnostic: TeleFlow with the event log's write skipped.
    quiet: () => api('/messages/send', { sessionId, chatId: receiverUser.id, text: 'bench' }),
  };
  type Side = keyof typeof sides;
  const order = Object.keys(sides) as Side[];
  const lat = Object.fromEntries(order.map((side) => [side, [] as number[]])) as Record<Side, number[]>;
  const cpu = { teleflow: 0, floor: 0 };
  const childCpu = async () => (await teleflow.ask<{ cpuMicros: number }>({ cmd: 'cpu' })).cpuMicros;
  for (const side of order) for (let i = 0; i < 30; i++) await sides[side]();
  // Blocks of BLOCK sends per side, the order rotating each round: side by side in one run, and
  // each side measured warm (switching every message would charge each side for waking the
  // processes the other one left idle).
  const BLOCK = 25;
  for (let round = 0; round * BLOCK < MESSAGES; round++) {
    for (let k = 0; k < order.length; k++) {
      const side = order[(round + k) % order.length]!;
      if (side === 'quiet') await teleflow.ask({ cmd: 'skip-events' });
      const cpu0 = side === 'teleflow' || side === 'floor' ? await childCpu() : 0;
      for (let i = 0; i < Math.min(BLOCK, MESSAGES - round * BLOCK); i++) {
        const t0 = performance.now();
        await sides[side]();
        lat[side].push(performance.now() - t0);
      }
      if (side === 'teleflow' || side === 'floor') cpu[side] += (await childCpu()) - cpu0;
      if (side === 'quiet') await teleflow.ask({ cmd: 'restore-events' });
    }
  }
  /** Seconds for `count` sends with IN_FLIGHT at once. */
  async function burst(fn: () => Promise<unknown>, count: number): Promise<number> {
    let left = count;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (left-- > 0) await fn();
      }),
    );
    return (performance.now() - t0) / 1000;
  }
  // BURST_SIZE per side in each of BURST_ROUNDS rounds, the order rotating each round, so that a
  // spell of load from elsewhere on the machine falls on every side alike.
  const burstSides = ['teleflow', 'direct', 'floor'] as const;
  const burstSeconds = { teleflow: 0, direct: 0, floor: 0 };
  /** TeleFlow's rate over the floor's, in each round. */
  const roundRatios: number[] = [];
  for (let round = 0; round < BURST_ROUNDS; round++) {
    const took = { teleflow: 0, direct: 0, floor: 0 };
    for (let k = 0; k < burstSides.length; k++) {
      const side = burstSides[(round + k) % burstSides.length]!;
      took[side] = await burst(sides[side], BURST_SIZE);
      burstSeconds[side] += took[side];
    }
    roundRatios.push(took.floor / took.teleflow);
  }
  roundRatios.sort((a, b) => a - b);
  const sentPerSide = BURST_SIZE * BURST_ROUNDS;
  const bursts = {
    teleflow: sentPerSide / burstSeconds.teleflow,
    direct: sentPerSide / burstSeconds.direct,
    floor: sentPerSide / burstSeconds.floor,
  };
  await direct.destroy();
  agent.destroy();
  await teleflow.close();

  const stats = (side: Side) => {
    const sorted = [...lat[side]].sort((a, b) => a - b);
    const wall = sorted.reduce((a, b) => a + b, 0);
    return { p50: pct(sorted, 50), p99: pct(sorted, 99), perSecond: (sorted.length / wall) * 1000 };
  };
  const tf = stats('teleflow');
  const dr = stats('direct');
  const fl = stats('floor');
  const quiet = stats('quiet');
  console.log(
    `\n1. messages.sendMessage, ${MESSAGES} per side in blocks of ${BLOCK}; sandbox and TeleFlow each in its own process`,
  );
  console.log(
    '   side                 p50        p99        msg/s (1 at a time)   msg/s (' + IN_FLIGHT + ' in flight)',
  );
  const row = (label: string, s: ReturnType<typeof stats>, perSecond?: number) =>
    console.log(
      `   ${label.padEnd(17)}${ms(s.p50).padStart(10)} ${ms(s.p99).padStart(10)}   ${s.perSecond.toFixed(0).padStart(10)}             ${perSecond === undefined ? '' : perSecond.toFixed(0).padStart(8)}`,
    );
  row('TeleFlow HTTP', tf, bursts.teleflow);
  row('teleproto direct', dr, bursts.direct);
  row('HTTP floor', fl, bursts.floor);
  console.log(
    `   latency ratio TeleFlow / direct: p50 ${(tf.p50 / dr.p50).toFixed(2)}x, p99 ${(tf.p99 / dr.p99).toFixed(2)}x (target <= 1.3x)`,
  );
  console.log(
    `   the floor (a bare Fastify route calling the same Telegram adapter: the HTTP hop alone) / direct: ` +
      `p50 ${(fl.p50 / dr.p50).toFixed(2)}x; TeleFlow / floor: p50 ${(tf.p50 / fl.p50).toFixed(2)}x, ` +
      `${((tf.p50 - fl.p50) * 1000).toFixed(0)} µs (target <= 1.10x)`,
  );
  console.log(
    `   ${IN_FLIGHT} in flight, TeleFlow / floor: ${(bursts.teleflow / bursts.floor).toFixed(2)}x over all ${BURST_ROUNDS} rounds; ` +
      `per round median ${median(roundRatios).toFixed(2)}x (${roundRatios[0]!.toFixed(2)}-${roundRatios.at(-1)!.toFixed(2)}) ` +
      `(target >= 0.85x)`,
  );
  const perSend = (micros: number) => (micros / MESSAGES).toFixed(0);
  console.log(
    `   TeleFlow process CPU per send: ${perSend(cpu.teleflow)} µs through the API, ${perSend(cpu.floor)} µs through the floor`,
  );
  console.log(
    `   diagnostic, TeleFlow with the event log's write skipped: p50 ${ms(quiet.p50)}, p99 ${ms(quiet.p99)}, ` +
      `ratio to direct p50 ${(quiet.p50 / dr.p50).toFixed(2)}x`,
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
      const child = spawnJsonChild([join(here, 'messages-child.ts'), mode, file, ready.dc, pemFile]);
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
