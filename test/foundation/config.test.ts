import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig, readDotEnv } from '../../src/config.js';
import { TEST_SECRETS } from '../helpers/app.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'teleflow-config-'));
}

const PRODUCTION = {
  NODE_ENV: 'production',
  TELEGRAM_API_ID: '12345',
  TELEGRAM_API_HASH: '0123456789abcdef0123456789abcdef',
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('production without secrets fails with one error naming every missing variable', () => {
  const dir = tempDir();
  try {
    const err = configError(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: dir }));
    for (const name of [
      'JWT_SECRET',
      'API_KEY',
      'SESSION_ENCRYPTION_KEY',
      'TELEGRAM_API_ID',
      'TELEGRAM_API_HASH',
    ]) {
      assert.match(err.message, new RegExp(name), name);
    }
    assert.equal(err.problems.length, 5);

    const one = configError(() =>
      loadConfig({ ...PRODUCTION, ...TEST_SECRETS, SESSION_ENCRYPTION_KEY: undefined, DATA_DIR: dir }),
    );
    assert.deepEqual(one.problems, ['SESSION_ENCRYPTION_KEY: required when NODE_ENV=production']);
    assert.throws(() => statSync(join(dir, 'dev-secrets.json')), 'production never generates secrets');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('short or weak secrets are refused', () => {
  const dir = tempDir();
  try {
    const short = configError(() =>
      loadConfig({ ...PRODUCTION, ...TEST_SECRETS, JWT_SECRET: 'short', DATA_DIR: dir }),
    );
    assert.match(short.message, /JWT_SECRET: must be at least 32 characters/);

    const repetitive = configError(() =>
      loadConfig({ ...PRODUCTION, ...TEST_SECRETS, API_KEY: 'a'.repeat(40), DATA_DIR: dir }),
    );
    assert.match(repetitive.message, /API_KEY: too weak/);

    const both = configError(() =>
      loadConfig({
        ...PRODUCTION,
        JWT_SECRET: 'changeme',
        API_KEY: 'x'.repeat(64),
        SESSION_ENCRYPTION_KEY: '0101010101010101010101010101010101',
        DATA_DIR: dir,
      }),
    );
    assert.equal(both.problems.length, 3, both.message);

    // A weak secret is refused in development too: it is given, not generated.
    assert.throws(() => loadConfig({ ...TEST_SECRETS, JWT_SECRET: 'short', DATA_DIR: dir }), ConfigError);
    assert.doesNotThrow(() => loadConfig({ ...PRODUCTION, ...TEST_SECRETS, DATA_DIR: dir }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('invalid values name their variable', () => {
  const dir = tempDir();
  try {
    const err = configError(() =>
      loadConfig({
        ...TEST_SECRETS,
        DATA_DIR: dir,
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
        TELEGRAM_DC: 'no-port',
        JWT_EXPIRES_IN: '1 week',
      }),
    );
    for (const name of ['PORT', 'LOG_LEVEL', 'TELEGRAM_DC', 'JWT_EXPIRES_IN'])
      assert.match(err.message, new RegExp(name));

    const dc = configError(() =>
      loadConfig({ ...TEST_SECRETS, DATA_DIR: dir, TELEGRAM_DC: '127.0.0.1:9443' }),
    );
    assert.match(dc.message, /TELEGRAM_DC_PUBLIC_KEY_FILE/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('defaults follow the seed, and values parse into their types', () => {
  const dir = tempDir();
  try {
    const c = loadConfig({ ...TEST_SECRETS, DATA_DIR: dir });
    assert.equal(c.port, 3000);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.env, 'development');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.corsOrigin, '*');
    assert.deepEqual(c.rateLimit, { max: 3600, windowMs: 60000 });
    // One key can sustain the default send pacing of a few sessions.
    const perSessionPerWindow = (c.telegram.pacing.perSessionPerSecond * c.rateLimit.windowMs) / 1000;
    assert.ok(c.rateLimit.max >= 3 * perSessionPerWindow, `${c.rateLimit.max} < 3 x ${perSessionPerWindow}`);
    assert.equal(c.databaseUrl, `file:${join(dir, 'teleflow.db')}`);
    assert.equal(c.jwtExpiresInSeconds, 3600);
    assert.equal(c.webhookAllowPrivate, true, 'development allows private webhook targets');
    assert.equal(c.telegram.sandbox, false);

    const custom = loadConfig({
      ...TEST_SECRETS,
      DATA_DIR: dir,
      PORT: '8080',
      JWT_EXPIRES_IN: '2h',
      TELEGRAM_SANDBOX: 'true',
      TRUST_PROXY: '1',
      TELEGRAM_DC: '127.0.0.1:9443',
      TELEGRAM_DC_PUBLIC_KEY_FILE: '/tmp/key.pem',
      DATABASE_URL: 'postgres://u@localhost/db',
      GIT_COMMIT: 'abc123',
    });
    assert.equal(custom.port, 8080);
    assert.equal(custom.jwtExpiresInSeconds, 7200);
    assert.equal(custom.telegram.sandbox, true);
    assert.equal(custom.trustProxy, true);
    assert.deepEqual(custom.telegram.dc, { host: '127.0.0.1', port: 9443 });
    assert.equal(custom.databaseUrl, 'postgres://u@localhost/db');
    assert.equal(custom.commit, 'abc123');

    const prod = loadConfig({ ...PRODUCTION, ...TEST_SECRETS, DATA_DIR: dir });
    assert.equal(prod.webhookAllowPrivate, false, 'production refuses private webhook targets by default');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('development generates missing secrets once, keeps them with mode 0600, and reuses them', () => {
  const dir = tempDir();
  try {
    const first = loadConfig({ DATA_DIR: dir });
    assert.deepEqual(first.generatedSecrets.sort(), ['API_KEY', 'JWT_SECRET', 'SESSION_ENCRYPTION_KEY']);
    const file = join(dir, 'dev-secrets.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    assert.equal(stored.API_KEY, first.apiKey);
    assert.equal(stored.JWT_SECRET, first.jwtSecret);
    assert.equal(stored.SESSION_ENCRYPTION_KEY, first.sessionEncryptionKey);
    for (const v of Object.values(stored)) assert.ok(v.length >= 32);

    const second = loadConfig({ DATA_DIR: dir });
    assert.equal(second.apiKey, first.apiKey);
    assert.equal(second.jwtSecret, first.jwtSecret);
    assert.equal(second.sessionEncryptionKey, first.sessionEncryptionKey);

    // A secret given in the environment wins and is not written to the file.
    const given = loadConfig({ DATA_DIR: dir, API_KEY: TEST_SECRETS.API_KEY });
    assert.equal(given.apiKey, TEST_SECRETS.API_KEY);
    assert.ok(!given.generatedSecrets.includes('API_KEY'));
    assert.ok(!readFileSync(file, 'utf8').includes(TEST_SECRETS.API_KEY));

    const elsewhere = loadConfig({ DATA_DIR: join(dir, 'other') });
    assert.notEqual(elsewhere.apiKey, first.apiKey, 'each data directory has its own secrets');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('.env is read, and the environment wins over it', () => {
  const dir = tempDir();
  try {
    const file = join(dir, '.env');
    writeFileSync(
      file,
      '# comment\nPORT=4000\nexport HOST="127.0.0.1"\nCORS_ORIGIN=\'https://a.example\'\n\n',
    );
    const values = readDotEnv(file);
    assert.deepEqual(values, { PORT: '4000', HOST: '127.0.0.1', CORS_ORIGIN: 'https://a.example' });
    const c = loadConfig({ ...values, ...TEST_SECRETS, DATA_DIR: dir, PORT: '5000' });
    assert.equal(c.port, 5000);
    assert.equal(c.host, '127.0.0.1');
    assert.deepEqual(readDotEnv(join(dir, 'missing.env')), {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
