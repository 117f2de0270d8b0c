/**
 * Two real TeleFlow processes (CLUSTER=true) on one PostgreSQL against one sandbox: new
 * sessions spread over the instances, a request for a session run by the other instance is
 * carried out there with the same answer, errors and Idempotency-Key guarantees, a forged
 * internal request is refused, SIGTERM hands the sessions over at once, kill -9 moves them
 * within 30 s, and the sandbox never sees one auth key making calls on two connections at once.
 * PostgreSQL only (TEST_DATABASE_URL).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TelegramClient } from 'teleproto';
import { openDatabase } from '../../src/db/index.js';
import { TEST_SECRETS, testDatabaseUrl } from '../helpers/app.js';
import { fileBytes } from '../media/download-fixtures.js';
import { clientFor, closeClient, signedInClient, testPhone } from '../helpers/sandbox.js';
import { freePort, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { newPhone, startTestSandbox, waitFor, type TestSandbox } from '../helpers/telegram.js';

const skip = process.env.TEST_DATABASE_URL
  ? false
  : 'cluster coordination needs PostgreSQL (TEST_DATABASE_URL)';

interface Instance {
  id: string;
  port: number;
  server?: ServerProcess;
}

let sbx: TestSandbox;
let dataDirs: string[] = [];
let database: { url: string; drop: () => Promise<void> };
let bob: TelegramClient;
const bobPhone = testPhone(6);
const bobName = `bobclu${bobPhone.slice(-4)}`;
const instances: Instance[] = [];

async function startInstance(id: string): Promise<Instance> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), `teleflow-cluster-${id}-`));
  dataDirs.push(dataDir);
  const instance: Instance = { id, port };
  instance.server = await startServer({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '100000',
    TELEGRAM_DC: `${sbx.sandbox.host}:${sbx.sandbox.port}`,
    TELEGRAM_DC_PUBLIC_KEY_FILE: sbx.pemFile,
    SEND_RATE_PER_CHAT: '0',
    CLUSTER: 'true',
    INSTANCE_ID: id,
    ...TEST_SECRETS,
  });
  instances.push(instance);
  return instance;
}

async function call(
  via: Instance,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`http://127.0.0.1:${via.port}${path}`, {
    method,
    headers: {
      'x-api-key': TEST_SECRETS.API_KEY,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

async function owned(via: Instance): Promise<{ id: string; status: string }[]> {
  const res = await fetch(`http://127.0.0.1:${via.port}/health`);
  return ((await res.json()) as any).instance.sessions;
}

const phoneOf = new Map<string, string>();

/** Signs a new account in through `via`; answers the session id. */
async function newSession(via: Instance): Promise<string> {
  const phone = newPhone();
  await sbx.control('POST', '/users', { phone, firstName: `Clu${phone.slice(-4)}` });
  const created = await call(via, 'POST', '/api/v1/sessions', { phone });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { code } = await sbx.control<{ code: string }>('GET', `/codes?phone=${phone}`);
  const verified = await call(via, 'POST', '/api/v1/sessions/verify-code', {
    sessionId: created.body.data.id,
    code,
  });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  assert.equal(verified.body.data.status, 'connected');
  phoneOf.set(created.body.data.id as string, phone);
  return created.body.data.id as string;
}

const connectedOn = async (via: Instance, ids: string[]) => {
  const mine = (await owned(via)).filter((s) => s.status === 'connected').map((s) => s.id);
  return ids.every((id) => mine.includes(id));
};

/** Each of `ids` connected on some running instance other than `gone`. */
const connectedElsewhere = async (gone: Instance, ids: string[]) => {
  const running = instances.filter(
    (i) => i !== gone && i.server?.child.exitCode === null && i.server.child.signalCode === null,
  );
  const seen = (await Promise.all(running.map((i) => owned(i)))).flat();
  return ids.every((id) => seen.some((s) => s.id === id && s.status === 'connected'));
};

let a: Instance;
let b: Instance;
const onA: string[] = [];
const onB: string[] = [];

before(async () => {
  if (skip) return;
  sbx = await startTestSandbox();
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-cluster-db-'));
  dataDirs.push(dir);
  database = await testDatabaseUrl(dir);
  await sbx.control('POST', '/users', { phone: bobPhone, firstName: 'Bob', username: bobName });
  bob = await signedInClient(sbx.sandbox, bobPhone);
  a = await startInstance('a');
  b = await startInstance('b');
});

after(async () => {
  for (const instance of instances) await stopServer(instance.server, 'SIGKILL');
  if (bob) await closeClient(bob);
  await sbx?.close();
  await database?.drop();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  dataDirs = [];
});

test('new sessions spread over the instances, least loaded first', { skip }, async () => {
  for (let i = 0; i < 4; i++) {
    const id = await newSession(a);
    if ((await owned(a)).some((s) => s.id === id)) onA.push(id);
    if ((await owned(b)).some((s) => s.id === id)) onB.push(id);
  }
  assert.equal(onA.length, 2, `on a: ${onA.join(',')}`);
  assert.equal(onB.length, 2, `on b: ${onB.join(',')}`);
});

test('a request for a session on B made through A is carried out by B', { skip }, async () => {
  const sessionId = onB[0]!;
  const sent = await call(a, 'POST', '/api/v1/messages/send', {
    sessionId,
    chatId: `@${bobName}`,
    text: 'through a',
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  assert.equal(sent.headers.get('x-teleflow-instance'), 'b');
  const history = await call(
    a,
    'GET',
    `/api/v1/messages/history?sessionId=${sessionId}&chatId=@${bobName}&limit=5`,
  );
  assert.equal(history.status, 200, JSON.stringify(history.body));
  assert.ok(history.body.data.some((m: any) => m.text === 'through a'));

  // Errors are B's own, through either instance.
  const bad = { sessionId, chatId: '@nobody_here_at_all', text: 'x' };
  const first = await call(b, 'POST', '/api/v1/messages/send', bad);
  assert.equal(first.status, 404, JSON.stringify(first.body));
  const viaA = await call(a, 'POST', '/api/v1/messages/send', bad);
  const viaB = await call(b, 'POST', '/api/v1/messages/send', bad);
  assert.equal(viaA.status, viaB.status);
  assert.deepEqual({ ...viaA.body.error, requestId: 0 }, { ...viaB.body.error, requestId: 0 });
  assert.equal(viaA.headers.get('retry-after'), viaB.headers.get('retry-after'));

  // The first attempt's answer, whichever instance the retry goes through.
  const keyed = { sessionId, chatId: `@${bobName}`, text: 'once only' };
  const once = await call(a, 'POST', '/api/v1/messages/send', keyed, { 'idempotency-key': 'k-cluster-1' });
  const again = await call(b, 'POST', '/api/v1/messages/send', keyed, { 'idempotency-key': 'k-cluster-1' });
  assert.equal(once.status, 200, JSON.stringify(once.body));
  assert.deepEqual(again.body, once.body);
});

test('a download of a file received by a session on B streams through A', { skip }, async () => {
  const sessionId = onB[0]!;
  const bytes = fileBytes(700 * 1024 + 123);
  await sbx.control('POST', '/messages', {
    from: bobPhone,
    to: phoneOf.get(sessionId),
    media: { kind: 'document', base64: bytes.toString('base64'), fileName: 'report.bin' },
  });
  const received = await waitFor(
    async () => {
      const page = await call(
        a,
        'GET',
        `/api/v1/messages/history?sessionId=${sessionId}&chatId=@${bobName}&limit=5`,
      );
      return (page.body.data as any[]).find((m) => m.media?.fileName === 'report.bin');
    },
    15_000,
    'the document in the history',
  );
  const path = `/api/v1/media/${encodeURIComponent(received.media.mediaId as string)}?sessionId=${sessionId}`;
  const headers = { 'x-api-key': TEST_SECRETS.API_KEY };
  const whole = await fetch(`http://127.0.0.1:${a.port}${path}`, { headers });
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('x-teleflow-instance'), 'b');
  assert.ok(Buffer.from(await whole.arrayBuffer()).equals(bytes), 'the whole file');
  const part = await fetch(`http://127.0.0.1:${a.port}${path}`, {
    headers: { ...headers, range: 'bytes=600000-600099' },
  });
  assert.equal(part.status, 206);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(600000, 600100)), 'the range');
  const head = await fetch(`http://127.0.0.1:${a.port}${path}`, { method: 'HEAD', headers });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(bytes.length));
  // A signed link made through A works without credentials, through A.
  const link = await call(
    a,
    'POST',
    `/api/v1/media/${encodeURIComponent(received.media.mediaId as string)}/link`,
    { sessionId },
  );
  assert.equal(link.status, 200, JSON.stringify(link.body));
  // The link names the host the caller asked (A), not B's internal address.
  const url = new URL(link.body.data.url as string);
  assert.equal(url.host, `127.0.0.1:${a.port}`);
  const viaLink = await fetch(url);
  assert.equal(viaLink.headers.get('x-teleflow-instance'), 'b');
  assert.equal(viaLink.status, 200);
  assert.ok(Buffer.from(await viaLink.arrayBuffer()).equals(bytes), 'the file through the link');
});

test(
  'the caller identity is forwarded: a limited key sees the same through either instance',
  { skip },
  async () => {
    const created = await call(a, 'POST', '/api/v1/auth/keys', {
      name: 'limited',
      role: 'operator',
      sessionIds: [onB[0]],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const key = created.body.data.key as string;
    for (const via of [a, b]) {
      const other = await call(
        via,
        'POST',
        '/api/v1/messages/send',
        { sessionId: onB[1], chatId: `@${bobName}`, text: 'no' },
        { 'x-api-key': key },
      );
      assert.equal(other.status, 404, JSON.stringify(other.body));
      assert.equal(other.body.error.code, 'SESSION_NOT_FOUND');
      const own = await call(
        via,
        'POST',
        '/api/v1/messages/send',
        { sessionId: onB[0], chatId: `@${bobName}`, text: `limited via ${via.id}` },
        { 'x-api-key': key },
      );
      assert.equal(own.status, 200, JSON.stringify(own.body));
    }
  },
);

test('a forged internal request is refused', { skip }, async () => {
  const forged = Buffer.from(
    JSON.stringify({
      v: 1,
      from: 'a',
      to: 'b',
      ts: Date.now(),
      nonce: 'n1',
      method: 'GET',
      url: '/api/v1/sessions',
      body: '',
      principal: { keyId: 'x', name: 'x', role: 'admin', prefix: 'x', sessionIds: null, via: 'api_key' },
    }),
  ).toString('base64url');
  const res = await fetch(`http://127.0.0.1:${b.port}/api/v1/sessions`, {
    headers: { 'x-teleflow-forwarded': forged, 'x-teleflow-signature': 'AAAA' },
  });
  assert.equal(res.status, 401);
});

test('SIGTERM hands the sessions over at once', { skip }, async () => {
  const started = Date.now();
  await stopServer(b.server, 'SIGTERM');
  await waitFor(() => connectedOn(a, onB), 10_000, 'A to run the sessions B had');
  const took = Date.now() - started;
  assert.ok(took < 10_000, `took ${took} ms`);
  const sent = await call(a, 'POST', '/api/v1/messages/send', {
    sessionId: onB[0],
    chatId: `@${bobName}`,
    text: 'after the handover',
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
});

test('kill -9 of an owner moves its sessions within 30 s', { skip, timeout: 90_000 }, async () => {
  const c = await startInstance('c');
  // A runs all six sessions now (four of its own plus B's); C takes the next ones.
  const fresh = [await newSession(a), await newSession(a)];
  assert.ok(await connectedOn(c, fresh), `C runs ${JSON.stringify(await owned(c))}`);
  const sessionId = fresh[0]!;
  const viaA = await call(a, 'POST', '/api/v1/messages/send', {
    sessionId,
    chatId: `@${bobName}`,
    text: 'via a to c',
  });
  assert.equal(viaA.status, 200, JSON.stringify(viaA.body));
  const started = Date.now();
  await stopServer(c.server, 'SIGKILL');
  // While the lease runs out, the session is moving: 503 SESSION_NOT_CONNECTED, never a 500.
  const during = await call(a, 'POST', '/api/v1/messages/send', {
    sessionId,
    chatId: `@${bobName}`,
    text: 'while moving',
  });
  assert.ok([200, 503].includes(during.status), JSON.stringify(during.body));
  if (during.status === 503) assert.equal(during.body.error.code, 'SESSION_NOT_CONNECTED');
  await waitFor(() => connectedElsewhere(c, fresh), 30_000, 'the others to run the sessions C had');
  const took = Date.now() - started;
  assert.ok(took < 30_000, `took ${took} ms`);
});

test('the sandbox never saw one auth key make calls on two connections at once', { skip }, async () => {
  const report = await sbx.control<{ keys: unknown[]; duplicated: string[] }>(
    'GET',
    '/connections/auth-keys',
  );
  assert.ok(report.keys.length >= 6, JSON.stringify(report));
  assert.deepEqual(report.duplicated, []);
});

test('the sandbox report does see a key used on two connections at once', { skip }, async () => {
  // A second client on the key of a session A runs (the same address, so the sandbox lets it).
  const sessionId = onA[0]!;
  const exported = await call(a, 'POST', `/api/v1/sessions/${sessionId}/export`);
  assert.equal(exported.status, 200, JSON.stringify(exported.body));
  const twin = clientFor(sbx.sandbox, exported.body.data.sessionString);
  try {
    await twin.connect();
    await twin.getMe();
    const sent = await call(a, 'POST', '/api/v1/messages/send', {
      sessionId,
      chatId: `@${bobName}`,
      text: 'while a twin is connected',
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    await twin.getMe();
  } finally {
    await closeClient(twin);
  }
  const report = await sbx.control<{ duplicated: string[] }>('GET', '/connections/auth-keys');
  assert.equal(report.duplicated.length, 1, JSON.stringify(report));
});

test(
  'a paused owner loses its sessions and stops using them when it resumes',
  { skip, timeout: 90_000 },
  async () => {
    const d = await startInstance('d');
    const sessionId = await newSession(d);
    assert.ok(await connectedOn(d, [sessionId]), 'placed on the idle instance');
    d.server!.child.kill('SIGSTOP');
    try {
      await waitFor(() => connectedOn(a, [sessionId]), 30_000, 'A to take the paused instance its session');
      const sent = await call(a, 'POST', '/api/v1/messages/send', {
        sessionId,
        chatId: `@${bobName}`,
        text: 'while d is paused',
      });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
    } finally {
      d.server!.child.kill('SIGCONT');
    }
    await waitFor(
      async () => !(await owned(d)).some((s) => s.id === sessionId),
      5_000,
      'the resumed instance to drop the session',
    );
    const viaD = await call(d, 'POST', '/api/v1/messages/send', {
      sessionId,
      chatId: `@${bobName}`,
      text: 'through the resumed instance',
    });
    assert.equal(viaD.status, 200, JSON.stringify(viaD.body));
    assert.equal(viaD.headers.get('x-teleflow-instance'), 'a');
  },
);

test(
  'a session deleted through another instance is deleted by its owner, its lease given back',
  { skip },
  async () => {
    const sessionId = onA[1]!;
    const viaD = instances.find((i) => i.id === 'd')!;
    const deleted = await call(viaD, 'DELETE', `/api/v1/sessions/${sessionId}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.equal(deleted.headers.get('x-teleflow-instance'), 'a');
    assert.ok(!(await owned(a)).some((s) => s.id === sessionId));
    const db = openDatabase(database.url);
    try {
      const lease = await db.db
        .selectFrom('cluster_leases')
        .selectAll()
        .where('session_id', '=', sessionId)
        .executeTakeFirst();
      assert.equal(lease?.owner ?? null, null);
    } finally {
      await db.close();
    }
  },
);

test('connecting a session nobody runs places it on the least loaded instance', { skip }, async () => {
  const sessionId = onA[0]!;
  const d = instances.find((i) => i.id === 'd')!;
  const off = await call(d, 'POST', `/api/v1/sessions/${sessionId}/disconnect`);
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.equal(off.headers.get('x-teleflow-instance'), 'a');
  assert.equal(off.body.data.status, 'disconnected');
  const on = await call(a, 'POST', `/api/v1/sessions/${sessionId}/connect`);
  assert.equal(on.status, 200, JSON.stringify(on.body));
  assert.equal(on.headers.get('x-teleflow-instance'), 'd');
  assert.equal(on.body.data.status, 'connected');
  assert.ok(await connectedOn(d, [sessionId]));
});

test(
  'an instance restarted under the same id after kill -9 takes its sessions back at once',
  { skip, timeout: 60_000 },
  async () => {
    const d = instances.find((i) => i.id === 'd')!;
    const mine = (await owned(d)).map((s) => s.id);
    assert.ok(mine.length > 0, 'd runs a session');
    await stopServer(d.server, 'SIGKILL');
    const started = Date.now();
    const again = await startInstance('d');
    await waitFor(() => connectedOn(again, mine), 10_000, 'the restarted instance to run its sessions');
    // Well before the 15 s lease could have expired.
    assert.ok(Date.now() - started < 12_000, `took ${Date.now() - started} ms`);
  },
);
