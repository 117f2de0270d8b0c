/**
 * convert: true with the real ffmpeg: an MP3 (made by ffmpeg here) becomes an OGG/Opus voice
 * note with its waveform, a wide video a square round video; a missing ffmpeg is a clear 503.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Api } from 'teleproto';
import { createTelegramTestApp, signIn } from '../helpers/telegram.js';
import {
  attributeOf,
  documentOf,
  makeMedia,
  newestFrom,
  startMediaWorld,
  testVideoArgs,
  type MediaWorld,
} from './media-fixtures.js';

let w: MediaWorld;
let dir: string;
let mp3: Buffer;
let wide: Buffer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teleflow-convert-'));
  mp3 = makeMedia(dir, 'speech.mp3', [
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=300:duration=2',
    '-c:a',
    'libmp3lame',
  ]);
  wide = makeMedia(dir, 'wide.mp4', testVideoArgs('320x180', 2));
  w = await startMediaWorld();
});

after(async () => {
  await w?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What ffprobe says of bytes Bob downloaded. */
function probe(bytes: Buffer): { format: { format_name: string }; streams: Record<string, unknown>[] } {
  const path = join(dir, `probe-${Date.now()}`);
  writeFileSync(path, bytes);
  return JSON.parse(
    execFileSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path], {
      encoding: 'utf8',
    }),
  ) as never;
}

test('convert: an MP3 becomes an OGG/Opus voice note with duration and waveform', async () => {
  const res = await w.t.call('POST', '/api/v1/messages/send-media', {
    sessionId: w.alice.sessionId,
    chatId: `@${w.bobName}`,
    kind: 'voice',
    base64: mp3.toString('base64'),
    fileName: 'speech.mp3',
    convert: true,
    caption: 'converted voice',
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.data.media.kind, 'voice');
  assert.equal(res.body.data.media.mimeType, 'audio/ogg');
  const seen = await newestFrom(w.bob, w.alice.username, 'converted voice');
  const doc = documentOf(seen);
  assert.equal(doc.mimeType, 'audio/ogg');
  const audio = attributeOf(doc, Api.DocumentAttributeAudio);
  assert.equal(audio?.voice, true);
  assert.equal(audio?.duration, 2);
  assert.equal(audio?.waveform?.length, 63);
  assert.ok(
    audio!.waveform!.some((b) => b !== 0),
    'a waveform with sound in it',
  );
  const bytes = (await w.bob.downloadMedia(seen, {})) as Buffer;
  const info = probe(bytes);
  assert.equal(info.format.format_name, 'ogg');
  assert.equal(info.streams[0]!.codec_name, 'opus');
  assert.equal(info.streams[0]!.channels, 1);
});

test('convert: a wide video becomes a square round video note', async () => {
  const res = await w.t.call('POST', '/api/v1/messages/send-media', {
    sessionId: w.alice.sessionId,
    chatId: `@${w.bobName}`,
    kind: 'video_note',
    base64: wide.toString('base64'),
    fileName: 'wide.mp4',
    convert: true,
    caption: 'converted round',
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.data.media.kind, 'video_note');
  const seen = await newestFrom(w.bob, w.alice.username, 'converted round');
  const doc = documentOf(seen);
  assert.equal(doc.mimeType, 'video/mp4');
  const video = attributeOf(doc, Api.DocumentAttributeVideo);
  assert.equal(video?.roundMessage, true);
  assert.equal(video?.w, 384);
  assert.equal(video?.h, 384);
  assert.ok(Math.abs(video!.duration - 2) < 0.3, `duration ${video!.duration}`);
  const stream = probe((await w.bob.downloadMedia(seen, {})) as Buffer).streams.find(
    (s) => s.codec_type === 'video',
  )!;
  assert.equal(stream.codec_name, 'h264');
  assert.equal(stream.width, 384);
  assert.equal(stream.height, 384);
});

test('a missing ffmpeg: 503 FFMPEG_UNAVAILABLE for conversions, sends without conversion still work', async () => {
  const t = await createTelegramTestApp(w.sbx, {
    env: { FFMPEG_PATH: join(dir, 'no-such-ffmpeg'), FFPROBE_PATH: join(dir, 'no-such-ffprobe') },
  });
  try {
    const session = await signIn(t, w.sbx);
    const body = {
      sessionId: session.sessionId,
      chatId: 'me',
      base64: mp3.toString('base64'),
      fileName: 'a.mp3',
    };
    const res = await t.call('POST', '/api/v1/messages/send-media', {
      ...body,
      kind: 'voice',
      convert: true,
    });
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'FFMPEG_UNAVAILABLE');
    assert.match(res.body.error.message, /ffmpeg, which was not found \(FFMPEG_PATH=/);
    const plain = await t.call('POST', '/api/v1/messages/send-media', { ...body, kind: 'audio' });
    assert.equal(plain.status, 200, JSON.stringify(plain.body));
    assert.equal(plain.body.data.media.kind, 'audio');
  } finally {
    await t.close();
  }
});
