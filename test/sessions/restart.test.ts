import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createTelegramTestApp,
  eventsOf,
  signIn,
  startTestSandbox,
  waitFor,
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

async function statusOf(app: TelegramTestApp, sessionId: string): Promise<string> {
  return (await app.call('GET', `/api/v1/sessions/${sessionId}`)).body.data.status;
}

test('a TeleFlow restart brings sessions back connected, with their peer cache, and catches up on missed messages', async () => {
  const alice = await signIn(t, sbx, { username: 'alice_restart' });
  const bob = await signIn(t, sbx, { username: 'bob_restart' });
  const stopped = await signIn(t, sbx);
  await t.call('POST', `/api/v1/sessions/${stopped.sessionId}/disconnect`);

  // Alice meets Bob by username once; afterwards his numeric id must work without resolving.
  const first = await t.call('POST', '/api/v1/messages/send', {
    sessionId: alice.sessionId,
    chatId: '@bob_restart',
    text: 'hi bob',
  });
  assert.equal(first.status, 200);
  assert.equal(first.body.data.chatId, bob.userId);

  const qr = await t.call('POST', '/api/v1/sessions/qr', {});
  const pendingCode = await t.call('POST', '/api/v1/sessions', { phone: '15559990001' });
  assert.equal(pendingCode.body.data.status, 'code_sent');

  t = await t.restart();
  await waitFor(async () => (await statusOf(t, alice.sessionId)) === 'connected', 8000, 'alice connected');
  const interrupted = (await t.call('GET', `/api/v1/sessions/${qr.body.data.session.id}`)).body.data;
  assert.equal(interrupted.status, 'failed');
  assert.equal(interrupted.lastError.code, 'QR_LOGIN_INTERRUPTED');
  // A login by code survives the restart: its key and phone code hash were stored.
  const { code } = await sbx.control('GET', '/codes?phone=15559990001');
  const finished = await t.call('POST', '/api/v1/sessions/verify-code', {
    sessionId: pendingCode.body.data.id,
    code,
  });
  assert.equal(finished.status, 200, JSON.stringify(finished.body));
  assert.equal(finished.body.data.status, 'connected');
  await waitFor(async () => (await statusOf(t, bob.sessionId)) === 'connected', 8000, 'bob connected');
  assert.equal(
    await statusOf(t, stopped.sessionId),
    'disconnected',
    'a session disconnected on purpose stays so',
  );

  // Resolving is now impossible: the peer cache alone must serve ids and usernames.
  await sbx.control('POST', '/faults', {
    error: 'USERNAME_NOT_OCCUPIED',
    method: 'contacts.resolveUsername',
    count: 100,
  });
  try {
    const byId = await t.call('POST', '/api/v1/messages/send', {
      sessionId: alice.sessionId,
      chatId: bob.userId,
      text: 'by id after restart',
    });
    assert.equal(byId.status, 200, JSON.stringify(byId.body));
    const byName = await t.call('POST', '/api/v1/messages/send', {
      sessionId: alice.sessionId,
      chatId: '@bob_restart',
      text: 'by name after restart',
    });
    assert.equal(byName.status, 200, JSON.stringify(byName.body));
  } finally {
    await sbx.control('DELETE', '/faults');
  }

  // Messages sent while TeleFlow is down arrive through getDifference after the restart.
  await t.close({ keepData: true });
  const missed = await sbx.control('POST', '/messages', {
    from: bob.phone,
    to: alice.phone,
    text: 'while you were away',
  });
  t = await createTelegramTestApp(sbx, { dataDir: t.dataDir });
  const received = await waitFor(
    async () =>
      (await eventsOf(t, alice.sessionId, 'message.received')).find(
        (e) => e.message.id === missed.copies[alice.phone],
      ),
    8000,
    'missed message delivered',
  );
  assert.equal(received.message.text, 'while you were away');
  assert.equal(received.message.senderId, bob.userId);
  assert.equal(received.catchUp, true);
});

test('a dropped connection is survived: the session reconnects and catches up', async () => {
  const carol = await signIn(t, sbx);
  const dave = await signIn(t, sbx);
  await sbx.control('POST', '/connections/refuse', { ms: 800 });
  await sbx.control('POST', '/connections/drop', { phone: carol.phone });
  const during = await sbx.control('POST', '/messages', {
    from: dave.phone,
    to: carol.phone,
    text: 'during the drop',
  });
  const received = await waitFor(
    async () =>
      (await eventsOf(t, carol.sessionId, 'message.received')).find(
        (e) => e.message.id === during.copies[carol.phone],
      ),
    10_000,
    'message sent during the drop',
  );
  assert.equal(received.message.text, 'during the drop');
  await waitFor(async () => (await statusOf(t, carol.sessionId)) === 'connected', 8000, 'connected again');
  const after = await t.call('POST', '/api/v1/messages/send', {
    sessionId: carol.sessionId,
    chatId: 'me',
    text: 'still here',
  });
  assert.equal(after.status, 200, JSON.stringify(after.body));
  const live = await sbx.control('POST', '/messages', {
    from: dave.phone,
    to: carol.phone,
    text: 'live again',
  });
  await waitFor(
    async () =>
      (await eventsOf(t, carol.sessionId, 'message.received')).find(
        (e) => e.message.id === live.copies[carol.phone],
      ),
    5000,
    'live message after reconnect',
  );
});

test('live incoming messages become message.received events', async () => {
  const erin = await signIn(t, sbx);
  const frank = await signIn(t, sbx);
  const sent = await sbx.control('POST', '/messages', { from: frank.phone, to: erin.phone, text: 'ping' });
  const event = await waitFor(
    async () =>
      (await eventsOf(t, erin.sessionId, 'message.received')).find(
        (e) => e.message.id === sent.copies[erin.phone],
      ),
    5000,
    'message.received',
  );
  assert.deepEqual(
    {
      chatId: event.message.chatId,
      senderId: event.message.senderId,
      out: event.message.out,
      catchUp: event.catchUp,
    },
    { chatId: frank.userId, senderId: frank.userId, out: false, catchUp: false },
  );
});

test('channel posts published while TeleFlow is down arrive after the restart (getChannelDifference)', async () => {
  const reader = await signIn(t, sbx);
  const owner = await signIn(t, sbx);
  const channel = await sbx.control('POST', '/chats', {
    type: 'channel',
    title: 'Night Shift',
    owner: owner.phone,
  });
  const invite = await sbx.control('POST', `/chats/${channel.id}/invites`, {});
  const joined = await t.call('POST', '/api/v1/chats/join', {
    sessionId: reader.sessionId,
    target: invite.link,
  });
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
  const live = await sbx.control('POST', '/messages', {
    from: owner.phone,
    to: channel.id,
    text: 'before the night',
  });
  await waitFor(
    async () =>
      (await eventsOf(t, reader.sessionId, 'message.received')).some((e) => e.message.id === live.id),
    5000,
    'live channel post',
  );
  await t.close({ keepData: true });
  const missed = await sbx.control('POST', '/messages', {
    from: owner.phone,
    to: channel.id,
    text: 'posted at night',
  });
  t = await createTelegramTestApp(sbx, { dataDir: t.dataDir });
  const got = await waitFor(
    async () =>
      (await eventsOf(t, reader.sessionId, 'message.received')).find(
        (e) => e.message.chatId === channel.id && e.message.id === missed.id,
      ),
    8000,
    'channel post caught up',
  );
  assert.equal(got.message.text, 'posted at night');
  assert.equal(got.catchUp, true);
});
