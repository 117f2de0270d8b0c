/**
 * GET /metrics: who may scrape it, what it always holds (instance, process, HTTP requests by
 * route pattern), and /health naming the instance. The metrics fed by sessions, events,
 * webhooks and streams are in operations.test.ts.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { createTestApp, ensureSessions, TEST_SECRETS, type TestApp } from '../helpers/app.js';
import { scrape, valueOf } from './helpers.js';

const METRICS_TOKEN = 'prometheus-scrape-token-0123456789';
let t: TestApp;
let admin: Record<string, string>;

before(async () => {
  t = await createTestApp({ env: { INSTANCE_ID: 'node-a', METRICS_TOKEN } });
  admin = { 'x-api-key': t.adminKey };
});

after(async () => {
  await t?.close();
});

const get = (headers: Record<string, string> = {}) => t.app.inject({ url: '/metrics', headers });

test('without credentials, with a wrong token or a non-admin key: 401/403 in the envelope', async () => {
  const none = await get();
  assert.equal(none.statusCode, 401);
  assert.equal(none.json().error.code, 'UNAUTHORIZED');
  assert.match(none.json().error.message, /METRICS_TOKEN/);
  assert.equal(typeof none.json().error.requestId, 'string');

  const wrong = await get({ authorization: `Bearer ${METRICS_TOKEN}x` });
  assert.equal(wrong.statusCode, 401);
  assert.equal(wrong.json().error.code, 'UNAUTHORIZED');
  assert.equal((await get({ authorization: 'Basic abc' })).statusCode, 401);

  for (const role of ['viewer', 'operator'] as const) {
    const res = await get({ 'x-api-key': await t.keyFor(role) });
    assert.equal(res.statusCode, 403, role);
    assert.equal(res.json().error.code, 'FORBIDDEN');
  }
  // The metrics name every session: an admin key limited to some sessions may not read them.
  const limited = await get({ 'x-api-key': await t.keyFor('admin', ['s_metrics_limited']) });
  assert.equal(limited.statusCode, 403);
});

test('METRICS_TOKEN as a bearer token, an admin key and an admin JWT may scrape', async () => {
  await scrape(t.app, { authorization: `Bearer ${METRICS_TOKEN}` });
  await scrape(t.app, admin);
  await scrape(t.app, { authorization: `Bearer ${t.adminKey}` });
  const login = await t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { apiKey: t.adminKey },
  });
  await scrape(t.app, { authorization: `Bearer ${login.json().data.token as string}` });
});

test('the instance, its process and its version are there, every name prefixed teleflow_', async () => {
  const { samples } = await scrape(t.app, admin);
  assert.equal(valueOf(samples, 'teleflow_instance_info', { instance_id: 'node-a' }), 1);
  assert.ok(valueOf(samples, 'teleflow_process_resident_memory_bytes') > 0);
  assert.ok(samples.some((s) => s.name === 'teleflow_nodejs_heap_size_used_bytes'));
  assert.deepEqual(
    samples.filter((s) => !s.name.startsWith('teleflow_')).map((s) => s.name),
    [],
  );
});

test('HTTP requests are counted by route pattern and status class, never by raw URL', async () => {
  const route = { method: 'GET', route: '/api/v1/sessions/:id', status_class: '4xx' };
  const before = await scrape(t.app, admin);
  const count0 = valueOf(before.samples, 'teleflow_http_requests_total', route);
  for (const id of ['s_one', 's_two', 's_three'])
    assert.equal((await t.app.inject({ url: `/api/v1/sessions/${id}`, headers: admin })).statusCode, 404);
  await ensureSessions(t.app, ['s_present']);
  const ok = await t.app.inject({ url: '/api/v1/sessions/s_present', headers: admin });
  assert.equal(ok.statusCode, 200);
  await t.app.inject({ url: '/no/such/path/123' });

  const { text, samples } = await scrape(t.app, admin);
  assert.equal(valueOf(samples, 'teleflow_http_requests_total', route) - count0, 3);
  assert.equal(
    valueOf(samples, 'teleflow_http_requests_total', { ...route, status_class: '2xx' }),
    1,
    'the 200 is a series of its own',
  );
  const durations = valueOf(samples, 'teleflow_http_request_duration_seconds_count', route);
  assert.ok(durations >= 3, 'the duration histogram counts them too');
  const buckets = samples.filter(
    (s) =>
      s.name === 'teleflow_http_request_duration_seconds_bucket' &&
      s.labels.route === route.route &&
      s.labels.status_class === '4xx',
  );
  assert.equal(buckets.at(-1)?.labels.le, '+Inf');
  assert.equal(buckets.at(-1)?.value, durations);
  assert.ok(
    buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1]!.value),
    'buckets are cumulative',
  );
  assert.ok(valueOf(samples, 'teleflow_http_request_duration_seconds_sum', route) > 0);
  assert.ok(
    valueOf(samples, 'teleflow_http_requests_total', { route: 'unmatched', status_class: '4xx' }) >= 1,
  );
  for (const raw of ['s_one', 's_present', '/no/such/path']) assert.ok(!text.includes(raw), raw);
});

test('METRICS_ENABLED=false: no /metrics route', async () => {
  const off = await createTestApp({ env: { METRICS_ENABLED: 'false' } });
  try {
    const res = await off.app.inject({ url: '/metrics', headers: { 'x-api-key': off.adminKey } });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'ROUTE_NOT_FOUND');
  } finally {
    await off.close();
  }
});

test('/health names the answering instance and the sessions it runs; /metrics is in the OpenAPI document', async () => {
  const health = await t.app.inject({ url: '/health' });
  assert.equal(health.statusCode, 200);
  assert.deepEqual(health.json().instance, { id: 'node-a', sessions: [] });

  const doc = (await t.app.inject({ url: '/docs/json' })).json();
  assert.ok(doc.paths['/metrics']?.get, 'GET /metrics documented');
  assert.ok(doc.paths['/health'].get.responses['200']);
});

test('INSTANCE_ID defaults to hostname-pid and refuses characters that do not belong in a label', async () => {
  const base = { NODE_ENV: 'test', DATA_DIR: t.dataDir, ...TEST_SECRETS };
  assert.equal(loadConfig(base).instanceId, `${hostname()}-${process.pid}`);
  assert.throws(() => loadConfig({ ...base, INSTANCE_ID: 'a b"c' }), /INSTANCE_ID/);
  assert.throws(() => loadConfig({ ...base, METRICS_TOKEN: 'short' }), /METRICS_TOKEN/);
});
