import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/lib/logger.js';
import { createTestApp, ensureSessions } from '../helpers/app.js';

test('login exchanges an API key for a JWT that authenticates, and logout revokes it across a restart', async () => {
  const t = await createTestApp();
  let restarted: Awaited<ReturnType<typeof createTestApp>> | undefined;
  try {
    const key = await t.keyFor('operator');
    const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { apiKey: key } });
    assert.equal(login.statusCode, 200);
    const body = login.json().data;
    assert.equal(body.tokenType, 'Bearer');
    assert.equal(body.apiKey.role, 'operator');
    assert.ok(Date.parse(body.expiresAt) > Date.now());
    const [header] = body.token.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), { alg: 'HS256', typ: 'JWT' });

    const me = await t.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: { authorization: `Bearer ${body.token}` },
    });
    assert.equal(me.statusCode, 200);
    assert.equal(me.json().data.authenticatedBy, 'jwt');
    assert.equal(me.json().data.role, 'operator');

    const out = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: { authorization: `Bearer ${body.token}` },
    });
    assert.equal(out.statusCode, 200);
    const after = await t.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: { authorization: `Bearer ${body.token}` },
    });
    assert.equal(after.statusCode, 401);

    await t.close({ keepData: true });
    restarted = await createTestApp({
      reuse: { dataDir: t.dataDir, databaseUrl: t.databaseUrl, drop: t.dropDb },
    });
    const again = await restarted.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: { authorization: `Bearer ${body.token}` },
    });
    assert.equal(again.statusCode, 401, 'a revoked token stays revoked after a restart');
    const keyStill = await restarted.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: { 'x-api-key': key },
    });
    assert.equal(keyStill.statusCode, 200);
  } finally {
    if (restarted) await restarted.close();
    else await t.close();
  }
});

test('tokens with another algorithm, a bad signature or garbage are refused', async () => {
  const t = await createTestApp();
  try {
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { apiKey: t.adminKey },
    });
    const token: string = login.json().data.token;
    const [, payload] = token.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    for (const bad of [none, tampered, 'eyJ.not.valid', 'tf_unknown_key']) {
      const res = await t.app.inject({
        method: 'GET',
        url: '/api/v1/auth/me',
        headers: { authorization: `Bearer ${bad}` },
      });
      assert.equal(res.statusCode, 401, bad);
      assert.equal(res.json().error.code, 'UNAUTHORIZED');
    }
  } finally {
    await t.close();
  }
});

test('API keys are stored only as hashes, listed without secrets, and deleting one revokes its tokens', async () => {
  const t = await createTestApp();
  try {
    await ensureSessions(t.app, ['s1']);
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/keys',
      headers: { 'x-api-key': t.adminKey },
      payload: { name: 'ci', role: 'viewer', sessionIds: ['s1'] },
    });
    assert.equal(created.statusCode, 201);
    const { key, id, prefix } = created.json().data;
    assert.ok(key.startsWith(prefix));
    const rows = await t.app.services.db.db.selectFrom('api_keys').selectAll().execute();
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0]!.hash, key);
    assert.ok(!JSON.stringify(rows).includes(key), 'the plain key is not stored');

    const list = await t.app.inject({
      method: 'GET',
      url: '/api/v1/auth/keys',
      headers: { 'x-api-key': t.adminKey },
    });
    assert.equal(list.json().data.length, 1);
    assert.ok(!list.body.includes(key));
    assert.deepEqual(list.json().data[0].sessionIds, ['s1']);

    const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { apiKey: key } });
    const token = login.json().data.token;
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/keys/${id}`,
      headers: { 'x-api-key': t.adminKey },
    });
    assert.equal(del.statusCode, 200);
    for (const auth of [{ 'x-api-key': key }, { authorization: `Bearer ${token}` }]) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: auth });
      assert.equal(res.statusCode, 401);
    }
    const again = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/keys/${id}`,
      headers: { 'x-api-key': t.adminKey },
    });
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().error.code, 'API_KEY_NOT_FOUND');
  } finally {
    await t.close();
  }
});

test("a login's log lines contain no secret", async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const t = await createTestApp({ logger: createLogger('trace', sink) });
  try {
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { apiKey: t.adminKey },
    });
    const token = login.json().data.token as string;
    await t.app.inject({
      method: 'GET',
      url: `/api/v1/auth/me?token=${token}`,
      headers: { authorization: `Bearer ${token}` },
    });
    await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { 'x-api-key': t.adminKey } });
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { apiKey: 'tf_wrong_key_value' },
    });
    const all = lines.join('');
    assert.ok(lines.length >= 6, 'requests were logged');
    for (const secret of [t.adminKey, token, 'tf_wrong_key_value', t.config.jwtSecret]) {
      assert.ok(!all.includes(secret), `log contains a secret: ${secret.slice(0, 8)}...`);
    }
  } finally {
    await t.close();
  }
});

test('an expired JWT is refused even right after it was accepted (no cache extends its life)', async () => {
  const t = await createTestApp({ env: { JWT_EXPIRES_IN: '2' } });
  try {
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { apiKey: t.adminKey },
    });
    const token = login.json().data.token as string;
    const me = () =>
      t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } });
    assert.equal((await me()).statusCode, 200);
    assert.equal((await me()).statusCode, 200);
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal((await me()).statusCode, 401);
  } finally {
    await t.close();
  }
});

test('a JWT of the bootstrap key stops working when API_KEY changes, and only then', async () => {
  const t = await createTestApp();
  const apps: Awaited<ReturnType<typeof createTestApp>>[] = [];
  try {
    const loginWith = async (apiKey: string) =>
      (await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { apiKey } })).json().data
        .token as string;
    const bootstrapToken = await loginWith(t.adminKey);
    const keyToken = await loginWith(await t.keyFor('viewer'));
    await t.close({ keepData: true });
    const restart = async (apiKey: string) => {
      const app = await createTestApp({
        env: { API_KEY: apiKey, JWT_SECRET: t.config.jwtSecret },
        reuse: { dataDir: t.dataDir, databaseUrl: t.databaseUrl, drop: t.dropDb },
      });
      apps.push(app);
      return app;
    };
    const me = (app: Awaited<ReturnType<typeof createTestApp>>, token: string) =>
      app.app.inject({
        method: 'GET',
        url: '/api/v1/auth/me',
        headers: { authorization: `Bearer ${token}` },
      });

    const same = await restart(t.adminKey);
    assert.equal((await me(same, bootstrapToken)).statusCode, 200, 'same API_KEY: the token still works');
    await same.close({ keepData: true });

    const rotated = await restart(`${t.adminKey}_rotated`);
    const refused = await me(rotated, bootstrapToken);
    assert.equal(refused.statusCode, 401, 'another API_KEY: the old bootstrap token is refused');
    assert.equal(refused.json().error.code, 'UNAUTHORIZED');
    assert.equal((await me(rotated, keyToken)).statusCode, 200, 'tokens of stored keys are not affected');
    const fresh = await rotated.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { apiKey: `${t.adminKey}_rotated` },
    });
    assert.equal((await me(rotated, fresh.json().data.token)).statusCode, 200);
  } finally {
    const last = apps.at(-1);
    if (last) await last.close();
    else await t.close();
  }
});

test('an Authorization header without the Bearer scheme gets a 401 that says how to send it', async () => {
  const t = await createTestApp();
  try {
    for (const authorization of [t.adminKey, `Basic ${Buffer.from('a:b').toString('base64')}`, 'Bearer ']) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization } });
      assert.equal(res.statusCode, 401, authorization);
      assert.equal(res.json().error.code, 'UNAUTHORIZED');
      assert.match(res.json().error.message, /Authorization header must be 'Bearer <token>'/);
    }
    const none = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me' });
    assert.match(none.json().error.message, /^Missing credentials/);
    // X-API-Key is read first: a stray Authorization header does not spoil it.
    const both = await t.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: { 'x-api-key': t.adminKey, authorization: 'Basic eDp5' },
    });
    assert.equal(both.statusCode, 200);
  } finally {
    await t.close();
  }
});
