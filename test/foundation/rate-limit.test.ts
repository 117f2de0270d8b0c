import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestApp } from '../helpers/app.js';

test('the 429 message states the limit with its window and, apart, the seconds left', async () => {
  const t = await createTestApp({ env: { RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '90000' } });
  try {
    const me = () =>
      t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { 'x-api-key': t.adminKey } });
    assert.equal((await me()).statusCode, 200);
    assert.equal((await me()).statusCode, 200);
    // Time passes inside the window: the seconds left are no longer the window's length.
    await new Promise((r) => setTimeout(r, 1100));
    const limited = await me();
    assert.equal(limited.statusCode, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 85 && retryAfter <= 89, `Retry-After ${retryAfter}`);
    assert.equal(
      limited.json().error.message,
      `Rate limit of 2 requests per 90 s exceeded; retry in ${retryAfter} s`,
    );
  } finally {
    await t.close();
  }
});

test('answers carry x-ratelimit-limit, -remaining and -reset; a JWT spends its key budget', async () => {
  const t = await createTestApp({ env: { RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_MS: '60000' } });
  try {
    const key = await t.keyFor('viewer');
    const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { apiKey: key } });
    const jwt = login.json().data.token as string;
    const viaKey = await t.app.inject({ url: '/api/v1/auth/me', headers: { 'x-api-key': key } });
    assert.equal(viaKey.headers['x-ratelimit-limit'], '5');
    const reset = Number(viaKey.headers['x-ratelimit-reset']);
    assert.ok(reset >= 59 && reset <= 60, `reset ${reset}`);
    // The login above carried the key in its body, not as a credential: its client address paid.
    const remaining = Number(viaKey.headers['x-ratelimit-remaining']);
    const viaJwt = await t.app.inject({
      url: '/api/v1/auth/me',
      headers: { authorization: `Bearer ${jwt}` },
    });
    assert.equal(viaJwt.statusCode, 200);
    assert.equal(
      Number(viaJwt.headers['x-ratelimit-remaining']),
      remaining - 1,
      'one budget for key and JWT',
    );
    // A route that opts out carries no rate-limit headers.
    const health = await t.app.inject({ url: '/health' });
    assert.equal(health.headers['x-ratelimit-limit'], undefined);
  } finally {
    await t.close();
  }
});

test('window counter: windows start at a key first request, end after the window, and stay bounded', async () => {
  const { WindowCounter } = await import('../../src/plugins/rate-limit.js');
  let now = 1_000_000;
  const counter = new WindowCounter(60_000, 3, () => now);
  assert.equal(counter.hit('a').count, 1);
  now += 30_000;
  assert.equal(counter.hit('a').count, 2);
  assert.equal(counter.hit('b').resetAt, now + 60_000, "b's window starts at its own first request");
  now += 30_000; // a's window has ended, b's has not
  assert.equal(counter.hit('a').count, 1, 'a new window');
  assert.equal(counter.hit('b').count, 2);
  counter.hit('c');
  assert.equal(counter.size, 3);
  // Full of live windows: the oldest goes (b, since a was started again after it).
  counter.hit('d');
  assert.equal(counter.size, 3);
  assert.equal(counter.hit('b').count, 1, 'b was dropped and starts afresh');
  // Once windows end they are dropped before any live one.
  now += 61_000;
  counter.hit('e');
  assert.ok(counter.size <= 3);
  assert.equal(counter.hit('e').count, 2);
});
