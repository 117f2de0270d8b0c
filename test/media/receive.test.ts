/**
 * Receiving media end to end: the other side sends every kind (from their app through the
 * sandbox's control API, and from a real teleproto client); TeleFlow reports each in
 * message.received (stored event and a real webhook receiver) and in the history with the
 * same `media` object, and downloads it byte for byte.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Api, type TelegramClient } from 'teleproto';
import { CustomFile } from 'teleproto/client/uploads.js';
import { closeClient, signedInClient, testPhone } from '../helpers/sandbox.js';
import {
  createTelegramTestApp,
  signIn,
  startTestSandbox,
  waitFor,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import {
  assertBytes,
  download,
  fileBytes,
  jpegImage,
  receivedWithMedia,
  sendFromApp,
  type SentMedia,
} from './download-fixtures.js';

let sbx: TestSandbox;
let t: TelegramTestApp;
let hooks: WebhookReceiver;
let me: { sessionId: string; phone: string; userId: string };
let friend: { phone: string; id: string };
let client: TelegramClient | undefined;
const seen = new Set<number>();

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx);
  hooks = await startWebhookReceiver();
  me = await signIn(t, sbx, { username: `receiver${process.pid}` });
  const phone = testPhone();
  const created = await sbx.control<{ id: string }>('POST', '/users', { phone, firstName: 'Friend' });
  friend = { phone, id: created.id };
  const hook = await t.call('POST', '/api/v1/webhooks', { url: hooks.url, events: ['message.received'] });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
});

after(async () => {
  await closeClient(client);
  await hooks?.close();
  await t?.close();
  await sbx?.close();
});

const KINDS: (SentMedia & { expect: Record<string, unknown> })[] = [
  {
    kind: 'document',
    fileName: 'report.pdf',
    mimeType: 'application/pdf',
    bytes: fileBytes(70_000),
    expect: { mimeType: 'application/pdf', fileName: 'report.pdf' },
  },
  {
    kind: 'video',
    fileName: 'clip.mp4',
    bytes: fileBytes(600_000),
    extra: { duration: 3, width: 640, height: 360 },
    expect: { mimeType: 'video/mp4', width: 640, height: 360, duration: 3 },
  },
  {
    kind: 'audio',
    fileName: 'song.mp3',
    bytes: fileBytes(40_000),
    extra: { duration: 200, title: 'Song' },
    expect: { mimeType: 'audio/mpeg', duration: 200 },
  },
  {
    kind: 'voice',
    fileName: 'voice.ogg',
    bytes: fileBytes(9_000),
    extra: { duration: 4 },
    expect: { mimeType: 'audio/ogg', duration: 4 },
  },
  {
    kind: 'video_note',
    fileName: 'round.mp4',
    bytes: fileBytes(30_000),
    extra: { duration: 5, width: 240, height: 240 },
    expect: { mimeType: 'video/mp4', width: 240, height: 240 },
  },
  {
    kind: 'animation',
    fileName: 'fun.mp4',
    bytes: fileBytes(20_000),
    extra: { duration: 2, width: 320, height: 240 },
    expect: { mimeType: 'video/mp4' },
  },
  {
    kind: 'sticker',
    fileName: 'sticker.webp',
    bytes: fileBytes(5_000),
    extra: { width: 512, height: 512 },
    expect: { mimeType: 'image/webp' },
  },
];

test('a text message carries media: null', async () => {
  await sbx.control('POST', '/messages', { from: friend.phone, to: me.phone, text: 'just words' });
  const history = await waitFor(async () => {
    const res = await t.call('GET', `/api/v1/messages/history?sessionId=${me.sessionId}&chatId=${friend.id}`);
    return res.status === 200 && res.body.data.length > 0 ? res.body.data : undefined;
  }, 10_000);
  assert.equal(history[0].media, null);
});

test('every kind sent from the other side arrives with its media object and downloads byte for byte', async () => {
  for (const item of KINDS) {
    await sendFromApp(sbx, friend.phone, me.phone, item, `a ${item.kind}`);
    const message = await receivedWithMedia(t, me.sessionId, friend.id, seen);
    const media = message.media;
    assert.equal(media.kind, item.kind, JSON.stringify(media));
    assert.equal(media.size, item.bytes.length, item.kind);
    assert.equal(message.text, `a ${item.kind}`);
    for (const [k, v] of Object.entries(item.expect)) assert.equal(media[k], v, `${item.kind}.${k}`);
    assert.ok(Array.isArray(media.thumbnails));

    // The same object in the webhook payload and in the history.
    const [delivery] = await hooks.waitFor(
      1,
      10_000,
      (r) => JSON.parse(r.body).data.message.id === message.id,
    );
    assert.deepEqual(JSON.parse(delivery!.body).data.message.media, media);
    const history = await t.call(
      'GET',
      `/api/v1/messages/history?sessionId=${me.sessionId}&chatId=${friend.id}&limit=1`,
    );
    assert.deepEqual(history.body.data[0].media, media);

    const res = await download(t, `/api/v1/media/${media.mediaId}?sessionId=${me.sessionId}`);
    assert.equal(res.status, 200, item.kind);
    assert.equal(res.headers['content-type'], media.mimeType);
    assert.equal(res.headers['content-length'], String(item.bytes.length));
    assertBytes(res.body, item.bytes, item.kind);
  }
});

test('a photo: its largest size is the file, each thumbnail downloads by its letter', async () => {
  await sendFromApp(sbx, friend.phone, me.phone, {
    kind: 'photo',
    fileName: 'p.jpg',
    bytes: jpegImage(900, 600),
  });
  const { media } = await receivedWithMedia(t, me.sessionId, friend.id, seen);
  assert.equal(media.kind, 'photo');
  assert.equal(media.mimeType, 'image/jpeg');
  assert.equal(media.width, 900);
  assert.equal(media.height, 600);
  assert.ok(media.thumbnails.length >= 2, JSON.stringify(media.thumbnails));
  const whole = await download(t, `/api/v1/media/${media.mediaId}?sessionId=${me.sessionId}`);
  assert.equal(whole.status, 200);
  assert.equal(whole.body.length, media.size);
  assert.deepEqual([...whole.body.subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
  for (const thumb of media.thumbnails) {
    const res = await download(
      t,
      `/api/v1/media/${media.mediaId}?sessionId=${me.sessionId}&thumb=${thumb.size}`,
    );
    assert.equal(res.status, 200, thumb.size);
    assert.equal(res.headers['content-type'], 'image/jpeg');
    assert.deepEqual([...res.body.subarray(0, 2)], [0xff, 0xd8]);
    assert.ok(res.body.length < whole.body.length, `${thumb.size} is smaller`);
  }
  const none = await download(t, `/api/v1/media/${media.mediaId}?sessionId=${me.sessionId}&thumb=q`);
  assert.equal(none.status, 404);
  assert.equal(none.json().error.code, 'MEDIA_NOT_FOUND');
});

test('a file sent by a real teleproto client arrives and downloads byte for byte', async () => {
  const phone = testPhone();
  client = await signedInClient(sbx.sandbox, phone, { firstName: 'Client' });
  const self = (await client.getMe()) as Api.User;
  const bytes = fileBytes(1_300_000);
  const target = await client.getInputEntity(`receiver${process.pid}`);
  await client.sendFile(target, {
    file: new CustomFile('data.bin', bytes.length, '', bytes),
    forceDocument: true,
    caption: 'from a client',
  });
  const message = await receivedWithMedia(t, me.sessionId, self.id.toString(), seen);
  assert.equal(message.media.kind, 'document');
  assert.equal(message.media.fileName, 'data.bin');
  assert.equal(message.media.size, bytes.length);
  const res = await download(t, `/api/v1/media/${message.media.mediaId}?sessionId=${me.sessionId}`);
  assert.equal(res.status, 200);
  assertBytes(res.body, bytes, 'client document');
});
