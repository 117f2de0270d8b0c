import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestApp } from '../helpers/app.js';

test('rate limiting: the request over RATE_LIMIT_MAX is a 429 RATE_LIMITED with Retry-After, per key', async () => {
  const t = await createTestApp({ env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' } });
  try {
    // Keys are created before the limited calls: each creation spends one of the admin key's requests.
    const first = await t.keyFor('viewer');
    const second = await t.keyFor('viewer');
    const me = (key: string) =>
      t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { 'x-api-key': key } });

    for (let i = 0; i < 3; i++) assert.equal((await me(first)).statusCode, 200, `request ${i + 1}`);
    const limited = await me(first);
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().success, false);
    assert.equal(limited.json().error.code, 'RATE_LIMITED');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${limited.headers['retry-after']}`);
    assert.ok(limited.headers['x-request-id']);

    assert.equal((await me(second)).statusCode, 200, 'another key has its own budget');

    // The same key as a bearer token is the same caller.
    const bearer = await t.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: { authorization: `Bearer ${second}` },
    });
    assert.equal(bearer.statusCode, 200);

    // Health checks are never rate limited.
    for (let i = 0; i < 5; i++) assert.equal((await t.app.inject({ url: '/health' })).statusCode, 200);

    // Without credentials the budget is per client address.
    for (let i = 0; i < 3; i++) {
      const anon = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me' });
      assert.equal(anon.statusCode, 401);
    }
    const anonLimited = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me' });
    assert.equal(anonLimited.statusCode, 429);
    // Made-up keys count against the address too: rotating them does not reset the budget.
    const guessed = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { apiKey: 'tf_guess_1' },
      headers: { 'x-api-key': 'tf_guess_2' },
    });
    assert.equal(guessed.statusCode, 429);
    // A key and the JWT issued for it share one budget.
    const third = await t.keyFor('viewer');
    const token = (
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { apiKey: third },
        remoteAddress: '10.9.9.9',
      })
    ).json().data.token as string;
    assert.equal((await me(third)).statusCode, 200);
    assert.equal((await me(third)).statusCode, 200);
    const viaJwt = (n: number) =>
      t.app.inject({
        method: 'GET',
        url: '/api/v1/auth/me',
        headers: { authorization: `Bearer ${token}` },
        remoteAddress: `10.0.0.${n}`,
      });
    assert.equal((await viaJwt(1)).statusCode, 200);
    assert.equal((await viaJwt(2)).statusCode, 429);
    const otherAddress = await t.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      remoteAddress: '10.1.2.3',
    });
    assert.equal(otherAddress.statusCode, 401);
  } finally {
    await t.close();
  }
});

test('CORS follows CORS_ORIGIN and exposes the request id', async () => {
  const t = await createTestApp({ env: { CORS_ORIGIN: 'https://app.example, https://admin.example' } });
  try {
    const preflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/auth/me',
      headers: {
        origin: 'https://admin.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'x-api-key',
      },
    });
    assert.ok(
      preflight.statusCode === 204 || preflight.statusCode === 200,
      `preflight ${preflight.statusCode}`,
    );
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://admin.example');
    assert.equal(preflight.headers['access-control-allow-headers'], 'x-api-key');
    assert.ok(Number(preflight.headers['access-control-max-age']) > 0);
    // Every method of the API passes a preflight, not only the CORS-safelisted GET, HEAD, POST.
    const methods = String(preflight.headers['access-control-allow-methods']).split(/,\s*/);
    for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
      assert.ok(methods.includes(m), `${m} in ${methods}`);
    // A preflight is answered before authentication: it carries no credentials.
    const deletePreflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/sessions/sess_x',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'DELETE' },
    });
    assert.equal(deletePreflight.statusCode, 204);
    assert.equal(deletePreflight.headers['access-control-allow-origin'], 'https://app.example');
    const refused = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/auth/me',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(refused.headers['access-control-allow-origin'], undefined);
    assert.equal(refused.headers['access-control-allow-methods'], undefined);
    // Without an Origin nothing of CORS is added, but caches are told answers vary by it.
    const plain = await t.app.inject({ url: '/health' });
    assert.equal(plain.headers['access-control-allow-origin'], undefined);
    assert.equal(plain.headers['access-control-expose-headers'], undefined);
    assert.match(String(plain.headers.vary), /Origin/);

    const allowed = await t.app.inject({ url: '/health', headers: { origin: 'https://app.example' } });
    assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example');
    assert.match(String(allowed.headers['access-control-expose-headers']), /X-Request-Id/);

    const other = await t.app.inject({ url: '/health', headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  } finally {
    await t.close();
  }

  const open = await createTestApp();
  try {
    const res = await open.app.inject({ url: '/health', headers: { origin: 'https://anywhere.example' } });
    assert.ok(['*', 'https://anywhere.example'].includes(String(res.headers['access-control-allow-origin'])));
  } finally {
    await open.close();
  }
});

test('security headers are set on API answers and errors', async () => {
  const t = await createTestApp();
  try {
    for (const url of ['/health', '/api/v1/auth/me', '/api/v1/nope']) {
      const res = await t.app.inject({ url });
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.ok(res.headers['x-frame-options'], url);
      assert.ok(res.headers['strict-transport-security'], url);
      assert.ok(res.headers['referrer-policy'], url);
      assert.equal(res.headers['x-powered-by'], undefined, url);
      assert.equal(res.headers['cross-origin-resource-policy'], 'same-origin', url);
    }
    // The API's JSON answers carry the subset that matters for answers no browser renders as a
    // page; pages (here /health, /docs) keep helmet's whole set.
    const api = await t.app.inject({ url: '/api/v1/auth/me' });
    assert.equal(api.headers['x-dns-prefetch-control'], undefined);
    assert.equal(api.headers['x-download-options'], undefined);
    const page = await t.app.inject({ url: '/health' });
    assert.equal(page.headers['x-dns-prefetch-control'], 'off');
    assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
  } finally {
    await t.close();
  }
});

test('X-Request-Id is echoed when valid and generated otherwise, also in error bodies', async () => {
  const t = await createTestApp();
  try {
    const echoed = await t.app.inject({
      url: '/api/v1/auth/me',
      headers: { 'x-request-id': 'client-req.42:a_b' },
    });
    assert.equal(echoed.headers['x-request-id'], 'client-req.42:a_b');
    assert.equal(echoed.json().error.requestId, 'client-req.42:a_b');

    const generated = await t.app.inject({ url: '/health' });
    const id = String(generated.headers['x-request-id']);
    assert.match(id, /^[A-Za-z0-9_-]{8,}$/);
    const another = await t.app.inject({ url: '/health' });
    assert.notEqual(another.headers['x-request-id'], id, 'generated ids differ');

    for (const bad of ['has spaces in it', 'x'.repeat(200), '<script>']) {
      const res = await t.app.inject({ url: '/api/v1/auth/me', headers: { 'x-request-id': bad } });
      const got = String(res.headers['x-request-id']);
      assert.notEqual(got, bad);
      assert.match(got, /^[A-Za-z0-9_-]{8,}$/);
      assert.equal(res.json().error.requestId, got);
    }
  } finally {
    await t.close();
  }
});

test('5xx answers hide the cause and carry INTERNAL_ERROR', async () => {
  const t = await createTestApp();
  try {
    // Closing the database under the running app is the simplest real internal failure.
    await t.app.services.db.close();
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/keys',
      headers: { 'x-api-key': t.adminKey },
      payload: { name: 'x', role: 'viewer' },
    });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().error.code, 'INTERNAL_ERROR');
    assert.equal(res.json().error.message, 'Internal server error');
    assert.doesNotMatch(res.body, /destroy|sqlite|kysely|stack|at /i);

    const health = await t.app.inject({ url: '/health' });
    assert.equal(health.statusCode, 503);
    assert.equal(health.json().database.ok, false);
  } finally {
    await t.close();
  }
});

test('while shutting down, /health answers 503 and API requests 503 SHUTTING_DOWN with Retry-After', async () => {
  const t = await createTestApp();
  try {
    t.app.services.lifecycle.shuttingDown = true;
    const health = await t.app.inject({ url: '/health' });
    assert.equal(health.statusCode, 503);
    assert.equal(health.json().status, 'shutting_down');
    const api = await t.app.inject({ url: '/api/v1/auth/me', headers: { 'x-api-key': t.adminKey } });
    assert.equal(api.statusCode, 503);
    assert.equal(api.json().error.code, 'SHUTTING_DOWN');
    assert.ok(Number(api.headers['retry-after']) >= 1);
    assert.equal(api.headers.connection, 'close');
  } finally {
    await t.close();
  }
});

test('Swagger UI keeps its CSP but does not ask browsers to upgrade to https', async () => {
  const t = await createTestApp();
  try {
    for (const url of ['/docs/', '/docs/static/index.html', '/docs/static/swagger-initializer.js']) {
      const res = await t.app.inject({ url });
      const csp = String(res.headers['content-security-policy'] ?? '');
      assert.match(csp, /default-src 'self'/, url);
      assert.match(csp, /object-src 'none'/, url);
      assert.doesNotMatch(csp, /upgrade-insecure-requests/, url);
    }
  } finally {
    await t.close();
  }
});
