import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SendPacer } from '../../src/telegram/pacing.js';
import {
  createTelegramTestApp,
  signIn,
  startTestSandbox,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';

test('the pacer lets a burst through, then spaces sends per chat and per session', async () => {
  const pacer = new SendPacer({
    perChatPerSecond: 10,
    perChatBurst: 2,
    perSessionPerSecond: 0,
    perSessionBurst: 1,
  });
  const t0 = Date.now();
  await Promise.all([1, 2, 3, 4].map(() => pacer.acquire('s', 'chat-a')));
  const chatElapsed = Date.now() - t0;
  assert.ok(chatElapsed >= 180 && chatElapsed < 2000, `2 free, then 2 x 100 ms: ${chatElapsed} ms`);
  const t1 = Date.now();
  await pacer.acquire('s', 'chat-b');
  assert.ok(Date.now() - t1 < 150, 'another chat has its own bucket');

  const perSession = new SendPacer({
    perChatPerSecond: 0,
    perChatBurst: 1,
    perSessionPerSecond: 20,
    perSessionBurst: 1,
  });
  const t2 = Date.now();
  await Promise.all(['a', 'b', 'c', 'd', 'e'].map((chat) => perSession.acquire('s', chat)));
  const sessionElapsed = Date.now() - t2;
  assert.ok(sessionElapsed >= 180, `5 sends at 20/s across chats: ${sessionElapsed} ms`);
  const t3 = Date.now();
  await perSession.acquire('other-session', 'a');
  assert.ok(Date.now() - t3 < 150, 'another session has its own bucket');
});

let sbx: TestSandbox;
let t: TelegramTestApp;

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx, { env: { SEND_RATE_PER_CHAT: '5', SEND_BURST_PER_CHAT: '1' } });
});

after(async () => {
  await t?.close();
  await sbx?.close();
});

test('sends through the API are paced per chat (SEND_RATE_PER_CHAT), in order', async () => {
  const a = await signIn(t, sbx);
  const t0 = Date.now();
  const results = await Promise.all(
    [1, 2, 3, 4].map((i) =>
      t.call('POST', '/api/v1/messages/send', { sessionId: a.sessionId, chatId: 'me', text: `paced ${i}` }),
    ),
  );
  const elapsed = Date.now() - t0;
  for (const r of results) assert.equal(r.status, 200);
  assert.ok(elapsed >= 550, `4 sends at 5/s with a burst of 1 take >= 600 ms, took ${elapsed}`);
  const ids = results.map((r) => r.body.data.id as number);
  assert.deepEqual(
    [...ids].sort((x, y) => x - y),
    ids,
    'sent in the order they were asked',
  );
});
