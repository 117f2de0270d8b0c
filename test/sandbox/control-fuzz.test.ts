/**
 * Fuzzing the embedded sandbox inside a real TeleFlow process (src/server.ts with
 * TELEGRAM_SANDBOX=true): random requests to every control route and garbage on the MTProto
 * port must get 4xx/2xx JSON answers or a closed connection, never a 5xx, and the process must
 * stay up and still serve a real client. Seeded, bounded in count and time.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TEST_SECRETS } from '../helpers/app.js';
import { freePort, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { closeClient, signedInClient, testPhone } from '../helpers/sandbox.js';
import type { Sandbox } from '../helpers/sandbox.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const CONTROL_REQUESTS = 1200;
const TIME_BUDGET_MS = 40_000;

/** mulberry32: a small seeded PRNG, so a failure can be replayed with FUZZ_SEED. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}

interface Answer {
  status?: number;
  text?: string;
  error?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

function call(
  port: number,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent, timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ status: res.statusCode, error: err.code }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(body);
  });
}

let server: ServerProcess;
let dataDir: string;
let port: number;
let sandboxPort: number;
let controlPort: number;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'teleflow-fuzz-'));
  [port, sandboxPort, controlPort] = [await freePort(), await freePort(), await freePort()];
  // The sandbox's DCs 2-5 listen on the four ports after SANDBOX_PORT.
  const clash = (p: number) => p >= sandboxPort && p <= sandboxPort + 4;
  while (clash(port)) port = await freePort();
  while (clash(controlPort) || controlPort === port) controlPort = await freePort();
  server = await startServer({
    ...TEST_SECRETS,
    NODE_ENV: 'production',
    TELEGRAM_SANDBOX: 'true',
    SANDBOX_PORT: String(sandboxPort),
    SANDBOX_CONTROL_PORT: String(controlPort),
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    DATABASE_URL: `file:${join(dataDir, 'teleflow.db')}`,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '100000',
  });
  // The banner follows the listen that /health proved.
  const deadline = Date.now() + 5000;
  while (!server.output().includes('Accept a QR') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(async () => {
  agent.destroy();
  await stopServer(server, 'SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

function assertAlive(): void {
  assert.equal(server.child.exitCode, null, `TeleFlow exited: ${server.output().slice(-2000)}`);
}

test('start-up: the production warning, the banner with the configured loopback ports', () => {
  const stdout = server.output();
  const warning = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string })
    .find((line) => /TELEGRAM_SANDBOX=true with NODE_ENV=production/.test(line.msg));
  assert.ok(warning, `a warning in the log: ${stdout}`);
  assert.equal(warning.level, 40);
  assert.match(stdout, new RegExp(`MTProto server +127\\.0\\.0\\.1:${sandboxPort}`));
  assert.match(stdout, new RegExp(`Control API +http://127\\.0\\.0\\.1:${controlPort}`));
  assert.match(stdout, new RegExp(`TELEGRAM_DC=127\\.0\\.0\\.1:${sandboxPort} TELEGRAM_DC_PUBLIC_KEY_FILE=`));
  assert.match(stdout, /curl -X POST http:\/\/127\.0\.0\.1:\d+\/users/);
});

interface Route {
  method: string;
  path: string;
  body?: string;
}

const BAD_ESCAPES = ['%E0%A4%A', '%', '%zz', '%C0%AF', '%ED%A0%80', '%F4%90%80%80', '%0', '%%41'];
const FIELDS = [
  'phone',
  'from',
  'to',
  'text',
  'by',
  'chat',
  'messageId',
  'messageIds',
  'title',
  'type',
  'owner',
  'members',
  'username',
  'password',
  'online',
  'error',
  'count',
  'method',
  'code',
  'ms',
  'token',
  'emoji',
  'rights',
  'admin',
  'revoke',
  'unpin',
  'maxId',
  'firstName',
  'lastName',
  'hint',
  'action',
  'replyToMessageId',
  'silent',
  'rank',
  'about',
] as const;

test('random requests to every control route: 2xx/4xx JSON answers, never a 5xx or a crash', async (t) => {
  const rand = prng(SEED);
  const listing = await call(controlPort, 'GET', '/');
  assert.equal(listing.status, 200);
  const routes = (JSON.parse(listing.text!) as { routes: Route[] }).routes;
  assert.ok(routes.some((r) => r.path === '/login-tokens/accept'));

  // A little world, so that random requests also reach past the lookups.
  const phones = ['15558880001', '15558880002', '15558880003'];
  for (const phone of phones) {
    const made = await call(controlPort, 'POST', '/users', JSON.stringify({ phone, firstName: 'Fuzz' }));
    assert.equal(made.status, 201, made.text);
  }
  const chatIds: string[] = [];
  for (const type of ['group', 'supergroup', 'channel']) {
    const made = await call(
      controlPort,
      'POST',
      '/chats',
      JSON.stringify({ type, title: `fuzz ${type}`, owner: phones[0], members: phones.slice(1) }),
    );
    assert.equal(made.status, 201, made.text);
    chatIds.push((JSON.parse(made.text!) as { id: string }).id);
  }
  const sent = await call(
    controlPort,
    'POST',
    '/messages',
    JSON.stringify({ from: phones[0], to: phones[1], text: 'hello' }),
  );
  assert.equal(sent.status, 201, sent.text);

  const hugeString = 'x'.repeat(200_000);
  const strings = (): string =>
    rand.pick([
      () => rand.pick(phones),
      () => rand.pick(chatIds),
      () => `+${rand.int(1e12)}`,
      () => '',
      () => ' ',
      () => 'me',
      () => '@nobody',
      () => '-100' + rand.int(1e9),
      () => `-${rand.int(1e9)}`,
      () => 'FLOOD_WAIT_' + rand.int(100),
      () => 'messages.sendMessage',
      () => '🦄'.repeat(rand.int(50)),
      () => '\u0000\uffff\ud800',
      () => hugeString,
      () => randomBytes(rand.int(40)).toString('base64url'),
      () => 'tg://login?token=' + randomBytes(8).toString('base64url'),
      () => '<script>',
      () => '__proto__',
    ])();
  const value = (depth: number): unknown => {
    const kind = rand.int(depth > 3 ? 6 : 9);
    switch (kind) {
      case 0:
      case 1:
        return strings();
      case 2:
        return rand.pick([
          0,
          1,
          -1,
          2 ** 31,
          -(2 ** 53),
          1e308,
          0.5,
          rand.int(1000),
          Number.MAX_SAFE_INTEGER,
        ]);
      case 3:
        return rand.chance(0.5);
      case 4:
        return null;
      case 5:
        return rand.pick([phones[1], 1, 'typing', 'group']);
      case 6:
        return Array.from({ length: rand.int(5) }, () => value(depth + 1));
      case 7:
        return Object.fromEntries(
          Array.from({ length: rand.int(4) }, () => [rand.pick(FIELDS), value(depth + 1)]),
        );
      default:
        return { __proto__: { polluted: true }, constructor: { prototype: { x: 1 } } };
    }
  };
  const body = (): string | Buffer | undefined => {
    switch (rand.int(12)) {
      case 0:
        return undefined;
      case 1:
        return randomBytes(rand.int(200));
      case 2:
        return '{"phone": ';
      case 3:
        return '['.repeat(50_000) + ']'.repeat(50_000);
      case 4:
        return '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000);
      case 5:
        return JSON.stringify(value(0));
      case 6:
        return Buffer.alloc(1024 * 1024 + 10, 0x20);
      default: {
        const fields = Object.fromEntries(
          Array.from({ length: 1 + rand.int(6) }, () => [rand.pick(FIELDS), value(1)]),
        );
        return JSON.stringify(fields);
      }
    }
  };
  /** Plausible values by field name, so that many requests pass validation and reach the world. */
  const plausible = (field: string): unknown => {
    if (['phone', 'from', 'by', 'owner'].includes(field)) return rand.pick(phones);
    if (['to', 'chat'].includes(field)) return rand.pick([...phones, ...chatIds, 'me', '@nobody']);
    if (['messageId', 'maxId', 'replyToMessageId', 'count'].includes(field)) return 1 + rand.int(5);
    if (field === 'messageIds') return [1 + rand.int(5)];
    if (field === 'members') return phones.slice(rand.int(3));
    if (field === 'type') return rand.pick(['group', 'supergroup', 'channel']);
    if (field === 'action') return rand.pick(['typing', 'cancel', 'record_audio', 'upload_photo']);
    if (['online', 'admin', 'revoke', 'unpin', 'silent'].includes(field)) return rand.chance(0.5);
    if (field === 'error') return rand.pick(['FLOOD_WAIT_1', 'INTERNAL', 'PEER_ID_INVALID']);
    if (field === 'method') return rand.pick(['messages.sendMessage', 'users.getUsers']);
    if (field === 'ms') return rand.int(2);
    if (field === 'code') return rand.pick([400, 420, 500]);
    if (field === 'token') return randomBytes(32).toString('base64url');
    if (field === 'emoji') return rand.pick(['👍', '🔥', null]);
    if (field === 'rights') return { changeInfo: rand.chance(0.5), banUsers: rand.chance(0.5) };
    if (field === 'username') return rand.chance(0.5) ? null : `fuzz${rand.int(1000)}`;
    if (field === 'password') return rand.chance(0.5) ? null : 'pw';
    return `fuzz ${rand.int(1000)}`;
  };
  /** The fields the route documents, filled plausibly, one of them sometimes replaced by junk. */
  const plausibleBody = (route: Route): string => {
    const fields = [...new Set([...(route.body ?? '').matchAll(/"([a-zA-Z]+)"/g)].map((m) => m[1]!))];
    const out: Record<string, unknown> = {};
    for (const field of fields) if (rand.chance(0.8)) out[field] = plausible(field);
    if (fields.length > 0 && rand.chance(0.3)) out[rand.pick(fields)] = value(1);
    return JSON.stringify(out);
  };
  const segment = (): string =>
    rand.chance(0.5)
      ? encodeURIComponent(rand.pick([...phones, ...chatIds]))
      : rand.pick([
          () => rand.pick(phones),
          () => encodeURIComponent(rand.pick(chatIds)),
          () => rand.pick(BAD_ESCAPES),
          () => rand.pick(BAD_ESCAPES) + rand.pick(phones),
          () =>
            encodeURIComponent(
              strings()
                .slice(0, 3000)
                .replace(/[\ud800-\udfff]/g, '?'),
            ),
          () => '..',
          () => '%2F..%2F',
          () => 'x'.repeat(rand.int(5000)),
        ])();
  const path = (route: Route): string => {
    let p = route.path.replace(/:[a-z]+/gi, () => segment());
    if (rand.chance(0.1)) p += '/' + segment();
    if (rand.chance(0.05)) p = '/' + segment();
    if (rand.chance(0.2))
      p += `?phone=${rand.pick([...phones, ...BAD_ESCAPES])}&by=${rand.pick(BAD_ESCAPES)}`;
    if (rand.chance(0.05)) p += '//';
    return p;
  };

  const failures: string[] = [];
  const started = Date.now();
  let done = 0;
  const byStatus = new Map<number, number>();
  const worker = async () => {
    while (done < CONTROL_REQUESTS && Date.now() - started < TIME_BUDGET_MS) {
      done++;
      const route = rand.pick(routes);
      const method = rand.chance(0.7)
        ? route.method
        : rand.pick(['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'HEAD', 'OPTIONS']);
      const target = path(route);
      const payload =
        method === 'GET' || method === 'HEAD' ? undefined : rand.chance(0.5) ? plausibleBody(route) : body();
      const headers: Record<string, string> = rand.chance(0.8) ? { 'content-type': 'application/json' } : {};
      // A declared length: Node sends the body of a DELETE or OPTIONS without one otherwise.
      if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
      const answer = await call(controlPort, method, target, payload, headers);
      const what = `${method} ${target.slice(0, 120)} ${String(payload ?? '').slice(0, 120)}`;
      if (answer.status === undefined) {
        // A connection closed while a refused (413) body was still being written is fine.
        if (!(payload && payload.length > 1024 * 1024)) failures.push(`${what}: no answer (${answer.error})`);
        continue;
      }
      byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1);
      if (answer.status >= 500) failures.push(`${what}: ${answer.status} ${answer.text?.slice(0, 300)}`);
      else if (method !== 'HEAD') {
        try {
          const parsed = JSON.parse(answer.text!) as { error?: { code: string } };
          if (answer.status >= 400 && !parsed.error?.code)
            failures.push(`${what}: ${answer.status} without error code`);
        } catch {
          failures.push(`${what}: ${answer.status} not JSON: ${answer.text?.slice(0, 200)}`);
        }
      }
      if (server.child.exitCode !== null) break;
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  assertAlive();
  assert.ok(done >= 200, `only ${done} requests ran`);
  t.diagnostic(`seed ${SEED}: ${done} requests; answers by status ${JSON.stringify([...byStatus].sort())}`);
  const succeeded = [...byStatus].filter(([status]) => status < 300).reduce((sum, [, n]) => sum + n, 0);
  assert.ok(
    succeeded >= 20,
    `only ${succeeded} requests got past validation: ${JSON.stringify([...byStatus])}`,
  );
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} bad answers (seed ${SEED})`);
  assert.equal((await call(controlPort, 'GET', '/')).status, 200);
  assert.equal((await call(port, 'GET', '/health')).status, 200);
  // Undo what the fuzz may have switched on: refused connections and pending faults.
  assert.equal((await call(controlPort, 'POST', '/connections/refuse', '{"ms": 0}')).status, 200);
  assert.equal((await call(controlPort, 'DELETE', '/faults')).status, 200);
});

/** Writes bytes on a fresh connection and waits until the server closes it or a short while passes. */
async function throwAt(bytes: Buffer[], waitMs = 300): Promise<void> {
  const socket = createConnection({ host: '127.0.0.1', port: sandboxPort });
  socket.on('error', () => {});
  socket.on('data', () => {});
  await once(socket, 'connect');
  for (const chunk of bytes) {
    if (socket.destroyed) break;
    socket.write(chunk);
    await new Promise((r) => setImmediate(r));
  }
  // A reset (the server closing on unread bytes) counts as closed.
  await Promise.race([once(socket, 'close').catch(() => {}), new Promise((r) => setTimeout(r, waitMs))]);
  socket.destroy();
}

function int32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32LE(value | 0);
  return out;
}

test('garbage on the MTProto port: the process survives and a real client still signs in', async () => {
  const rand = prng(SEED + 1);
  const cases: Buffer[][] = [
    [randomBytes(1)],
    [randomBytes(7)],
    [randomBytes(64)],
    [randomBytes(4096)],
    [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    // Abridged: absurd lengths, truncated frames.
    [Buffer.from([0xef, 0x7f, 0xff, 0xff, 0xff])],
    [Buffer.from([0xef, 0x02]), randomBytes(3)],
    [Buffer.from([0xef, 0x03]), randomBytes(12)],
    [Buffer.from([0xef, 0x06]), Buffer.alloc(24)],
    // Intermediate and padded intermediate.
    [Buffer.from([0xee, 0xee, 0xee, 0xee]), int32(0x7fffffff)],
    [Buffer.from([0xee, 0xee, 0xee, 0xee]), int32(8), Buffer.alloc(8)],
    [Buffer.from([0xdd, 0xdd, 0xdd, 0xdd]), int32(40), randomBytes(40)],
    [Buffer.from([0xee, 0xee, 0xee, 0xee]), int32(-5), randomBytes(8)],
    // Full: negative, tiny and huge lengths, bad crc, bad seq.
    [int32(-1), int32(0), randomBytes(8)],
    [int32(4), int32(0), randomBytes(8)],
    [int32(1 << 30), int32(0), randomBytes(64)],
    [int32(28), int32(0), randomBytes(20)],
    [int32(28), int32(5), randomBytes(20)],
    // Plain message with auth_key_id 0 and nonsense inside; an unknown auth key.
    [Buffer.from([0xef, 0x0a]), Buffer.alloc(8), randomBytes(32)],
    [Buffer.from([0xef, 0x0a]), randomBytes(40)],
    // Obfuscated headers: random, and with a bad inner protocol tag.
    [randomBytes(64), randomBytes(100)],
    [Buffer.concat([Buffer.from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]), randomBytes(56)])],
    [randomBytes(63)],
  ];
  for (let i = 0; i < 60; i++) {
    cases.push(Array.from({ length: 1 + rand.int(4) }, () => randomBytes(rand.int(300))));
  }
  for (const chunks of cases) await throwAt(chunks, 150);
  // Many at once, some never finishing their frame.
  await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      throwAt([Buffer.from([0xef, 0x7f, 0x00, 0x10]), randomBytes(i * 10)], 200),
    ),
  );
  assertAlive();
  assert.equal((await call(port, 'GET', '/health')).status, 200);

  const info = await call(port, 'GET', '/api/v1/sandbox', undefined, { 'x-api-key': TEST_SECRETS.API_KEY });
  assert.equal(info.status, 200, info.text);
  const { dcs, publicKeyPem } = (
    JSON.parse(info.text!) as {
      data: { dcs: { id: number; host: string; port: number }[]; publicKeyPem: string };
    }
  ).data;
  assert.equal(dcs[0]!.port, sandboxPort);
  const phone = testPhone();
  const client = await signedInClient(
    { host: dcs[0]!.host, port: dcs[0]!.port, dcs, publicKeyPem } as Sandbox,
    phone,
  );
  try {
    assert.equal((await client.getMe()).phone, phone);
  } finally {
    await closeClient(client);
  }
  assertAlive();
});
