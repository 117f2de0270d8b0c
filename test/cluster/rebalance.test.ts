/**
 * End to end: an instance that joins a cluster gets its share of the running sessions. Four
 * sessions signed in while instance 2 is down all run on instance 1; once instance 2 starts,
 * instance 1 hands two over (state saved, client disconnected, lease given back) and instance 2
 * takes them. Messages arriving meanwhile are each recorded once, and the sandbox never saw one
 * auth key make calls on two connections at once. PostgreSQL only (TEST_DATABASE_URL).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  clusterPhone,
  clusterSkip as skip,
  eventually,
  startCluster,
  type Cluster,
  type SignedIn,
} from '../helpers/cluster.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

let cluster: Cluster;
let receiver: WebhookReceiver;
const sessions: SignedIn[] = [];
const sender = '9996650001';

before(async () => {
  if (skip) return;
  receiver = await startWebhookReceiver();
  cluster = await startCluster({
    instances: 2,
    env: { WEBHOOK_ALLOW_PRIVATE: 'true', CLUSTER_LEASE_TTL_MS: '6000' },
  });
  await cluster.sandbox.control('POST', '/users', { phone: sender, firstName: 'Sender' });
  const hook = await cluster.api(1, 'POST', '/api/v1/webhooks', {
    url: receiver.url,
    events: ['message.received'],
  });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
});

after(async () => {
  await cluster?.close();
  await receiver?.close();
});

test(
  'an instance that joins gets its share of the sessions; nothing is lost or doubled',
  { skip, timeout: 120_000 },
  async () => {
    await cluster.stop(2);
    for (let n = 0; n < 4; n++) sessions.push(await cluster.signIn(1));
    for (const s of sessions) assert.equal(await eventually(() => cluster.ownerOf(s.id), 20_000, s.id), 1);
    // A sign-in under way (code sent, not yet entered) keeps its state in instance 1: it stays.
    const pendingPhone = clusterPhone();
    await cluster.sandbox.control('POST', '/users', { phone: pendingPhone, firstName: 'Pending' });
    const pending = await cluster.api(1, 'POST', '/api/v1/sessions', { phone: pendingPhone });
    assert.equal(pending.status, 201, JSON.stringify(pending.body));

    // Messages keep arriving while the sessions move.
    let stopped = false;
    const texts: { session: string; text: string }[] = [];
    const feed = (async () => {
      for (let n = 0; !stopped && n < 400; n++) {
        const s = sessions[n % sessions.length]!;
        const text = `rebalance ${n}`;
        await cluster.sandbox.control('POST', '/messages', { from: sender, to: s.phone, text });
        texts.push({ session: s.id, text });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    await cluster.start(2);
    await eventually(
      async () => {
        const owners = await Promise.all(sessions.map((s) => cluster.ownerOf(s.id)));
        const on2 = owners.filter((o) => o === 2).length;
        return on2 === 2 && owners.every((o) => o !== 0) ? owners : undefined;
      },
      60_000,
      'two of the four sessions running on instance 2',
    );
    await new Promise((r) => setTimeout(r, 1500));
    stopped = true;
    await feed;
    // The load stays even: no session keeps moving.
    const connectedOn = async (i: number) =>
      (await cluster.owned(i)).filter((o) => sessions.some((s) => s.id === o.id) && o.status === 'connected')
        .length;
    const owned = [await connectedOn(1), await connectedOn(2)];
    assert.deepEqual(owned, [2, 2], `connected sessions per instance ${owned}`);
    // The sign-in under way was not moved: it completes where it started.
    const { code } = await cluster.sandbox.control<{ code: string }>('GET', `/codes?phone=${pendingPhone}`);
    const verified = await cluster.api(1, 'POST', '/api/v1/sessions/verify-code', {
      sessionId: pending.body.data.id,
      code,
    });
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
    assert.equal(verified.body.data.status, 'connected');

    // Each incoming message recorded once, whichever instance ran its session at the time.
    const keyOf = (session: string, text: string) => `${session} ${text}`;
    const recorded = () => {
      const ids = new Map<string, Set<string>>();
      for (const request of receiver.requests) {
        const event = JSON.parse(request.body) as {
          id: string;
          sessionId: string;
          data: { message: { text: string } };
        };
        const key = keyOf(event.sessionId, event.data.message.text);
        ids.set(key, (ids.get(key) ?? new Set()).add(event.id));
      }
      return ids;
    };
    assert.ok(texts.length >= 20, `${texts.length} messages sent meanwhile`);
    await eventually(
      async () => texts.every((t) => recorded().has(keyOf(t.session, t.text))) || undefined,
      40_000,
      'every message recorded',
    );
    const doubled = texts.filter((t) => recorded().get(keyOf(t.session, t.text))!.size > 1);
    assert.deepEqual(doubled, []);

    // Every moved session works through either instance.
    for (const [n, s] of sessions.entries()) {
      const to = sessions[(n + 1) % sessions.length]!;
      for (const via of [1, 2]) {
        const sent = await cluster.api(via, 'POST', '/api/v1/messages/send', {
          sessionId: s.id,
          chatId: `@${to.username}`,
          text: `after the move via ${via}`,
        });
        assert.equal(sent.status, 200, JSON.stringify(sent.body));
      }
    }
    const report = await cluster.sandbox.control<{ duplicated: string[] }>('GET', '/connections/auth-keys');
    assert.deepEqual(report.duplicated, []);
  },
);
