/**
 * The update state's ordering rules with a stand-in for Telegram's getDifference (the
 * end-to-end catch-up runs against the sandbox in restart.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Api } from 'teleproto';
import { UpdateTracker, type UpdateState } from '../../src/telegram/update-tracker.js';

function message(id: number, pts: number): Api.UpdateNewMessage {
  return new Api.UpdateNewMessage({
    message: new Api.Message({
      id,
      peerId: new Api.PeerUser({ userId: 5 as never }),
      date: 1,
      message: `m${id}`,
    }),
    pts,
    ptsCount: 1,
  });
}

function tracker(state: UpdateState, differences: Api.updates.TypeDifference[] = []) {
  const dispatched: number[] = [];
  const calls: string[] = [];
  const t = new UpdateTracker({
    state,
    invoke: (async (req: Api.AnyRequest) => {
      calls.push(req.className);
      return differences.shift() ?? new Api.updates.DifferenceEmpty({ date: 2, seq: 0 });
    }) as never,
    inputChannel: () => undefined,
    ingestEntities: () => undefined,
    dispatch: (u) => {
      if (u instanceof Api.UpdateNewMessage) dispatched.push(u.message.id);
    },
    onStateChanged: () => undefined,
    log: pino({ level: 'silent' }),
  });
  return { t, dispatched, calls };
}

const wrap = (...updates: Api.TypeUpdate[]) =>
  new Api.Updates({ updates, users: [], chats: [], date: 1, seq: 0 });

test('out-of-order updates are held briefly and applied in pts order, without getDifference', async () => {
  const { t, dispatched, calls } = tracker({ pts: 10, channels: {} });
  t.feed(wrap(message(2, 12)), 'live');
  t.feed(wrap(message(1, 11)), 'live');
  t.feed(wrap(message(1, 11)), 'live');
  assert.deepEqual(dispatched, [1, 2], 'applied in order, the duplicate dropped');
  assert.equal(t.state.pts, 12);
  await new Promise((r) => setTimeout(r, 600));
  assert.deepEqual(calls, []);
  t.stop();
});

test('a gap that stays open is filled by getDifference, whose messages are dispatched', async () => {
  const diff = new Api.updates.Difference({
    newMessages: [
      new Api.Message({ id: 3, peerId: new Api.PeerUser({ userId: 5 as never }), date: 1, message: 'm3' }),
    ],
    newEncryptedMessages: [],
    otherUpdates: [],
    chats: [],
    users: [],
    state: new Api.updates.State({ pts: 14, qts: 0, date: 3, seq: 1, unreadCount: 0 }),
  });
  const { t, dispatched, calls } = tracker({ pts: 10, channels: {} }, [diff]);
  t.feed(wrap(message(4, 14)), 'live');
  assert.deepEqual(dispatched, []);
  // The gap waits 0.5 s, then getDifference fills it (polled: timers run late on a busy machine).
  for (let waited = 0; calls.length === 0 && waited < 5000; waited += 50)
    await new Promise((r) => setTimeout(r, 50));
  for (let waited = 0; dispatched.length === 0 && waited < 1000; waited += 10)
    await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(calls, ['updates.GetDifference']);
  assert.deepEqual(dispatched, [3]);
  assert.equal(t.state.pts, 14);
  t.stop();
});

test('a channel that became unreadable is dropped from catch-up; the others still catch up', async () => {
  const calls: string[] = [];
  const { RPCError } = await import('teleproto/errors/index.js');
  const t = new UpdateTracker({
    state: { pts: 1, channels: { '-1001': 5, '-1002': 7 } },
    invoke: (async (req: Api.AnyRequest) => {
      if (req instanceof Api.updates.GetChannelDifference) {
        const id = String((req.channel as Api.InputChannel).channelId);
        calls.push(id);
        if (id === '1') throw new RPCError('CHANNEL_PRIVATE', req, 400);
        return new Api.updates.ChannelDifferenceEmpty({ pts: 9, final: true });
      }
      return new Api.updates.DifferenceEmpty({ date: 2, seq: 0 });
    }) as never,
    inputChannel: (id: string) =>
      new Api.InputChannel({ channelId: BigInt(id.replace('-100', '')) as never, accessHash: 0n as never }),
    ingestEntities: () => undefined,
    dispatch: () => undefined,
    onStateChanged: () => undefined,
    log: pino({ level: 'silent' }),
  });
  await t.catchUp();
  assert.deepEqual(calls.sort(), ['1', '2']);
  assert.deepEqual(t.state.channels, { '-1002': 9 });
  calls.length = 0;
  await t.catchUp();
  assert.deepEqual(calls, ['2'], 'the gone channel is not asked again');
  t.stop();
});
