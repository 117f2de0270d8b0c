/**
 * End-to-end helpers for the Telegram routes: a real sandbox (startSandbox), a TeleFlow app
 * pointed at it through TELEGRAM_DC + TELEGRAM_DC_PUBLIC_KEY_FILE, the sandbox's control API
 * playing the other people, and sign-in shortcuts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import pino from 'pino';
import { buildApp, type BuildOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Role } from '../../src/modules/auth/auth.schema.js';
import { startSandbox, type Sandbox, type StartSandboxOptions } from '../../src/sandbox/index.js';
import type { EventType } from '../../src/lib/events.js';
import { ensureSessions, TEST_SECRETS, testDatabaseUrl } from './app.js';

export interface TestSandbox {
  sandbox: Sandbox;
  dir: string;
  pemFile: string;
  /** Calls the control API; throws on a non-2xx answer unless `expectStatus` is given. */
  control<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

export async function startTestSandbox(
  opts: { world?: StartSandboxOptions['world'] } = {},
): Promise<TestSandbox> {
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-sbx-'));
  const sandbox = await startSandbox({
    port: 0,
    controlPort: 0,
    ...(opts.world ? { world: opts.world } : {}),
  });
  const pemFile = join(dir, 'server-public.pem');
  writeFileSync(pemFile, sandbox.publicKeyPem);
  return {
    sandbox,
    dir,
    pemFile,
    async control(method, path, body) {
      const res = await fetch(`${sandbox.controlUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`control ${method} ${path}: ${res.status} ${text}`);
      return (text ? JSON.parse(text) : undefined) as never;
    },
    async close() {
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The database of each data dir, so a restart on the same dir finds the same database. */
const databases = new Map<string, { url: string; drop: () => Promise<void> }>();

export interface TelegramTestApp {
  app: FastifyInstance;
  config: Config;
  dataDir: string;
  adminKey: string;
  /** inject with the admin key; returns status and parsed body. */
  call(
    method: InjectOptions['method'],
    url: string,
    payload?: unknown,
    headers?: Record<string, string>,
  ): Promise<{
    status: number;
    body: any;
    headers: Record<string, unknown>;
  }>;
  keyFor(role: Role, sessionIds?: string[]): Promise<string>;
  /** Closes the app and starts a new one on the same data dir and database (a TeleFlow restart). */
  restart(): Promise<TelegramTestApp>;
  close(opts?: { keepData?: boolean }): Promise<void>;
}

export interface TelegramTestAppOptions {
  env?: Record<string, string>;
  sessionManager?: BuildOptions['sessionManager'];
  dataDir?: string;
  /** The database of an earlier app (a restart); a fresh one otherwise. */
  database?: { url: string; drop: () => Promise<void> };
}

export async function createTelegramTestApp(
  sbx: TestSandbox,
  opts: TelegramTestAppOptions = {},
): Promise<TelegramTestApp> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'teleflow-tg-'));
  // SQLite in the data dir, or a fresh PostgreSQL schema when TEST_DATABASE_URL is set.
  const database =
    opts.database ??
    (opts.dataDir ? databases.get(opts.dataDir) : undefined) ??
    (await testDatabaseUrl(dataDir));
  databases.set(dataDir, database);
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_MAX: '100000',
    TELEGRAM_DC: `${sbx.sandbox.host}:${sbx.sandbox.port}`,
    TELEGRAM_DC_PUBLIC_KEY_FILE: sbx.pemFile,
    SEND_RATE_PER_CHAT: '0',
    ...TEST_SECRETS,
    ...opts.env,
  });
  const app = await buildApp(config, {
    // TEST_LOG=debug shows the session manager's log on stderr when a test needs explaining.
    ...(process.env.TEST_LOG ? { logger: pino({ level: process.env.TEST_LOG }, pino.destination(2)) } : {}),
    sessionManager: {
      reconnectBaseMs: 200,
      reconnectMaxMs: 2000,
      watchdogIntervalMs: 1000,
      callTimeoutMs: 8000,
      ...opts.sessionManager,
    },
  });
  await app.ready();
  const adminKey = config.apiKey;
  const self: TelegramTestApp = {
    app,
    config,
    dataDir,
    adminKey,
    async call(method, url, payload, headers = {}) {
      const res = await app.inject({
        method,
        url,
        headers: { 'x-api-key': adminKey, ...headers },
        ...(payload === undefined ? {} : { payload: payload as InjectOptions['payload'] }),
      });
      return { status: res.statusCode, body: res.body ? res.json() : undefined, headers: res.headers };
    },
    async keyFor(role, sessionIds) {
      await ensureSessions(app, sessionIds);
      const res = await self.call('POST', '/api/v1/auth/keys', {
        name: `${role}-key`,
        role,
        ...(sessionIds ? { sessionIds } : {}),
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.data.key as string;
    },
    async restart() {
      await app.close();
      return createTelegramTestApp(sbx, { ...opts, dataDir });
    },
    async close(closeOpts) {
      await app.close();
      if (!closeOpts?.keepData) {
        databases.delete(dataDir);
        await database.drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
  return self;
}

let phoneCounter = 0;
/** A fresh sandbox phone number, unique within the process. */
export function newPhone(): string {
  phoneCounter += 1;
  return `1555${String(process.pid % 1000).padStart(3, '0')}${String(phoneCounter).padStart(4, '0')}`;
}

/** Creates the user in the sandbox (with optional username/password) and signs in through TeleFlow. */
export async function signIn(
  t: TelegramTestApp,
  sbx: TestSandbox,
  opts: {
    phone?: string;
    username?: string;
    firstName?: string;
    password?: string;
    name?: string;
    /** The account's home DC in the sandbox (1-5; DC 2 when omitted). */
    dc?: number;
  } = {},
): Promise<{ sessionId: string; phone: string; userId: string }> {
  const phone = opts.phone ?? newPhone();
  const created = await sbx.control<{ id: string }>('POST', '/users', {
    phone,
    firstName: opts.firstName ?? `User${phone.slice(-4)}`,
    ...(opts.username ? { username: opts.username } : {}),
    ...(opts.password ? { password: opts.password } : {}),
    ...(opts.dc ? { dc: opts.dc } : {}),
  });
  const start = await t.call('POST', '/api/v1/sessions', {
    phone,
    ...(opts.name ? { name: opts.name } : {}),
  });
  assert.equal(start.status, 201, JSON.stringify(start.body));
  const sessionId = start.body.data.id as string;
  const { code } = await sbx.control<{ code: string }>('GET', `/codes?phone=${phone}`);
  const verified = await t.call('POST', '/api/v1/sessions/verify-code', { sessionId, code });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  if (opts.password) {
    assert.equal(verified.body.data.status, 'password_required');
    const pw = await t.call('POST', '/api/v1/sessions/verify-password', {
      sessionId,
      password: opts.password,
    });
    assert.equal(pw.status, 200, JSON.stringify(pw.body));
  }
  return { sessionId, phone, userId: created.id };
}

/** Polls until `check` returns a truthy value (or fails after `ms`). */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The events recorded for a session, oldest first (data of each envelope). */
export async function eventsOf(
  t: TelegramTestApp,
  sessionId: string,
  type: EventType,
): Promise<Record<string, any>[]> {
  const rows = await t.app.services.events.readAfter(
    0,
    { types: new Set([type]), sessionIds: [sessionId] },
    10_000,
  );
  return rows.map((r) => r.envelope.data as Record<string, any>);
}
