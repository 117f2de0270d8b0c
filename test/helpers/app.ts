import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import type { Logger } from 'pino';
import { buildApp, type BuildOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Role } from '../../src/modules/auth/auth.schema.js';

/**
 * The database the tests run on: SQLite in a fresh temp file by default; PostgreSQL when
 * TEST_DATABASE_URL is set (each test app then gets its own schema, dropped afterwards).
 */
export async function testDatabaseUrl(dir: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) return { url: `file:${join(dir, 'teleflow.db')}`, drop: async () => {} };
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  await client.query(`create schema ${schema}`);
  await client.end();
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

export const TEST_SECRETS = {
  JWT_SECRET: 'test-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz',
  API_KEY: 'tf_test_admin_key_0123456789abcdefghijklmn',
  SESSION_ENCRYPTION_KEY: 'test-encryption-key-0123456789abcdefghijklmnop',
};

/**
 * A key may only be limited to sessions that exist: tests that limit keys to made-up session
 * ids get a bare session row for each (logged out, never connected) unless one exists.
 */
export async function ensureSessions(app: FastifyInstance, ids: string[] | undefined): Promise<void> {
  if (!ids?.length) return;
  const db = app.services.db.db;
  const existing = new Set(
    (await db.selectFrom('tg_sessions').select('id').where('id', 'in', ids).execute()).map((r) => r.id),
  );
  const now = new Date().toISOString();
  for (const id of new Set(ids)) {
    if (existing.has(id)) continue;
    await db
      .insertInto('tg_sessions')
      .values({
        id,
        name: `test ${id}`,
        phone: null,
        status: 'logged_out',
        user_json: null,
        session_secret: null,
        key_version: null,
        phone_code_hash: null,
        auto_connect: 0,
        last_error_json: null,
        update_state_json: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
  }
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  dataDir: string;
  adminKey: string;
  /** Creates an API key with this role (and optional session limit) and returns the plain key. */
  keyFor(role: Role, sessionIds?: string[]): Promise<string>;
  /** Closes the app; with keepData the data dir and database survive for a restart. */
  close(opts?: { keepData?: boolean }): Promise<void>;
}

export interface TestAppOptions extends Omit<BuildOptions, 'db'> {
  env?: Record<string, string>;
  /** Reuse the data dir and database of an earlier app (restart). */
  reuse?: { dataDir: string; databaseUrl: string; drop: () => Promise<void> };
}

export async function createTestApp(
  opts: TestAppOptions = {},
): Promise<TestApp & { databaseUrl: string; dropDb: () => Promise<void> }> {
  const dataDir = opts.reuse?.dataDir ?? mkdtempSync(join(tmpdir(), 'teleflow-test-'));
  const dbInfo = opts.reuse
    ? { url: opts.reuse.databaseUrl, drop: opts.reuse.drop }
    : await testDatabaseUrl(dataDir);
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    DATABASE_URL: dbInfo.url,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_MAX: '100000',
    ...TEST_SECRETS,
    ...opts.env,
  });
  const app = await buildApp(config, { logger: opts.logger as Logger | undefined, clock: opts.clock });
  await app.ready();
  const adminKey = config.apiKey;
  return {
    app,
    config,
    dataDir,
    adminKey,
    databaseUrl: dbInfo.url,
    dropDb: dbInfo.drop,
    async keyFor(role, sessionIds) {
      await ensureSessions(app, sessionIds);
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/keys',
        headers: { 'x-api-key': adminKey },
        payload: { name: `${role}-key`, role, ...(sessionIds ? { sessionIds } : {}) },
      });
      if (res.statusCode !== 201) throw new Error(`key creation failed: ${res.statusCode} ${res.body}`);
      return (res.json() as { data: { key: string } }).data.key;
    },
    async close(closeOpts) {
      await app.close();
      if (!closeOpts?.keepData) {
        await dbInfo.drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
