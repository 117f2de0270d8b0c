import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/index.js';
import { Migrator } from 'kysely/migration';
import { migrateToLatest, StaticProvider } from '../../src/db/migrate.js';
import { eventLogRowid } from '../../src/db/migrations/040_event_log_rowid.js';
import { WebhooksRepository } from '../../src/modules/webhooks/webhooks.repository.js';
import type { WebhooksTable } from '../../src/db/types.js';
import { testDatabaseUrl } from '../helpers/app.js';

async function withDb(fn: (db: ReturnType<typeof openDatabase>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-db-'));
  const info = await testDatabaseUrl(dir);
  const db = openDatabase(info.url);
  try {
    await migrateToLatest(db);
    await fn(db);
  } finally {
    await db.close();
    await info.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('SQLite reuses prepared statements: repeated queries see fresh data, streams and the cache bound are safe', async (t) => {
  if (process.env.TEST_DATABASE_URL) return t.skip('SQLite only: the statement cache wraps better-sqlite3');
  await withDb(async ({ db }) => {
    const insert = (type: string) =>
      db
        .insertInto('events')
        .values({ type, session_id: null, data: '{}', created_at: new Date().toISOString() })
        .returning('id')
        .executeTakeFirstOrThrow();
    const count = async () =>
      Number(
        (
          await db
            .selectFrom('events')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(Number((await insert('message.sent')).id));
      assert.equal(await count(), i + 1);
    }
    assert.deepEqual(
      ids,
      [...new Set(ids)].sort((a, b) => a - b),
      'each insert returns its own new id',
    );

    // A streamed select, the same one left half-way, then the same SQL run again.
    const streamed = db.selectFrom('events').select('id').orderBy('id');
    const seen: number[] = [];
    for await (const row of streamed.stream()) seen.push(Number(row.id));
    assert.deepEqual(seen, ids);
    for await (const row of streamed.stream()) {
      assert.equal(Number(row.id), ids[0]);
      break;
    }
    assert.deepEqual(
      (await streamed.execute()).map((r) => Number(r.id)),
      ids,
    );

    // More distinct statements than the cache holds: old ones are dropped, all still answer.
    for (let i = 0; i < 300; i++) {
      const row = await sql<{ v: number }>`select ${sql.lit(i)} as v`.execute(db);
      assert.equal(row.rows[0]!.v, i);
    }
    assert.equal(await count(), 5);
  });
});

function webhookRow(id: string, at: string): WebhooksTable {
  return {
    id,
    url: 'http://127.0.0.1:9/hook',
    events: '["*"]',
    session_ids: null,
    secret_enc: 'sealed',
    enabled: 1,
    description: null,
    consecutive_failures: 0,
    disabled_reason: null,
    disabled_at: null,
    created_at: at,
    updated_at: at,
  };
}

test('the enabled-webhooks list: changes made here are seen at once, changes made by another process within the cache time', async () => {
  await withDb(async ({ db }) => {
    const here = new WebhooksRepository(db, 300);
    const elsewhere = new WebhooksRepository(db, 300);
    const at = new Date().toISOString();
    const ids = async () => (await here.enabledWebhooks(db)).map((w) => w.id).sort();

    assert.deepEqual(await ids(), []);
    await here.insertWebhook(webhookRow('wh_a', at));
    assert.deepEqual(await ids(), ['wh_a'], 'own insert seen at once');

    await elsewhere.insertWebhook(webhookRow('wh_b', at));
    assert.deepEqual(await ids(), ['wh_a'], 'another process is seen only once the cache expires');
    await new Promise((r) => setTimeout(r, 350));
    assert.deepEqual(await ids(), ['wh_a', 'wh_b']);

    await here.updateWebhook('wh_b', { enabled: 0 });
    assert.deepEqual(await ids(), ['wh_a'], 'own disable seen at once');
    await here.deleteWebhook('wh_a');
    assert.deepEqual(await ids(), [], 'own delete seen at once');

    // A change announced while a read is in flight keeps that read out of the cache.
    const reading = here.enabledWebhooks(db);
    here.webhooksChanged();
    await db.updateTable('webhooks').set({ enabled: 1 }).where('id', '=', 'wh_b').execute();
    await reading;
    assert.deepEqual(await ids(), ['wh_b']);
  });
});

test('SQLite: migration 040 rebuilds the event log without AUTOINCREMENT, keeping its rows, ids and indexes', async (t) => {
  if (process.env.TEST_DATABASE_URL) return t.skip('SQLite only: PostgreSQL keeps its sequence');
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-db-'));
  const db = openDatabase(`file:${join(dir, 'teleflow.db')}`);
  try {
    const migrator = new Migrator({ db: db.db, provider: new StaticProvider('sqlite') });
    const to039 = await migrator.migrateTo('039_event_log_indexes');
    assert.equal(to039.error, undefined);
    const sqlite = db.sqlite!;
    const tableSql = () =>
      (sqlite.prepare("select sql from sqlite_master where type = 'table' and name = 'events'").get() as {
        sql: string;
      }).sql;
    const insert = sqlite.prepare(
      'insert into events (type, session_id, data, created_at, dedup_key) values (?, ?, ?, ?, ?)',
    );
    for (let i = 1; i <= 5; i++)
      insert.run('message.sent', `s${i}`, `{"n":${i}}`, `2026-01-0${i}T00:00:00.000Z`, i === 2 ? 'k2' : null);
    // Ids 4 and 5 were handed out and are gone: AUTOINCREMENT would not hand them out again.
    sqlite.prepare('delete from events where id > 3').run();
    assert.match(tableSql(), /autoincrement/i);

    const up = await migrator.migrateToLatest();
    assert.equal(up.error, undefined);
    assert.doesNotMatch(tableSql(), /autoincrement/i);
    assert.deepEqual(
      sqlite.prepare('select id, type, session_id, data, created_at, dedup_key from events order by id').all(),
      [1, 2, 3].map((i) => ({
        id: i,
        type: 'message.sent',
        session_id: `s${i}`,
        data: `{"n":${i}}`,
        created_at: `2026-01-0${i}T00:00:00.000Z`,
        dedup_key: i === 2 ? 'k2' : null,
      })),
    );
    const indexes = sqlite
      .prepare("select name from sqlite_master where type = 'index' and tbl_name = 'events' order by name")
      .all() as { name: string }[];
    assert.deepEqual(
      indexes.map((r) => r.name),
      ['events_dedup_key_present', 'events_session_id'],
    );
    assert.throws(() => insert.run('message.sent', 's', '{}', '2026-01-09T00:00:00.000Z', 'k2'), /UNIQUE/);
    assert.equal(
      (sqlite.prepare("select count(*) as n from sqlite_sequence where name = 'events'").get() as { n: number }).n,
      0,
      'nothing keeps a sequence for the log any more',
    );
    // The highest id in the table plus one (pruning always keeps the newest event).
    assert.equal(Number(insert.run('message.sent', 's', '{}', '2026-01-09T00:00:00.000Z', null).lastInsertRowid), 4);

    // Run again (a crash between its commit and the migration's record): nothing changes.
    await db.db.connection().execute((conn) => eventLogRowid('sqlite').up(conn));
    assert.equal((sqlite.prepare('select count(*) as n from events').get() as { n: number }).n, 4);

    // Down: AUTOINCREMENT again, its sequence going on from the highest id.
    const down = await migrator.migrateDown();
    assert.equal(down.error, undefined);
    assert.match(tableSql(), /autoincrement/i);
    sqlite.prepare('delete from events where id = 4').run();
    assert.equal(Number(insert.run('message.sent', 's', '{}', '2026-01-09T00:00:00.000Z', null).lastInsertRowid), 5);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
