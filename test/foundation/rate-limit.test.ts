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
