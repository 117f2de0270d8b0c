/**
 * Nothing received is lost when an event cannot be written: the session's update state (pts)
 * is saved only after the events of the updates it covers are recorded, so a restart replays.
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
