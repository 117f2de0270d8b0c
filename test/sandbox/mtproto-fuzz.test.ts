/**
 * Hostile messages inside a valid encrypted MTProto session (anyone can make an auth key: the
 * handshake needs no account): a gzip bomb, garbage bodies and a lying container. Each must cost
 * at most its own connection, and the server must keep serving real clients.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import type { TelegramClient } from 'teleproto';
import { CONSTRUCTORS, TlWriter } from '../../src/sandbox/mtproto/tl.js';
import { clientFor, closeClient, signedInClient, startTestSandbox, testPhone } from '../helpers/sandbox.js';
import type { Sandbox } from '../helpers/sandbox.js';

const lines: { level: number; msg: string; err?: string }[] = [];
let sandbox: Sandbox;

before(async () => {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  sandbox = await startTestSandbox({ logger: pino({ level: 'warn' }, stream) });
});

after(async () => {
  await sandbox.close();
});

/** A request object the client sends as is: its bytes are whatever the test wants on the wire. */
function rawRequest(bytes: Buffer) {
  return {
    classType: 'request',
    className: 'RawBytes',
    CONSTRUCTOR_ID: bytes.readUInt32LE(0),
    getBytes: () => bytes,
    resolve: async () => {},
    readResult: () => undefined,
  };
}

/** Sends `bytes` as one request on a fresh client; resolves with the error it got, or 'no answer'. */
async function sendRaw(bytes: Buffer, waitMs = 1500): Promise<string> {
  const client: TelegramClient = clientFor(sandbox);
  try {
    await client.connect();
    return await Promise.race([
      client.invoke(rawRequest(bytes) as never).then(
        () => 'answered',
        (error: Error) => error.message,
      ),
      new Promise<string>((resolve) => setTimeout(() => resolve('no answer'), waitMs)),
    ]);
  } finally {
    await closeClient(client);
  }
}

test('a gzip_packed bomb closes its connection without unpacking it', async () => {
  // 64 MB of zeros in about 64 KB: larger than any packet may be.
  const bomb = new TlWriter()
    .uint(CONSTRUCTORS.gzipPacked)
    .bytes(gzipSync(Buffer.alloc(64 * 1024 * 1024)))
    .getBytes();
  assert.ok(bomb.length < 200 * 1024);
  const before = process.memoryUsage().rss;
  const outcome = await sendRaw(bomb);
  assert.notEqual(outcome, 'answered');
  const refused = lines.find(
    (l) => l.msg === 'protocol error, closing connection' && /gzip/.test(l.err ?? ''),
  );
  assert.ok(refused, `the server refused the bomb: ${JSON.stringify(lines.slice(-5))} (${outcome})`);
  assert.ok(process.memoryUsage().rss - before < 48 * 1024 * 1024, 'the bomb was not unpacked');
});

test('garbage bodies get INPUT_CONSTRUCTOR_INVALID; a lying container closes the connection', async () => {
  const garbage = Buffer.concat([Buffer.from([0x01, 0x02, 0x03, 0x04]), Buffer.alloc(64, 0xff)]);
  assert.match(await sendRaw(garbage), /INPUT_CONSTRUCTOR_INVALID/);
  // A container claiming 2^31 messages, each with a negative length.
  const liar = new TlWriter()
    .uint(CONSTRUCTORS.msgContainer)
    .int(0x7fffffff)
    .long(0n)
    .int(1)
    .int(-16)
    .getBytes();
  assert.notEqual(await sendRaw(liar, 800), 'answered');
  // Truncated TL: a vector that promises more than it has.
  const truncated = new TlWriter().uint(0x1cb5c415).int(1000).int(1).getBytes();
  assert.match(await sendRaw(truncated), /INPUT_CONSTRUCTOR_INVALID|no answer/);
});

test('after all that, a real client signs in and calls as usual', async () => {
  const phone = testPhone();
  const client = await signedInClient(sandbox, phone);
  try {
    assert.equal((await client.getMe()).phone, phone);
  } finally {
    await closeClient(client);
  }
});
