import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import WebSocket from 'ws';
import { createTestApp, ensureSessions } from '../helpers/app.js';

test('a webhook filter naming an unknown session is refused with 404 on create and update; [] is a 400', async () => {
  const t = await createTestApp();
  try {
    await ensureSessions(t.app, ['ses_a', 'ses_b']);
    const send = (method: 'POST' | 'PUT', url: string, payload: Record<string, unknown>, key = t.adminKey) =>
      t.app.inject({ method, url, headers: { 'x-api-key': key }, payload });
    const url = 'http://127.0.0.1:9/hook';

    const unknown = await send('POST', '/api/v1/webhooks', {
      url,
      events: ['*'],
      sessionIds: ['ses_a', 'ses_nope'],
    });
    assert.equal(unknown.statusCode, 404, unknown.body);
    assert.equal(unknown.json().error.code, 'SESSION_NOT_FOUND');
    assert.match(unknown.json().error.message, /ses_nope/);
    assert.equal((await t.app.services.webhooks.list()).length, 0, 'nothing was created');

    const empty = await send('POST', '/api/v1/webhooks', { url, events: ['*'], sessionIds: [] });
    assert.equal(empty.statusCode, 400, empty.body);
    assert.equal(empty.json().error.code, 'VALIDATION_ERROR');
    assert.match(JSON.stringify(empty.json().error.details), /body\.sessionIds.*null/);

    const created = await send('POST', '/api/v1/webhooks', { url, events: ['*'], sessionIds: ['ses_a'] });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json().data.id as string;

    const badUpdate = await send('PUT', `/api/v1/webhooks/${id}`, { sessionIds: ['ses_b', 'ses_gone'] });
    assert.equal(badUpdate.statusCode, 404, badUpdate.body);
    assert.equal(badUpdate.json().error.code, 'SESSION_NOT_FOUND');
    assert.equal((await send('PUT', `/api/v1/webhooks/${id}`, { sessionIds: [] })).statusCode, 400);
    assert.deepEqual((await t.app.services.webhooks.get(id)).sessionIds, ['ses_a'], 'unchanged');
    const good = await send('PUT', `/api/v1/webhooks/${id}`, { sessionIds: ['ses_a', 'ses_b'] });
    assert.equal(good.statusCode, 200, good.body);
    assert.deepEqual(good.json().data.sessionIds, ['ses_a', 'ses_b']);
    const all = await send('PUT', `/api/v1/webhooks/${id}`, { sessionIds: null });
    assert.equal(all.json().data.sessionIds, null, 'null still means every session');

    // A limited key: its own session that does not exist is 404 too; one of another tenant says no more.
    const limited = await t.keyFor('admin', ['ses_a']);
    const foreign = await send(
      'POST',
      '/api/v1/webhooks',
      { url, events: ['*'], sessionIds: ['ses_b'] },
      limited,
    );
    assert.equal(foreign.statusCode, 404);
    assert.equal(foreign.json().error.code, 'SESSION_NOT_FOUND');
  } finally {
    await t.close();
  }
});

test('streams filtered on an unknown session answer 404 before streaming (SSE envelope, WebSocket close 4404)', async () => {
  const t = await createTestApp();
  try {
    await ensureSessions(t.app, ['ses_a']);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const base = `127.0.0.1:${port}/api/v1`;
    const headers = { 'x-api-key': t.adminKey };

    const sse = await fetch(`http://${base}/events?sessionId=ses_nope`, {
      headers,
      signal: AbortSignal.timeout(3000),
    });
    assert.equal(sse.status, 404);
    assert.match(String(sse.headers.get('content-type')), /application\/json/);
    const body = (await sse.json()) as { success: boolean; error: { code: string } };
    assert.equal(body.success, false);
    assert.equal(body.error.code, 'SESSION_NOT_FOUND');

    const known = new AbortController();
    const ok = await fetch(`http://${base}/events?sessionId=ses_a`, { headers, signal: known.signal });
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers.get('content-type')), /text\/event-stream/);
    known.abort();

    const closeOf = (sessionId: string) =>
      new Promise<{ code: number; reason: string }>((resolve, reject) => {
        const ws = new WebSocket(`ws://${base}/ws?sessionId=${sessionId}`, { headers });
        const timer = setTimeout(() => {
          ws.terminate();
          resolve({ code: 0, reason: 'still open' });
        }, 1500);
        ws.on('close', (code, reason) => {
          clearTimeout(timer);
          resolve({ code, reason: String(reason) });
        });
        ws.on('error', reject);
      });
    const refused = await closeOf('ses_nope');
    assert.equal(refused.code, 4404);
    assert.match(refused.reason, /^SESSION_NOT_FOUND/);
    assert.deepEqual(await closeOf('ses_a'), { code: 0, reason: 'still open' }, 'a known session streams');
  } finally {
    await t.close();
  }
});
