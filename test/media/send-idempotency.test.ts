/**
 * Idempotency-Key on media sends when Telegram carried a send out but its answer was lost: the
 * retry sends the stored random ids again (one per album item), Telegram answers
 * RANDOM_ID_DUPLICATE, and the retry answers the messages that were sent, nothing twice.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RpcError } from '../../src/sandbox/contract.js';
import type { World } from '../../src/sandbox/index.js';
import { jpeg, startMediaWorld, type MediaWorld } from './media-fixtures.js';

let w: MediaWorld;
let dir: string;
let restore: () => void;
/** Captions whose message is stored, then answered with this error once. */
const failOnce = new Map<string, string>();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teleflow-media-idem-'));
  w = await startMediaWorld();
  const world: World = w.sbx.sandbox.world;
  const { sendMessage } = world;
  world.sendMessage = (...args: Parameters<World['sendMessage']>) => {
    const sent = sendMessage.apply(world, args);
    const error = failOnce.get(args[2].text);
    failOnce.delete(args[2].text);
    if (error) throw new RpcError(500, error);
    return sent;
  };
  restore = () => {
    world.sendMessage = sendMessage;
  };
});

after(async () => {
  restore?.();
  await w?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function countInHistory(caption: string): Promise<number> {
  const res = await w.t.call(
    'GET',
    `/api/v1/messages/history?sessionId=${w.alice.sessionId}&chatId=me&limit=20`,
  );
  return res.body.data.filter((m: { text: string }) => m.text === caption).length;
}

test('send-media: the answer is lost (502), the retry with the same key answers the stored message', async () => {
  const headers = { 'idempotency-key': `lost-${randomBytes(4).toString('hex')}` };
  const body = {
    sessionId: w.alice.sessionId,
    chatId: 'me',
    kind: 'photo',
    base64: jpeg(dir, 30, 20).toString('base64'),
    caption: 'lost answer photo',
  };
  failOnce.set('lost answer photo', 'INTERNAL');
  const first = await w.t.call('POST', '/api/v1/messages/send-media', body, headers);
  assert.equal(first.status, 502, JSON.stringify(first.body));
  assert.equal(await countInHistory('lost answer photo'), 1, 'Telegram did send it');
  const retry = await w.t.call('POST', '/api/v1/messages/send-media', body, headers);
  assert.equal(retry.status, 200, JSON.stringify(retry.body));
  assert.equal(retry.body.data.text, 'lost answer photo');
  assert.equal(retry.body.data.media.kind, 'photo');
  assert.equal(await countInHistory('lost answer photo'), 1, 'not sent twice');
  const third = await w.t.call('POST', '/api/v1/messages/send-media', body, headers);
  assert.deepEqual(third.body.data, retry.body.data);
});

test('send-album: the answer is lost, the retry answers the album that was sent, each item once', async () => {
  const headers = { 'idempotency-key': `lost-album-${randomBytes(4).toString('hex')}` };
  const body = {
    sessionId: w.alice.sessionId,
    chatId: 'me',
    items: [
      { kind: 'photo', base64: jpeg(dir, 24, 24).toString('base64'), caption: 'lost album a' },
      { kind: 'photo', base64: jpeg(dir, 26, 26).toString('base64'), caption: 'lost album b' },
    ],
  };
  failOnce.set('lost album b', 'INTERNAL');
  const first = await w.t.call('POST', '/api/v1/messages/send-album', body, headers);
  assert.equal(first.status, 502, JSON.stringify(first.body));
  const retry = await w.t.call('POST', '/api/v1/messages/send-album', body, headers);
  assert.equal(retry.status, 200, JSON.stringify(retry.body));
  assert.deepEqual(
    retry.body.data.map((m: { text: string }) => m.text),
    ['lost album a', 'lost album b'],
  );
  assert.equal(await countInHistory('lost album a'), 1);
  assert.equal(await countInHistory('lost album b'), 1);
});
