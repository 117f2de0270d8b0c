/** CLUSTER's settings: PostgreSQL only, the internal URL and the lease TTL. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { TEST_SECRETS } from '../helpers/app.js';

const base = { NODE_ENV: 'test', PORT: '3456', ...TEST_SECRETS };

test('one process per database unless CLUSTER=true', () => {
  assert.equal(loadConfig({ ...base, DATABASE_URL: 'postgres://db/teleflow' }).cluster, null);
});

test('CLUSTER=true needs PostgreSQL', () => {
  assert.throws(
    () => loadConfig({ ...base, CLUSTER: 'true', DATABASE_URL: 'file:/tmp/x.db' }),
    (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('CLUSTER:')),
  );
});

test('the internal URL defaults to loopback on PORT; the lease TTL is bounded; rebalancing can be off', () => {
  const config = loadConfig({ ...base, CLUSTER: 'true', DATABASE_URL: 'postgres://db/teleflow' });
  assert.deepEqual(config.cluster, {
    instanceUrl: 'http://127.0.0.1:3456',
    leaseTtlMs: 15_000,
    rebalanceBatch: 10,
  });
  const given = loadConfig({
    ...base,
    CLUSTER: 'true',
    DATABASE_URL: 'postgresql://db/teleflow',
    INSTANCE_URL: 'http://10.0.0.5:3000/',
    CLUSTER_LEASE_TTL_MS: '6000',
    CLUSTER_REBALANCE_BATCH: '0',
  });
  assert.deepEqual(given.cluster, {
    instanceUrl: 'http://10.0.0.5:3000',
    leaseTtlMs: 6000,
    rebalanceBatch: 0,
  });
  assert.throws(
    () =>
      loadConfig({ ...base, CLUSTER: 'true', DATABASE_URL: 'postgres://db/x', CLUSTER_LEASE_TTL_MS: '100' }),
    ConfigError,
  );
  assert.throws(
    () => loadConfig({ ...base, CLUSTER: 'true', DATABASE_URL: 'postgres://db/x', INSTANCE_URL: 'ftp://x' }),
    ConfigError,
  );
});

test('with PORT=0 the other instances cannot guess the address: INSTANCE_URL is required', () => {
  assert.throws(
    () => loadConfig({ ...base, PORT: '0', CLUSTER: 'true', DATABASE_URL: 'postgres://db/x' }),
    (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('INSTANCE_URL:')),
  );
  const given = loadConfig({
    ...base,
    PORT: '0',
    CLUSTER: 'true',
    DATABASE_URL: 'postgres://db/x',
    INSTANCE_URL: 'http://10.0.0.5:3000',
  });
  assert.equal(given.cluster?.instanceUrl, 'http://10.0.0.5:3000');
});
