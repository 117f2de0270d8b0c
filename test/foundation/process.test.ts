import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TEST_SECRETS, testDatabaseUrl } from '../helpers/app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

interface Running {
  child: ChildProcess;
  port: number;
  output: () => { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

/** Spawns the real server entry (`src/server.ts`) with only the given environment. */
function spawnServer(env: Record<string, string>): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, port: Number(env.PORT), output: () => ({ stdout, stderr }), exited };
}

interface Answer {
  status?: number;
  body?: string;
  error?: string;
}

/** One request on its own connection; `sendBody` may delay the end of the body. */
function call(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  sendBody?: (req: import('node:http').ClientRequest) => void,
): Promise<Answer> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      // An answer cut after its status line keeps the status, so it is not mistaken for a refusal.
      res.on('error', (err: NodeJS.ErrnoException) =>
        resolve({ status: res.statusCode, error: err.code ?? err.message }),
      );
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    if (sendBody) sendBody(req);
    else req.end();
  });
}

async function waitForHealth(server: Running, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await call(server.port, 'GET', '/health');
    if (res.status === 200) return;
    if (server.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not become healthy: ${JSON.stringify(server.output())}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('SIGTERM: in-flight requests finish, new ones are refused, the process exits 0', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'teleflow-proc-'));
  // SQLite, or PostgreSQL on the PostgreSQL pass: shutdown must close either cleanly.
  const database = await testDatabaseUrl(dataDir);
  const server = spawnServer({
    ...TEST_SECRETS,
    DATABASE_URL: database.url,
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    RATE_LIMIT_MAX: '100000',
  });
  try {
    await waitForHealth(server);
    const headers = { 'x-api-key': TEST_SECRETS.API_KEY };
    assert.equal((await call(server.port, 'GET', '/api/v1/auth/me', headers)).status, 200);

    // A slow request: the body arrives in two parts, with the SIGTERM in between.
    const body = JSON.stringify({ apiKey: TEST_SECRETS.API_KEY });
    let finishBody!: () => void;
    const slow = call(
      server.port,
      'POST',
      '/api/v1/auth/login',
      { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      (req) => {
        req.write(body.slice(0, 10));
        finishBody = () => req.end(body.slice(10));
      },
    );
    // A burst of short requests that the signal lands in the middle of.
    const burst = Array.from({ length: 40 }, (_, i) =>
      sleep(i * 5).then(() => call(server.port, 'GET', '/api/v1/auth/me', headers)),
    );
    await sleep(100);
    server.child.kill('SIGTERM');
    // A new request once the server has taken the signal (it logs so first), however late a
    // busy machine lets it run: a fixed wait could ask before and be served.
    for (const end = Date.now() + 10_000; !/shutting down/.test(server.output().stdout) && Date.now() < end;)
      await sleep(10);
    const afterSignal = await call(server.port, 'GET', '/api/v1/auth/me', headers);
    finishBody();

    const slowAnswer = await slow;
    assert.equal(slowAnswer.status, 200, `the in-flight request finished: ${JSON.stringify(slowAnswer)}`);
    assert.ok(JSON.parse(slowAnswer.body!).data.token);

    const refused = (a: Answer) =>
      a.error === 'ECONNREFUSED' ||
      (a.status === 503 && !a.error && JSON.parse(a.body!).error?.code === 'SHUTTING_DOWN');
    assert.ok(refused(afterSignal), `a new request after SIGTERM is refused: ${JSON.stringify(afterSignal)}`);
    // Connections still in the kernel's accept queue when the listener closes are reset by the
    // OS (ECONNRESET before any answer): those requests never reached TeleFlow. Every answer
    // that did arrive is complete and well-formed.
    const neverAccepted = (a: Answer) => a.error === 'ECONNRESET' && a.status === undefined;
    const answers = await Promise.all(burst);
    for (const answer of answers) {
      assert.ok(
        (answer.status === 200 && !answer.error) || refused(answer) || neverAccepted(answer),
        `cut or malformed answer: ${JSON.stringify(answer)}`,
      );
    }
    assert.ok(
      answers.some((a) => a.status === 200),
      'some requests of the burst were served',
    );

    const code = await server.exited;
    assert.equal(code, 0, JSON.stringify(server.output()));
    assert.match(server.output().stdout, /shutting down/);
    assert.match(server.output().stdout, /"msg":"stopped"/);
  } finally {
    server.child.kill('SIGKILL');
    await server.exited;
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** These start-ups do not depend on the database: the SQLite pass covers them. */
const sqliteOnly = { skip: process.env.TEST_DATABASE_URL ? 'independent of the database' : false };

test('production without secrets exits non-zero and names each missing variable', sqliteOnly, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'teleflow-proc-'));
  const server = spawnServer({ NODE_ENV: 'production', PORT: String(await freePort()), DATA_DIR: dataDir });
  try {
    const code = await server.exited;
    assert.notEqual(code, 0);
    const { stderr } = server.output();
    for (const name of [
      'JWT_SECRET',
      'API_KEY',
      'SESSION_ENCRYPTION_KEY',
      'TELEGRAM_API_ID',
      'TELEGRAM_API_HASH',
    ]) {
      assert.match(stderr, new RegExp(name), `stderr names ${name}: ${stderr}`);
    }
    assert.doesNotMatch(stderr, /\n\s+at /, 'a configuration problem is a message, not a stack trace');
  } finally {
    server.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test(
  'a fresh development start generates secrets, prints the admin key once, and the key works; SIGINT stops it',
  sqliteOnly,
  async () => {
    const root = mkdtempSync(join(tmpdir(), 'teleflow-proc-'));
    // A DATA_DIR that does not exist yet: TeleFlow creates it, for its user only.
    const dataDir = join(root, 'data');
    const env = { HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    let server = spawnServer({ ...env, PORT: String(await freePort()) });
    try {
      await waitForHealth(server);
      const printed = /Admin API key[^:]*: (\S+)/.exec(server.output().stderr)?.[1];
      assert.ok(printed, `the admin key is printed: ${server.output().stderr}`);
      assert.match(server.output().stdout, /development secrets generated/);
      // No TELEGRAM_API_ID and no sandbox: real use needs one's own id.
      assert.match(server.output().stdout, /widely published development id.*my\.telegram\.org/);
      const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);
      assert.equal(modeOf(dataDir), '700');
      for (const file of ['dev-secrets.json', 'teleflow.db', 'teleflow.db-wal', 'teleflow.db-shm']) {
        assert.equal(modeOf(join(dataDir, file)), '600', file);
      }
      const me = await call(server.port, 'GET', '/api/v1/auth/me', { 'x-api-key': printed });
      assert.equal(me.status, 200);
      assert.equal(JSON.parse(me.body!).data.role, 'admin');
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);

      server = spawnServer({ ...env, PORT: String(await freePort()) });
      await waitForHealth(server);
      assert.ok(!server.output().stderr.includes(printed), 'the key is not printed again');
      assert.doesNotMatch(server.output().stdout, /generated/, 'nothing was generated this time');
      assert.match(server.output().stdout, /development secrets reused from the data directory/);
      assert.match(server.output().stderr + server.output().stdout, /dev-secrets\.json/);
      const again = await call(server.port, 'GET', '/api/v1/auth/me', { 'x-api-key': printed });
      assert.equal(again.status, 200, 'the same key works after a restart');
      server.child.kill('SIGINT');
      assert.equal(await server.exited, 0, 'SIGINT stops it too');
    } finally {
      server.child.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test(
  'with the embedded sandbox, a DATA_DIR that does not exist is created owner-only',
  sqliteOnly,
  async () => {
    const root = mkdtempSync(join(tmpdir(), 'teleflow-proc-'));
    const dataDir = join(root, 'data');
    const server = spawnServer({
      ...TEST_SECRETS,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(await freePort()),
      // The database elsewhere: the sandbox alone writes under DATA_DIR.
      DATABASE_URL: `file:${join(root, 'db', 'teleflow.db')}`,
      DATA_DIR: dataDir,
      TELEGRAM_SANDBOX: 'true',
      LOG_LEVEL: 'warn',
    });
    try {
      await waitForHealth(server);
      assert.equal((statSync(dataDir).mode & 0o777).toString(8), '700');
      assert.equal((statSync(join(root, 'db')).mode & 0o777).toString(8), '700');
      assert.doesNotMatch(server.output().stdout, /published development id/, 'the sandbox needs no own id');
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0, JSON.stringify(server.output()));
    } finally {
      server.child.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    }
  },
);
