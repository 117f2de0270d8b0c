/**
 * The world on disk: debounced atomic snapshots that a new World loads back whole (users,
 * auth keys, messages, update logs), so sessions and catch-up survive a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Api } from 'teleproto';
import { World } from '../../src/sandbox/world/world.js';
import { SnapshotWriter, loadWorldState } from '../../src/sandbox/world/persistence.js';

test('changes reach the disk after the debounce, without a close, and load back whole', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-world-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(loadWorldState(dir), undefined, 'no snapshot yet');
  const holder: { writer?: SnapshotWriter } = {};
  const world = new World({ host: '127.0.0.1', port: 1, onChange: () => holder.writer?.schedule() });
  holder.writer = new SnapshotWriter(dir, () => world.state, 50);
  const alice = world.createUser({ phone: '15550200001', firstName: 'Alice', password: 'pw' });
  const bob = world.createUser({ phone: '15550200002', firstName: 'Bob', username: 'bob_p' });
  world.authKeyStore.put(42n, Buffer.from('ab'.repeat(128), 'hex'));
  world.sendMessage(alice.id, `u${bob.id}`, { text: 'persist me' });
  const { channelId } = world.createChannel(alice.id, {
    title: 'Kept',
    megagroup: true,
    username: 'kept_group',
  });
  await sleep(150);
  assert.deepEqual(readdirSync(dir), ['world.json'], 'one file, no temp files left');

  const reloaded = new World({ host: '127.0.0.1', port: 1 }, loadWorldState(dir));
  assert.equal(reloaded.authKeyStore.get(42n)?.toString('hex'), 'ab'.repeat(128));
  assert.equal(reloaded.userByUsername('bob_p')?.id, bob.id);
  assert.equal(reloaded.channelByUsername('kept_group')?.id, channelId);
  assert.equal(reloaded.getState(bob.id).pts, world.getState(bob.id).pts);
  const diff = reloaded.getDifference(bob.id, 1, 0);
  assert.ok(diff instanceof Api.updates.Difference);
  assert.deepEqual(
    diff.newMessages.map((m) => (m as Api.Message).message),
    ['persist me'],
  );
  // Ids keep counting from where they were.
  const next = reloaded.createUser({ phone: '15550200003' });
  assert.equal(next.id, bob.id + 1);
  assert.ok(reloaded.findUser(alice.id)?.password, '2FA survives');
});
