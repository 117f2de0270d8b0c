/**
 * One event log across instances (src/modules/cluster/event-log.ts): two instances publishing
 * at once never let a reader see ids out of order or a gap fill in later; an SSE client on one
 * instance receives, in order and complete, the events committed through the other; a lost
 * LISTEN connection is opened again and the streams catch up from the log. PostgreSQL only.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { NewEvent } from '../../src/lib/events.js';
import { LISTEN_APPLICATION_NAME } from '../../src/modules/cluster/bus.js';
import { clusterSkip, startClusterApps, type ClusterApps } from '../helpers/cluster-apps.js';
import { openSse } from '../helpers/stream-clients.js';

let cluster: ClusterApps;

before(async () => {
  if (clusterSkip) return;
  cluster = await startClusterApps(2);
});
after(async () => {
  await cluster?.close();
});

function event(i: number): NewEvent {
  return { type: 'session.connected', sessionId: 'ses_order', data: { i } } as unknown as NewEvent;
}

/** All ids of the log, read on a connection of its own. */
async function readIds(client: pg.Client, schema: string, after: number): Promise<number[]> {
  const res = await client.query<{ id: string }>(
    `select id from "${schema}".events where id > $1 order by id`,
    [after],
  );
  return res.rows.map((r) => Number(r.id));
}

test(
  'two instances committing at once: a reader never sees an id appear below one it already saw',
  { skip: clusterSkip },
  async () => {
    const [a, b] = cluster.apps;
    const schema = new URL(a!.databaseUrl).searchParams.get('schema')!;
    const reader = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await reader.connect();
    try {
      const start = (await readIds(reader, schema, 0)).at(-1) ?? 0;
      const seen = new Set<number>();
      let highest = start;
      const late: number[] = [];
      let done = false;
      const readerLoop = (async () => {
        // Bounded: at most 5,000 reads, and only while the publishers run.
        for (let n = 0; n < 5000 && !done; n++) {
          for (const id of await readIds(reader, schema, start)) {
            if (seen.has(id)) continue;
            if (id < highest) late.push(id);
            seen.add(id);
            if (id > highest) highest = id;
          }
        }
      })();
      // Each instance publishes 600 events in bursts of 30 concurrent publishes (batches of many).
      const publish = async (app: typeof a, offset: number) => {
        for (let burst = 0; burst < 20; burst++) {
          await Promise.all(
            Array.from({ length: 30 }, (_, k) =>
              app!.app.services.events.publish(event(offset + burst * 30 + k)),
            ),
          );
        }
      };
      await Promise.all([publish(a, 0), publish(b, 100_000)]);
      done = true;
      await readerLoop;
      const all = await readIds(reader, schema, start);
      assert.equal(all.length, 1200);
      assert.deepEqual(
        late,
        [],
        `ids that became visible after a higher one: ${late.slice(0, 10).join(', ')}`,
      );
    } finally {
      await reader.end();
    }
  },
);

test(
  'an SSE client on instance 1 receives the events committed through instance 2, in order, none missing',
  { skip: clusterSkip },
  async () => {
    const [a, b] = cluster.apps;
    const sse = openSse(`${a!.base}/events?types=session.*`, { 'x-api-key': a!.adminKey });
    try {
      await sse.until(() => sse.opens() > 0);
      const before = (await b!.app.services.events.newest())?.id ?? 0;
      // Instance 2 publishes; instance 1 too, interleaved, so the stream gets both in one order.
      // Both instances publish at once, one at a time and in bursts of 10 (batches of several).
      const publishFrom = async (app: typeof a, base: number) => {
        for (let i = 0; i < 25; i++) await app!.app.services.events.publish(event(base + i));
        for (let burst = 0; burst < 5; burst++)
          await Promise.all(
            Array.from({ length: 10 }, (_, k) =>
              app!.app.services.events.publish(event(base + 25 + burst * 10 + k)),
            ),
          );
      };
      await Promise.all([publishFrom(b, 0), publishFrom(a, 1000)]);
      await sse.until(() => sse.frames.length >= 150, 10_000);
      const ids = sse.frames.map((f) => Number(f.id));
      const logged = (
        await a!.app.services.events.readAfter(before, { types: null, sessionIds: null }, 1000)
      ).map((e) => e.id);
      assert.deepEqual(ids, logged);
      const fromB = sse.frames.filter((f) => (JSON.parse(f.data) as { data: { i: number } }).data.i < 1000);
      assert.equal(fromB.length, 75);
    } finally {
      sse.es.close();
    }
  },
);

test(
  'a lost LISTEN connection is opened again and the stream reads what it missed',
  { skip: clusterSkip },
  async () => {
    const [a, b] = cluster.apps;
    const sse = openSse(`${a!.base}/events?types=session.*`, { 'x-api-key': a!.adminKey });
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    try {
      await sse.until(() => sse.opens() > 0);
      // Both instances lose their LISTEN connection; instance 2 publishes while they are down.
      const killed = await admin.query(
        'select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1',
        [LISTEN_APPLICATION_NAME],
      );
      assert.ok(killed.rowCount! >= 2);
      await b!.app.services.events.publish(event(5000));
      await b!.app.services.events.publish(event(5001));
      await sse.until(() => sse.frames.length >= 2, 5000);
      const got = sse.frames.map((f) => (JSON.parse(f.data) as { data: { i: number } }).data.i);
      assert.deepEqual(got, [5000, 5001]);
      // Listening again: an event now arrives through the notification, not a later catch-up.
      const reconnected = await admin.query('select 1 from pg_stat_activity where application_name = $1', [
        LISTEN_APPLICATION_NAME,
      ]);
      assert.ok(reconnected.rowCount! >= 2);
    } finally {
      sse.es.close();
      await admin.end();
    }
  },
);
