import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestApp } from '../helpers/app.js';

test('app boots, answers health and version, and 404s unknown routes in the envelope', async () => {
  const t = await createTestApp();
  try {
    const health = await t.app.inject({ method: 'GET', url: '/health' });
    assert.equal(health.statusCode, 200);
    assert.equal(health.json().status, 'ok');
    assert.equal(health.json().database.ok, true);
    assert.ok(health.headers['x-request-id']);

    const version = await t.app.inject({ method: 'GET', url: '/version' });
    assert.equal(version.statusCode, 200);
    assert.equal(version.json().node, process.versions.node);

    const missing = await t.app.inject({
      method: 'GET',
      url: '/api/v1/nope',
      headers: { 'x-request-id': 'abc-123' },
    });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), {
      success: false,
      error: { code: 'ROUTE_NOT_FOUND', message: 'Route GET /api/v1/nope not found', requestId: 'abc-123' },
    });
    assert.equal(missing.headers['x-request-id'], 'abc-123');
  } finally {
    await t.close();
  }
});

test('a known path asked with a method it lacks is a 405 METHOD_NOT_ALLOWED naming the allowed ones', async () => {
  const t = await createTestApp();
  try {
    const wrong = await t.app.inject({
      method: 'DELETE',
      url: '/api/v1/auth/me',
      headers: { 'x-api-key': t.adminKey, 'x-request-id': 'm-405' },
    });
    assert.equal(wrong.statusCode, 405);
    assert.deepEqual(wrong.json(), {
      success: false,
      error: {
        code: 'METHOD_NOT_ALLOWED',
        message: 'Method DELETE is not allowed on /api/v1/auth/me',
        requestId: 'm-405',
      },
    });
    assert.equal(wrong.headers.allow, 'GET, HEAD');

    // A path with parameters, and one with several methods.
    const session = await t.app.inject({ method: 'PUT', url: '/api/v1/sessions/sess_x?y=1' });
    assert.equal(session.statusCode, 405);
    assert.deepEqual(String(session.headers.allow).split(', ').sort(), ['DELETE', 'GET', 'HEAD']);
    const keys = await t.app.inject({ method: 'PATCH', url: '/api/v1/auth/keys/' });
    assert.equal(keys.statusCode, 405);
    assert.deepEqual(String(keys.headers.allow).split(', ').sort(), ['GET', 'HEAD', 'POST']);

    // Unknown paths stay 404.
    const unknown = await t.app.inject({ method: 'DELETE', url: '/api/v1/auth/nothing-here' });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().error.code, 'ROUTE_NOT_FOUND');
    assert.equal(unknown.headers.allow, undefined);
  } finally {
    await t.close();
  }
});

test('GET / leads to the dashboard', async () => {
  const t = await createTestApp();
  try {
    const root = await t.app.inject({ method: 'GET', url: '/' });
    assert.equal(root.statusCode, 302);
    assert.equal(root.headers.location, '/dashboard');
    const dashboard = await t.app.inject({ method: 'GET', url: String(root.headers.location) });
    assert.match(String(dashboard.headers['content-type']), /^text\/html/, `dashboard: ${dashboard.statusCode}`);
  } finally {
    await t.close();
  }
});
