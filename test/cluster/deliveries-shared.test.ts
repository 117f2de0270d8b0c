/**
 * Webhook deliveries shared by three instances (src/modules/cluster/webhook-leases.ts): events
 * committed through all three at once reach one real loopback receiver each exactly once, in
 * event order, never two attempts of the webhook at the same time, while the queue moves
 * between the instances. PostgreSQL only.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { NewEvent } from '../../src/lib/events.js';
import {
  clusterSkip,
  createSessionWebhook,
  startClusterApps,
  type ClusterApps,
} from '../helpers/cluster-apps.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

let cluster: ClusterApps;
let receiver: WebhookReceiver;
let inFlight = 0;
let maxInFlight = 0;

before(async () => {
  if (clusterSkip) return;
  // Polling too slow to matter: the instances wake each other through notifications.
  cluster = await startClusterApps(3, { WEBHOOK_POLL_INTERVAL_MS: '60000' });
  receiver = await startWebhookReceiver({
    respond: async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // A little time in the receiver, so overlapping attempts would show.
      await new Promise((r) => setTimeout(r, Math.random() < 0.1 ? 5 : 0));
      inFlight--;
      return 200;
    },
  });
});
after(async () => {
  await cluster?.close();
  await receiver?.close();
});

test(
  '1,000 deliveries with three instances running: each delivered once, in order, one at a time',
  { skip: clusterSkip, timeout: 120_000 },
  async () => {
    const [a] = cluster.apps;
    const webhookId = await createSessionWebhook(a!, receiver.url);
    // Every instance knows the webhook before publishing (shared state, not the 2 s cache).
    await new Promise((r) => setTimeout(r, 200));
    const ids: number[] = [];
    // 20 rounds: in each the three instances record 17 events each at once, then the receiver
    // catches up, the queue empties and its lease goes back, and the next round's first commit
    // decides which instance takes it.
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        cluster.apps.map(async (app, n) => {
          const recorded = await Promise.all(
            Array.from({ length: 17 }, (_, k) =>
              app.app.services.events.record({
                type: 'session.connected',
                sessionId: `ses_${n}`,
                data: { n, k: round * 100 + k },
              } as unknown as NewEvent),
            ),
          );
          ids.push(...recorded.map((e) => e.id));
        }),
      );
      await receiver.waitFor(ids.length, 30_000);
      // The lane reads its empty queue and gives the lease back before the next round.
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.ok(ids.length >= 1000, `${ids.length} events`);
    await receiver.waitFor(ids.length, 90_000);
    // Nothing more comes afterwards (no second attempt of any delivery).
    await new Promise((r) => setTimeout(r, 1000));
    const got = receiver.requests.map((r) => Number((JSON.parse(r.body) as { id: string }).id));
    assert.equal(got.length, ids.length);
    assert.deepEqual(
      got,
      [...ids].sort((x, y) => x - y),
    );
    assert.equal(maxInFlight, 1);
    // The queue was run by more than one instance along the way.
    const lease = await a!.app.services.db.db
      .selectFrom('webhook_leases')
      .select('epoch')
      .where('webhook_id', '=', webhookId)
      .executeTakeFirstOrThrow();
    assert.ok(Number(lease.epoch) > 1, `the queue changed hands ${lease.epoch} times`);
    const open = await a!.app.services.db.db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('webhook_id', '=', webhookId)
      .where('status', '!=', 'succeeded')
      .execute();
    assert.equal(open.length, 0);
  },
);
