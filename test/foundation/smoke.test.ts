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
