import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { EVENT_TYPES } from '../../src/lib/events.js';
import { createLogger } from '../../src/lib/logger.js';
import { expandEventPatterns } from '../../src/modules/events/events.schema.js';
import { createTestApp } from '../helpers/app.js';

test('concurrent publishes get unique increasing ids, committed before listeners hear of them, in id order', async () => {
  const t = await createTestApp();
  try {
    const ev = t.app.services.events;
    const heard: number[] = [];
    const rowsSeenByListener: number[] = [];
    ev.subscribe((batch) => {
      for (const e of batch) heard.push(e.id);
      rowsSeenByListener.push(batch.length);
    });
    const recorded = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        ev.record({
          type: 'user.typing',
          sessionId: `s${i % 3}`,
          data: { userId: String(i), chatId: '1', action: 'typing' },
        }),
      ),
    );
    const ids = recorded.map((r) => r.id);
    assert.equal(new Set(ids).size, 1000);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'ids follow publish order',
    );
    assert.deepEqual(heard, ids, 'listeners hear every event once, in id order');
    assert.ok(rowsSeenByListener.length < 1000, 'publishes that arrive together share a commit');
    const count = await t.app.services.db.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 1000);
    const first = recorded[0]!;
    assert.deepEqual(JSON.parse(first.json), first.envelope);
    assert.equal(first.envelope.id, String(first.id));
    assert.match(first.envelope.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    await assert.rejects(
      ev.publish({ type: 'nope.nothing' as never, sessionId: null, data: {} }),
      /Unknown event type/,
    );
  } finally {
    await t.close();
  }
});

test('events older than the retention period are pruned but the newest; ids are never reused', async () => {
  let now = Date.parse('2026-01-10T00:00:00.000Z');
  const t = await createTestApp({ clock: { now: () => new Date(now) }, env: { EVENT_RETENTION_DAYS: '7' } });
  try {
    const ev = t.app.services.events;
    const old1 = await ev.record({ type: 'session.created', sessionId: 's', data: {} });
    await ev.record({ type: 'session.created', sessionId: 's', data: {} });
    now += 8 * 86_400_000;
    const fresh = await ev.record({ type: 'session.created', sessionId: 's', data: {} });
    assert.equal(await ev.prune(), 2);
    const left = await t.app.services.db.db.selectFrom('events').select('id').execute();
    assert.deepEqual(
      left.map((r) => Number(r.id)),
      [fresh.id],
    );
    // Everything past the retention period: the newest event stays, so that a new id (on
    // SQLite the highest id in the table plus one) follows every id handed out before.
    now += 8 * 86_400_000;
    assert.equal(await ev.prune(), 0);
    const next = await ev.record({ type: 'session.created', sessionId: 's', data: {} });
    assert.ok(next.id > fresh.id && next.id > old1.id);
    now += 8 * 86_400_000;
    assert.equal(await ev.prune(), 1);
    const after = await ev.record({ type: 'session.created', sessionId: 's', data: {} });
    assert.ok(after.id > next.id);
  } finally {
    await t.close();
  }
});

test('an event under a dedup key already in the log is recorded once: the repeat gets the first one', async () => {
  const t = await createTestApp();
  try {
    const ev = t.app.services.events;
    const heard: number[] = [];
    ev.subscribe((batch) => heard.push(...batch.map((e) => e.id)));
    const data = { userId: '1', chatId: '1', action: 'typing' };
    // The same key twice in one batch, then again in a later one.
    const [a, b, other] = await Promise.all([
      ev.record({ type: 'user.typing', sessionId: 's', data, dedupKey: 'k1' }),
      ev.record({ type: 'user.typing', sessionId: 's', data, dedupKey: 'k1' }),
      ev.record({ type: 'user.typing', sessionId: 's', data, dedupKey: 'k2' }),
    ]);
    const again = await ev.record({
      type: 'user.typing',
      sessionId: 's',
      data: { ...data, x: 1 },
      dedupKey: 'k1',
    });
    assert.equal(b!.id, a!.id);
    assert.equal(again.id, a!.id);
    assert.deepEqual(again.envelope.data, data, 'the first event, as recorded');
    assert.notEqual(other!.id, a!.id);
    assert.deepEqual(heard, [a!.id, other!.id], 'listeners hear of each recorded event once');
    const rows = await t.app.services.db.db.selectFrom('events').select('id').execute();
    assert.equal(rows.length, 2);
    // Events without a key never clash.
    const [n1, n2] = await Promise.all([
      ev.record({ type: 'user.typing', sessionId: 's', data }),
      ev.record({ type: 'user.typing', sessionId: 's', data }),
    ]);
    assert.notEqual(n1!.id, n2!.id);
  } finally {
    await t.close();
  }
});

test('pruning walks the log from its front, page by page, and keeps what is inside the retention period', async () => {
  let now = Date.parse('2026-01-10T00:00:00.000Z');
  const t = await createTestApp({ clock: { now: () => new Date(now) }, env: { EVENT_RETENTION_DAYS: '7' } });
  try {
    const ev = t.app.services.events;
    // More than one page of old events (pages of 1000).
    const old = await Promise.all(
      Array.from({ length: 2300 }, () => ev.record({ type: 'session.created', sessionId: 's', data: {} })),
    );
    now += 3 * 86_400_000;
    const middle = await ev.record({ type: 'session.created', sessionId: 's', data: {} });
    now += 5 * 86_400_000;
    const fresh = await ev.record({ type: 'session.created', sessionId: 's', data: {} });
    assert.equal(await ev.prune(), old.length);
    const left = await t.app.services.db.db.selectFrom('events').select('id').orderBy('id').execute();
    assert.deepEqual(
      left.map((r) => Number(r.id)),
      [middle.id, fresh.id],
    );
    assert.equal(await ev.prune(), 0);
  } finally {
    await t.close();
  }
});

test('a publish while a transaction is open on the database waits for it and is not part of it', async (tt) => {
  // PostgreSQL gives each transaction a connection of its own: nothing to wait for there.
  if (process.env.TEST_DATABASE_URL) return tt.skip('SQLite only: one connection, written synchronously');
  const t = await createTestApp();
  try {
    const { db } = t.app.services.db;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const rolledBack = db
      .transaction()
      .execute(async (trx) => {
        await trx.deleteFrom('events').execute();
        entered();
        await held;
        throw new Error('roll back');
      })
      .catch((err: Error) => err.message);
    await inside;
    let done = false;
    const published = t.app.services.events
      .record({ type: 'session.created', sessionId: 's', data: {} })
      .then((e) => {
        done = true;
        return e;
      });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(done, false, 'the publish waits for the open transaction');
    release();
    assert.equal(await rolledBack, 'roll back');
    const event = await published;
    const rows = await db.selectFrom('events').select('id').where('id', '=', event.id).execute();
    assert.equal(rows.length, 1, "the event outlived the other transaction's rollback");
  } finally {
    await t.close();
  }
});

test('data that does not match the documented schema is recorded and reported once per type', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const t = await createTestApp({ logger: createLogger('warn', sink) });
  try {
    await t.app.services.events.publish({ type: 'user.typing', sessionId: 's', data: { wrong: 1 } });
    await t.app.services.events.publish({ type: 'user.typing', sessionId: 's', data: { wrong: 2 } });
    const warnings = lines.filter((l) => l.includes('documented schema'));
    assert.equal(warnings.length, 1);
    assert.equal(JSON.parse(warnings[0]!).eventType, 'user.typing');
  } finally {
    await t.close();
  }
});

test('type patterns: *, prefix.* and exact types; unknown ones are refused', () => {
  assert.equal(expandEventPatterns(['*']).size, 28);
  assert.deepEqual(
    [...expandEventPatterns(['group.*'])],
    EVENT_TYPES.filter((x) => x.startsWith('group.')),
  );
  assert.deepEqual([...expandEventPatterns(['message.sent', 'user.*'])].sort(), [
    'message.sent',
    'user.profile_updated',
    'user.status_changed',
    'user.typing',
  ]);
  assert.throws(() => expandEventPatterns(['message.nope']));
  assert.throws(() => expandEventPatterns(['bogus.*']));
});

test('the OpenAPI document describes the envelope and the data of each of the 28 types', async () => {
  const t = await createTestApp();
  try {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    const schemas = doc.components.schemas as Record<string, { properties?: Record<string, unknown> }>;
    assert.ok(schemas.Event, 'Event union');
    for (const type of EVENT_TYPES) {
      const name = type
        .split(/[._]/)
        .map((p) => p[0]!.toUpperCase() + p.slice(1))
        .join('');
      const s = schemas[`${name}Event`];
      assert.ok(s, `${name}Event is documented`);
      assert.deepEqual(Object.keys(s.properties ?? {}).sort(), [
        'data',
        'id',
        'sessionId',
        'timestamp',
        'type',
      ]);
    }
    const sse = doc.paths['/api/v1/events'].get;
    assert.ok(sse.responses['200'].content['text/event-stream']);
    assert.ok(doc.paths['/api/v1/ws'].get, 'the WebSocket route is documented');
    const wh = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: { 'x-api-key': t.adminKey },
      payload: { url: 'http://127.0.0.1:9/x', events: ['message.nope'] },
    });
    assert.equal(wh.statusCode, 400);
    assert.equal(wh.json().error.code, 'VALIDATION_ERROR');
  } finally {
    await t.close();
  }
});
