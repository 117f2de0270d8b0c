/**
 * Nothing received is lost when an event cannot be written: the session's update state (pts)
 * is saved only after the events of the updates it covers are recorded, so a restart replays.
 * Events caused through the API are committed before the API answers. What a restart replays
 * is recorded once. Messages the account sends, edits and deletes in its other apps are events
 * too (source "other_device"); the other app is the sandbox's control API acting as the account
 * itself (the sandbox pushes the account's own messages to its other authorizations, as
 * Telegram does).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openDatabase } from '../../src/db/index.js';
import type { EventType, NewEvent } from '../../src/lib/events.js';
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

async function savedPts(app: TelegramTestApp, sessionId: string): Promise<number> {
  const row = await app.app.services.db.db
    .selectFrom('tg_sessions')
    .select('update_state_json')
    .where('id', '=', sessionId)
    .executeTakeFirstOrThrow();
  return (JSON.parse(String(row.update_state_json)) as { pts: number }).pts;
}

test('a message whose event could not be recorded is not skipped: the state stays put and a restart replays it', async () => {
  const me = await signIn(t, sbx);
  const friend = await signIn(t, sbx);
  await sbx.control('POST', '/messages', { from: friend.phone, to: me.phone, text: 'before' });
  await waitFor(
    async () => (await eventsOf(t, me.sessionId, 'message.received')).length === 1,
    5000,
    'first',
  );
  await t.app.services.sessions.persist(me.sessionId);
  const ptsBefore = await savedPts(t, me.sessionId);

  // The event log refuses this session's message.received (as a full disk or a lost database would).
  const events = t.app.services.events;
  const original = events.publish.bind(events);
  let refused = 0;
  events.publish = async (event: NewEvent) => {
    if (event.type === 'message.received' && event.sessionId === me.sessionId) {
      refused++;
      throw new Error('event log unavailable');
    }
    return original(event);
  };
  try {
    await sbx.control('POST', '/messages', { from: friend.phone, to: me.phone, text: 'while the log fails' });
    await waitFor(() => refused === 1, 5000, 'the refused write');
    await t.app.services.sessions.persist(me.sessionId);
    assert.equal(
      await savedPts(t, me.sessionId),
      ptsBefore,
      'the update state did not move past the lost event',
    );
  } finally {
    events.publish = original;
  }

  t = await t.restart();
  const texts = await waitFor(
    async () => {
      const all = (await eventsOf(t, me.sessionId, 'message.received')).map((d) => d.message.text);
      return all.includes('while the log fails') ? all : undefined;
    },
    10_000,
    'the replayed message',
  );
  assert.deepEqual(
    texts.filter((x) => x === 'while the log fails'),
    ['while the log fails'],
    'recorded once after the restart',
  );
});

test('an answer from the API means its event is recorded: the log holds it the moment the answer arrives', async () => {
  const me = await signIn(t, sbx);
  await signIn(t, sbx, { username: 'durable_friend' });
  // Read straight after each answer, without waiting: an event recorded after the answer had
  // gone (and lost if the process died in between) would be missing here.
  const sent = await t.call('POST', '/api/v1/messages/send', {
    sessionId: me.sessionId,
    chatId: '@durable_friend',
    text: 'hello',
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  const recorded = await eventsOf(t, me.sessionId, 'message.sent');
  assert.deepEqual(
    recorded.map((d) => d.message.id),
    [sent.body.data.id],
  );

  const edited = await t.call('POST', '/api/v1/messages/edit', {
    sessionId: me.sessionId,
    chatId: sent.body.data.chatId,
    messageId: sent.body.data.id,
    text: 'hello again',
  });
  assert.equal(edited.status, 200, JSON.stringify(edited.body));
  assert.deepEqual(
    (await eventsOf(t, me.sessionId, 'message.edited')).map((d) => d.message.text),
    ['hello again'],
  );

  const created = await t.call('POST', '/api/v1/sessions', { phone: '15550009999' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal((await eventsOf(t, created.body.data.id, 'session.created')).length, 1);
});

/** The session's events of a type, once there is one. */
const someEvents = (sessionId: string, type: EventType, what: string) =>
  waitFor(
    async () => {
      const all = await eventsOf(t, sessionId, type);
      return all.length > 0 ? all : undefined;
    },
    5000,
    what,
  );

const sentTexts = async (sessionId: string) =>
  (await eventsOf(t, sessionId, 'message.sent')).map((d) => [d.message.text, d.source, d.catchUp ?? false]);

test('a message sent from another app of the account is message.sent with source other_device; an API send is source api, once', async () => {
  const me = await signIn(t, sbx);
  const friend = await signIn(t, sbx);

  const elsewhere = await sbx.control<{ id: number }>('POST', '/messages', {
    from: me.phone,
    to: friend.phone,
    text: 'from my phone',
  });
  const [event] = await someEvents(me.sessionId, 'message.sent', 'message.sent of the other app');
  assert.equal(event!.source, 'other_device');
  assert.equal(event!.catchUp, false);
  assert.equal(event!.message.id, elsewhere.id);
  assert.equal(event!.message.out, true);
  assert.equal(event!.message.senderId, me.userId);

  const sent = await t.call('POST', '/api/v1/messages/send', {
    sessionId: me.sessionId,
    chatId: friend.userId,
    text: 'through the API',
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  // The friend's side: their copy arrives, which also shows the push has been made.
  await waitFor(
    async () =>
      (await eventsOf(t, friend.sessionId, 'message.received')).some(
        (d) => d.message.text === 'through the API',
      ),
    5000,
    'the friend received it',
  );
  await t.app.services.sessions.persist(me.sessionId);
  assert.deepEqual(await sentTexts(me.sessionId), [
    ['from my phone', 'other_device', false],
    ['through the API', 'api', false],
  ]);

  // Edits and deletes made in the other app.
  await sbx.control('POST', '/messages/edit', {
    by: me.phone,
    chat: friend.phone,
    messageId: elsewhere.id,
    text: 'from my phone, edited',
  });
  const edited = await someEvents(me.sessionId, 'message.edited', 'message.edited of the other app');
  assert.deepEqual(
    edited.map((d) => [d.message.text, d.source]),
    [['from my phone, edited', 'other_device']],
  );
  await sbx.control('POST', '/messages/delete', {
    by: me.phone,
    chat: friend.phone,
    messageIds: [elsewhere.id],
  });
  const deleted = await someEvents(me.sessionId, 'message.deleted', 'message.deleted of the other app');
  assert.deepEqual(
    deleted.map((d) => [d.messageIds, d.source]),
    [[[elsewhere.id], 'other_device']],
  );
  // The friend's edit of their own message is no other_device change of ours.
  const theirs = await sbx.control<{ id: number }>('POST', '/messages', {
    from: friend.phone,
    to: me.phone,
    text: 'hello',
  });
  await waitFor(
    async () => (await eventsOf(t, me.sessionId, 'message.received')).some((d) => d.message.text === 'hello'),
    5000,
    'their message',
  );
  const theirCopy = (await eventsOf(t, me.sessionId, 'message.received')).find(
    (d) => d.message.text === 'hello',
  )!;
  assert.ok(theirs.id > 0);
  await sbx.control('POST', '/messages/edit', {
    by: friend.phone,
    chat: me.phone,
    messageId: theirs.id,
    text: 'hello!',
  });
  const theirEdit = await waitFor(
    async () => (await eventsOf(t, me.sessionId, 'message.edited')).find((d) => d.message.text === 'hello!'),
    5000,
    'their edit',
  );
  assert.equal(theirEdit.message.id, theirCopy.message.id);
  assert.equal(theirEdit.source, undefined);
});

test('after a crash the catch-up replays sends and edits: each is still reported once, and what was sent meanwhile arrives with catchUp', async () => {
  const me = await signIn(t, sbx);
  const friend = await signIn(t, sbx, { username: 'crash_friend' });
  await t.app.services.sessions.persist(me.sessionId);
  const stateRow = () =>
    t.app.services.db.db
      .selectFrom('tg_sessions')
      .select('update_state_json')
      .where('id', '=', me.sessionId)
      .executeTakeFirstOrThrow();
  const savedState = (await stateRow()).update_state_json;

  const sent = await t.call('POST', '/api/v1/messages/send', {
    sessionId: me.sessionId,
    chatId: '@crash_friend',
    text: 'api before the crash',
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  const edit = await t.call('POST', '/api/v1/messages/edit', {
    sessionId: me.sessionId,
    chatId: sent.body.data.chatId,
    messageId: sent.body.data.id,
    text: 'api before the crash, edited',
  });
  assert.equal(edit.status, 200, JSON.stringify(edit.body));
  await sbx.control('POST', '/messages', {
    from: me.phone,
    to: friend.phone,
    text: 'phone before the crash',
  });
  await sbx.control('POST', '/messages', {
    from: friend.phone,
    to: me.phone,
    text: 'incoming before the crash',
  });
  await waitFor(
    async () =>
      (await eventsOf(t, me.sessionId, 'message.received')).length === 1 &&
      (await eventsOf(t, me.sessionId, 'message.sent')).length === 2,
    5000,
    'the events before the crash',
  );
  const url = t.config.databaseUrl;
  await t.close({ keepData: true });
  // The process died before saving the update state past these updates: the stored state is
  // the one from before them, so the restart's getDifference brings all of them again.
  const db = openDatabase(url);
  try {
    await db.db
      .updateTable('tg_sessions')
      .set({ update_state_json: savedState })
      .where('id', '=', me.sessionId)
      .execute();
  } finally {
    await db.close();
  }
  await sbx.control('POST', '/messages', { from: me.phone, to: friend.phone, text: 'phone while down' });

  t = await createTelegramTestApp(sbx, { dataDir: t.dataDir });
  await waitFor(
    async () => (await sentTexts(me.sessionId)).length >= 3,
    10_000,
    'the message sent while TeleFlow was down',
  );
  // Give the rest of the catch-up (replays included) time to be recorded.
  await t.app.services.sessions.persist(me.sessionId);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(await sentTexts(me.sessionId), [
    ['api before the crash', 'api', false],
    ['phone before the crash', 'other_device', false],
    ['phone while down', 'other_device', true],
  ]);
  assert.deepEqual(
    (await eventsOf(t, me.sessionId, 'message.edited')).map((d) => [d.message.text, d.source]),
    [['api before the crash, edited', 'api']],
  );
  assert.deepEqual(
    (await eventsOf(t, me.sessionId, 'message.received')).map((d) => d.message.text),
    ['incoming before the crash'],
  );
});
