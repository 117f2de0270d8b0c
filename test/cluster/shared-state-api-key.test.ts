/**
 * API_KEY rotation in a cluster (src/modules/cluster/bootstrap-key.ts): an instance started with
 * a new API_KEY puts it in force on every instance within a second; the old key, and the JWTs
 * issued for it, stop working there, and a stream opened with the old key ends. PostgreSQL only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TEST_SECRETS } from '../helpers/app.js';
import { clusterSkip, startClusterApps, type ClusterApps } from '../helpers/cluster-apps.js';
import { openSse, startApp } from '../helpers/stream-clients.js';

const NEW_KEY = 'tf_rotated_admin_key_0123456789abcdefghijk';
let cluster: ClusterApps | undefined;
const newDataDir = mkdtempSync(join(tmpdir(), 'teleflow-cluster-new-'));
after(async () => {
  await cluster?.close();
  rmSync(newDataDir, { recursive: true, force: true });
});

test(
  'an instance started with a new API_KEY puts it in force on the others within a second',
  { skip: clusterSkip },
  async () => {
    // Instance 1 runs with the old key; a JWT and a stream use it there.
    cluster = await startClusterApps(1);
    const [a] = cluster.apps;
    const oldKey = TEST_SECRETS.API_KEY;
    const login = await a!.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { apiKey: oldKey },
    });
    const token = (login.json() as { data: { token: string } }).data.token;
    const sse = openSse(`${a!.base}/events`, { 'x-api-key': oldKey });
    try {
      await sse.until(() => sse.opens() > 0);
      // Instance 2 starts with the new key (the first instance of a rolling restart).
      const b = await startApp(
        { CLUSTER: 'true', INSTANCE_ID: 'inst-new', API_KEY: NEW_KEY },
        {
          reuse: {
            dataDir: newDataDir,
            databaseUrl: a!.databaseUrl,
            drop: async () => {},
          },
        },
      );
      cluster.apps.push(b);
      const t0 = Date.now();
      await sse.until(() => sse.errorCodes.includes(401), 4000);
      assert.ok(Date.now() - t0 < 2500, `the old key's stream ended after ${Date.now() - t0} ms`);
      const get = (app: typeof a, headers: Record<string, string>) =>
        app!.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers }).then((r) => r.statusCode);
      assert.equal(await get(a, { 'x-api-key': oldKey }), 401);
      assert.equal(await get(a, { authorization: `Bearer ${token}` }), 401);
      assert.equal(await get(a, { 'x-api-key': NEW_KEY }), 200);
      assert.equal(await get(b, { 'x-api-key': NEW_KEY }), 200);
      assert.equal(await get(b, { 'x-api-key': oldKey }), 401);
      // A JWT issued for the new key on the old instance works on the new one.
      const relog = await a!.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { apiKey: NEW_KEY },
      });
      assert.equal(relog.statusCode, 200);
      const fresh = (relog.json() as { data: { token: string } }).data.token;
      assert.equal(await get(b, { authorization: `Bearer ${fresh}` }), 200);
    } finally {
      sse.es.close();
    }
  },
);
