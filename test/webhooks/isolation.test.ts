import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestApp, ensureSessions } from '../helpers/app.js';

test('a key limited to some sessions manages only webhooks limited to them; others look absent', async () => {
  const t = await createTestApp();
  try {
    await ensureSessions(t.app, ['s3']);
    const admin = { 'x-api-key': t.adminKey };
    const limited = { 'x-api-key': await t.keyFor('admin', ['s1', 's2']) };
    const url = 'http://127.0.0.1:9/hook';

    const global = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: admin,
      payload: { url, events: ['*'] },
    });
    assert.equal(global.statusCode, 201);
    const otherTenant = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: admin,
      payload: { url, events: ['*'], sessionIds: ['s3'] },
    });
    assert.equal(otherTenant.statusCode, 201);

    const own = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: limited,
      payload: { url, events: ['*'] },
    });
    assert.equal(own.statusCode, 201, own.body);
    assert.deepEqual(own.json().data.sessionIds, ['s1', 's2'], 'defaults to the key’s own sessions');

    const foreign = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: limited,
      payload: { url, events: ['*'], sessionIds: ['s1', 's3'] },
    });
    assert.equal(foreign.statusCode, 404);
    assert.equal(foreign.json().error.code, 'SESSION_NOT_FOUND');

    const list = await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: limited });
    assert.deepEqual(
      list.json().data.map((w: { id: string }) => w.id),
      [own.json().data.id],
    );
    const all = await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: admin });
    assert.equal(all.json().data.length, 3);

    for (const hidden of [global.json().data.id, otherTenant.json().data.id]) {
      for (const [method, path, payload] of [
        ['GET', `/api/v1/webhooks/${hidden}`, undefined],
        ['PUT', `/api/v1/webhooks/${hidden}`, { enabled: false }],
        ['DELETE', `/api/v1/webhooks/${hidden}`, undefined],
        ['GET', `/api/v1/webhooks/${hidden}/deliveries`, undefined],
        ['POST', `/api/v1/webhooks/${hidden}/deliveries/redeliver`, {}],
        ['POST', `/api/v1/webhooks/${hidden}/test`, {}],
      ] as const) {
        const res = await t.app.inject({
          method,
          url: path,
          headers: limited,
          ...(payload ? { payload } : {}),
        });
        assert.equal(res.statusCode, 404, `${method} ${path}`);
        assert.equal(res.json().error.code, 'WEBHOOK_NOT_FOUND');
      }
    }

    const widen = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/webhooks/${own.json().data.id}`,
      headers: limited,
      payload: { sessionIds: null },
    });
    assert.equal(widen.statusCode, 200);
    assert.deepEqual(
      widen.json().data.sessionIds,
      ['s1', 's2'],
      'a limited key cannot widen a webhook to all sessions',
    );
  } finally {
    await t.close();
  }
});
