/**
 * Albums through TeleFlow: photos and videos (or documents) in one grouped send, seen as one
 * album by a real teleproto client; uploads re-sent by id; one random id per item.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Api } from 'teleproto';
import {
  documentOf,
  jpeg,
  makeMedia,
  startMediaWorld,
  testVideoArgs,
  waitForMessages,
  type MediaWorld,
} from './media-fixtures.js';

let w: MediaWorld;
let dir: string;
let photo: Buffer;
let video: Buffer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teleflow-album-'));
  photo = jpeg(dir, 40, 30);
  video = makeMedia(dir, 'clip.mp4', testVideoArgs('48x48', 1));
  w = await startMediaWorld();
});

after(async () => {
  await w?.close();
  rmSync(dir, { recursive: true, force: true });
});

const sendAlbum = (body: Record<string, unknown>, headers?: Record<string, string>) =>
  w.t.call(
    'POST',
    '/api/v1/messages/send-album',
    { sessionId: w.alice.sessionId, chatId: `@${w.bobName}`, ...body },
    headers,
  );

test('an album of a photo and a video: one grouped send, captions per item, seen as one album', async () => {
  const res = await sendAlbum({
    items: [
      { kind: 'photo', base64: photo.toString('base64'), caption: '**first**' },
      { kind: 'video', base64: video.toString('base64'), fileName: 'clip.mp4', caption: 'second' },
    ],
    parseMode: 'markdown',
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const [first, second] = res.body.data;
  assert.equal(res.body.data.length, 2);
  assert.equal(first.text, 'first');
  assert.deepEqual(first.entities, [{ type: 'bold', offset: 0, length: 5 }]);
  assert.equal(first.media.kind, 'photo');
  assert.equal(second.media.kind, 'video');
  assert.ok(second.id > first.id);

  const seen = await waitForMessages(w.bob, w.alice.username, 2, (m) => m[1]?.message === 'first');
  const [bobSecond, bobFirst] = seen;
  assert.ok(bobFirst!.groupedId, 'grouped');
  assert.equal(bobFirst!.groupedId?.toString(), bobSecond!.groupedId?.toString());
  assert.ok(bobFirst!.media instanceof Api.MessageMediaPhoto);
  assert.equal(documentOf(bobSecond!).mimeType, 'video/mp4');
  assert.ok(((await w.bob.downloadMedia(bobSecond!, {})) as Buffer).equals(video));
});

test('an album of documents from uploads; an upload already sent is not uploaded again', async () => {
  const docs = [0, 1, 2].map(() => Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(2000)]));
  const ids: string[] = [];
  for (const [i, d] of docs.entries()) {
    const up = await w.t.call('POST', '/api/v1/uploads', {
      base64: d.toString('base64'),
      fileName: `d${i}.pdf`,
    });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    ids.push(up.body.data.uploadId);
  }
  const files = () =>
    w.sbx.control<{ files: unknown[] }>('GET', `/files?phone=${w.alice.phone}`).then((r) => r.files.length);
  const before = await files();
  const res = await sendAlbum({ items: ids.map((uploadId) => ({ kind: 'document', uploadId })) });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(
    res.body.data.map((m: { media: { fileName: string } }) => m.media.fileName),
    ['d0.pdf', 'd1.pdf', 'd2.pdf'],
  );
  assert.equal((await files()) - before, 3);
  const again = await sendAlbum({
    chatId: 'me',
    items: ids.slice(0, 2).map((uploadId) => ({ kind: 'document', uploadId })),
  });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal((await files()) - before, 3, 'sent again by id');
  const seen = await waitForMessages(
    w.bob,
    w.alice.username,
    3,
    (m) => m.length === 3 && m.every((x) => x.groupedId),
  );
  const bytes = await Promise.all(seen.reverse().map((m) => w.bob.downloadMedia(m, {}) as Promise<Buffer>));
  bytes.forEach((b, i) => assert.ok(b.equals(docs[i]!), `document ${i}`));
});

test('album rules and Idempotency-Key: mixed documents refused, a retry answers the same messages', async () => {
  const mixed = await sendAlbum({
    items: [
      { kind: 'photo', base64: photo.toString('base64') },
      { kind: 'document', base64: photo.toString('base64') },
    ],
  });
  assert.equal(mixed.status, 400);
  assert.equal(mixed.body.error.details[0].field, 'body.items');
  const one = await sendAlbum({ items: [{ kind: 'photo', base64: photo.toString('base64') }] });
  assert.equal(one.status, 400);
  const voice = await sendAlbum({
    items: [
      { kind: 'voice', base64: photo.toString('base64') },
      { kind: 'photo', base64: photo.toString('base64') },
    ],
  });
  assert.equal(voice.status, 400);

  const headers = { 'idempotency-key': `album-${randomBytes(4).toString('hex')}` };
  const body = {
    chatId: 'me',
    items: [
      { kind: 'photo', base64: photo.toString('base64'), caption: 'once a' },
      { kind: 'photo', base64: jpeg(dir, 20, 20).toString('base64'), caption: 'once b' },
    ],
  };
  const first = await sendAlbum(body, headers);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const retry = await sendAlbum(body, headers);
  assert.deepEqual(retry.body.data, first.body.data);
  const history = await w.t.call(
    'GET',
    `/api/v1/messages/history?sessionId=${w.alice.sessionId}&chatId=me&limit=10`,
  );
  assert.equal(history.body.data.filter((m: { text: string }) => m.text.startsWith('once ')).length, 2);
});
