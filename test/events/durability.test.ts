/**
 * Nothing received is lost when an event cannot be written: the session's update state (pts)
 * is saved only after the events of the updates it covers are recorded, so a restart replays.
 * Events caused through the API are committed before the API answers.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { NewEvent } from '../../src/lib/events.js';
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
