/**
 * Shared state across instances (src/modules/cluster/shared-state.ts): a key deleted or a JWT
 * logged out on instance 1 ends the streams opened with it on instance 2 within about a second
 * and is refused there at once (without it, instance 2 trusts its cache for 30 s); a webhook
 * disabled on instance 1 stops getting deliveries for events committed through instance 2 at
 * once (2 s cache otherwise). PostgreSQL only.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  clusterSkip,
  createSessionWebhook,
  startClusterApps,
  type ClusterApps,
} from '../helpers/cluster-apps.js';
import { openSse, openWs } from '../helpers/stream-clients.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

let cluster: ClusterApps;
let receiver: WebhookReceiver;

before(async () => {
  if (clusterSkip) return;
  cluster = await startClusterApps(2);
  receiver = await startWebhookReceiver();
});
after(async () => {
  await cluster?.close();
  await receiver?.close();
});

test(
  'a key deleted on instance 1 ends its SSE stream on instance 2 within 2 s and is refused there',
  { skip: clusterSkip },
  async () => {
    const [a, b] = cluster.apps;
    const key = await a!.keyFor('viewer');
    // Instance 2 resolves (and caches) the key, and streams with it.
    const ok = await b!.app.inject({ method: 'GET', url: '/api/v1/sessions', headers: { 'x-api-key': key } });
    assert.equal(ok.statusCode, 200);
    const sse = openSse(`${b!.base}/events`, { 'x-api-key': key });
    try {
      await sse.until(() => sse.opens() > 0);
      const keyId = (
        (
          await a!.app.inject({
            method: 'GET',
            url: '/api/v1/auth/keys',
            headers: { 'x-api-key': a!.adminKey },
          })
        ).json() as {
          data: { id: string; prefix: string }[];
        }
      ).data.find((k) => key.startsWith(k.prefix))!.id;
      const deleted = await a!.app.inject({
        method: 'DELETE',
        url: `/api/v1/auth/keys/${keyId}`,
        headers: { 'x-api-key': a!.adminKey },
      });
      assert.equal(deleted.statusCode, 200);
      const t0 = Date.now();
      // EventSource reconnects by itself after the stream ends and then meets the 401.
      await sse.until(() => sse.errorCodes.includes(401), 4000);
      assert.ok(Date.now() - t0 < 2500, `the stream ended after ${Date.now() - t0} ms`);
      const refused = await b!.app.inject({
        method: 'GET',
        url: '/api/v1/sessions',
        headers: { 'x-api-key': key },
      });
      assert.equal(refused.statusCode, 401);
    } finally {
      sse.es.close();
    }
  },
);

test(
  'a JWT logged out on instance 1 closes its WebSocket on instance 2 within 2 s',
  { skip: clusterSkip },
  async () => {
    const [a, b] = cluster.apps;
    const login = await a!.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { apiKey: a!.adminKey },
    });
    const token = (login.json() as { data: { token: string } }).data.token;
    const ws = openWs(`${b!.ws}/ws?token=${encodeURIComponent(token)}`);
    await ws.opened;
    const out = await a!.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(out.statusCode, 200);
    const t0 = Date.now();
    const closed = await Promise.race([ws.closed, new Promise<null>((r) => setTimeout(() => r(null), 4000))]);
    assert.ok(closed, 'the WebSocket stayed open');
    assert.equal(closed.code, 4401);
    assert.ok(Date.now() - t0 < 2500, `closed after ${Date.now() - t0} ms`);
    const refused = await b!.app.inject({
      method: 'GET',
      url: '/api/v1/sessions',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(refused.statusCode, 401);
  },
);

test(
  'a webhook disabled on instance 1 gets no delivery for an event committed through instance 2 right after',
  { skip: clusterSkip },
  async () => {
    const [a, b] = cluster.apps;
    const id = await createSessionWebhook(a!, receiver.url);
    // Instance 2 reads (and caches) the enabled webhooks by recording an event.
    await b!.app.services.events.publish({
      type: 'session.connected',
      sessionId: 'ses_x',
      data: {},
    } as never);
    await receiver.waitFor(1, 5000);
    const disabled = await a!.app.inject({
      method: 'PUT',
      url: `/api/v1/webhooks/${id}`,
      headers: { 'x-api-key': a!.adminKey },
      payload: { enabled: false },
    });
    assert.equal(disabled.statusCode, 200);
    await new Promise((r) => setTimeout(r, 300));
    const event = await b!.app.services.events.record({
      type: 'session.connected',
      sessionId: 'ses_x',
      data: {},
    } as never);
    const rows = await b!.app.services.db.db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('event_id', '=', event.id)
      .execute();
    assert.equal(rows.length, 0);
  },
);
