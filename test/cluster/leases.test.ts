/**
 * Session leases on a real PostgreSQL: one holder at a time, a takeover only once the lease has
 * expired (or was released), the epoch raised at every takeover, the holder's own trust ending
 * a margin before the database's expiry, and fencing: a holder that lost the lease cannot write
 * the session's update state over its successor's. PostgreSQL only (TEST_DATABASE_URL).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { openDatabase, type Db } from '../../src/db/index.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { ClusterBus } from '../../src/modules/cluster/bus.js';
import { Cluster } from '../../src/modules/cluster/cluster.js';
import { LeaseStore } from '../../src/modules/cluster/leases.js';
import { testDatabaseUrl } from '../helpers/app.js';

const skip = process.env.TEST_DATABASE_URL ? false : 'leases need PostgreSQL (TEST_DATABASE_URL)';
let db: Db;
let database: { url: string; drop: () => Promise<void> };
let dir: string;

const clusterOf = (instanceId: string) =>
  new Cluster({
    db: db.db,
    // Never started: these tests call the lease methods directly, nothing waits for a wake-up.
    bus: new ClusterBus(database.url, db.schema, pino({ level: 'silent' })),
    instanceId,
    instanceUrl: `http://127.0.0.1:1/${instanceId}`,
    leaseTtlMs: 15_000,
    rebalanceBatch: 10,
    log: pino({ level: 'silent' }),
  });

async function insertSession(id: string): Promise<void> {
  const now = new Date().toISOString();
  await db.db
    .insertInto('tg_sessions')
    .values({
      id,
      name: null,
      phone: null,
      status: 'connected',
      user_json: '{}',
      session_secret: 'sealed',
      key_version: 1,
      phone_code_hash: null,
      auto_connect: 1,
      last_error_json: null,
      update_state_json: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
}

const expire = (id: string) =>
  db.db.updateTable('cluster_leases').set({ expires_at: 0 }).where('session_id', '=', id).execute();

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'teleflow-leases-'));
  database = await testDatabaseUrl(dir);
  db = openDatabase(database.url);
  await migrateToLatest(db);
});

after(async () => {
  if (skip) return;
  await db.close();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

test(
  'one holder at a time; a takeover waits for expiry or release and raises the epoch',
  { skip },
  async () => {
    await insertSession('ses_l1');
    const x = new LeaseStore(db.db, 'x', 15_000, 5_000);
    const y = new LeaseStore(db.db, 'y', 15_000, 5_000);
    assert.equal(await x.acquire('ses_l1'), true);
    assert.equal(await y.acquire('ses_l1'), false, 'held by x');
    assert.equal(x.held.get('ses_l1')!.epoch, 1);
    await expire('ses_l1');
    assert.equal(await y.acquire('ses_l1'), true, 'expired: y takes it');
    assert.equal(y.held.get('ses_l1')!.epoch, 2);
    assert.deepEqual(await x.renew(), ['ses_l1'], 'x learns it lost the lease');
    await y.release(['ses_l1']);
    assert.equal(await x.acquire('ses_l1'), true, 'released: x takes it at once');
    assert.equal(x.held.get('ses_l1')!.epoch, 3);
  },
);

test('the holder stops trusting its lease a margin before the database expiry', { skip }, async () => {
  await insertSession('ses_l2');
  let now = Date.now();
  const x = new LeaseStore(db.db, 'x', 15_000, 5_000, () => now);
  assert.equal(await x.acquire('ses_l2'), true);
  now += 9_000;
  assert.equal(x.valid('ses_l2'), true);
  now += 1_500;
  assert.equal(x.valid('ses_l2'), false, 'past TTL minus margin');
  assert.deepEqual(x.expired(), ['ses_l2']);
  assert.deepEqual(await x.renew(), [], 'a renewal in time restores the trust');
  assert.equal(x.valid('ses_l2'), true);
});

test('fencing: an owner that lost the lease cannot overwrite the update state', { skip }, async () => {
  await insertSession('ses_l3');
  const old = clusterOf('old');
  const next = clusterOf('next');
  assert.equal(await old.claim('ses_l3'), true);
  assert.equal(await old.writeFenced('ses_l3', { update_state_json: '{"pts":1}' }), true);
  await expire('ses_l3');
  assert.equal(await next.claim('ses_l3'), true);
  assert.equal(await next.writeFenced('ses_l3', { update_state_json: '{"pts":5}' }), true);
  // The old owner (paused, unaware) still thinks it holds the lease under epoch 1.
  assert.equal(old.leases.held.has('ses_l3'), true);
  assert.equal(await old.writeFenced('ses_l3', { update_state_json: '{"pts":2}' }), false);
  const row = await db.db
    .selectFrom('tg_sessions')
    .select('update_state_json')
    .where('id', '=', 'ses_l3')
    .executeTakeFirstOrThrow();
  assert.equal(row.update_state_json, '{"pts":5}');
});
