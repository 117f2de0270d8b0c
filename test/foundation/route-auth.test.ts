import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { createTestApp, ensureSessions, type TestApp } from '../helpers/app.js';
import { apiRoutes, assertRouteAuth, assertSessionIsolation, routeKey } from '../helpers/route-auth.js';

test('every protected /api/v1 route answers 401 without credentials and 403 to a role too low', async () => {
  const t = await createTestApp();
  try {
    const checked = (await assertRouteAuth(t)).map(routeKey);
    for (const key of [
      'GET /api/v1/auth/me',
      'POST /api/v1/auth/logout',
      'GET /api/v1/auth/keys',
      'POST /api/v1/auth/keys',
      'DELETE /api/v1/auth/keys/:id',
    ]) {
      assert.ok(checked.includes(key), `${key} was checked`);
    }
    assert.equal(checked.length, apiRoutes(t).length - 1, 'every route but login is protected');
  } finally {
    await t.close();
  }
});

test('the only public /api/v1 route is login', async () => {
  const t = await createTestApp();
  try {
    const publicRoutes = apiRoutes(t)
      .filter((r) => r.public)
      .map(routeKey);
    assert.deepEqual(publicRoutes, ['POST /api/v1/auth/login']);
  } finally {
    await t.close();
  }
});

test('admin routes are refused to operator and viewer keys', async () => {
  const t = await createTestApp();
  try {
    const adminOnly = apiRoutes(t)
      .filter((r) => r.minRole === 'admin')
      .map(routeKey);
    for (const key of ['GET /api/v1/auth/keys', 'POST /api/v1/auth/keys', 'DELETE /api/v1/auth/keys/:id']) {
      assert.ok(adminOnly.includes(key), `${key} needs admin`);
    }
  } finally {
    await t.close();
  }
});

/** A TestApp around an app with extra routes, to show the shared checks catch mistakes. */
async function appWithExtraRoutes(
  register: (app: Awaited<ReturnType<typeof buildApp>>) => void,
): Promise<{ t: TestApp; close: () => Promise<void> }> {
  const base = await createTestApp();
  const app = await buildApp(base.config);
  register(app);
  await app.ready();
  const t: TestApp = {
    ...base,
    app,
    async keyFor(role, sessionIds) {
      await ensureSessions(app, sessionIds);
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/keys',
        headers: { 'x-api-key': base.adminKey },
        payload: { name: role, role, ...(sessionIds ? { sessionIds } : {}) },
      });
      return (res.json() as { data: { key: string } }).data.key;
    },
  };
  return {
    t,
    close: async () => {
      await app.close();
      await base.close();
    },
  };
}

test('the shared check fails for a route registered outside the authenticated scope', async () => {
  const { t, close } = await appWithExtraRoutes((app) => {
    app.get('/api/v1/leaky', async () => ({ success: true, data: 'no auth here' }));
  });
  try {
    await assert.rejects(assertRouteAuth(t), /GET \/api\/v1\/leaky answered 200/);
  } finally {
    await close();
  }
});

test('the shared check fails for a route that checks credentials but not the role', async () => {
  const { t, close } = await appWithExtraRoutes((app) => {
    app.register(async (scope) => {
      scope.addHook('onRequest', async (request) => {
        const key = request.headers['x-api-key'];
        request.principal = await app.services.auth.authenticate(typeof key === 'string' ? key : undefined);
      });
      scope.post('/api/v1/pretend-admin', { config: { minRole: 'admin' } }, async () => ({ success: true }));
    });
  });
  try {
    await assert.rejects(
      assertRouteAuth(t, { only: (r) => r.url === '/api/v1/pretend-admin' }),
      /POST \/api\/v1\/pretend-admin answered 200/,
    );
  } finally {
    await close();
  }
});

test('session isolation: a key limited to other sessions is told the session does not exist', async () => {
  const { t, close } = await appWithExtraRoutes((app) => {
    // A minimal session-scoped route wired the way modules do it: through assertSessionAccess.
    app.register(
      async (api) => {
        const { authPlugin, assertSessionAccess } = await import('../../src/plugins/auth.js');
        await api.register(authPlugin, { auth: app.services.auth });
        api.get('/probe/:sessionId', async (request) => {
          const { sessionId } = request.params as { sessionId: string };
          assertSessionAccess(request.principal, sessionId);
          return { success: true, data: sessionId };
        });
        api.get('/forgetful/:sessionId', async () => ({ success: true }));
      },
      { prefix: '/api/v1' },
    );
  });
  try {
    const sample = { params: { sessionId: 'sess_mine' } };
    await assertSessionIsolation(t, { 'GET /api/v1/probe/:sessionId': sample });
    await assert.rejects(
      assertSessionIsolation(t, { 'GET /api/v1/forgetful/:sessionId': sample }),
      /answered 200/,
      'a route that forgets the check is caught',
    );
    await assert.rejects(
      assertSessionIsolation(
        t,
        { 'GET /api/v1/probe/:sessionId': sample },
        { mustCover: (r) => r.url.includes(':sessionId') },
      ),
      /without a session isolation sample/,
      'a route without a sample is caught',
    );
    const limited = await t.keyFor('viewer', ['sess_mine']);
    const own = await t.app.inject({
      method: 'GET',
      url: '/api/v1/probe/sess_mine',
      headers: { 'x-api-key': limited },
    });
    assert.equal(own.statusCode, 200, 'the limit lets its own session through');
  } finally {
    await close();
  }
});
