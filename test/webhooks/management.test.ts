import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/lib/logger.js';
import { isForbiddenAddress } from '../../src/lib/ssrf.js';
import { WebhookSender } from '../../src/modules/webhooks/sender.js';
import { createTestApp, ensureSessions } from '../helpers/app.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

test('webhook CRUD: the secret is returned once, stored encrypted, never shown again nor logged', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const t = await createTestApp({ logger: createLogger('trace', sink) });
  try {
    await ensureSessions(t.app, ['s1', 'a', 'b']);
    const h = { 'x-api-key': t.adminKey };
    const chosen = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: h,
      payload: { url: 'http://127.0.0.1:9/hook', events: ['message.*'], secret: chosen, description: 'crm' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const hook = created.json().data;
    assert.equal(hook.secret, chosen);
    assert.deepEqual(hook.events, ['message.*']);
    assert.equal(hook.enabled, true);
    assert.equal(hook.sessionIds, null);
    assert.equal(hook.consecutiveFailures, 0);
    assert.equal(hook.disabledReason, null);

    const generated = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: h,
      payload: { url: 'http://127.0.0.1:9/other', events: ['*'], sessionIds: ['s1'], enabled: false },
    });
    const gen = generated.json().data;
    assert.match(gen.secret, /^whsec_[A-Za-z0-9+/]{32}$/);
    assert.equal(Buffer.from(gen.secret.slice(6), 'base64').length, 24);
    assert.equal(gen.enabled, false);

    const list = await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: h });
    const one = await t.app.inject({ method: 'GET', url: `/api/v1/webhooks/${hook.id}`, headers: h });
    assert.equal(list.json().data.length, 2);
    assert.equal(one.json().data.description, 'crm');
    for (const body of [list.body, one.body]) {
      assert.ok(!body.includes(chosen) && !body.includes(gen.secret), 'no secret in GET answers');
      assert.ok(!body.includes('secret'), 'not even the field');
    }
    const rows = await t.app.services.db.db.selectFrom('webhooks').selectAll().execute();
    assert.ok(!JSON.stringify(rows).includes(chosen.slice(6)), 'stored encrypted');

    const updated = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/webhooks/${hook.id}`,
      headers: h,
      payload: { events: ['session.*', 'message.sent'], sessionIds: ['a', 'b'] },
    });
    assert.equal(updated.statusCode, 200);
    assert.deepEqual(updated.json().data.events, ['session.*', 'message.sent']);
    assert.deepEqual(updated.json().data.sessionIds, ['a', 'b']);
    assert.equal(updated.json().data.url, 'http://127.0.0.1:9/hook');
    assert.equal(updated.json().data.secret, undefined);
    const rotated = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;
    const rot = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/webhooks/${hook.id}`,
      headers: h,
      payload: { secret: rotated },
    });
    assert.equal(rot.json().data.secret, rotated, 'a new secret is returned once');

    for (const bad of [
      { url: 'http://x.example/', events: [] },
      { url: 'http://x.example/', events: ['message.nope'] },
      { url: 'http://x.example/', events: ['*'], secret: 'plain-secret' },
      { url: 'http://x.example/', events: ['*'], secret: 'whsec_c2hvcnQ=' },
      { url: 'http://x.example/', events: ['*'], extra: 1 },
    ]) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: h, payload: bad });
      assert.equal(res.statusCode, 400, JSON.stringify(bad));
      assert.equal(res.json().error.code, 'VALIDATION_ERROR');
    }

    const operator = await t.keyFor('operator');
    const forbidden = await t.app.inject({
      method: 'GET',
      url: '/api/v1/webhooks',
      headers: { 'x-api-key': operator },
    });
    assert.equal(forbidden.statusCode, 403, 'webhooks are admin only');

    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${hook.id}`, headers: h });
    assert.equal(del.statusCode, 200);
    for (const [method, url] of [
      ['GET', `/api/v1/webhooks/${hook.id}`],
      ['DELETE', `/api/v1/webhooks/${hook.id}`],
      ['GET', `/api/v1/webhooks/${hook.id}/deliveries`],
      ['POST', `/api/v1/webhooks/${hook.id}/test`],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: h });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(res.json().error.code, 'WEBHOOK_NOT_FOUND');
    }

    // A delivery signs with the secret; still nothing of it in the log.
    const receiver = await startWebhookReceiver();
    try {
      const live = await t.app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: h,
        payload: { url: receiver.url, events: ['*'], secret: chosen },
      });
      await t.app.inject({ method: 'POST', url: `/api/v1/webhooks/${live.json().data.id}/test`, headers: h });
      await receiver.waitFor(1);
    } finally {
      await receiver.close();
    }
    const all = lines.join('');
    assert.ok(lines.length > 10);
    for (const s of [chosen, gen.secret, rotated, chosen.slice(6), rotated.slice(6)]) {
      assert.ok(!all.includes(s), 'a webhook secret reached the log');
    }
  } finally {
    await t.close();
  }
});

const REFUSED = [
  'http://127.0.0.1/',
  'http://127.1.2.3:8080/x',
  'http://localhost/',
  'http://10.1.2.3/',
  'http://172.16.0.1/',
  'http://172.31.255.255/',
  'http://192.168.1.1/',
  'http://169.254.169.254/latest/meta-data/',
  'http://100.64.0.1/',
  'http://0.0.0.0/',
  'http://[::1]/',
  'http://[::]/',
  'http://[fe80::1]/',
  'http://[fc00::1]/',
  'http://[fd00:ec2::254]/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:a9fe:a9fe]/',
  'http://[64:ff9b::a00:1]/',
  'http://2130706433/',
  'http://0x7f000001/',
  'ftp://example.com/',
  'file:///etc/passwd',
  'http://user:pw@93.184.216.34/',
];

test('SSRF guard in production: private, loopback, link-local, unique-local and metadata targets are refused', async () => {
  const t = await createTestApp({
    env: {
      NODE_ENV: 'production',
      TELEGRAM_API_ID: '12345',
      TELEGRAM_API_HASH: '0123456789abcdef0123456789abcdef',
    },
  });
  try {
    assert.equal(t.config.webhookAllowPrivate, false);
    for (const url of REFUSED) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: { 'x-api-key': t.adminKey },
        payload: { url, events: ['*'] },
      });
      assert.equal(res.statusCode, 400, `${url} answered ${res.statusCode}`);
      assert.equal(res.json().error.code, 'VALIDATION_ERROR');
    }
    for (const url of ['http://93.184.216.34/hook', 'https://[2606:2800:220:1:248:1893:25c8:1946]/x']) {
      const ok = await t.app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: { 'x-api-key': t.adminKey },
        payload: { url, events: ['*'], enabled: false },
      });
      assert.equal(ok.statusCode, 201, `${url}: ${ok.body}`);
    }
    // Changing a URL is checked too.
    const id = (
      await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: { 'x-api-key': t.adminKey } })
    ).json().data[0].id;
    const put = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/webhooks/${id}`,
      headers: { 'x-api-key': t.adminKey },
      payload: { url: 'http://169.254.169.254/' },
    });
    assert.equal(put.statusCode, 400);
  } finally {
    await t.close();
  }
});

test('SSRF guard: development allows private targets; WEBHOOK_ALLOW_PRIVATE=true allows them in production', async () => {
  const envs: Record<string, string>[] = [
    { NODE_ENV: 'development' },
    {
      NODE_ENV: 'production',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      TELEGRAM_API_ID: '12345',
      TELEGRAM_API_HASH: '0123456789abcdef0123456789abcdef',
    },
  ];
  for (const env of envs) {
    const t = await createTestApp({ env });
    try {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: { 'x-api-key': t.adminKey },
        payload: { url: 'http://127.0.0.1:9/hook', events: ['*'] },
      });
      assert.equal(res.statusCode, 201, `${env.NODE_ENV}: ${res.body}`);
    } finally {
      await t.close();
    }
  }
});

test('the address check also runs when connecting: a host resolving to loopback is never reached', async () => {
  const receiver = await startWebhookReceiver();
  const strict = new WebhookSender({ timeoutMs: 2000, allowPrivate: false, userAgent: 't' });
  const lax = new WebhookSender({ timeoutMs: 2000, allowPrivate: true, userAgent: 't' });
  const delivery = {
    messageId: '1',
    deliveryId: '1',
    eventType: 'message.sent',
    body: '{}',
    secret: 'whsec_x',
  };
  try {
    const byName = await strict.send(`http://localhost:${receiver.port}/hook`, delivery);
    assert.equal(byName.ok, false);
    assert.match(String(byName.error), /forbidden/);
    const byIp = await strict.send(`http://127.0.0.1:${receiver.port}/hook`, delivery);
    assert.equal(byIp.ok, false);
    const mapped = await strict.send(`http://[::ffff:127.0.0.1]:${receiver.port}/hook`, delivery);
    assert.equal(mapped.ok, false);
    assert.equal(receiver.requests.length, 0, 'nothing reached the loopback receiver');
    const allowed = await lax.send(`http://localhost:${receiver.port}/hook`, delivery);
    assert.equal(allowed.ok, true, String(allowed.error));
    assert.equal(receiver.requests.length, 1);
  } finally {
    strict.close();
    lax.close();
    await receiver.close();
  }
});

test('address classification covers mapped, NAT64 and 6to4 forms, and public addresses pass', () => {
  for (const a of [
    '127.0.0.1',
    '::ffff:10.0.0.1',
    '::ffff:7f00:1',
    '2002:a9fe:a9fe::1',
    '64:ff9b::7f00:1',
    'fd00:ec2::254',
    'ff02::1',
    '224.0.0.1',
    '255.255.255.255',
  ]) {
    assert.equal(isForbiddenAddress(a), true, a);
  }
  for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8', '2002:0808:0808::1']) {
    assert.equal(isForbiddenAddress(a), false, a);
  }
});

test('the answer body excerpt is kept to 1 kB', async () => {
  const server = http.createServer((_req, res) => res.writeHead(500).end('y'.repeat(5000)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sender = new WebhookSender({ timeoutMs: 2000, allowPrivate: true, userAgent: 't' });
  try {
    const r = await sender.send(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
      messageId: '1',
      deliveryId: '1',
      eventType: 'message.sent',
      body: '{}',
      secret: 'whsec_x',
    });
    assert.equal(r.ok, false);
    assert.equal(r.statusCode, 500);
    assert.equal(r.excerpt?.length, 1024);
  } finally {
    sender.close();
    await new Promise((r) => server.close(r));
  }
});
