/**
 * The `media` object of messages, built from Telegram's own constructors (teleproto's Api
 * classes): each kind by its document attributes, photo sizes and thumbnails by their letters,
 * and a mediaId that names the chat, message and file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Api, helpers } from 'teleproto';
import { decodeMediaId, encodeMediaId, mediaLocation } from '../../src/telegram/convert-media.js';
import { messageView } from '../../src/telegram/convert.js';

const big = (n: number | string) => helpers.returnBigInt(n);

function message(
  media: Api.TypeMessageMedia | undefined,
  peer: Api.TypePeer = new Api.PeerUser({ userId: big(42) }),
) {
  return new Api.Message({ id: 7, peerId: peer, date: 1_700_000_000, message: 'caption', media });
}

function document(attributes: Api.TypeDocumentAttribute[], mimeType = 'application/octet-stream') {
  return new Api.Document({
    id: big('5000000000000000001'),
    accessHash: big(99),
    fileReference: Buffer.from([1, 2, 3]),
    date: 1_700_000_000,
    mimeType,
    size: big(123_456),
    dcId: 4,
    attributes,
    thumbs: [
      new Api.PhotoStrippedSize({ type: 'i', bytes: Buffer.from([1, 40, 40]) }),
      new Api.PhotoSize({ type: 'm', w: 320, h: 180, size: 9000 }),
    ],
  });
}

test('text messages carry media: null', () => {
  assert.equal(messageView(message(undefined), '1').media, null);
  assert.equal(
    messageView(message(new Api.MessageMediaGeo({ geo: new Api.GeoPointEmpty() })), '1').media,
    null,
  );
});

test('a photo: its largest size is the file, the others are thumbnails; stripped sizes are left out', () => {
  const photo = new Api.Photo({
    id: big(777),
    accessHash: big(1),
    fileReference: Buffer.from('ref'),
    date: 1_700_000_000,
    dcId: 2,
    sizes: [
      new Api.PhotoStrippedSize({ type: 'i', bytes: Buffer.from([1, 2, 3]) }),
      new Api.PhotoSize({ type: 's', w: 90, h: 60, size: 1500 }),
      new Api.PhotoSize({ type: 'm', w: 320, h: 213, size: 12_000 }),
      new Api.PhotoSizeProgressive({ type: 'y', w: 1280, h: 853, sizes: [10_000, 40_000, 91_000] }),
    ],
  });
  const view = messageView(message(new Api.MessageMediaPhoto({ photo })), '1').media!;
  assert.deepEqual(
    { ...view, mediaId: undefined },
    {
      mediaId: undefined,
      kind: 'photo',
      mimeType: 'image/jpeg',
      size: 91_000,
      width: 1280,
      height: 853,
      thumbnails: [
        { size: 's', width: 90, height: 60 },
        { size: 'm', width: 320, height: 213 },
      ],
    },
  );
  assert.deepEqual(decodeMediaId(view.mediaId), { chatId: '42', messageId: 7, type: 'photo', fileId: '777' });
});

test('each document kind is told by its attributes', () => {
  const video = (round = false) =>
    new Api.DocumentAttributeVideo({ duration: 12.5, w: 640, h: 360, roundMessage: round });
  const cases: [Api.TypeDocumentAttribute[], string][] = [
    [[new Api.DocumentAttributeFilename({ fileName: 'report.pdf' })], 'document'],
    [[video()], 'video'],
    [[video(true)], 'video_note'],
    [[video(), new Api.DocumentAttributeAnimated()], 'animation'],
    [[new Api.DocumentAttributeAudio({ duration: 61, voice: true })], 'voice'],
    [[new Api.DocumentAttributeAudio({ duration: 200, title: 'Song' })], 'audio'],
    [
      [
        new Api.DocumentAttributeImageSize({ w: 512, h: 512 }),
        new Api.DocumentAttributeSticker({ alt: ':)', stickerset: new Api.InputStickerSetEmpty() }),
      ],
      'sticker',
    ],
  ];
  for (const [attributes, kind] of cases) {
    const view = messageView(
      message(new Api.MessageMediaDocument({ document: document(attributes) })),
      '1',
    ).media!;
    assert.equal(view.kind, kind, JSON.stringify(attributes.map((a) => a.className)));
    assert.equal(view.size, 123_456);
    assert.deepEqual(view.thumbnails, [{ size: 'm', width: 320, height: 180 }]);
  }
  const pdf = messageView(
    message(
      new Api.MessageMediaDocument({
        document: document(
          [new Api.DocumentAttributeFilename({ fileName: 'report.pdf' })],
          'application/pdf',
        ),
      }),
      new Api.PeerChannel({ channelId: big(555) }),
    ),
    '1',
  ).media!;
  assert.equal(pdf.fileName, 'report.pdf');
  assert.equal(pdf.mimeType, 'application/pdf');
  assert.deepEqual(decodeMediaId(pdf.mediaId), {
    chatId: '-1000000000555',
    messageId: 7,
    type: 'document',
    fileId: '5000000000000000001',
  });
  const clip = messageView(
    message(new Api.MessageMediaDocument({ document: document([video()]) })),
    '1',
  ).media!;
  assert.deepEqual([clip.width, clip.height, clip.duration], [640, 360, 12.5]);
  const location = mediaLocation(message(new Api.MessageMediaDocument({ document: document([video()]) })))!;
  assert.equal(location.dcId, 4);
});

test('mediaIds are opaque, round-trip, and anything else is refused', () => {
  const ref = { chatId: '-4001', messageId: 12, type: 'document' as const, fileId: '-9' };
  const id = encodeMediaId(ref);
  assert.match(id, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeMediaId(id), ref);
  for (const bad of [
    '',
    'abc',
    'not/base64',
    Buffer.from('1.x.1.d.1').toString('base64url'),
    'A'.repeat(500),
  ])
    assert.equal(decodeMediaId(bad), undefined, bad);
});
