/**
 * The embedded sandbox (TELEGRAM_SANDBOX=true) seen from TeleFlow: GET /api/v1/sandbox, the
 * ports of SANDBOX_PORT / SANDBOX_CONTROL_PORT, the production warning, and a QR login finished
 * with the control API alone.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { createTestApp } from '../helpers/app.js';
import { freePort } from '../helpers/server-process.js';
import { waitFor } from '../helpers/telegram.js';

/** A pino logger whose lines are kept, parsed. */
function capturedLogger(): { logger: pino.Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const SANDBOX_WARNING = /TELEGRAM_SANDBOX=true with NODE_ENV=production/;

test('GET /api/v1/sandbox: 404 without a sandbox, admin only', async () => {
  const t = await createTestApp();
  try {
    const res = await t.app.inject({ url: '/api/v1/sandbox', headers: { 'x-api-key': t.adminKey } });
    assert.equal(res.statusCode, 404, res.body);
    assert.equal(res.json().success, false);
    assert.equal(res.json().error.code, 'ROUTE_NOT_FOUND');
    assert.match(res.json().error.message, /TELEGRAM_SANDBOX/);
    const operator = await t.keyFor('operator');
    const refused = await t.app.inject({ url: '/api/v1/sandbox', headers: { 'x-api-key': operator } });
    assert.equal(refused.statusCode, 403);
  } finally {
    await t.close();
  }
});

test('production with the sandbox: a warning, loopback on SANDBOX_PORT and SANDBOX_CONTROL_PORT', async () => {
  const port = await freePort();
  let controlPort = await freePort();
  // DCs 2-5 listen on the four ports after SANDBOX_PORT.
  while (controlPort >= port && controlPort <= port + 4) controlPort = await freePort();
  const { logger, lines } = capturedLogger();
  const t = await createTestApp({
    logger,
    env: {
      NODE_ENV: 'production',
      TELEGRAM_SANDBOX: 'true',
      SANDBOX_PORT: String(port),
      SANDBOX_CONTROL_PORT: String(controlPort),
    },
  });
  try {
    const warning = lines.find((l) => SANDBOX_WARNING.test(l.msg));
    assert.ok(warning, 'the start-up warns about the sandbox in production');
    assert.equal(warning.level, 40, 'at warn level');
    assert.match(warning.msg, /control API/);

    const res = await t.app.inject({ url: '/api/v1/sandbox', headers: { 'x-api-key': t.adminKey } });
    assert.equal(res.statusCode, 200, res.body);
    const info = res.json().data;
    // Five DCs on consecutive ports, DC 1 on SANDBOX_PORT.
    assert.deepEqual(
      info.dcs,
      [1, 2, 3, 4, 5].map((id) => ({ id, host: '127.0.0.1', port: port + id - 1 })),
    );
    assert.equal(info.controlUrl, `http://127.0.0.1:${controlPort}`);
    assert.match(info.publicKeyPem, /^-----BEGIN (RSA )?PUBLIC KEY-----/);
    assert.equal((await fetch(`${info.controlUrl}/`)).status, 200);
    const mtproto = createConnection({ host: '127.0.0.1', port });
    await once(mtproto, 'connect');
    mtproto.destroy();
  } finally {
    await t.close();
  }

  // Without production there is no warning; without the variables the ports are free ones.
  const quiet = capturedLogger();
  const dev = await createTestApp({ logger: quiet.logger, env: { TELEGRAM_SANDBOX: 'true' } });
  try {
    assert.equal(quiet.lines.filter((l) => SANDBOX_WARNING.test(l.msg)).length, 0);
    const info = (
      await dev.app.inject({ url: '/api/v1/sandbox', headers: { 'x-api-key': dev.adminKey } })
    ).json().data;
    assert.ok(info.dcs[0].port > 0 && info.dcs[0].port !== port);
  } finally {
    await dev.close();
  }
});

test('QR login finished through the control API alone: the session becomes connected', async () => {
  const t = await createTestApp({ env: { TELEGRAM_SANDBOX: 'true' } });
  const headers = { 'x-api-key': t.adminKey };
  try {
    const { controlUrl } = (await t.app.inject({ url: '/api/v1/sandbox', headers })).json().data;
    const phone = '15557774001';
    const control = (path: string, body: unknown) =>
      fetch(`${controlUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal((await control('/users', { phone, firstName: 'Scanner' })).status, 201);

    const qr = await t.app.inject({
      method: 'POST',
      url: '/api/v1/sessions/qr',
      headers,
      payload: { name: 'scanned' },
    });
    assert.equal(qr.statusCode, 201, qr.body);
    const { session, qr: code } = qr.json().data;
    assert.equal(session.status, 'qr_pending');
    const token = new URL(code.url).searchParams.get('token')!;

    const accepted = await control('/login-tokens/accept', { phone, token });
    assert.equal(accepted.status, 200, await accepted.clone().text());

    const done = await waitFor(
      async () => {
        const s = await t.app.inject({ url: `/api/v1/sessions/${session.id}`, headers });
        const data = s.json().data;
        return data.status === 'connected' ? data : undefined;
      },
      8000,
      'QR session connected',
    );
    assert.equal(done.user.phone, phone);
  } finally {
    await t.close();
  }
});
