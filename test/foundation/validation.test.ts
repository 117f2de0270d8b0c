import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createTestApp } from '../helpers/app.js';
import { apiRoutes, fillPath, routeKey } from '../helpers/route-auth.js';

function errorOf(res: { json(): unknown }) {
  return (res.json() as { success: boolean; error: { code: string; message: string; details?: unknown } })
    .error;
}

test('malformed JSON is a 400 VALIDATION_ERROR envelope', async () => {
  const t = await createTestApp();
  try {
    for (const payload of ['{"name": "x", ', '{"name": undefined}', 'not json', '[1,2']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/keys',
        headers: { 'x-api-key': t.adminKey, 'content-type': 'application/json' },
        payload,
      });
      assert.equal(res.statusCode, 400, payload);
      assert.equal(res.json().success, false);
      assert.equal(errorOf(res).code, 'VALIDATION_ERROR', payload);
    }
    const empty = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: '',
    });
    assert.equal(empty.statusCode, 400);
    assert.equal(errorOf(empty).code, 'VALIDATION_ERROR');
  } finally {
    await t.close();
  }
});

test('wrong types and unknown fields are a 400 whose details name each field', async () => {
  const t = await createTestApp();
  try {
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/keys',
      headers: { 'x-api-key': t.adminKey },
      payload: { name: 42, role: 'superuser', sessionIds: 'not-a-list' },
    });
    assert.equal(wrong.statusCode, 400);
    const err = errorOf(wrong);
    assert.equal(err.code, 'VALIDATION_ERROR');
    const fields = (err.details as { field: string; message: string }[]).map((d) => d.field).sort();
    assert.deepEqual(fields, ['body.name', 'body.role', 'body.sessionIds']);

    const unknown = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/keys',
      headers: { 'x-api-key': t.adminKey },
      payload: { name: 'ok', role: 'viewer', colour: 'blue', admin: true },
    });
    assert.equal(unknown.statusCode, 400);
    const unknownFields = (errorOf(unknown).details as { field: string }[]).map((d) => d.field).join(' ');
    assert.equal(unknownFields, 'body.colour body.admin');

    const missing = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: {},
    });
    assert.equal(missing.statusCode, 400);
    assert.deepEqual(
      (errorOf(missing).details as { field: string }[]).map((d) => d.field),
      ['body.apiKey'],
    );

    const nested = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/keys',
      headers: { 'x-api-key': t.adminKey },
      payload: { name: 'ok', role: 'viewer', sessionIds: ['s1', 7] },
    });
    assert.equal(nested.statusCode, 400);
    assert.deepEqual(
      (errorOf(nested).details as { field: string }[]).map((d) => d.field),
      ['body.sessionIds.1'],
    );
  } finally {
    await t.close();
  }
});

test('a body over BODY_LIMIT_BYTES is a 413 PAYLOAD_TOO_LARGE', async () => {
  const t = await createTestApp({ env: { BODY_LIMIT_BYTES: '2048' } });
  try {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { apiKey: 'x'.repeat(4096) },
    });
    assert.equal(res.statusCode, 413);
    assert.equal(errorOf(res).code, 'PAYLOAD_TOO_LARGE');
    const small = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { apiKey: 'x'.repeat(100) },
    });
    assert.equal(small.statusCode, 401, 'a body under the limit reaches the handler');
  } finally {
    await t.close();
  }
});

test('an unsupported content type is a 415 UNSUPPORTED_MEDIA_TYPE', async () => {
  const t = await createTestApp();
  try {
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { 'content-type': type },
        payload: 'apiKey=abc',
      });
      assert.equal(res.statusCode, 415, type);
      assert.equal(errorOf(res).code, 'UNSUPPORTED_MEDIA_TYPE');
    }
  } finally {
    await t.close();
  }
});

test('bad path params and query strings are 4xx, never 500', async () => {
  const t = await createTestApp();
  try {
    const longId = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/keys/${'k'.repeat(500)}`,
      headers: { 'x-api-key': t.adminKey },
    });
    assert.equal(longId.statusCode, 400);
    assert.equal(errorOf(longId).details instanceof Array, true);
    assert.match(JSON.stringify(errorOf(longId).details), /params\.id/);

    const overRouterLimit = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/keys/${'k'.repeat(2000)}`,
      headers: { 'x-api-key': t.adminKey, 'x-request-id': 'long-param-1' },
    });
    assert.equal(overRouterLimit.statusCode, 400);
    assert.equal(errorOf(overRouterLimit).code, 'VALIDATION_ERROR');
    assert.equal(overRouterLimit.headers['x-request-id'], 'long-param-1');

    const badUrl = await t.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me?%E0%A4%A',
      headers: { 'x-api-key': t.adminKey },
    });
    assert.ok(badUrl.statusCode < 500, `bad query string: ${badUrl.statusCode}`);
  } finally {
    await t.close();
  }
});

test('no route answers 500 to malformed JSON, a wrong content type or an oversized body', async () => {
  // The media routes have their own JSON limit (base64 files): set as low for this test.
  const t = await createTestApp({ env: { BODY_LIMIT_BYTES: '4096', MEDIA_JSON_BODY_LIMIT_BYTES: '4096' } });
  try {
    // Rejected while the body is read, before any handler runs: safe to send to every route.
    const withBodies = apiRoutes(t).filter((r) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method));
    assert.ok(withBodies.length >= 3);
    const cases = [
      { type: 'application/json', payload: '{"broken":', status: 400 },
      { type: 'text/csv', payload: 'a,b', status: 415 },
      { type: 'application/json', payload: JSON.stringify({ pad: 'x'.repeat(8192) }), status: 413 },
    ];
    for (const route of withBodies) {
      for (const c of cases) {
        const res = await t.app.inject({
          method: route.method as 'POST',
          url: fillPath(route.url),
          headers: { 'x-api-key': t.adminKey, 'content-type': c.type },
          payload: c.payload,
        });
        assert.equal(
          res.statusCode,
          c.status,
          `${routeKey(route)} with ${c.type}: ${res.body.slice(0, 200)}`,
        );
        assert.equal(res.json().success, false);
      }
    }
  } finally {
    await t.close();
  }
});

test('an empty body with Content-Type: application/json is no body: bodiless routes answer, required fields are named', async () => {
  const t = await createTestApp();
  try {
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { apiKey: t.adminKey },
    });
    const jwt = login.json().data.token as string;
    const emptyJson = (method: 'POST' | 'PUT', url: string, headers: Record<string, string> = {}) =>
      t.app.inject({
        method,
        url,
        headers: { 'x-api-key': t.adminKey, 'content-type': 'application/json', ...headers },
        payload: '',
      });

    // Routes without a body, or whose body is all optional.
    const logout = await emptyJson('POST', '/api/v1/auth/logout', {
      authorization: `Bearer ${jwt}`,
      'x-api-key': '',
    });
    assert.equal(logout.statusCode, 200, logout.body);
    assert.equal(logout.json().data.revoked, true);
    for (const url of [
      '/api/v1/sessions/sess_missing/connect',
      '/api/v1/sessions/sess_missing/disconnect',
      '/api/v1/sessions/sess_missing/export',
      '/api/v1/webhooks/wh_missing/test',
    ]) {
      const res = await emptyJson('POST', url);
      assert.equal(res.statusCode, 404, `${url}: ${res.body}`);
    }
    // An all-optional body (a partial update) passes validation: the webhook is what is missing.
    const update = await emptyJson('PUT', '/api/v1/webhooks/wh_missing');
    assert.equal(update.statusCode, 404, update.body);

    // A route that needs a body names each missing field.
    const keys = await emptyJson('POST', '/api/v1/auth/keys');
    assert.equal(keys.statusCode, 400);
    assert.equal(errorOf(keys).code, 'VALIDATION_ERROR');
    const fields = (errorOf(keys).details as { field: string }[]).map((d) => d.field).sort();
    assert.deepEqual(fields, ['body.name', 'body.role']);
    const noHeader = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login' });
    assert.equal(noHeader.statusCode, 400);
    assert.deepEqual(
      (errorOf(noHeader).details as { field: string }[]).map((d) => d.field),
      ['body.apiKey'],
    );
    // Whitespace is no body either; anything else must still be JSON.
    const spaces = await t.app.inject({
      method: 'POST',
      url: '/api/v1/sessions/sess_missing/connect',
      headers: { 'x-api-key': t.adminKey, 'content-type': 'application/json' },
      payload: ' \n',
    });
    assert.equal(spaces.statusCode, 404);
    const poisoned = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/keys',
      headers: { 'x-api-key': t.adminKey, 'content-type': 'application/json' },
      payload: '{"name": "x", "role": "viewer", "__proto__": {"admin": true}}',
    });
    assert.equal(poisoned.statusCode, 400);
  } finally {
    await t.close();
  }
});

test('over a real connection, an empty JSON body (Content-Length: 0 or chunked) is no body', async () => {
  const t = await createTestApp();
  try {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const post = (path: string, headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            path,
            method: 'POST',
            agent: false,
            headers: { 'x-api-key': t.adminKey, ...headers },
          },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode!, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const framings: Record<string, string>[] = [
      { 'content-length': '0' },
      { 'transfer-encoding': 'chunked' },
    ];
    for (const framing of framings) {
      const res = await post('/api/v1/sessions/sess_missing/export', {
        'content-type': 'application/json',
        ...framing,
      });
      assert.equal(res.status, 404, `${JSON.stringify(framing)}: ${res.body}`);
      assert.equal(JSON.parse(res.body).error.code, 'SESSION_NOT_FOUND');
      const keys = await post('/api/v1/auth/keys', { 'content-type': 'application/json', ...framing });
      assert.equal(keys.status, 400);
      assert.match(keys.body, /body\.name/);
    }
  } finally {
    await t.close();
  }
});
