import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RouteInfo } from '../../src/app.js';
import { assertRouteAuth, assertSessionIsolation, type RouteSample } from '../helpers/route-auth.js';
import {
  createTelegramTestApp,
  signIn,
  startTestSandbox,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';

let sbx: TestSandbox;
let t: TelegramTestApp;

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx);
});

after(async () => {
  await t?.close();
  await sbx?.close();
});

const CREATING = new Set([
  'POST /api/v1/sessions',
  'POST /api/v1/sessions/qr',
  'POST /api/v1/sessions/import',
]);
const telegramRoute = (r: RouteInfo) =>
  /^\/api\/v1\/(sessions|messages|chats)/.test(r.url) &&
  !CREATING.has(`${r.method} ${r.url}`) &&
  !(r.method === 'GET' && r.url.replace(/\/$/, '') === '/api/v1/sessions');

test('roles on the session, message and chat routes: 401 without a key, 403 below the role', async () => {
  const checked = await assertRouteAuth(t, {
    only: (r) => /^\/api\/v1\/(sessions|messages|chats)/.test(r.url),
  });
  assert.equal(checked.length, 32, `checked ${checked.length} routes`);
  const exportRoute = checked.find((r) => r.url.endsWith('/:id/export'));
  assert.equal(exportRoute?.minRole, 'admin');
});

test('a key limited to one session sees no other: 404 on every route, and cannot create sessions', async () => {
  const a = await signIn(t, sbx);
  const b = await signIn(t, sbx);
  const s = b.sessionId;
  const chat = { sessionId: s, chatId: 'me' };
  const samples: Record<string, RouteSample> = {
    'GET /api/v1/sessions/:id': { params: { id: s } },
    'DELETE /api/v1/sessions/:id': { params: { id: s } },
    'POST /api/v1/sessions/:id/connect': { params: { id: s } },
    'POST /api/v1/sessions/:id/disconnect': { params: { id: s } },
    'POST /api/v1/sessions/:id/export': { params: { id: s } },
    'GET /api/v1/sessions/:id/qr': { params: { id: s } },
    'POST /api/v1/sessions/verify-code': { body: { sessionId: s, code: '12345' } },
    'POST /api/v1/sessions/verify-password': { body: { sessionId: s, password: 'pw' } },
    'POST /api/v1/messages/send': { body: { ...chat, text: 'x' } },
    'POST /api/v1/messages/reply': { body: { ...chat, messageId: 1, text: 'x' } },
    'POST /api/v1/messages/edit': { body: { ...chat, messageId: 1, text: 'x' } },
    'POST /api/v1/messages/delete': { body: { ...chat, messageIds: [1] } },
    'POST /api/v1/messages/forward': {
      body: { sessionId: s, fromChatId: 'me', toChatId: 'me', messageIds: [1] },
    },
    'POST /api/v1/messages/react': { body: { ...chat, messageId: 1, emoji: '👍' } },
    'POST /api/v1/messages/pin': { body: { ...chat, messageId: 1 } },
    'POST /api/v1/messages/unpin': { body: chat },
    'POST /api/v1/messages/read': { body: chat },
    'GET /api/v1/messages/history': { query: { sessionId: s, chatId: 'me' } },
    'POST /api/v1/messages/send-media': { body: { ...chat, kind: 'document', base64: 'JVBERi0=' } },
    'POST /api/v1/messages/send-album': {
      body: {
        ...chat,
        items: [
          { kind: 'photo', base64: 'AAAA' },
          { kind: 'photo', base64: 'AAAA' },
        ],
      },
    },
    'GET /api/v1/chats': { query: { sessionId: s } },
    'GET /api/v1/chats/:id': { params: { id: 'me' }, query: { sessionId: s } },
    'GET /api/v1/chats/:id/members': { params: { id: '-100123' }, query: { sessionId: s } },
    'POST /api/v1/chats/join': { body: { sessionId: s, target: '@somewhere' } },
    'POST /api/v1/chats/leave': { body: { sessionId: s, chatId: '-100123' } },
    'POST /api/v1/chats/search': { body: { sessionId: s, query: 'x' } },
    'POST /api/v1/chats/:id/members': { params: { id: '-100123' }, body: { sessionId: s, userIds: ['42'] } },
    'DELETE /api/v1/chats/:id/members/:userId': {
      params: { id: '-100123', userId: '42' },
      query: { sessionId: s },
    },
  };
  await assertSessionIsolation(t, samples, { mustCover: telegramRoute });

  const limited = await t.keyFor('admin', [a.sessionId]);
  const headers = { 'x-api-key': limited };
  const list = await t.call('GET', '/api/v1/sessions', undefined, headers);
  assert.deepEqual(
    list.body.data.map((x: { id: string }) => x.id),
    [a.sessionId],
  );
  const other = await t.call('GET', `/api/v1/sessions/${b.sessionId}`, undefined, headers);
  assert.equal(other.status, 404);
  const own = await t.call(
    'POST',
    '/api/v1/messages/send',
    { sessionId: a.sessionId, chatId: 'me', text: 'mine' },
    headers,
  );
  assert.equal(own.status, 200);
  for (const [url, body] of [
    ['/api/v1/sessions', { phone: '15550009999' }],
    ['/api/v1/sessions/qr', {}],
    ['/api/v1/sessions/import', { sessionString: '1AAAAAAAAAAAAAAAAAAAA' }],
  ] as const) {
    const res = await t.call('POST', url, body, headers);
    assert.equal(res.status, 403, `${url}: ${JSON.stringify(res.body)}`);
  }
  // The still-valid sessions untouched by all of the above.
  assert.equal((await t.call('GET', `/api/v1/sessions/${b.sessionId}`)).body.data.status, 'connected');
});
