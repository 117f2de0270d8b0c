/**
 * End to end, three TeleFlow processes (CLUSTER=true) on one PostgreSQL and one sandbox process,
 * while instances die and restart: kill -9 of an owner moves its sessions within 30 s and the
 * messages that arrive meanwhile are each recorded once; SIGTERM hands over at once; a rolling
 * restart of all three under a steady send load loses no accepted request and no event; and the
 * sandbox never saw one auth key make calls on two connections at once. A webhook receiver
 * counts the event log (message.sent, message.received): an event may be delivered again after
 * a crash, but no message may be recorded under two event ids, or not at all.
 * PostgreSQL only (TEST_DATABASE_URL).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
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
const sender = '9996640001';

interface Recorded {
  id: string;
  type: string;
  sessionId: string;
  data: { message: { id: number; text: string } };
}

/** Event ids by `type sessionId text`, from every delivery the receiver got. */
function recorded(): Map<string, Set<string>> {
  const byKey = new Map<string, Set<string>>();
  for (const request of receiver.requests) {
    const event = JSON.parse(request.body) as Recorded;
    const key = `${event.type} ${event.sessionId} ${event.data.message?.text}`;
    const ids = byKey.get(key) ?? new Set<string>();
    ids.add(event.id);
    byKey.set(key, ids);
  }
  return byKey;
}

/** Waits until every key is recorded, then asserts each under exactly one event id. */
async function assertRecordedOnce(keys: string[], what: string, ms = 40_000): Promise<void> {
  await eventually(
    async () => keys.every((k) => recorded().has(k)),
    ms,
    `${what}: every event recorded`,
  ).catch((error: Error) => {
    const missing = keys.filter((k) => !recorded().has(k));
    throw new Error(`${error.message}; missing ${missing.length}: ${missing.slice(0, 5).join(' | ')}`);
  });
  const doubled = keys.filter((k) => recorded().get(k)!.size > 1);
  assert.deepEqual(doubled, [], `${what}: recorded under two event ids`);
}

/** A sandbox user writes to `phone` every `everyMs` until stopped; answers the texts sent. */
function incoming(phone: string, prefix: string, everyMs = 200) {
  let stopped = false;
  const texts: string[] = [];
  const done = (async () => {
    for (let n = 0; !stopped && n < 500; n++) {
      const text = `${prefix} ${n}`;
      await cluster.sandbox.control('POST', '/messages', { from: sender, to: phone, text });
      texts.push(text);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    texts,
    async stop() {
      stopped = true;
      await done;
      return texts;
    },
  };
}

const running = () => cluster.instances.filter((i) => cluster.running(i.index)).map((i) => i.index);

before(async () => {
  if (skip) return;
  receiver = await startWebhookReceiver();
  cluster = await startCluster({ instances: 3, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  await cluster.sandbox.control('POST', '/users', { phone: sender, firstName: 'Sender' });
  // At once: where they land does not matter here (cluster-e2e.test.ts checks the spread).
  sessions.push(...(await Promise.all([1, 2, 3].map((via) => cluster.signIn(via)))));
  const hook = await cluster.api(1, 'POST', '/api/v1/webhooks', {
    url: receiver.url,
    events: ['message.sent', 'message.received'],
  });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
});

after(async () => {
  await cluster?.close();
  await receiver?.close();
});

test(
  'kill -9 of an owner moves its sessions within 30 s; messages meanwhile are recorded once',
  { skip, timeout: 100_000 },
  async () => {
    const owners = await Promise.all(
      sessions.map((s) => eventually(() => cluster.ownerOf(s.id), 20_000, s.id)),
    );
    const victim = owners[0]!;
    const moving = sessions.filter((_, n) => owners[n] === victim);
    const feeds = moving.map((s) => incoming(s.phone, `k9 ${s.id}`));
    await new Promise((r) => setTimeout(r, 1000));
    const killedAt = Date.now();
    await cluster.kill(victim);
    const took = await Promise.all(
      moving.map(async (s) => {
        const owner = await eventually(
          async () => ((await cluster.ownerOf(s.id)) || undefined) as number | undefined,
          30_000,
          `a new owner of ${s.id} after kill -9 of instance ${victim}`,
        );
        assert.notEqual(owner, victim);
        return Date.now() - killedAt;
      }),
    );
    assert.ok(Math.max(...took) < 30_000, `moved after ${took.join(', ')} ms`);
    await new Promise((r) => setTimeout(r, 1000));
    const texts = (await Promise.all(feeds.map((f) => f.stop()))).flat();
    assert.ok(texts.length >= moving.length * 5, `${texts.length} messages sent meanwhile`);
    await assertRecordedOnce(
      moving.flatMap((s, k) => feeds[k]!.texts.map((t) => `message.received ${s.id} ${t}`)),
      'kill -9',
    );
    await cluster.start(victim);
  },
);

test('SIGTERM hands the sessions over at once', { skip, timeout: 60_000 }, async () => {
  const owners = await Promise.all(
    sessions.map((s) => eventually(() => cluster.ownerOf(s.id), 20_000, s.id)),
  );
  const leaving = owners[1]!;
  const moving = sessions.filter((_, n) => owners[n] === leaving);
  const stoppedAt = Date.now();
  await cluster.stop(leaving);
  const took = await Promise.all(
    moving.map(async (s) => {
      await eventually(async () => (await cluster.ownerOf(s.id)) > 0, 10_000, `a new owner of ${s.id}`);
      return Date.now() - stoppedAt;
    }),
  );
  // At once: well within one lease (15 s), which a kill -9 has to wait out.
  assert.ok(Math.max(...took) < 8_000, `connected elsewhere ${took.join(', ')} ms after SIGTERM`);
  await cluster.start(leaving);
});

test(
  'a rolling restart of all three under a steady send load loses no accepted request and no event',
  { skip, timeout: 110_000 },
  async () => {
    let stopped = false;
    const accepted: { sessionId: string; text: string; messageId: number; to: SignedIn }[] = [];
    const refused: string[] = [];
    let attempt = 0;
    const load = (async () => {
      for (let n = 0; !stopped && n < 2000; n++) {
        const from = sessions[n % 3]!;
        const to = sessions[(n + 1) % 3]!;
        const up = running();
        const via = up[n % up.length]!;
        const text = `roll ${n}`;
        attempt++;
        try {
          const answer = await cluster.api(
            via,
            'POST',
            '/api/v1/messages/send',
            { sessionId: from.id, chatId: `@${to.username}`, text },
            { 'idempotency-key': `roll-${n}` },
          );
          if (answer.status === 200)
            accepted.push({ sessionId: from.id, text, messageId: answer.body.data.id, to });
          else {
            // Refused while a session moves is fine; a 500 never is.
            assert.ok(
              [503, 409, 429].includes(answer.status),
              `${text} via ${via}: ${answer.status} ${JSON.stringify(answer.body)}`,
            );
            refused.push(`${answer.status} ${answer.body.error?.code}`);
          }
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
          refused.push(`via ${via}: ${(error as Error).message}`); // the instance went away mid-request
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const feed = incoming(sessions[2]!.phone, 'roll in', 300);
    try {
      for (const i of [1, 2, 3]) {
        await cluster.restart(i);
        // Every session runs somewhere again before the next instance goes.
        await eventually(
          async () => (await Promise.all(sessions.map((s) => cluster.ownerOf(s.id)))).every((o) => o > 0),
          30_000,
          `every session connected after restarting instance ${i}`,
        );
      }
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      stopped = true;
      await load;
    }
    const texts = await feed.stop();
    assert.ok(
      accepted.length >= attempt / 2,
      `${accepted.length} of ${attempt} sends accepted (refused: ${refused.join('; ')})`,
    );
    await assertRecordedOnce(
      [
        ...accepted.map((a) => `message.sent ${a.sessionId} ${a.text}`),
        ...accepted.map((a) => `message.received ${a.to.id} ${a.text}`),
        ...texts.map((t) => `message.received ${sessions[2]!.id} ${t}`),
      ],
      'rolling restart',
    );
    // Each accepted send went out once: its receiver's history holds it once.
    for (const to of sessions) {
      const history = await cluster.api(
        1,
        'GET',
        `/api/v1/messages/history?sessionId=${to.id}&chatId=@${sessions[(sessions.indexOf(to) + 2) % 3]!.username}&limit=100`,
      );
      assert.equal(history.status, 200, JSON.stringify(history.body));
      const got = (history.body.data as { text: string }[])
        .map((m) => m.text)
        .filter((t) => t.startsWith('roll '));
      const expected = accepted.filter((a) => a.to === to).map((a) => a.text);
      for (const text of expected.slice(-50))
        assert.equal(got.filter((t) => t === text).length, 1, `${text} once in ${to.id}'s chat`);
    }
  },
);

test('the sandbox never saw one auth key make calls on two connections at once', { skip }, async () => {
  const report = await cluster.sandbox.control<{ keys: unknown[]; duplicated: string[] }>(
    'GET',
    '/connections/auth-keys',
  );
  assert.ok(report.keys.length >= 3, JSON.stringify(report));
  assert.deepEqual(report.duplicated, []);
});
