import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/lib/logger.js';
import { createTestApp } from '../helpers/app.js';

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
