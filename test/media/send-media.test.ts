/**
 * Sending each kind of media through TeleFlow's API to a real teleproto client on the sandbox,
 * which sees the kind, the attributes and (client.downloadMedia) the same bytes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Api, type TelegramClient } from 'teleproto';
import { createTelegramTestApp, signIn, type TelegramTestApp } from '../helpers/telegram.js';
import {
  attributeOf as attribute,
  documentOf,
  jpeg,
  makeMedia,
  multipartBody,
  newestFrom,
  PNG,
  postForm,
  testVideoArgs,
  startFileServer,
  startMediaWorld,
  type FileServer,
  type MediaWorld,
} from './media-fixtures.js';

let world: MediaWorld;
let t: TelegramTestApp;
let alice: MediaWorld['alice'];
let bob: TelegramClient;
let bobName: string;
let dir: string;
let server: FileServer;
const media: Record<string, Buffer> = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teleflow-send-'));
  const sine = ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=1'];
  const picture = (size: string) => ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=10`];
  media.video = makeMedia(dir, 'clip.mp4', testVideoArgs('64x48', 1));
  media.round = makeMedia(dir, 'round.mp4', testVideoArgs('96x96', 1, false));
  media.mp3 = makeMedia(dir, 'tune.mp3', [
    ...sine,
    '-metadata',
    'title=Tune',
    '-metadata',
    'artist=Band',
    '-c:a',
    'libmp3lame',
  ]);
  media.ogg = makeMedia(dir, 'voice.ogg', [...sine, '-c:a', 'libopus']);
  media.gif = makeMedia(dir, 'anim.gif', [...picture('32x32'), '-t', '1']);
  media.webp = makeMedia(dir, 'sticker.webp', [...picture('64x64'), '-frames:v', '1', '-c:v', 'libwebp']);
  media.jpeg = jpeg(dir, 80, 60);
  media.pdf = Buffer.concat([Buffer.from('%PDF-1.4\n% a test document\n'), Buffer.alloc(5000, 7)]);
  server = await startFileServer({ 'tune.mp3': { type: 'audio/mpeg', data: media.mp3 } });

  world = await startMediaWorld();
  ({ t, alice, bob, bobName } = world);
});

after(async () => {
  await world?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const sendMedia = (body: Record<string, unknown>, headers?: Record<string, string>) =>
  t.call(
    'POST',
    '/api/v1/messages/send-media',
    { sessionId: alice.sessionId, chatId: `@${bobName}`, ...body },
    headers,
  );

const bobSees = (caption: string) => newestFrom(bob, alice.username, caption);

test('every kind: sent through TeleFlow, seen by the other side with its kind, attributes and bytes', async () => {
  const cases: {
    kind: string;
    data: Buffer;
    fileName: string;
    mimeType: string;
    check(doc: Api.Document): void;
  }[] = [
    {
      kind: 'video',
      data: media.video!,
      fileName: 'clip.mp4',
      mimeType: 'video/mp4',
      check(doc) {
        const video = attribute(doc, Api.DocumentAttributeVideo);
        assert.ok(video?.supportsStreaming, 'supports_streaming');
        assert.ok(!video.roundMessage, 'not round');
        assert.equal(video.w, 64);
        assert.equal(video.h, 48);
        assert.ok(Math.abs(video.duration - 1) < 0.2, `duration ${video.duration}`);
      },
    },
    {
      kind: 'document',
      data: media.pdf!,
      fileName: 'report.pdf',
      mimeType: 'application/pdf',
      check(doc) {
        assert.equal(attribute(doc, Api.DocumentAttributeFilename)?.fileName, 'report.pdf');
        assert.equal(attribute(doc, Api.DocumentAttributeVideo), undefined);
      },
    },
    {
      kind: 'audio',
      data: media.mp3!,
      fileName: 'tune.mp3',
      mimeType: 'audio/mpeg',
      check(doc) {
        const audio = attribute(doc, Api.DocumentAttributeAudio);
        assert.ok(audio && !audio.voice, 'not a voice note');
        assert.equal(audio?.title, 'Tune', 'title from the file tags');
        assert.equal(audio?.performer, 'Band');
        assert.equal(audio?.duration, 1);
      },
    },
    {
      kind: 'voice',
      data: media.ogg!,
      fileName: 'voice.ogg',
      mimeType: 'audio/ogg',
      check(doc) {
        const audio = attribute(doc, Api.DocumentAttributeAudio);
        assert.equal(audio?.voice, true);
        assert.equal(audio?.duration, 1);
        assert.equal(audio?.waveform?.length, 63, '100 five-bit values');
      },
    },
    {
      kind: 'video_note',
      data: media.round!,
      fileName: 'round.mp4',
      mimeType: 'video/mp4',
      check(doc) {
        const video = attribute(doc, Api.DocumentAttributeVideo);
        assert.equal(video?.roundMessage, true);
        assert.equal(video?.w, 96);
      },
    },
    {
      kind: 'animation',
      data: media.gif!,
      fileName: 'anim.gif',
      mimeType: 'image/gif',
      check(doc) {
        assert.ok(attribute(doc, Api.DocumentAttributeAnimated), 'documentAttributeAnimated');
      },
    },
    {
      kind: 'sticker',
      data: media.webp!,
      fileName: 'sticker.webp',
      mimeType: 'image/webp',
      check(doc) {
        assert.ok(attribute(doc, Api.DocumentAttributeSticker), 'documentAttributeSticker');
      },
    },
  ];
  for (const c of cases) {
    const caption = `a ${c.kind}`;
    const res = await sendMedia({
      kind: c.kind,
      base64: c.data.toString('base64'),
      fileName: c.fileName,
      caption,
    });
    assert.equal(res.status, 200, `${c.kind}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.data.text, caption);
    assert.equal(res.body.data.out, true);
    assert.equal(
      res.body.data.media?.kind,
      c.kind,
      `${c.kind} in the answer: ${JSON.stringify(res.body.data.media)}`,
    );
    const seen = await bobSees(caption);
    const doc = documentOf(seen);
    assert.equal(doc.mimeType, c.mimeType, c.kind);
    c.check(doc);
    const bytes = (await bob.downloadMedia(seen, {})) as Buffer;
    assert.ok(bytes.equals(c.data), `${c.kind}: the same bytes arrive`);
  }
});

test('a photo, as multipart; a document from a URL; markdown captions, replies and silent sends', async () => {
  const form = multipartBody(
    {
      sessionId: alice.sessionId,
      chatId: `@${bobName}`,
      kind: 'photo',
      caption: '**a** photo',
      parseMode: 'markdown',
      silent: 'true',
    },
    { fileName: 'pic.jpg', contentType: 'image/jpeg', data: media.jpeg! },
  );
  const res = await postForm(t, '/api/v1/messages/send-media', form);
  assert.equal(res.statusCode, 200, res.body);
  const sent = res.json().data;
  assert.equal(sent.text, 'a photo');
  assert.deepEqual(sent.entities, [{ type: 'bold', offset: 0, length: 1 }]);
  assert.equal(sent.media.kind, 'photo');
  const seen = await bobSees('a photo');
  assert.ok(seen.media instanceof Api.MessageMediaPhoto, `a photo: ${seen.media?.className}`);
  assert.ok(seen.silent, 'sent silently');
  const photo = seen.media.photo as Api.Photo;
  const largest = photo.sizes.filter((s): s is Api.PhotoSize => s instanceof Api.PhotoSize).at(-1);
  assert.equal(largest?.w, 80);
  assert.equal(largest?.h, 60);

  const fromUrl = await sendMedia({
    kind: 'audio',
    url: `${server.url}/tune.mp3`,
    caption: 'from a url',
    replyToMessageId: sent.id,
    title: 'Own title',
  });
  assert.equal(fromUrl.status, 200, JSON.stringify(fromUrl.body));
  assert.equal(fromUrl.body.data.replyToMessageId, sent.id);
  const audio = await bobSees('from a url');
  assert.equal(attribute(documentOf(audio), Api.DocumentAttributeAudio)?.title, 'Own title');
  assert.equal(attribute(documentOf(audio), Api.DocumentAttributeFilename)?.fileName, 'tune.mp3');
  assert.ok(((await bob.downloadMedia(audio, {})) as Buffer).equals(media.mp3!));
});

test('wrong kinds: 400 VALIDATION_ERROR naming kind; sizes over the limits: 413', async () => {
  const wrong: [string, Buffer, string][] = [
    ['sticker', media.jpeg!, 'a WebP image, a TGS animation or a WebM video'],
    ['voice', media.pdf!, 'audio'],
    ['photo', media.mp3!, 'image'],
    ['photo', Buffer.from('just some text, not an image'), 'image'],
    ['video', media.gif!, 'video'],
    ['animation', media.pdf!, 'GIF'],
  ];
  for (const [kind, data, says] of wrong) {
    const res = await sendMedia({
      kind,
      base64: data.toString('base64'),
      fileName: 'x',
      mimeType: 'image/jpeg',
    });
    assert.equal(res.status, 400, `${kind}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'VALIDATION_ERROR');
    assert.equal(res.body.error.details[0].field, 'body.kind');
    assert.ok(res.body.error.details[0].message.includes(says), res.body.error.details[0].message);
  }
  const none = await sendMedia({ kind: 'photo' });
  assert.equal(none.status, 400);
  assert.equal(none.body.error.details[0].field, 'body');
  const convertPhoto = await sendMedia({ kind: 'photo', base64: PNG.toString('base64'), convert: true });
  assert.equal(convertPhoto.status, 400);
  assert.equal(convertPhoto.body.error.details[0].field, 'body.convert');
});

test("Telegram's media refusals: 403 FORBIDDEN / 400 BAD_REQUEST with Telegram's name in details", async () => {
  const cases: [string, number, string][] = [
    ['CHAT_SEND_MEDIA_FORBIDDEN', 403, 'FORBIDDEN'],
    ['CHAT_SEND_VOICES_FORBIDDEN', 403, 'FORBIDDEN'],
    ['PHOTO_INVALID_DIMENSIONS', 400, 'BAD_REQUEST'],
    ['MEDIA_CAPTION_TOO_LONG', 400, 'BAD_REQUEST'],
  ];
  for (const [error, status, code] of cases) {
    await world.sbx.control('POST', '/faults', { error, method: 'messages.sendMedia', phone: alice.phone });
    const res = await sendMedia({
      kind: 'document',
      base64: media.pdf!.toString('base64'),
      fileName: 'f.pdf',
    });
    assert.equal(res.status, status, `${error}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, code);
    assert.equal(res.body.error.details.telegramError, error);
  }
});

test('limits: a photo over MEDIA_MAX_PHOTO_BYTES and a file over MEDIA_MAX_FILE_BYTES are 413 before anything is sent', async () => {
  const small = await createTelegramTestApp(world.sbx, {
    env: { MEDIA_MAX_PHOTO_BYTES: '1000', MEDIA_MAX_FILE_BYTES: '4000' },
  });
  try {
    const session = await signIn(small, world.sbx);
    const body = { sessionId: session.sessionId, chatId: 'me' };
    const photo = await small.call('POST', '/api/v1/messages/send-media', {
      ...body,
      kind: 'photo',
      base64: media.jpeg!.toString('base64'),
    });
    assert.ok(media.jpeg!.length > 1000);
    assert.equal(photo.status, 413, JSON.stringify(photo.body));
    assert.equal(photo.body.error.code, 'PAYLOAD_TOO_LARGE');
    assert.match(photo.body.error.message, /photo may have at most 1000 bytes/);
    const form = multipartBody(
      { ...body, kind: 'document' },
      { fileName: 'big.pdf', contentType: 'application/pdf', data: media.pdf! },
    );
    const file = await postForm(small, '/api/v1/messages/send-media', form);
    assert.equal(file.statusCode, 413, file.body);
    const history = await small.call(
      'GET',
      `/api/v1/messages/history?sessionId=${session.sessionId}&chatId=me`,
    );
    assert.deepEqual(history.body.data, [], 'nothing was sent');
  } finally {
    await small.close();
  }
});
