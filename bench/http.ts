/**
 * HTTP overhead of TeleFlow next to a bare Fastify route, in one run on loopback.
 *
 * A child process serves both: TeleFlow (SQLite in a temp dir, silent logs) and a bare Fastify
 * app with one trivial route. This process drives them with autocannon, so load generator and
 * servers do not share an event loop. Targets alternate in short rounds so that drift of the
 * machine (other load, CPU frequency) hits all of them alike. Requests per second depend on the
 * load generator and on whatever else runs on the machine; the CPU time the serving process
 * spends per request is printed too, as a figure that other load disturbs less.
 *
 *   npm run bench -- http [--rounds 4] [--seconds 3] [--connections 20]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Fastify from 'fastify';

interface Ready {
  teleflowUrl: string;
  bareUrl: string;
  apiKey: string;
  jwt: string;
}

async function serve(): Promise<void> {
  const { buildApp } = await import('../src/app.js');
  const { loadConfig } = await import('../src/config.js');
  const { createLogger } = await import('../src/lib/logger.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'teleflow-bench-'));
  const config = loadConfig({
    NODE_ENV: 'production',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    // High enough never to answer 429: the limiter still counts every request.
    RATE_LIMIT_MAX: '100000000',
    // Never contacted: no session exists.
    TELEGRAM_API_ID: '1',
    TELEGRAM_API_HASH: '00000000000000000000000000000000',
    JWT_SECRET: 'bench-jwt-secret-0123456789abcdefghijklmnopqrstuv',
    API_KEY: 'tf_bench_admin_key_0123456789abcdefghijklmn',
    SESSION_ENCRYPTION_KEY: 'bench-encryption-key-0123456789abcdefghijklmn',
  });
  const teleflow = await buildApp(config, { logger: createLogger('silent') });
  const teleflowUrl = await teleflow.listen({ host: '127.0.0.1', port: 0 });

  const created = await teleflow.inject({
    method: 'POST',
    url: '/api/v1/auth/keys',
    headers: { 'x-api-key': config.apiKey },
    payload: { name: 'bench', role: 'operator' },
  });
  const apiKey = (created.json() as { data: { key: string } }).data.key;
  const login = await teleflow.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { apiKey } });
  const jwt = (login.json() as { data: { token: string } }).data.token;

  const bare = Fastify({ logger: false });
  bare.get('/bare', async () => ({ hello: 'world' }));
  const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });

  process.send!({ teleflowUrl, bareUrl, apiKey, jwt } satisfies Ready);
  process.on('message', async (msg) => {
    if (msg === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send!({ cpuMicros: user + system });
      return;
    }
    if (msg !== 'stop') return;
    await bare.close();
    await teleflow.close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
}

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
}

interface Round {
  requests: number;
  /** CPU time the serving process spent in the round (both servers live there; one is driven). */
  cpuMicros: number;
  seconds: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function serverCpu(child: ChildProcess): Promise<number> {
  child.send('cpu');
  const [msg] = (await once(child, 'message')) as [{ cpuMicros: number }];
  return msg.cpuMicros;
}

async function runRound(
  child: ChildProcess,
  target: Target,
  seconds: number,
  connections: number,
): Promise<Round> {
  const cpuBefore = await serverCpu(child);
  const round = await new Promise<Omit<Round, 'cpuMicros'>>((resolve, reject) => {
    autocannon(
      { url: target.url, headers: target.headers, duration: seconds, connections, pipelining: 1 },
      (err, result) => {
        if (err) return reject(err);
        resolve({
          requests: result.requests.total,
          seconds: result.duration,
          p99: result.latency.p99,
          non2xx: result.non2xx,
          errors: result.errors,
        });
      },
    );
  });
  return { ...round, cpuMicros: (await serverCpu(child)) - cpuBefore };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function drive(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '4' },
      seconds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '20' },
    },
  });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);

  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: 'inherit' });
  const [ready] = (await once(child, 'message')) as [Ready];
  const targets: Target[] = [
    { name: 'bare Fastify GET /bare', url: `${ready.bareUrl}/bare`, headers: {} },
    {
      name: 'TeleFlow GET /api/v1/auth/me (X-API-Key)',
      url: `${ready.teleflowUrl}/api/v1/auth/me`,
      headers: { 'x-api-key': ready.apiKey },
    },
    {
      name: 'TeleFlow GET /api/v1/auth/me (JWT)',
      url: `${ready.teleflowUrl}/api/v1/auth/me`,
      headers: { authorization: `Bearer ${ready.jwt}` },
    },
  ];

  try {
    console.log(
      `node ${process.versions.node}; ${connections} connections; ${rounds} rounds of ${seconds}s per target, alternating`,
    );
    for (const t of targets) await runRound(child, t, 1, connections); // warm-up (JIT, caches), not counted
    const results = new Map<string, Round[]>(targets.map((t) => [t.name, []]));
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so no target always runs first.
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(i + r) % targets.length]!;
        results.get(t.name)!.push(await runRound(child, t, seconds, connections));
      }
    }

    const summary = targets.map((t) => {
      const rs = results.get(t.name)!;
      return {
        name: t.name,
        rps: rs.reduce((a, x) => a + x.requests, 0) / rs.reduce((a, x) => a + x.seconds, 0),
        p99: median(rs.map((x) => x.p99)),
        failed: rs.reduce((a, x) => a + x.non2xx + x.errors, 0),
        cpuPerRequest: rs.reduce((a, x) => a + x.cpuMicros, 0) / rs.reduce((a, x) => a + x.requests, 0),
      };
    });
    console.log('');
    console.log(
      'target'.padEnd(44) +
        'req/s'.padStart(10) +
        'p99 ms'.padStart(10) +
        'CPU µs/req'.padStart(12) +
        'failed'.padStart(9),
    );
    for (const s of summary) {
      console.log(
        s.name.padEnd(44) +
          s.rps.toFixed(0).padStart(10) +
          s.p99.toFixed(1).padStart(10) +
          s.cpuPerRequest.toFixed(0).padStart(12) +
          String(s.failed).padStart(9),
      );
    }
    const bare = summary[0]!;
    console.log('');
    for (const s of summary.slice(1)) {
      const ratio = s.rps / bare.rps;
      console.log(
        `ratio ${s.name.replace('TeleFlow GET /api/v1/auth/me ', '')} / bare: ${ratio.toFixed(2)} ` +
          `(target >= 0.6: ${ratio >= 0.6 ? 'met' : 'NOT met'}); ` +
          `bare's server CPU per request / this one's: ${(bare.cpuPerRequest / s.cpuPerRequest).toFixed(2)}`,
      );
    }
    if (summary.some((s) => s.failed > 0)) {
      console.log('\nSome requests failed (non-2xx or errors): the figures above are not valid.');
      process.exitCode = 1;
    }
  } finally {
    child.send('stop');
    await once(child, 'exit');
  }
}

if (process.argv.includes('--serve')) await serve();
else await drive();
