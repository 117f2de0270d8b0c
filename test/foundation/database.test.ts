import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/index.js';
import { migrateToLatest } from '../../src/db/migrate.js';
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
