/**
 * An Idempotency-Key send in flight when TeleFlow dies (SIGKILL): a real TeleFlow process
 * against the sandbox, killed from inside the sandbox at the moment its messages.sendMessage
 * arrives, either before the sandbox stores the message or just after (the answer never
 * reaches TeleFlow). After a restart the retry with the same key answers 200 within seconds,
 * and the recipient, reading with a real teleproto client, sees the message exactly once.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TelegramClient } from 'teleproto';
import { openDatabase } from '../../src/db/index.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { systemClock } from '../../src/lib/clock.js';
import { IdempotencyStore } from '../../src/modules/messages/idempotency.js';
import { RpcError } from '../../src/sandbox/contract.js';
import type { World } from '../../src/sandbox/index.js';
import { TEST_SECRETS, testDatabaseUrl } from '../helpers/app.js';
import { closeClient, signedInClient, testPhone } from '../helpers/sandbox.js';
import { freePort, startServer } from '../helpers/server-process.js';
import {
  createTelegramTestApp,
  newPhone,
  signIn,
  startTestSandbox,
  waitFor,
  type TestSandbox,
} from '../helpers/telegram.js';

let sbx: TestSandbox;
let bob: TelegramClient;
const bobPhone = testPhone(5);
const bobName = `bobcrash${bobPhone.slice(-4)}`;
let dataDir: string;
let database: { url: string; drop: () => Promise<void> };
let env: Record<string, string>;
let teleflow: ChildProcess | undefined;
let sessionId: string;

/** Starts TeleFlow (src/server.ts) in its own process and waits for /health. */
async function startTeleflow(): Promise<void> {
  env.PORT = String(await freePort());
  teleflow = (await startServer(env)).child;
}

const base = () => `http://127.0.0.1:${env.PORT}`;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base()}${path}`, {
    method,
    headers: {
      'x-api-key': TEST_SECRETS.API_KEY,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const waitConnected = () =>
  waitFor(
    async () => (await call('GET', `/api/v1/sessions/${sessionId}`)).body.data?.status === 'connected',
    20_000,
    'the session to connect',
  );

/** Makes the sandbox kill TeleFlow when the send with this text arrives, before or after storing it. */
function killOnSend(text: string, when: 'before' | 'after'): () => void {
  const world: World = sbx.sandbox.world;
  const original = world.sendMessage.bind(world);
  world.sendMessage = (...args: Parameters<World['sendMessage']>) => {
    if (args[2].text !== text) return original(...args);
    if (when === 'before') {
      teleflow?.kill('SIGKILL');
      throw new RpcError(500, 'INTERNAL');
    }
    const sent = original(...args);
    teleflow?.kill('SIGKILL');
    return sent;
  };
  return () => {
    world.sendMessage = original;
  };
}

async function bobSees(text: string): Promise<number[]> {
  const history = await bob.getMessages(`@${aliceUsername}`, { limit: 100 });
  return [...history].filter((m) => m.message === text).map((m) => m.id);
}

let aliceUsername = '';

before(async () => {
  sbx = await startTestSandbox();
  dataDir = mkdtempSync(join(tmpdir(), 'teleflow-idem-crash-'));
  database = await testDatabaseUrl(dataDir);
  env = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '100000',
    TELEGRAM_DC: `${sbx.sandbox.host}:${sbx.sandbox.port}`,
    TELEGRAM_DC_PUBLIC_KEY_FILE: sbx.pemFile,
    SEND_RATE_PER_CHAT: '0',
    ...TEST_SECRETS,
  };
  await sbx.control('POST', '/users', { phone: bobPhone, firstName: 'Bob', username: bobName });
  bob = await signedInClient(sbx.sandbox, bobPhone);
  const alicePhone = newPhone();
  aliceUsername = `alicecrash${alicePhone.slice(-4)}`;
  await sbx.control('POST', '/users', { phone: alicePhone, firstName: 'Alice', username: aliceUsername });
  await startTeleflow();
  const created = await call('POST', '/api/v1/sessions', { phone: alicePhone });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  sessionId = created.body.data.id;
  const { code } = await sbx.control<{ code: string }>('GET', `/codes?phone=${alicePhone}`);
  const verified = await call('POST', '/api/v1/sessions/verify-code', { sessionId, code });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  const hello = await call('POST', '/api/v1/messages/send', {
    sessionId,
    chatId: `@${bobName}`,
    text: 'hello',
  });
  assert.equal(hello.status, 200, JSON.stringify(hello.body));
});

after(async () => {
  if (teleflow && teleflow.exitCode === null && teleflow.signalCode === null) {
    const exited = new Promise((r) => teleflow!.once('exit', r));
    teleflow.kill('SIGTERM');
    await exited;
  }
  await closeClient(bob);
  await sbx?.close();
  await database?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

const recordOf = async (key: string) => {
  const db = openDatabase(database.url);
  try {
    return await db.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('scope_key', 'like', `%:${key}`)
      .executeTakeFirst();
  } finally {
    await db.close();
  }
};

/**
 * `queued`: killed while the send waits its turn in the pacer (no random id stored yet);
 * `before`/`after`: killed by the sandbox when the call arrives, before or after storing it.
 */
async function crashAndRetry(when: 'queued' | 'before' | 'after') {
  const text = `crash ${when} the send`;
  const key = `crash-${when}`;
  const body = { sessionId, chatId: `@${bobName}`, text };
  if (when === 'queued') {
    // One send per 20 s in a chat: the keyed send waits behind the first one.
    await new Promise((r) => (teleflow!.once('exit', r), teleflow!.kill('SIGTERM')));
    Object.assign(env, { SEND_RATE_PER_CHAT: '0.05', SEND_BURST_PER_CHAT: '1' });
    await startTeleflow();
    await waitConnected();
    const ahead = await call('POST', '/api/v1/messages/send', { ...body, text: 'ahead in the queue' });
    assert.equal(ahead.status, 200, JSON.stringify(ahead.body));
    Object.assign(env, { SEND_RATE_PER_CHAT: '0', SEND_BURST_PER_CHAT: '5' });
  }
  const restore = when === 'queued' ? () => undefined : killOnSend(text, when);
  const exited = new Promise((r) => teleflow!.once('exit', r));
  const request = call('POST', '/api/v1/messages/send', body, { 'idempotency-key': key }).catch(
    (err: Error) => err,
  );
  if (when === 'queued') {
    await waitFor(async () => (await recordOf(key))?.state === 'pending', 5000, 'the send to start');
    await new Promise((r) => setTimeout(r, 300));
    teleflow!.kill('SIGKILL');
  }
  const inFlight = await request;
  await exited;
  restore();
  assert.ok(inFlight instanceof Error, `the request died with TeleFlow: ${JSON.stringify(inFlight)}`);
  assert.equal(teleflow!.signalCode, 'SIGKILL');
  assert.equal((await bobSees(text)).length, when === 'after' ? 1 : 0, 'what the sandbox stored');

  // The record was left pending by the dead process; past the pacer, its random id is stored.
  const row = await recordOf(key);
  assert.equal(row?.state, 'pending');
  assert.ok(row.owner, 'owned by the dead process');
  assert.equal(JSON.parse(row.random_ids ?? '[]').length, when === 'queued' ? 0 : 1, 'random ids stored');

  await startTeleflow();
  await waitConnected();
  const started = Date.now();
  const retry = await call('POST', '/api/v1/messages/send', body, { 'idempotency-key': key });
  const took = Date.now() - started;
  assert.equal(retry.status, 200, JSON.stringify(retry.body));
  assert.ok(took < 5000, `the retry answered in ${took} ms`);
  assert.equal(retry.body.data.text, text);
  assert.equal(retry.body.data.out, true);
  const seen = await waitFor(async () => {
    const ids = await bobSees(text);
    return ids.length > 0 ? ids : undefined;
  }, 5000);
  assert.equal(seen.length, 1, 'Bob has the message exactly once');

  // TeleFlow answered the message that is in the chat (Alice's id for it).
  const history = await call(
    'GET',
    `/api/v1/messages/history?sessionId=${sessionId}&chatId=@${bobName}&limit=20`,
  );
  const inChat = history.body.data.filter((m: { text: string }) => m.text === text);
  assert.deepEqual(
    inChat.map((m: { id: number }) => m.id),
    [retry.body.data.id],
  );
  const again = await call('POST', '/api/v1/messages/send', body, { 'idempotency-key': key });
  assert.deepEqual(again.body.data, retry.body.data);
  assert.equal((await bobSees(text)).length, 1);
}

test('killed while the send waited for its turn: the retry after a restart sends it, once', async () => {
  await crashAndRetry('queued');
});

test('killed before the send reached Telegram: the retry after a restart sends it, once', async () => {
  await crashAndRetry('before');
});

test('killed after Telegram stored the send: the retry after a restart answers that message, sends nothing', async () => {
  await crashAndRetry('after');
});

test("the store: random ids survive a failed attempt; a dead process's record is taken over at once, a live one waits", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-idem-store-'));
  const info = await testDatabaseUrl(dir);
  const db = openDatabase(info.url);
  try {
    await migrateToLatest(db);
    const first = new IdempotencyStore(db.db, systemClock);
    let ids: bigint[] = [];
    // A failure before any random id was handed out leaves no record.
    await assert.rejects(first.run('send:s', 'k0', { a: 1 }, async () => Promise.reject(new Error('early'))));
    assert.equal(
      await db.db.selectFrom('idempotency_keys').select('scope_key').executeTakeFirst(),
      undefined,
    );
    // A failure after: the record stays, with no owner, and the retry gets the same ids.
    await assert.rejects(
      first.run('send:s', 'k1', { a: 1 }, async (attempt) => {
        ids = await attempt.randomIds(2, '42');
        throw new Error('lost answer');
      }),
    );
    const kept = await db.db.selectFrom('idempotency_keys').selectAll().executeTakeFirstOrThrow();
    assert.equal(kept.owner, null);
    assert.equal(kept.chat_id, '42');
    const again = await first.run('send:s', 'k1', { a: 1 }, async (attempt) =>
      (await attempt.randomIds(2, '42')).map(String),
    );
    assert.deepEqual(again, ids.map(String));

    // A record held by another process (its boot id differs): taken over without waiting.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const running = first.run('send:s', 'k2', { a: 2 }, async (attempt) => {
      const own = await attempt.randomIds(1, '42');
      await held;
      return own.map(String);
    });
    await waitFor(
      async () =>
        (
          await db.db
            .selectFrom('idempotency_keys')
            .select('random_ids')
            .where('scope_key', '=', 'send:s:k2')
            .executeTakeFirst()
        )?.random_ids,
      3000,
    );
    const afterRestart = new IdempotencyStore(db.db, systemClock);
    const started = Date.now();
    const resumed = await afterRestart.run('send:s', 'k2', { a: 2 }, async (attempt) =>
      (await attempt.randomIds(1, '42')).map(String),
    );
    assert.ok(Date.now() - started < 1000, 'answered at once');
    release();
    assert.deepEqual(await running, resumed, 'both used the same random id');
    // Within one process a duplicate waits for the first and gets its result.
    let finish: (() => void) | undefined;
    const slow = first.run('send:s', 'k3', { a: 3 }, async () => {
      await new Promise<void>((r) => (finish = r));
      return 'first';
    });
    await waitFor(() => finish, 3000, 'the first to run');
    const duplicate = first.run('send:s', 'k3', { a: 3 }, async () => 'second');
    await new Promise((r) => setTimeout(r, 300));
    finish!();
    assert.deepEqual(await Promise.all([slow, duplicate]), ['first', 'first']);
  } finally {
    await db.close();
    await info.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Telegram stores the message but answers an internal error: the resend with the same random id gives that message', async () => {
  const app = await createTelegramTestApp(sbx);
  const world: World = sbx.sandbox.world;
  const { sendMessage, forwardMessages } = world;
  try {
    const alice = await signIn(app, sbx);
    // Each call is carried out, then answered with an error the first time: INTERNAL reaches
    // the API (502), RPC_CALL_FAIL makes the library resend the call with the same random ids.
    const failWith = new Map([
      ['lost answer reply', 'INTERNAL'],
      ['lost answer, no key', 'RPC_CALL_FAIL'],
      ['forward', 'RPC_CALL_FAIL'],
    ]);
    const failOnce = (what: string) => {
      const error = failWith.get(what);
      failWith.delete(what);
      if (error) throw new RpcError(500, error);
    };
    world.sendMessage = (...args: Parameters<World['sendMessage']>) => {
      const sent = sendMessage.apply(world, args);
      failOnce(args[2].text);
      return sent;
    };
    world.forwardMessages = (...args: Parameters<World['forwardMessages']>) => {
      const sent = forwardMessages.apply(world, args);
      failOnce('forward');
      return sent;
    };
    const first = await app.call('POST', '/api/v1/messages/send', {
      sessionId: alice.sessionId,
      chatId: `@${bobName}`,
      text: 'before the lost answers',
    });
    assert.equal(first.status, 200);
    const replyOnce = () =>
      app.call(
        'POST',
        '/api/v1/messages/reply',
        {
          sessionId: alice.sessionId,
          chatId: `@${bobName}`,
          messageId: first.body.data.id,
          text: 'lost answer reply',
        },
        { 'idempotency-key': 'lost-reply' },
      );
    const lost = await replyOnce();
    assert.equal(lost.status, 502, JSON.stringify(lost.body));
    const reply = await replyOnce();
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.data.replyToMessageId, first.body.data.id);
    const plain = await app.call('POST', '/api/v1/messages/send', {
      sessionId: alice.sessionId,
      chatId: `@${bobName}`,
      text: 'lost answer, no key',
    });
    assert.equal(plain.status, 200, JSON.stringify(plain.body));
    const forward = await app.call(
      'POST',
      '/api/v1/messages/forward',
      {
        sessionId: alice.sessionId,
        fromChatId: `@${bobName}`,
        toChatId: 'me',
        messageIds: [first.body.data.id],
      },
      { 'idempotency-key': 'lost-forward' },
    );
    assert.equal(forward.status, 200, JSON.stringify(forward.body));
    assert.equal(forward.body.data.length, 1);
    assert.equal(forward.body.data[0].text, 'before the lost answers');
    assert.ok(forward.body.data[0].forwardedFrom);
    assert.equal(failWith.size, 0, 'each call failed once');
    const history = async (chatId: string) =>
      (
        await app.call(
          'GET',
          `/api/v1/messages/history?sessionId=${alice.sessionId}&chatId=${chatId}&limit=50`,
        )
      ).body.data as Array<{ id: number; text: string }>;
    const withBob = await history(`@${bobName}`);
    assert.deepEqual(
      withBob.filter((m) => m.text === 'lost answer reply').map((m) => m.id),
      [reply.body.data.id],
    );
    assert.deepEqual(
      withBob.filter((m) => m.text === 'lost answer, no key').map((m) => m.id),
      [plain.body.data.id],
    );
    const saved = await history('me');
    assert.deepEqual(
      saved.filter((m) => m.text === 'before the lost answers').map((m) => m.id),
      [forward.body.data[0].id],
    );
  } finally {
    world.sendMessage = sendMessage;
    world.forwardMessages = forwardMessages;
    await app.close();
  }
});
