import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, redactUrl } from '../../src/lib/logger.js';
import { createTestApp } from '../helpers/app.js';

/** A log stream that keeps every line TeleFlow writes. */
function capture(): { stream: Writable; text: () => string; lines: () => Record<string, unknown>[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    stream,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** GET on a real connection; the answer's status, then the connection is dropped (SSE never ends). */
function statusOf(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      resolve(res.statusCode!);
      res.destroy();
    });
    req.on('error', reject);
    req.end();
  });
}

test('stream URLs are logged with every secret-looking query value redacted, however the name is spelled', async () => {
  const log = capture();
  const t = await createTestApp({ logger: createLogger('info', log.stream) });
  try {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const key = await t.keyFor('viewer');

    // Percent-encoded, the name is still `token` to the query parser: this authenticates.
    assert.equal(await statusOf(port, `/api/v1/events?types=message.*&%74oken=${key}`), 200);
    assert.equal(await statusOf(port, `/api/v1/events?token=${key}`), 200);
    // These spellings are no credential, and are not logged either.
    for (const query of [
      `TOKEN=${key}`,
      `token[]=${key}`,
      `%2574oken=${key}`,
      `api%5Fkey=${key}`,
      `Api-Key=${key}`,
      `t%6Fk%65n=${key}&token=`,
      `%E0%A4%A=${key}`,
    ]) {
      assert.equal(await statusOf(port, `/api/v1/events?${query}`), 401, query);
    }
    await new Promise((r) => setTimeout(r, 100));

    const text = log.text();
    assert.ok(!text.includes(key), `the key reached the log:\n${text}`);
    const urls = log
      .lines()
      .map((l) => (l.req as { url?: string } | undefined)?.url)
      .filter((u): u is string => typeof u === 'string' && u.startsWith('/api/v1/events'));
    assert.ok(urls.length >= 9, `each stream request is logged: ${urls.join(' ')}`);
    // The rest of the URL stays readable.
    assert.ok(urls.includes('/api/v1/events?types=message.*&%74oken=[REDACTED]'), urls.join(' '));
    assert.ok(urls.includes('/api/v1/events?token[]=[REDACTED]'), urls.join(' '));
  } finally {
    await t.close();
  }
});

test('redactUrl keeps names and other values, and drops the value of any name that decodes to a secret', () => {
  assert.equal(redactUrl('/api/v1/chats?limit=5&q=abc'), '/api/v1/chats?limit=5&q=abc');
  assert.equal(redactUrl('/x?sessionId=s1&token=abc'), '/x?sessionId=s1&token=[REDACTED]');
  assert.equal(redactUrl('/x?%2574oken=abc'), '/x?%2574oken=[REDACTED]');
  assert.equal(
    redactUrl('/x?pass+word=abc&jwt=b&x_signature=c'),
    '/x?pass+word=[REDACTED]&jwt=[REDACTED]&x_signature=[REDACTED]',
  );
  assert.equal(redactUrl('/x?%ZZ=abc'), '/x?%ZZ=[REDACTED]');
  assert.equal(redactUrl('/x'), '/x');
});

test('error codes are logged as they are; keys, tokens, passwords, login codes and session strings are not', async () => {
  const log = capture();
  const t = await createTestApp({ logger: createLogger('info', log.stream) });
  try {
    const invalid = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/keys',
      headers: { 'x-api-key': t.adminKey },
      payload: { name: 42 },
    });
    assert.equal(invalid.statusCode, 400);
    const denied = await t.app.inject({ url: '/api/v1/auth/me', headers: { 'x-api-key': 'tf_wrong_key' } });
    assert.equal(denied.statusCode, 401);
    const codes = log
      .lines()
      .map((l) => l.code)
      .filter(Boolean);
    assert.ok(codes.includes('VALIDATION_ERROR'), `logged codes: ${codes.join(' ')}`);
    assert.ok(codes.includes('UNAUTHORIZED'), `logged codes: ${codes.join(' ')}`);
    assert.ok(!log.text().includes('tf_wrong_key'), 'the X-API-Key header is not logged');

    // An error object keeps its code too.
    const err = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    t.app.log.error({ err }, 'write failed');
    const written = log.lines().at(-1) as { err: { code: string } };
    assert.equal(written.err.code, 'SQLITE_IOERR');

    t.app.log.info(
      {
        password: 'hunter2-secret',
        apiKey: 'tf_secret_api_key',
        token: 'jwt-secret-token',
        sessionString: '1BQANOTAREALSESSION',
        body: { sessionId: 's1', code: '12345' },
        request: { body: { code: '67890' } },
        headers: { authorization: 'Bearer abc.def' },
      },
      'secrets',
    );
    const line = log.text().split('\n').filter(Boolean).at(-1)!;
    for (const secret of [
      'hunter2-secret',
      'tf_secret_api_key',
      'jwt-secret-token',
      '1BQANOTAREALSESSION',
      '12345',
      '67890',
      'abc.def',
    ]) {
      assert.ok(!line.includes(secret), `${secret} reached the log: ${line}`);
    }
    assert.match(line, /"sessionId":"s1"/);
  } finally {
    await t.close();
  }
});
