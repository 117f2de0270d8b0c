/**
 * Short messages naming a peer the session does not know: fetched again by getDifference (with
 * a stand-in for Telegram), dispatched once and as live; the short form when that fails. The
 * end-to-end behaviour against the sandbox is in unknown-peers.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Api } from 'teleproto';
import { UpdateTracker, type UpdateContext } from '../../src/telegram/update-tracker.js';

const STRANGER = 77;

function short(id: number, pts: number): Api.UpdateShortMessage {
  return new Api.UpdateShortMessage({
    id,
    userId: STRANGER as never,
    message: `m${id}`,
    pts,
    ptsCount: 1,
    date: 1,
  });
}

function tracker(answer: (req: Api.AnyRequest) => unknown) {
  const dispatched: Array<{ id: number; source: string; users: number }> = [];
  const known = new Set<string>();
  const calls: string[] = [];
  // dialogsSeeded: the channels' positions count as read already (no getDialogs here).
  const state = { pts: 10, date: 1, channels: {}, dialogsSeeded: true };
  const t = new UpdateTracker({
    state,
    invoke: (async (req: Api.AnyRequest) => {
      calls.push(req.className);
      return answer(req);
    }) as never,
    inputChannel: () => undefined,
    ingestEntities: (users) => {
      for (const u of users) known.add(u.id.toString());
    },
    knowsPeer: (id) => known.has(id),
    dispatch: (u: Api.TypeUpdate, ctx: UpdateContext) => {
      if (u instanceof Api.UpdateNewMessage)
        dispatched.push({ id: u.message.id, source: ctx.source, users: ctx.users.length });
    },
    onStateChanged: () => undefined,
    log: pino({ level: 'silent' }),
  });
  return { t, dispatched, calls, known };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

test('a short message from an unknown user is fetched by getDifference and dispatched once, as live, with its user', async () => {
  const { t, dispatched, calls, known } = tracker((req) => {
    assert.ok(req instanceof Api.updates.GetDifference);
    assert.equal(req.pts, 10, 'from the pts before the message');
    return new Api.updates.Difference({
      newMessages: [
        new Api.Message({
          id: 1,
          peerId: new Api.PeerUser({ userId: STRANGER as never }),
          fromId: new Api.PeerUser({ userId: STRANGER as never }),
          date: 1,
          message: 'm1',
        }),
      ],
      newEncryptedMessages: [],
      otherUpdates: [],
      chats: [],
      users: [new Api.User({ id: STRANGER as never, accessHash: 5n as never, firstName: 'S' })],
      state: new Api.updates.State({ pts: 11, qts: 0, date: 2, seq: 0, unreadCount: 0 }),
    });
  });
  t.feed(short(1, 11), 'live');
  await settle();
  assert.deepEqual(calls, ['updates.GetDifference']);
  assert.deepEqual(dispatched, [{ id: 1, source: 'live', users: 1 }]);
  assert.ok(known.has(String(STRANGER)));
  assert.equal(t.state.pts, 11);
  // Now known: the next short message is applied as it comes.
  t.feed(short(2, 12), 'live');
  assert.deepEqual(calls, ['updates.GetDifference']);
  assert.deepEqual(dispatched.at(-1), { id: 2, source: 'live', users: 0 });
  t.stop();
});

test('when getDifference fails, the short message is applied as it came', async () => {
  const { t, dispatched } = tracker(() => {
    throw new Error('connection lost');
  });
  t.feed(short(1, 11), 'live');
  await settle();
  assert.deepEqual(dispatched, [{ id: 1, source: 'live', users: 0 }]);
  assert.equal(t.state.pts, 11);
  t.stop();
});
