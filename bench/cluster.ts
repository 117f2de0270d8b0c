/**
 * `npm run bench -- cluster`: TeleFlow instances (CLUSTER=true) on one PostgreSQL against one
 * sandbox, every one in a process of its own (test/helpers/cluster.ts). PostgreSQL is a throwaway
 * server started for the run (BENCH_PG_PORT, default a free port) unless BENCH_DATABASE_URL names
 * one (each cluster then gets a schema of its own, dropped afterwards).
 *   1. sends: for 1, 2 and 3 instances (BENCH_INSTANCES, default 1,2,3), BENCH_SESSIONS sessions
 *      (default 6) signed in through instance 1 spread over the instances; BENCH_IN_FLIGHT sends
 *      at once (default 16) for BENCH_SECONDS (default 10) to one sandbox user, each request
 *      first to its session's owner, then to an instance picked at random (as behind a load
 *      balancer: with three, two in three are forwarded to the owner): sends per second,
 *      latency p50/p99, the share carried out by another instance, and the CPU time the
 *      TeleFlow processes spent per send (summed over the instances: steadier than the rate
 *      when other work shares the machine).
 *      On one machine the instances share its cores: the point is the cost of coordination.
 *   2. events across instances (three instances): an SSE client on instance 1, a session run by
 *      instance 3 sends through instance 3, BENCH_LATENCY_SAMPLES times (default 200, one at a
 *      time): from just before the request to the message.sent frame on instance 1, p50/p99.
 *   3. failover (three instances): BENCH_FAILOVER_RUNS times (default 5) the owner of a session
 *      is killed with SIGKILL; the time until another instance runs it (connected, /health) and
 *      until a send for it through a surviving instance succeeds; p50 and max. The killed
 *      instance starts again between runs. CLUSTER_LEASE_TTL_MS is TeleFlow's default (15 s)
 *      unless BENCH_LEASE_TTL_MS is set.
 */
import { EventSource } from 'eventsource';
import {
  cpuTimeMs,
  eventually,
  startCluster,
  startPostgres,
  type Cluster,
  type Postgres,
} from '../test/helpers/cluster.js';

const INSTANCES = (process.env.BENCH_INSTANCES ?? '1,2,3').split(',').map(Number);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 6);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 200);
const FAILOVER_RUNS = Number(process.env.BENCH_FAILOVER_RUNS ?? 5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const BENCH_ENV: Record<string, string> = {
  NODE_ENV: 'production',
  TELEGRAM_API_ID: '12345',
  TELEGRAM_API_HASH: '0123456789abcdef0123456789abcdef',
  SEND_RATE_PER_CHAT: '0',
  SEND_RATE_PER_SESSION: '0',
  LOG_LEVEL: 'warn',
  ...(process.env.BENCH_LEASE_TTL_MS ? { CLUSTER_LEASE_TTL_MS: process.env.BENCH_LEASE_TTL_MS } : {}),
};

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}
const ms = (n: number) => `${n.toFixed(1)} ms`;

/** A cluster of `count` with SESSIONS sessions and a sandbox user they all write to. */
async function cluster(count: number) {
  const c = await startCluster({ instances: count, env: BENCH_ENV });
  try {
    const peer = '9996650001';
    await c.sandbox.control('POST', '/users', { phone: peer, firstName: 'Peer', username: 'benchpeer' });
    const sessions = [];
    for (let n = 0; n < SESSIONS; n++) sessions.push(await c.signIn(1, 'Bench'));
    // The first send of each resolves the peer's username; not part of the measure.
    for (const s of sessions) {
      const sent = await c.api(1, 'POST', '/api/v1/messages/send', {
        sessionId: s.id,
        chatId: '@benchpeer',
        text: 'warm',
      });
      if (sent.status !== 200) throw new Error(`warm-up send: ${sent.status} ${JSON.stringify(sent.body)}`);
    }
    return { c, sessions };
  } catch (error) {
    await c.close();
    throw error;
  }
}

/** Sends for SECONDS through `count` instances: to a random one, or (toOwner) to the session's owner. */
async function measureSends(
  c: Cluster,
  sessions: { id: string }[],
  owners: number[],
  toOwner: boolean,
): Promise<string> {
  const count = c.instances.length;
  const latencies: number[] = [];
  let forwarded = 0;
  let failed = 0;
  let n = 0;
  const pids = c.instances.map((i) => i.server!.child.pid!);
  const cpuBefore = pids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0);
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < end) {
        const k = n++;
        // Any instance, as behind a load balancer that knows nothing of sessions; or the owner.
        const via = toOwner ? owners[k % sessions.length]! : 1 + Math.floor(Math.random() * count);
        const at = performance.now();
        const answer = await c.api(via, 'POST', '/api/v1/messages/send', {
          sessionId: sessions[k % sessions.length]!.id,
          chatId: '@benchpeer',
          text: `bench ${k}`,
        });
        if (answer.status !== 200) {
          failed++;
          continue;
        }
        latencies.push(performance.now() - at);
        if (answer.headers.get('x-teleflow-instance')) forwarded++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpuPerSend =
    (pids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0) - cpuBefore) / Math.max(1, latencies.length);
  return (
    `${(latencies.length / elapsed).toFixed(0).padStart(5)} sends/s, ` +
    `p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}, ` +
    `${((forwarded / Math.max(1, latencies.length)) * 100).toFixed(0).padStart(2)}% forwarded, ${failed} failed, ` +
    `TeleFlow CPU per send ${(cpuPerSend * 1000).toFixed(0)} µs (all instances)`
  );
}

async function sends(count: number): Promise<void> {
  const { c, sessions } = await cluster(count);
  try {
    const owners = await Promise.all(sessions.map((s) => c.ownerOf(s.id)));
    const spread = [...Array(count).keys()].map((i) => owners.filter((o) => o === i + 1).length).join('/');
    const name = `${count} instance${count > 1 ? 's' : ''}`;
    console.log(`${name} (sessions per instance ${spread}):`);
    if (count > 1) console.log(`  to the owner:      ${await measureSends(c, sessions, owners, true)}`);
    console.log(`  to any instance:   ${await measureSends(c, sessions, owners, false)}`);
  } finally {
    await c.close();
  }
}

async function eventsAcross(c: Cluster, sessionId: string): Promise<void> {
  const arrivals = new Map<string, number>();
  const es = new EventSource(`${c.instances[0]!.url}/api/v1/events?types=message.sent`, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, 'x-api-key': c.apiKey } }),
  });
  let opened = false;
  es.addEventListener('open', () => (opened = true));
  es.addEventListener('message.sent', (e) => {
    const text = (JSON.parse(e.data) as { data: { message?: { text?: string } } }).data.message?.text;
    if (text) arrivals.set(text, performance.now());
  });
  try {
    await eventually(async () => opened, 10_000, 'the SSE stream on instance 1');
    const latencies: number[] = [];
    for (let k = 0; k < LATENCY_SAMPLES; k++) {
      const text = `across ${k}`;
      const at = performance.now();
      const answer = await c.api(3, 'POST', '/api/v1/messages/send', {
        sessionId,
        chatId: '@benchpeer',
        text,
      });
      if (answer.status !== 200) throw new Error(`send: ${answer.status} ${JSON.stringify(answer.body)}`);
      const arrived = await eventually(async () => arrivals.get(text), 10_000, `${text} on instance 1`);
      latencies.push(arrived - at);
    }
    console.log(
      `send through instance 3 to the message.sent frame on instance 1's SSE: p50 ${ms(percentile(latencies, 50))}, ` +
        `p99 ${ms(percentile(latencies, 99))} (${LATENCY_SAMPLES} sends one at a time)`,
    );
  } finally {
    es.close();
  }
}

async function failover(c: Cluster, sessionId: string): Promise<void> {
  const connected: number[] = [];
  const serving: number[] = [];
  for (let run = 0; run < FAILOVER_RUNS; run++) {
    const owner = await eventually(() => c.ownerOf(sessionId), 60_000, 'an owner');
    const killedAt = performance.now();
    await c.kill(owner);
    const next = await eventually(() => c.ownerOf(sessionId), 60_000, 'a new owner after kill -9');
    connected.push(performance.now() - killedAt);
    const via = [1, 2, 3].find((i) => i !== owner)!;
    await eventually(
      async () =>
        (
          await c.api(via, 'POST', '/api/v1/messages/send', {
            sessionId,
            chatId: '@benchpeer',
            text: `failover ${run}`,
          })
        ).status === 200,
      60_000,
      'a send after the failover',
    );
    serving.push(performance.now() - killedAt);
    console.log(
      `  run ${run + 1}: instance ${owner} killed; instance ${next} runs the session after ${ms(connected.at(-1)!)}, ` +
        `a send through instance ${via} succeeds after ${ms(serving.at(-1)!)}`,
    );
    await c.start(owner);
    await sleep(1000);
  }
  console.log(
    `failover after kill -9 (${FAILOVER_RUNS} runs): connected elsewhere p50 ${ms(percentile(connected, 50))}, max ${ms(
      Math.max(...connected),
    )}; sending again p50 ${ms(percentile(serving, 50))}, max ${ms(Math.max(...serving))}`,
  );
}

let postgres: Postgres | undefined;
try {
  if (process.env.BENCH_DATABASE_URL) process.env.TEST_DATABASE_URL = process.env.BENCH_DATABASE_URL;
  else {
    postgres = await startPostgres(Number(process.env.BENCH_PG_PORT ?? 0));
    process.env.TEST_DATABASE_URL = postgres.url;
  }
  console.log(
    `== Cluster: TeleFlow instances on one PostgreSQL, one sandbox, each in a process of its own ==`,
  );
  console.log(
    `-- 1. sends: ${IN_FLIGHT} in flight for ${SECONDS} s, each request to its session's owner, then to a random instance`,
  );
  for (const count of INSTANCES.filter((n) => n !== 3)) await sends(count);
  if (INSTANCES.includes(3)) await sends(3);

  console.log('-- 2 and 3: three instances');
  const { c, sessions } = await cluster(3);
  try {
    const onThree = await eventually(
      async () => {
        for (const s of sessions) if ((await c.ownerOf(s.id)) === 3) return s;
        return undefined;
      },
      20_000,
      'a session run by instance 3',
    );
    await eventsAcross(c, onThree.id);
    await failover(c, sessions[0]!.id);
  } finally {
    await c.close();
  }
} finally {
  await postgres?.stop();
}
