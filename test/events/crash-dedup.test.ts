/**
 * An incoming update is recorded once, also across a crash: a real TeleFlow process receives a
 * stream of 300 messages, is killed with SIGKILL in the middle of it (two seconds in, at a
 * moment when messages are recorded past the saved update state), and on restart catches up
 * with getDifference from its last saved update state. The messages recorded after that state
 * was saved come back in the catch-up; each must still have exactly one message.received event
 * (one id), and a real webhook receiver must get each under one event id.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../../src/db/index.js';
import { TEST_SECRETS, testDatabaseUrl } from '../helpers/app.js';
import { freePort, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { newPhone, startTestSandbox, waitFor } from '../helpers/telegram.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

const MESSAGES = 300;
/** The kill comes once this many messages are recorded: well inside the stream, however fast it runs. */
const KILL_AFTER_RECORDED = 60;

test('SIGKILL while 300 messages stream in: after the restart each has one message.received event, and one webhook event id', async (t) => {
  const sbx = await startTestSandbox();
  const dataDir = mkdtempSync(join(tmpdir(), 'teleflow-dedup-'));
  const dbInfo = await testDatabaseUrl(dataDir);
  const receiver = await startWebhookReceiver();
  const port = await freePort();
  const env = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    DATABASE_URL: dbInfo.url,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '1000000',
    TELEGRAM_DC: `${sbx.sandbox.host}:${sbx.sandbox.port}`,
    TELEGRAM_DC_PUBLIC_KEY_FILE: sbx.pemFile,
    WEBHOOK_POLL_INTERVAL_MS: '200',
    WEBHOOK_RETRY_SCHEDULE: '200ms,400ms,800ms,1s,1s,1s,1s',
    ...TEST_SECRETS,
  };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: {
        'x-api-key': TEST_SECRETS.API_KEY,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const db = openDatabase(dbInfo.url);
  const received = async () =>
    (
      await db.db
        .selectFrom('events')
        .select(['id', 'data'])
        .where('type', '=', 'message.received')
        .orderBy('id')
        .execute()
    ).map((r) => ({ id: String(r.id), text: String(JSON.parse(r.data).message.text) }));
  const savedPts = async (sessionId: string) => {
    const row = await db.db
      .selectFrom('tg_sessions')
      .select('update_state_json')
      .where('id', '=', sessionId)
      .executeTakeFirstOrThrow();
    return (JSON.parse(String(row.update_state_json)) as { pts: number }).pts;
  };
  let server: ServerProcess | undefined;
  let streaming: Promise<void> | undefined;
  try {
    server = await startServer(env);
    const me = newPhone();
    const friend = newPhone();
    await sbx.control('POST', '/users', { phone: me, firstName: 'Me' });
    await sbx.control('POST', '/users', { phone: friend, firstName: 'Friend' });
    const started = await api('POST', '/api/v1/sessions', { phone: me });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const sessionId = started.body.data.id as string;
    const { code } = await sbx.control<{ code: string }>('GET', `/codes?phone=${me}`);
    const verified = await api('POST', '/api/v1/sessions/verify-code', { sessionId, code });
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
    const hook = await api('POST', '/api/v1/webhooks', {
      url: `${receiver.url}/hook`,
      events: ['message.received'],
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    const ptsAtStart = await savedPts(sessionId);

    // The stream runs on while TeleFlow is down: what arrives then comes in the catch-up too.
    const texts = Array.from({ length: MESSAGES }, (_, i) => `m${i}`);
    streaming = (async () => {
      for (const text of texts) {
        await sbx.control('POST', '/messages', { from: friend, to: me, text });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    // The kill comes while messages are recorded past the saved update state (it is saved every
    // 250 ms or so): those are the ones the catch-up brings again.
    await waitFor(
      async () => {
        const recorded = (await received()).length;
        return recorded >= KILL_AFTER_RECORDED && recorded - ((await savedPts(sessionId)) - ptsAtStart) >= 2;
      },
      20_000,
      'messages recorded past the saved update state',
    );
    assert.equal(server.child.exitCode, null, `the server died by itself: ${server.output()}`);
    await stopServer(server, 'SIGKILL');
    const atKill = await received();
    const covered = (await savedPts(sessionId)) - ptsAtStart;
    t.diagnostic(
      `at the kill: ${atKill.length} messages recorded, ${covered} of them covered by the saved update state`,
    );
    assert.ok(atKill.length > 0 && atKill.length < MESSAGES, 'the kill came in the middle of the stream');
    assert.ok(
      atKill.length > covered,
      'some recorded messages were past the saved state, so the catch-up brings them again',
    );
    await streaming;

    server = await startServer(env);
    const all = await waitFor(
      async () => {
        const rows = await received();
        return new Set(rows.map((r) => r.text)).size === MESSAGES ? rows : undefined;
      },
      60_000,
      'all 300 messages recorded after the restart',
    );
    // Anything the catch-up recorded twice would be in by now; give stragglers a moment anyway.
    await new Promise((r) => setTimeout(r, 500));
    const final = await received();
    t.diagnostic(`${final.length} message.received events for ${MESSAGES} messages`);
    assert.equal(all.length, MESSAGES);
    assert.deepEqual(final.map((r) => r.text).sort(), [...texts].sort(), 'each message exactly once');

    await receiver.waitFor(MESSAGES, 60_000, () => {
      const seen = new Set(receiver.requests.map((r) => JSON.parse(r.body).data.message.text));
      return seen.size === MESSAGES;
    });
    const idsByText = new Map<string, Set<string>>();
    for (const r of receiver.requests) {
      const envelope = JSON.parse(r.body);
      const ids = idsByText.get(envelope.data.message.text) ?? new Set<string>();
      ids.add(String(r.headers['webhook-id']));
      idsByText.set(envelope.data.message.text, ids);
    }
    assert.equal(idsByText.size, MESSAGES);
    const twice = [...idsByText].filter(([, ids]) => ids.size > 1).map(([text]) => text);
    assert.deepEqual(twice, [], 'no message reached the receiver under two event ids');
    // Delivery is at-least-once: successes are stored in batches, so deliveries made just before
    // the kill are sent again after it, under the same event id (webhook-id), which is what a
    // receiver deduplicates by. What must never happen is a second id for the same message.
    const repeats = receiver.requests.length - MESSAGES;
    t.diagnostic(`receiver: ${receiver.requests.length} requests, ${repeats} repeats of an event id`);
  } finally {
    await streaming?.catch(() => undefined);
    await stopServer(server, 'SIGTERM');
    await receiver.close();
    await db.close();
    await dbInfo.drop();
    await sbx.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
