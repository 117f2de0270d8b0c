/**
 * The update state's ordering rules with a stand-in for Telegram's getDifference (the
 * end-to-end catch-up runs against the sandbox in restart.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Api } from 'teleproto';
import { UpdateTracker, type UpdateState } from '../../src/telegram/update-tracker.js';
import { toBotApiId } from '../../src/telegram/ids.js';

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

function tracker(
  state: UpdateState,
  differences: Api.updates.TypeDifference[] = [],
  /** Runs before each call's answer (throw to fail the call). */
  before: (req: Api.AnyRequest) => void = () => undefined,
) {
  const dispatched: number[] = [];
  const calls: string[] = [];
  const t = new UpdateTracker({
    state,
    invoke: (async (req: Api.AnyRequest) => {
      calls.push(req.className);
      before(req);
      return differences.shift() ?? new Api.updates.DifferenceEmpty({ date: 2, seq: 0 });
    }) as never,
    inputChannel: () => undefined,
    ingestEntities: () => undefined,
    knowsPeer: () => true,
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
  const { t, dispatched, calls } = tracker({ pts: 10, channels: {}, dialogsSeeded: true }, [diff]);
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

const ch = (id: number) => toBotApiId('channel', BigInt(id) as never);

test('a channel that became unreadable is dropped from catch-up; the others still catch up', async () => {
  const calls: string[] = [];
  const { RPCError } = await import('teleproto/errors/index.js');
  // getDifference names both channels (updateChannelTooLong): only those are asked.
  const hinted = () =>
    new Api.updates.Difference({
      newMessages: [],
      newEncryptedMessages: [],
      otherUpdates: [1, 2].map((id) => new Api.UpdateChannelTooLong({ channelId: BigInt(id) as never })),
      chats: [],
      users: [],
      state: new Api.updates.State({ pts: 1, qts: 0, date: 2, seq: 0, unreadCount: 0 }),
    });
  const t = new UpdateTracker({
    state: { pts: 1, channels: { [ch(1)]: 5, [ch(2)]: 7, [ch(3)]: 1 }, dialogsSeeded: true },
    invoke: (async (req: Api.AnyRequest) => {
      if (req instanceof Api.updates.GetChannelDifference) {
        const id = String((req.channel as Api.InputChannel).channelId);
        calls.push(id);
        if (id === '1') throw new RPCError('CHANNEL_PRIVATE', req, 400);
        return new Api.updates.ChannelDifferenceEmpty({ pts: 9, final: true });
      }
      return hinted();
    }) as never,
    inputChannel: (id: string) =>
      new Api.InputChannel({ channelId: BigInt(id.replace('-100', '')) as never, accessHash: 0n as never }),
    ingestEntities: () => undefined,
    knowsPeer: () => true,
    dispatch: () => undefined,
    onStateChanged: () => undefined,
    log: pino({ level: 'silent' }),
  });
  await t.catchUp();
  assert.deepEqual(calls.sort(), ['1', '2'], 'the channel without news (3) is not asked');
  assert.deepEqual(t.state.channels, { [ch(2)]: 9, [ch(3)]: 1 });
  calls.length = 0;
  await t.catchUp();
  assert.deepEqual(calls, ['2'], 'the gone channel is not asked again');
  t.stop();
});

test('a seq gap that stays open is filled by getDifference; a container already applied is skipped', async () => {
  const diff = new Api.updates.Difference({
    newMessages: [
      new Api.Message({ id: 7, peerId: new Api.PeerUser({ userId: 5 as never }), date: 1, message: 'm7' }),
    ],
    newEncryptedMessages: [],
    otherUpdates: [],
    chats: [],
    users: [],
    state: new Api.updates.State({ pts: 11, qts: 0, date: 3, seq: 4, unreadCount: 0 }),
  });
  const { t, dispatched, calls } = tracker({ pts: 10, seq: 2, channels: {}, dialogsSeeded: true }, [diff]);
  const status = new Api.UpdateUserStatus({
    userId: 5 as never,
    status: new Api.UserStatusOnline({ expires: 9 }),
  });
  // seq 3 never came: seq 4 (an update without pts) shows the gap.
  t.feed(new Api.Updates({ updates: [status], users: [], chats: [], date: 1, seq: 4 }), 'live');
  for (let waited = 0; dispatched.length === 0 && waited < 5000; waited += 50)
    await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(calls, ['updates.GetDifference']);
  assert.deepEqual(dispatched, [7]);
  assert.equal(t.state.seq, 4);
  t.feed(wrapSeq(4, message(8, 12)), 'live');
  assert.deepEqual(dispatched, [7], 'seq 4 again: already applied, skipped');
  t.feed(wrapSeq(5, message(8, 12)), 'live');
  assert.deepEqual(dispatched, [7, 8]);
  assert.equal(t.state.seq, 5);
  t.stop();
});

test('FLOOD_WAIT during getDifference is waited out, then the catch-up goes on', async () => {
  const { RPCError } = await import('teleproto/errors/index.js');
  const flood = Object.assign(
    new RPCError('FLOOD', new Api.updates.GetDifference({ pts: 1, qts: 0, date: 0 }), 420),
    {
      seconds: 1,
    },
  );
  let floods = 1;
  const { t, calls } = tracker({ pts: 10, channels: {}, dialogsSeeded: true }, [], () => {
    if (floods-- > 0) throw flood;
  });
  const started = Date.now();
  await t.catchUp();
  assert.ok(Date.now() - started >= 900, 'waited the flood out');
  assert.deepEqual(calls, ['updates.GetDifference', 'updates.GetDifference']);
  t.stop();
});

function wrapSeq(seq: number, ...updates: Api.TypeUpdate[]): Api.Updates {
  return new Api.Updates({ updates, users: [], chats: [], date: 1, seq });
}
