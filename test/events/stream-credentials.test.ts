import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { TEST_SECRETS } from '../helpers/app.js';
import { openSse, openWs, startApp, wsRefusal, type Started } from '../helpers/stream-clients.js';

/** Streams must end within this long of their credential ending (the server checks every second). */
const WITHIN_MS = 3000;

const typing = (n: number) => ({
  type: 'user.typing' as const,
  sessionId: 's',
  data: { userId: String(n), chatId: '1', action: 'typing' },
});

async function login(t: Started, apiKey: string): Promise<{ token: string; expiresAt: string }> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { apiKey } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().data as { token: string; expiresAt: string };
}

/** Opens an SSE and a WebSocket stream with `headers` and waits until both receive an event. */
async function openBoth(t: Started, headers: Record<string, string>) {
  const sse = openSse(`${t.base}/events`, headers);
  const ws = openWs(`${t.ws}/ws`, headers);
  await ws.opened;
  await sse.until(() => sse.opens() === 1);
  await t.app.services.events.record(typing(0));
  await sse.until(() => sse.frames.length === 1);
  await ws.until(() => ws.frames.length === 1);
  return { sse, ws };
}

/** Both streams end: the socket with 4401, the EventSource's reconnect with 401; no event after. */
async function assertEnded(t: Started, { sse, ws }: Awaited<ReturnType<typeof openBoth>>, what: string) {
  const started = Date.now();
  const closed = await Promise.race([
    ws.closed,
    new Promise<null>((r) => setTimeout(() => r(null), WITHIN_MS).unref()),
  ]);
  assert.ok(closed, `${what}: the WebSocket is still open after ${WITHIN_MS} ms`);
  assert.equal(closed.code, 4401, `${what}: close code`);
  assert.match(closed.reason, /^UNAUTHORIZED/);
  // EventSource retries after the server's `retry: 2000`, then gives up on the 401.
  await sse.until(() => sse.errorCodes.includes(401), WITHIN_MS + 3000);
  assert.equal(sse.es.readyState, sse.es.CLOSED, `${what}: the EventSource gave up`);
  assert.ok(Date.now() - started < WITHIN_MS + 3000);
  const framesBefore = [sse.frames.length, ws.frames.length];
  await t.app.services.events.record(typing(1));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual([sse.frames.length, ws.frames.length], framesBefore, `${what}: no event after the end`);
  assert.equal(t.app.services.streams.size, 0, `${what}: no stream left on the server`);
}

test(
  'deleting a key ends the SSE and WebSocket streams opened with it and with its JWT; other streams go on',
  { timeout: 30_000 },
  async () => {
    const t = await startApp();
    const opened: { sse: ReturnType<typeof openSse>; ws: ReturnType<typeof openWs> }[] = [];
    try {
      const key = await t.keyFor('viewer');
      const { token } = await login(t, key);
      const bystander = openWs(`${t.ws}/ws`, { 'x-api-key': t.adminKey });
      await bystander.opened;
      const byKey = await openBoth(t, { 'x-api-key': key });
      const byJwt = await openBoth(t, { authorization: `Bearer ${token}` });
      opened.push(byKey, byJwt);
      const id = (
        await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { 'x-api-key': key } })
      ).json().data.apiKey.id as string;

      const del = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/auth/keys/${id}`,
        headers: { 'x-api-key': t.adminKey },
      });
      assert.equal(del.statusCode, 200);
      const [ws1, ws2] = await Promise.all([byKey.ws.closed, byJwt.ws.closed]);
      assert.deepEqual([ws1.code, ws2.code], [4401, 4401]);
      await t.app.services.events.record(typing(2));
      await bystander.until(() => bystander.frames.length === 3);
      assert.equal(bystander.ws.readyState, bystander.ws.OPEN, "another key's stream goes on");
      bystander.ws.close();
      await bystander.closed;
      await assertEnded(t, byKey, 'deleted key');
      await assertEnded(t, byJwt, 'JWT of a deleted key');
      assert.equal(await wsRefusal(`${t.ws}/ws?token=${encodeURIComponent(key)}`), 401);
      assert.equal(await wsRefusal(`${t.ws}/ws?token=${encodeURIComponent(token)}`), 401);
    } finally {
      for (const s of opened) s.sse.es.close();
      await t.close();
    }
  },
);

test(
  'logging a JWT out ends its streams; the API key it came from keeps its own',
  { timeout: 30_000 },
  async () => {
    const t = await startApp();
    let both: Awaited<ReturnType<typeof openBoth>> | undefined;
    try {
      const { token } = await login(t, t.adminKey);
      both = await openBoth(t, { authorization: `Bearer ${token}` });
      const keyStream = openWs(`${t.ws}/ws`, { 'x-api-key': t.adminKey });
      await keyStream.opened;
      const out = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(out.statusCode, 200);
      const closed = await Promise.race([
        both.ws.closed,
        new Promise<null>((r) => setTimeout(() => r(null), WITHIN_MS).unref()),
      ]);
      assert.equal(closed?.code, 4401);
      assert.equal(keyStream.ws.readyState, keyStream.ws.OPEN, 'the key itself is still valid');
      keyStream.ws.close();
      await keyStream.closed;
      await assertEnded(t, both, 'logged-out JWT');
    } finally {
      both?.sse.es.close();
      await t.close();
    }
  },
);

test(
  'a JWT that expires ends its streams at its expiry, with no request from anyone',
  { timeout: 30_000 },
  async () => {
    const t = await startApp({ JWT_EXPIRES_IN: '3' });
    let both: Awaited<ReturnType<typeof openBoth>> | undefined;
    try {
      const { token, expiresAt } = await login(t, t.adminKey);
      both = await openBoth(t, { authorization: `Bearer ${token}` });
      assert.equal(both.ws.ws.readyState, both.ws.ws.OPEN);
      const { code } = await both.ws.closed;
      const late = Date.now() - Date.parse(expiresAt);
      assert.equal(code, 4401);
      // exp has whole-second precision; the stream ends at it, not at the next periodic check.
      assert.ok(late > -1000 && late < 1500, `closed ${late} ms after expiry`);
      await assertEnded(t, both, 'expired JWT');
    } finally {
      both?.sse.es.close();
      await t.close();
    }
  },
);

test(
  'rotating API_KEY: streams opened with a JWT of the old bootstrap key cannot reconnect',
  { timeout: 30_000 },
  async () => {
    const first = await startApp();
    const port = (first.app.server.address() as AddressInfo).port;
    let second: Started | undefined;
    let sse: ReturnType<typeof openSse> | undefined;
    try {
      const { token } = await login(first, first.adminKey);
      sse = openSse(`${first.base}/events`, { authorization: `Bearer ${token}` });
      const ws = openWs(`${first.ws}/ws?token=${encodeURIComponent(token)}`);
      await ws.opened;
      await sse.until(() => sse!.opens() === 1);

      await first.close({ keepData: true });
      await ws.closed;
      second = await startApp(
        { API_KEY: `${TEST_SECRETS.API_KEY}_rotated`, JWT_SECRET: TEST_SECRETS.JWT_SECRET },
        { port, reuse: { dataDir: first.dataDir, databaseUrl: first.databaseUrl, drop: first.dropDb } },
      );
      // The EventSource reconnects to the same address by itself and meets the new key.
      await sse.until(() => sse!.errorCodes.includes(401), 8000);
      assert.equal(sse.es.readyState, sse.es.CLOSED);
      assert.equal(sse.opens(), 1, 'no second open');
      assert.equal(await wsRefusal(`${second.ws}/ws?token=${encodeURIComponent(token)}`), 401);
      assert.equal(second.app.services.streams.size, 0);
      // The new key works, on streams too.
      assert.equal(await wsRefusal(`${second.ws}/ws`, { 'x-api-key': second.adminKey }), 0);
    } finally {
      sse?.es.close();
      if (second) await second.close();
      else await first.close();
    }
  },
);
