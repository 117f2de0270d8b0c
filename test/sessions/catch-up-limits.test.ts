/**
 * Catching up as Telegram limits it, through TeleFlow's API against the sandbox: gaps too long
 * for a channel difference refetched from history, getChannelDifference only for the channels
 * Telegram hints, channel pts taken from the dialogs, FLOOD_WAIT during catch-up waited out,
 * missing usernames not resolved again, and seq gaps caught up.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Api } from 'teleproto';
import {
  createTelegramTestApp,
  eventsOf,
  newPhone,
  signIn,
  startTestSandbox,
  waitFor,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';

let sbx: TestSandbox;
let t: TelegramTestApp;

before(async () => {
  // Full `updates` pushes for private messages (not the short form, which carries no seq), so
  // a dropped one leaves a seq gap.
  sbx = await startTestSandbox({ world: { shortMessageUpdates: false } });
  t = await createTelegramTestApp(sbx);
});

after(async () => {
  await t?.close();
  await sbx?.close();
});

async function sandboxUser(): Promise<{ phone: string; id: number }> {
  const phone = newPhone();
  const created = await sbx.control<{ id: string }>('POST', '/users', { phone, firstName: 'Poster' });
  return { phone, id: Number(created.id) };
}

/** Stops TeleFlow, runs `meanwhile`, starts it again on the same data. */
async function whileStopped(meanwhile: () => Promise<void>, env?: Record<string, string>): Promise<void> {
  await t.close({ keepData: true });
  await meanwhile();
  t = await createTelegramTestApp(sbx, { dataDir: t.dataDir, ...(env ? { env } : {}) });
}

/** Signs in through TeleFlow a user that already exists in the sandbox. */
async function signInExisting(phone: string): Promise<{ sessionId: string; phone: string }> {
  const start = await t.call('POST', '/api/v1/sessions', { phone });
  assert.equal(start.status, 201, JSON.stringify(start.body));
  const sessionId = start.body.data.id as string;
  const { code } = await sbx.control<{ code: string }>('GET', `/codes?phone=${phone}`);
  const verified = await t.call('POST', '/api/v1/sessions/verify-code', { sessionId, code });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  return { sessionId, phone };
}

/** Waits for the message.received event of one message (by chat, when given, and id). */
function receivedMessage(
  sessionId: string,
  id: number,
  what: string,
  opts: { chatId?: string; ms?: number } = {},
): Promise<Record<string, any>> {
  return waitFor(
    async () =>
      (await eventsOf(t, sessionId, 'message.received')).find(
        (e) => e.message.id === id && (opts.chatId === undefined || e.message.chatId === opts.chatId),
      ),
    opts.ms ?? 8000,
    what,
  );
}

function calls(method: string, userId: string): number {
  return sbx.sandbox.rateLimits.calls(method, userId);
}

test('250 posts in a supergroup and a channel while TeleFlow is down all arrive, in order, once', async () => {
  const reader = await signIn(t, sbx);
  const owner = await sandboxUser();
  const group = await sbx.control('POST', '/chats', {
    type: 'supergroup',
    title: 'Busy group',
    owner: owner.phone,
    members: [reader.phone],
  });
  const channel = await sbx.control('POST', '/chats', {
    type: 'channel',
    title: 'Busy channel',
    owner: owner.phone,
    members: [reader.phone],
  });
  const first = await sbx.control('POST', '/messages', { from: owner.phone, to: group.id, text: 'live' });
  await receivedMessage(reader.sessionId, first.id, 'live group message', { ms: 5000 });
  const posted: Record<string, number[]> = { [group.id]: [], [channel.id]: [] };
  await whileStopped(async () => {
    for (let i = 1; i <= 250; i++) {
      for (const chat of [group.id, channel.id]) {
        const sent = await sbx.control('POST', '/messages', { from: owner.phone, to: chat, text: `n${i}` });
        posted[chat]!.push(sent.id);
      }
    }
  });
  const inGroup = async () =>
    (await eventsOf(t, reader.sessionId, 'message.received'))
      .filter((e) => e.message.chatId === group.id && e.message.id !== first.id)
      .map((e) => e.message);
  const inChannel = async () =>
    (await eventsOf(t, reader.sessionId, 'channel.post_published'))
      .filter((e) => e.message.chatId === channel.id)
      .map((e) => e.message);
  await waitFor(async () => (await inGroup()).length >= 250, 20_000, '250 group messages');
  await waitFor(async () => (await inChannel()).length >= 250, 20_000, '250 channel posts');
  await new Promise((r) => setTimeout(r, 500));
  const groupGot = await inGroup();
  const channelGot = await inChannel();
  assert.deepEqual(
    groupGot.map((m) => m.id),
    posted[group.id],
    'every group message once, in order',
  );
  assert.deepEqual(
    groupGot.map((m) => m.text),
    Array.from({ length: 250 }, (_, i) => `n${i + 1}`),
  );
  assert.deepEqual(
    channelGot.map((m) => m.id),
    posted[channel.id],
    'every channel post once, in order',
  );
  const received = await eventsOf(t, reader.sessionId, 'message.received');
  assert.ok(
    received
      .filter((e) => e.message.chatId === group.id && e.message.id !== first.id)
      .every((e) => e.catchUp),
    'all marked as caught up',
  );
});

test('after a restart only the channels with news are asked for their difference', async () => {
  const reader = await signIn(t, sbx);
  const owner = await sandboxUser();
  const channels: string[] = [];
  for (let i = 0; i < 30; i++) {
    const created = await sbx.control('POST', '/chats', {
      type: 'channel',
      title: `Quiet ${i}`,
      owner: owner.phone,
      members: [reader.phone],
    });
    channels.push(created.id);
  }
  // Each channel heard of live once, so the session holds a pts for every one.
  for (const id of channels)
    await sbx.control('POST', '/messages', { from: owner.phone, to: id, text: 'hello' });
  await waitFor(
    async () =>
      new Set(
        (await eventsOf(t, reader.sessionId, 'message.received'))
          .map((e) => e.message.chatId)
          .filter((id) => channels.includes(id)),
      ).size === 30,
    10_000,
    'a post from every channel',
  );
  // The account hears of something later (its state's date moves past the posts' second).
  await new Promise((r) => setTimeout(r, 1100));
  const later = await sbx.control('POST', '/messages', {
    from: owner.phone,
    to: reader.phone,
    text: 'later',
  });
  await receivedMessage(reader.sessionId, later.copies[reader.phone], 'a later private message', {
    ms: 5000,
  });
  const before = calls('updates.getChannelDifference', reader.userId);
  const news: Array<{ chatId: string; id: number }> = [];
  await whileStopped(async () => {
    for (const id of channels.slice(0, 3)) {
      const sent = await sbx.control('POST', '/messages', { from: owner.phone, to: id, text: 'news' });
      news.push({ chatId: id, id: sent.id });
    }
  });
  await waitFor(
    async () => {
      const got = await eventsOf(t, reader.sessionId, 'message.received');
      return news.every((n) => got.some((e) => e.message.chatId === n.chatId && e.message.id === n.id));
    },
    10_000,
    'the news caught up',
  );
  await waitFor(
    async () =>
      (await t.call('GET', `/api/v1/sessions/${reader.sessionId}`)).body.data.status === 'connected',
    5000,
    'connected',
  );
  assert.equal(calls('updates.getChannelDifference', reader.userId) - before, 3);
});

test('a channel the account was in before signing in, never heard of live, is caught up after a restart', async () => {
  const owner = await sandboxUser();
  const phone = newPhone();
  await sbx.control('POST', '/users', { phone, firstName: 'Early' });
  const channel = await sbx.control('POST', '/chats', {
    type: 'channel',
    title: 'Older than the session',
    owner: owner.phone,
    members: [phone],
  });
  await sbx.control('POST', '/messages', { from: owner.phone, to: channel.id, text: 'before sign-in' });
  const reader = await signInExisting(phone);
  let missed = 0;
  await whileStopped(async () => {
    missed = (
      await sbx.control('POST', '/messages', { from: owner.phone, to: channel.id, text: 'while down' })
    ).id;
  });
  const got = await receivedMessage(
    reader.sessionId,
    missed,
    'post in a channel known only from the dialogs',
    { chatId: channel.id, ms: 8000 },
  );
  assert.equal(got.catchUp, true);
});

test('a channel joined while TeleFlow is down (no pts yet) is caught up from its dialog and history', async () => {
  const reader = await signIn(t, sbx);
  const owner = await sandboxUser();
  const channel = await sbx.control('POST', '/chats', {
    type: 'channel',
    title: 'New to me',
    owner: owner.phone,
  });
  await sbx.control('POST', '/messages', { from: owner.phone, to: channel.id, text: 'before joining' });
  const sent: number[] = [];
  await whileStopped(async () => {
    await sbx.control('POST', `/chats/${channel.id}/members`, { phone: reader.phone });
    for (const text of ['one', 'two']) {
      await new Promise((r) => setTimeout(r, 1100)); // a later date than the join
      sent.push((await sbx.control('POST', '/messages', { from: owner.phone, to: channel.id, text })).id);
    }
  });
  await waitFor(
    async () => {
      const got = await eventsOf(t, reader.sessionId, 'message.received');
      return sent.every((id) => got.some((e) => e.message.chatId === channel.id && e.message.id === id));
    },
    8000,
    'posts of a channel joined while down',
  );
});

test('FLOOD_WAIT during the catch-up at start-up is waited out: one client, connected, caught up', async () => {
  const env = { FLOOD_SLEEP_THRESHOLD_SECONDS: '0' };
  await t.close({ keepData: true });
  t = await createTelegramTestApp(sbx, { dataDir: t.dataDir, env });
  const alice = await signIn(t, sbx);
  const bob = await sandboxUser();
  let missed = 0;
  let clientsBefore = 0;
  let started = 0;
  await whileStopped(async () => {
    missed = (await sbx.control('POST', '/messages', { from: bob.phone, to: alice.phone, text: 'flooded' }))
      .copies[alice.phone];
    clientsBefore = calls('users.getUsers', alice.userId);
    started = Date.now();
    await sbx.control('POST', '/faults', {
      error: 'FLOOD_WAIT_2',
      method: 'updates.getDifference',
      phone: alice.phone,
    });
  }, env);
  const got = await receivedMessage(alice.sessionId, missed, 'caught up after the flood wait', {
    ms: 10_000,
  });
  assert.ok(Date.now() - started >= 1500, 'the wait was honoured');
  assert.equal(got.catchUp, true);
  const session = await waitFor(async () => {
    const s = (await t.call('GET', `/api/v1/sessions/${alice.sessionId}`)).body.data;
    return s.status === 'connected' ? s : undefined;
  });
  assert.equal(session.lastError, null, 'no failed connect was recorded');
  await new Promise((r) => setTimeout(r, 1000));
  // users.getUsers is the first call of every new client: one since the restart, so the flood
  // wait cost no reconnect.
  assert.equal(calls('users.getUsers', alice.userId) - clientsBefore, 1);
});

test('a username that does not exist is asked of Telegram once, then answered from the cache', async () => {
  const alice = await signIn(t, sbx);
  const before = calls('contacts.resolveUsername', alice.userId);
  for (let i = 0; i < 3; i++) {
    const res = await t.call('POST', '/api/v1/messages/send', {
      sessionId: alice.sessionId,
      chatId: '@no_such_name_here',
      text: 'hello?',
    });
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'CHAT_NOT_FOUND');
  }
  assert.equal(calls('contacts.resolveUsername', alice.userId) - before, 1);
});

test('resolving usernames too often draws FLOOD_WAIT from the sandbox, as from Telegram', async () => {
  const alice = await signIn(t, sbx);
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) {
    const res = await t.call('POST', '/api/v1/messages/send', {
      sessionId: alice.sessionId,
      chatId: `@missing_name_${i}`,
      text: 'x',
    });
    statuses.push(res.status);
  }
  assert.deepEqual(statuses.slice(0, 10), Array(10).fill(404));
  assert.equal(statuses[10], 429, 'the 11th resolve within a minute is limited');
});

test('a dropped push is noticed by its seq and caught up with getDifference', async () => {
  const alice = await signIn(t, sbx);
  const bob = await sandboxUser();
  const first = await sbx.control('POST', '/messages', { from: bob.phone, to: alice.phone, text: 'first' });
  await receivedMessage(alice.sessionId, first.copies[alice.phone], 'first message', { ms: 5000 });
  const world = sbx.sandbox.world;
  const sink = world.updateSink!;
  let dropped = 0;
  world.attachSink({
    drop: (...args) => sink.drop(...args),
    refuseConnections: (...args) => sink.refuseConnections(...args),
    push(keys, updates) {
      const lost =
        updates instanceof Api.Updates &&
        updates.updates.some(
          (u) =>
            u instanceof Api.UpdateNewMessage &&
            u.message instanceof Api.Message &&
            u.message.message === 'lost',
        );
      if (lost) dropped++;
      else sink.push(keys, updates);
    },
  });
  const lostId: number = await sbx
    .control('POST', '/messages', { from: bob.phone, to: alice.phone, text: 'lost' })
    .then((sent) => sent.copies[alice.phone])
    .finally(() => world.attachSink(sink));
  assert.ok(dropped > 0, 'the push was dropped');
  // No pts update follows, only one without pts but numbered by seq: its gap tells.
  await sbx.control('PATCH', `/users/${bob.phone}`, { firstName: 'Robert' });
  const got = await receivedMessage(alice.sessionId, lostId, 'the dropped message caught up', { ms: 5000 });
  assert.equal(got.message.text, 'lost');
  assert.equal(got.catchUp, true);
});

test("getDifference's other updates (an edit and a deletion while down) become events", async () => {
  const alice = await signIn(t, sbx);
  const bob = await sandboxUser();
  const one = await sbx.control('POST', '/messages', { from: bob.phone, to: alice.phone, text: 'to edit' });
  const two = await sbx.control('POST', '/messages', { from: bob.phone, to: alice.phone, text: 'to delete' });
  await receivedMessage(alice.sessionId, two.copies[alice.phone], 'both received', { ms: 5000 });
  await whileStopped(async () => {
    await sbx.control('POST', '/messages/edit', {
      by: bob.phone,
      chat: alice.phone,
      messageId: one.copies[bob.phone],
      text: 'edited while down',
    });
    await sbx.control('POST', '/messages/delete', {
      by: bob.phone,
      chat: alice.phone,
      messageIds: [two.copies[bob.phone]],
      revoke: true,
    });
  });
  const edited = await waitFor(
    async () =>
      (await eventsOf(t, alice.sessionId, 'message.edited')).find(
        (e) => e.message.id === one.copies[alice.phone],
      ),
    8000,
    'message.edited from getDifference',
  );
  assert.equal(edited.message.text, 'edited while down');
  const deleted = await waitFor(
    async () =>
      (await eventsOf(t, alice.sessionId, 'message.deleted')).find((e) =>
        (e.messageIds ?? [e.messageId]).includes(two.copies[alice.phone]),
      ),
    8000,
    'message.deleted from getDifference',
  );
  assert.ok(deleted);
});
