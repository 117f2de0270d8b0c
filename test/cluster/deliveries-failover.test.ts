/**
 * A webhook queue outlives the instance running it (src/modules/cluster/webhook-leases.ts): while
 * instance A is in the middle of an attempt, instance B never attempts the webhook; after A is
 * killed (kill -9) B takes the queue over once A's lease has expired and sends every delivery,
 * in order, the interrupted one again (at least once). A runs as a real process; B in this one.
 * PostgreSQL only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TEST_SECRETS, testDatabaseUrl } from '../helpers/app.js';
import { clusterSkip } from '../helpers/cluster-apps.js';
import { freePort, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { startApp, type Started } from '../helpers/stream-clients.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const LEASE_ENV = {
  CLUSTER_LEASE_TTL_MS: '3000',
  WEBHOOK_TIMEOUT_MS: '8000',
  WEBHOOK_POLL_INTERVAL_MS: '200',
  WEBHOOK_RETRY_SCHEDULE: '100ms',
};
const dirs: string[] = [];
let database: { url: string; drop: () => Promise<void> } | undefined;
let a: ServerProcess | undefined;
let b: Started | undefined;
let receiver: WebhookReceiver | undefined;
let releaseFirst: () => void = () => {};

after(async () => {
  releaseFirst();
  await stopServer(a, 'SIGKILL');
  await b?.close({ keepData: true });
  await receiver?.close();
  await database?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `teleflow-${name}-`));
  dirs.push(dir);
  return dir;
}

test(
  'kill -9 of the instance running a webhook queue: another takes it over after the lease, in order, never at the same time',
  { skip: clusterSkip, timeout: 90_000 },
  async () => {
    database = await testDatabaseUrl(tempDir('failover-db'));
    let arrivals = 0;
    receiver = await startWebhookReceiver({
      respond: () => {
        arrivals++;
        // The first attempt never gets an answer: A is killed in the middle of it.
        if (arrivals === 1) return new Promise<number>((resolve) => (releaseFirst = () => resolve(200)));
        return 200;
      },
    });
    const port = await freePort();
    a = await startServer({
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: tempDir('failover-a'),
      DATABASE_URL: database.url,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MAX: '100000',
      CLUSTER: 'true',
      INSTANCE_ID: 'a',
      ...LEASE_ENV,
      ...TEST_SECRETS,
    });
    const viaA = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
        method,
        headers: { 'x-api-key': TEST_SECRETS.API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
      });
      return { status: res.status, body: (await res.json()) as { data: { id: string } } };
    };
    const created = await viaA('POST', '/webhooks', { url: receiver.url, events: ['session.*'] });
    assert.equal(created.status, 201);
    const webhookId = created.body.data.id;
    const deliveryIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const sent = await viaA('POST', `/webhooks/${webhookId}/test`);
      assert.ok(sent.status < 300, JSON.stringify(sent.body));
    }
    const end = Date.now() + 10_000;
    while (arrivals === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal(arrivals, 1, 'A attempted the first delivery');

    // B joins while A is in the middle of that attempt: it must leave the queue alone.
    b = await startApp(
      { CLUSTER: 'true', INSTANCE_ID: 'b', ...LEASE_ENV },
      { reuse: { dataDir: tempDir('failover-b'), databaseUrl: database.url, drop: async () => {} } },
    );
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(arrivals, 1, 'B attempted the webhook while A held it');

    await stopServer(a, 'SIGKILL');
    const killedAt = Date.now();
    const got = await receiver.waitFor(5, 40_000);
    const tookOverAfter = got[0]!.at - killedAt;
    for (const r of got) deliveryIds.push(String(r.headers['x-teleflow-delivery-id']));
    const sorted = [...deliveryIds].sort((x, y) => Number(x) - Number(y));
    assert.deepEqual(deliveryIds, sorted, 'in delivery order');
    assert.equal(new Set(deliveryIds).size, 5, 'each delivery once after the takeover');
    // B sent nothing before A's lease (TTL 3 s + attempt timeout 8 s + 1 s) ran out.
    assert.ok(tookOverAfter < 20_000, `took over after ${tookOverAfter} ms`);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(receiver.requests.length, 5);
  },
);
