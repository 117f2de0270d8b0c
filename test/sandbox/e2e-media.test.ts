/**
 * Media through the sandbox with the real teleproto client: photos and documents sent with
 * client.sendFile and downloaded by the recipient (client.downloadMedia), Telegram's upload and
 * download rules answered to raw calls, a big file through upload.saveBigFilePart, media and
 * albums sent through the control API, and photo sizes as Telegram makes them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { Api } from 'teleproto';
import type { TelegramClient } from 'teleproto';
import { CustomFile } from 'teleproto/client/uploads.js';
import { NewMessage } from 'teleproto/events/index.js';
import type { NewMessageEvent } from 'teleproto/events/index.js';
import { strippedPhotoToJpg } from 'teleproto/Utils.js';
import {
  closeClient,
  control,
  signedInClient,
  startTestSandbox,
  testPhone,
  waitFor,
} from '../helpers/sandbox.js';
import type { Sandbox } from '../helpers/sandbox.js';
import { gradientJpeg, rpcError } from './media-fixtures.js';

let sandbox: Sandbox;
let alice: TelegramClient;
let bob: TelegramClient;
const alicePhone = testPhone(1);
const bobPhone = testPhone(2);
const carolPhone = testPhone(3);
const bobInbox: NewMessageEvent[] = [];
const bobRaw: unknown[] = [];
const bobName = () => `@bob${bobPhone.slice(-4)}`;
const aliceName = () => `@alice${alicePhone.slice(-4)}`;

before(async () => {
  sandbox = await startTestSandbox();
  for (const [phone, name] of [
    [alicePhone, 'alice'],
    [bobPhone, 'bob'],
    [carolPhone, 'carol'],
  ])
    await control(sandbox, 'POST', '/users', {
      phone,
      firstName: name,
      username: `${name}${phone.slice(-4)}`,
    });
  alice = await signedInClient(sandbox, alicePhone);
  bob = await signedInClient(sandbox, bobPhone);
  bob.addEventHandler((event: NewMessageEvent) => void bobInbox.push(event), new NewMessage({}));
  bob.addEventHandler((update: unknown) => void bobRaw.push(update));
  await alice.getMe();
  await bob.getMe();
});

after(async () => {
  await closeClient(alice);
  await closeClient(bob);
  await sandbox.close();
});

async function lastMessageFrom(client: TelegramClient, peer: string): Promise<Api.Message> {
  const [message] = await client.getMessages(peer, { limit: 1 });
  return message;
}

describe('photos and documents sent with sendFile', () => {
  test('a JPEG photo arrives as messageMediaPhoto with the sizes Telegram makes, pushed in full, and downloads', async () => {
    const original = gradientJpeg(1000, 700);
    const sent = await alice.sendFile(bobName(), {
      file: new CustomFile('gradient.jpg', original.length, '', original),
      caption: 'a photo',
    });
    assert.ok(sent.media instanceof Api.MessageMediaPhoto);
    const event = await waitFor(() => bobInbox.find((e) => e.message.message === 'a photo'), 5000, 'photo');
    // Pushed as a full update (updateShortMessage has no media).
    assert.ok(bobRaw.some((u) => u instanceof Api.UpdateNewMessage && (u.message as Api.Message).media));
    const media = event.message.media;
    assert.ok(media instanceof Api.MessageMediaPhoto && media.photo instanceof Api.Photo);
    const sizes = media.photo.sizes;
    assert.ok(sizes[0] instanceof Api.PhotoStrippedSize && sizes[0].type === 'i');
    const plain = sizes.filter((s): s is Api.PhotoSize => s instanceof Api.PhotoSize);
    assert.deepEqual(
      plain.map((s) => [s.type, s.w, s.h]),
      [
        ['s', 100, 70],
        ['m', 320, 224],
        ['x', 800, 560],
        ['y', 1000, 700],
      ],
    );
    assert.equal(media.photo.dcId, 2);
    // The stripped thumbnail becomes a valid JPEG with Telegram's fixed header.
    const stripped = jpeg.decode(strippedPhotoToJpg(Buffer.from(sizes[0].bytes)), { useTArray: true });
    assert.deepEqual([stripped.width, stripped.height], [40, 28]);
    const downloaded = (await bob.downloadMedia(event.message, {})) as Buffer;
    const largest = jpeg.decode(downloaded, { useTArray: true });
    assert.deepEqual([largest.width, largest.height], [1000, 700]);
    assert.equal(downloaded.length, plain[3].size);
    // Every size is a real JPEG of its dimensions.
    const small = (await bob.downloadMedia(event.message, { thumb: 's' } as never)) as Buffer;
    assert.deepEqual([jpeg.decode(small).width, jpeg.decode(small).height], [100, 70]);
  });

  test('a document downloads byte for byte, with its file name and MIME type', async () => {
    const bytes = randomBytes(300_000);
    await alice.sendFile(bobName(), {
      file: new CustomFile('report.bin', bytes.length, '', bytes),
      forceDocument: true,
      caption: 'the report',
    });
    const message = await waitFor(
      () => bobInbox.find((e) => e.message.message === 'the report')?.message,
      5000,
      'document',
    );
    const media = message.media;
    assert.ok(media instanceof Api.MessageMediaDocument && media.document instanceof Api.Document);
    assert.equal(Number(media.document.size), bytes.length);
    const name = media.document.attributes.find((a) => a instanceof Api.DocumentAttributeFilename);
    assert.equal((name as Api.DocumentAttributeFilename).fileName, 'report.bin');
    const downloaded = (await bob.downloadMedia(message, {})) as Buffer;
    assert.ok(downloaded.equals(bytes));
    // History and search by filter show it as well.
    const history = await lastMessageFrom(bob, aliceName());
    assert.ok(history.media instanceof Api.MessageMediaDocument);
    const found = await bob.invoke(
      new Api.messages.Search({
        peer: aliceName(),
        q: '',
        filter: new Api.InputMessagesFilterDocument(),
        limit: 10,
      }),
    );
    assert.equal((found as Api.messages.Messages).messages.length, 1);
    const photos = await bob.invoke(
      new Api.messages.Search({
        peer: aliceName(),
        q: '',
        filter: new Api.InputMessagesFilterPhotos(),
        limit: 10,
      }),
    );
    assert.equal((photos as Api.messages.Messages).messages.length, 1);
  });

  test('a file over 10 MB goes through upload.saveBigFilePart and downloads whole', async () => {
    const before = (await control(sandbox, 'GET', `/files?phone=${alicePhone}`)).body;
    const bytes = randomBytes(10 * 1024 * 1024 + 300_000);
    await alice.sendFile(bobName(), {
      file: new CustomFile('big.bin', bytes.length, '', bytes),
      forceDocument: true,
      caption: 'big one',
      workers: 4,
    });
    const after = (await control(sandbox, 'GET', `/files?phone=${alicePhone}`)).body;
    const big = after.files.find((f: { big: boolean }) => f.big);
    assert.ok(big, JSON.stringify(after));
    assert.equal(big.size, bytes.length);
    assert.equal(big.dc, 2);
    assert.equal(big.parts, Math.ceil(bytes.length / (128 * 1024)));
    assert.equal(after.saveBigFilePart - before.saveBigFilePart, big.parts);
    assert.equal(after.saveFilePart, before.saveFilePart);
    const message = await waitFor(
      () => bobInbox.find((e) => e.message.message === 'big one')?.message,
      10_000,
      'big file',
    );
    const downloaded = (await bob.downloadMedia(message, {})) as Buffer;
    assert.ok(downloaded.equals(bytes));
  });
});

describe("Telegram's file rules to raw calls", () => {
  let location: Api.InputDocumentFileLocation;

  before(async () => {
    const bytes = randomBytes(3 * 1024 * 1024);
    await control(sandbox, 'POST', '/messages', {
      from: carolPhone,
      to: bobPhone,
      text: 'three megabytes',
      media: { kind: 'document', base64: bytes.toString('base64'), fileName: 'three.bin' },
    });
    const message = await waitFor(
      () => bobInbox.find((e) => e.message.message === 'three megabytes')?.message,
      5000,
      'document',
    );
    const document = (message.media as Api.MessageMediaDocument).document as Api.Document;
    location = new Api.InputDocumentFileLocation({
      id: document.id,
      accessHash: document.accessHash,
      fileReference: document.fileReference,
      thumbSize: '',
    });
  });

  const getFile = (offset: number, limit: number, extra: Partial<Api.upload.GetFile> = {}) =>
    bob.invoke(new Api.upload.GetFile({ location, offset: offset as never, limit, ...extra }));

  test('upload.getFile checks offset and limit as documented', async () => {
    assert.equal(await rpcError(getFile(0, 1000)), 'LIMIT_INVALID');
    assert.equal(await rpcError(getFile(0, 3 * 4096)), 'LIMIT_INVALID'); // 1 MB % limit != 0
    assert.equal(await rpcError(getFile(0, 2 * 1024 * 1024)), 'LIMIT_INVALID');
    assert.equal(await rpcError(getFile(1024, 4096)), 'OFFSET_INVALID');
    // A chunk may not cross a 1 MB boundary.
    assert.equal(await rpcError(getFile(1024 * 1024 - 4096, 8192)), 'LIMIT_INVALID');
    const ok = (await getFile(1024 * 1024 - 4096, 4096)) as Api.upload.File;
    assert.equal(ok.bytes.length, 4096);
    assert.ok(ok.type instanceof Api.storage.FilePartial);
    // precise: 1 KB steps, any block, at most 1 MB.
    const precise = (await getFile(1024 * 1024 - 1024, 3072, { precise: true })) as Api.upload.File;
    assert.equal(precise.bytes.length, 3072);
    assert.equal(await rpcError(getFile(512, 1024, { precise: true })), 'OFFSET_INVALID');
    assert.equal(await rpcError(getFile(0, 1024 * 1024 + 1024, { precise: true })), 'LIMIT_INVALID');
    // Past the end: empty.
    const end = (await getFile(4 * 1024 * 1024, 4096)) as Api.upload.File;
    assert.equal(end.bytes.length, 0);
  });

  test('a wrong access hash or file reference is refused', async () => {
    const wrongHash = new Api.InputDocumentFileLocation({
      ...location,
      accessHash: location.accessHash.add(1),
    });
    assert.equal(
      await rpcError(
        bob.invoke(new Api.upload.GetFile({ location: wrongHash, offset: 0 as never, limit: 4096 })),
      ),
      'FILE_ID_INVALID',
    );
    const reference = Buffer.from(location.fileReference);
    reference[reference.length - 1] ^= 1;
    const wrongRef = new Api.InputDocumentFileLocation({ ...location, fileReference: reference });
    assert.equal(
      await rpcError(
        bob.invoke(new Api.upload.GetFile({ location: wrongRef, offset: 0 as never, limit: 4096 })),
      ),
      'FILE_REFERENCE_INVALID',
    );
    const noThumb = new Api.InputDocumentFileLocation({ ...location, thumbSize: 'm' });
    assert.equal(
      await rpcError(
        bob.invoke(new Api.upload.GetFile({ location: noThumb, offset: 0 as never, limit: 4096 })),
      ),
      'LOCATION_INVALID',
    );
  });

  test('upload.saveFilePart and saveBigFilePart check parts as documented', async () => {
    const save = (part: number, bytes: Buffer, fileId = 77n) =>
      alice.invoke(new Api.upload.SaveFilePart({ fileId: fileId as never, filePart: part, bytes }));
    const saveBig = (part: number, total: number, bytes: Buffer, fileId = 78n) =>
      alice.invoke(
        new Api.upload.SaveBigFilePart({
          fileId: fileId as never,
          filePart: part,
          fileTotalParts: total,
          bytes,
        }),
      );
    assert.equal(await rpcError(save(0, Buffer.alloc(0))), 'FILE_PART_EMPTY');
    assert.equal(await rpcError(save(0, Buffer.alloc(512 * 1024 + 1024))), 'FILE_PART_TOO_BIG');
    assert.equal(await rpcError(save(4000, Buffer.alloc(1024))), 'FILE_PART_INVALID');
    assert.equal(await rpcError(saveBig(0, 4001, Buffer.alloc(1024))), 'FILE_PARTS_INVALID');
    assert.equal(await rpcError(saveBig(3, 3, Buffer.alloc(1024))), 'FILE_PART_INVALID');
    assert.equal(await rpcError(saveBig(0, 3, Buffer.alloc(1000))), 'FILE_PART_SIZE_INVALID');
    assert.equal(await saveBig(0, 3, Buffer.alloc(4096)), true);
    assert.equal(await rpcError(saveBig(1, 3, Buffer.alloc(8192))), 'FILE_PART_SIZE_CHANGED');
    assert.equal(await rpcError(saveBig(0, 4, Buffer.alloc(4096))), 'FILE_PARTS_INVALID');

    const send = (file: Api.TypeInputFile) =>
      alice.invoke(
        new Api.messages.SendMedia({
          peer: bobName(),
          media: new Api.InputMediaUploadedDocument({
            file,
            mimeType: 'application/octet-stream',
            attributes: [],
          }),
          message: '',
          randomId: BigInt(Date.now()) as never,
        }),
      );
    // Part 1 never came.
    assert.equal(await save(0, Buffer.alloc(4096), 90n), true);
    assert.equal(await save(2, Buffer.alloc(100), 90n), true);
    assert.equal(
      await rpcError(send(new Api.InputFile({ id: 90n as never, parts: 3, name: 'x.bin', md5Checksum: '' }))),
      'FILE_PART_1_MISSING',
    );
    // Parts of different sizes.
    assert.equal(await save(1, Buffer.alloc(8192), 90n), true);
    assert.equal(
      await rpcError(send(new Api.InputFile({ id: 90n as never, parts: 3, name: 'x.bin', md5Checksum: '' }))),
      'FILE_PART_SIZE_INVALID',
    );
    // Nothing uploaded under this id.
    assert.equal(
      await rpcError(send(new Api.InputFile({ id: 91n as never, parts: 1, name: 'x.bin', md5Checksum: '' }))),
      'FILE_PART_0_MISSING',
    );
    // Over 10 MB through saveFilePart.
    const part = Buffer.alloc(512 * 1024);
    for (let n = 0; n < 21; n++) assert.equal(await save(n, part, 92n), true);
    assert.equal(
      await rpcError(
        send(new Api.InputFile({ id: 92n as never, parts: 21, name: 'x.bin', md5Checksum: '' })),
      ),
      'FILE_PARTS_INVALID',
    );
    // A wrong MD5 checksum.
    assert.equal(await save(0, Buffer.from('hello'), 93n), true);
    assert.equal(
      await rpcError(
        send(new Api.InputFile({ id: 93n as never, parts: 1, name: 'x.txt', md5Checksum: '0'.repeat(32) })),
      ),
      'MD5_CHECKSUM_INVALID',
    );
  });

  test('a photo that is not an image is refused with IMAGE_PROCESS_FAILED', async () => {
    assert.equal(
      await alice.invoke(
        new Api.upload.SaveFilePart({
          fileId: 95n as never,
          filePart: 0,
          bytes: Buffer.from('not a picture'),
        }),
      ),
      true,
    );
    const error = await rpcError(
      alice.invoke(
        new Api.messages.SendMedia({
          peer: bobName(),
          media: new Api.InputMediaUploadedPhoto({
            file: new Api.InputFile({ id: 95n as never, parts: 1, name: 'x.jpg', md5Checksum: '' }),
          }),
          message: '',
          randomId: BigInt(Date.now()) as never,
        }),
      ),
    );
    assert.equal(error, 'IMAGE_PROCESS_FAILED');
    // Media the sandbox does not model is refused loudly, never sent as a guess.
    const geo = await rpcError(
      alice.invoke(
        new Api.messages.SendMedia({
          peer: bobName(),
          media: new Api.InputMediaGeoPoint({ geoPoint: new Api.InputGeoPoint({ lat: 1, long: 2 }) }),
          message: '',
          randomId: BigInt(Date.now() + 1) as never,
        }),
      ),
    );
    assert.equal(geo, 'METHOD_NOT_SUPPORTED_BY_SANDBOX');
  });
});

describe('media from the control API', () => {
  test('a PNG photo and a voice message sent as from the app are seen by the client', async () => {
    const png = new PNG({ width: 60, height: 30 });
    png.data.fill(200);
    const pngBytes = PNG.sync.write(png);
    const sent = await control(sandbox, 'POST', '/messages', {
      from: carolPhone,
      to: bobPhone,
      text: 'png photo',
      media: { kind: 'photo', base64: pngBytes.toString('base64'), fileName: 'p.png' },
    });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    const message = await waitFor(
      () => bobInbox.find((e) => e.message.message === 'png photo')?.message,
      5000,
      'png photo',
    );
    const photo = (message.media as Api.MessageMediaPhoto).photo as Api.Photo;
    const sizes = photo.sizes.filter((s): s is Api.PhotoSize => s instanceof Api.PhotoSize);
    assert.deepEqual(
      sizes.map((s) => [s.type, s.w, s.h]),
      [['s', 60, 30]],
    );
    const voice = await control(sandbox, 'POST', '/messages', {
      from: carolPhone,
      to: bobPhone,
      media: {
        kind: 'voice',
        base64: randomBytes(2000).toString('base64'),
        fileName: 'v.ogg',
        duration: 3,
        waveform: Buffer.from([1, 2, 3]).toString('base64'),
      },
    });
    assert.equal(voice.status, 201);
    const voiceMessage = await waitFor(
      () => bobInbox.find((e) => e.message.id === voice.body.copies[bobPhone])?.message,
      5000,
      'voice',
    );
    const media = voiceMessage.media as Api.MessageMediaDocument;
    assert.equal(media.voice, true);
    const audio = (media.document as Api.Document).attributes.find(
      (a) => a instanceof Api.DocumentAttributeAudio,
    ) as Api.DocumentAttributeAudio;
    assert.equal(audio.voice, true);
    assert.equal(audio.duration, 3);
    assert.equal((media.document as Api.Document).mimeType, 'audio/ogg');
  });

  test('an album arrives as messages sharing a grouped_id, the caption on the first', async () => {
    const sent = await control(sandbox, 'POST', '/messages', {
      from: carolPhone,
      to: bobPhone,
      text: 'holiday',
      album: [
        { kind: 'photo', base64: gradientJpeg(200, 100).toString('base64'), fileName: 'a.jpg' },
        {
          kind: 'video',
          base64: randomBytes(5000).toString('base64'),
          fileName: 'b.mp4',
          duration: 2,
          width: 64,
          height: 48,
        },
      ],
    });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.equal(sent.body.ids.length, 2);
    const messages = await bob.getMessages(`@carol${carolPhone.slice(-4)}`, { limit: 2 });
    const grouped = new Set(messages.map((m) => m.groupedId?.toString()));
    assert.equal(grouped.size, 1);
    assert.ok([...grouped][0]);
    const [video, photo] = messages;
    assert.ok(photo.media instanceof Api.MessageMediaPhoto);
    assert.equal(photo.message, 'holiday');
    assert.ok(video.media instanceof Api.MessageMediaDocument && video.media.video);
    const files = (await control(sandbox, 'GET', `/files?phone=${carolPhone}`)).body;
    assert.ok(files.files.length >= 2);
    assert.equal(files.saveFilePart, 0);
  });

  test('media messages come back from getDifference, and are posted in channels', async () => {
    const state = await bob.invoke(new Api.updates.GetState());
    await control(sandbox, 'POST', '/messages', {
      from: carolPhone,
      to: bobPhone,
      text: 'while away',
      media: { kind: 'document', base64: randomBytes(1000).toString('base64'), fileName: 'w.bin' },
    });
    const difference = await bob.invoke(
      new Api.updates.GetDifference({ pts: state.pts, date: state.date, qts: 0 }),
    );
    assert.ok(difference instanceof Api.updates.Difference);
    const caught = difference.newMessages.find((m) => m instanceof Api.Message && m.message === 'while away');
    assert.ok((caught as Api.Message).media instanceof Api.MessageMediaDocument);

    const channel = await control(sandbox, 'POST', '/chats', {
      type: 'channel',
      title: 'Pictures',
      owner: carolPhone,
      members: [bobPhone],
    });
    const posted = await control(sandbox, 'POST', '/messages', {
      from: carolPhone,
      to: channel.body.id,
      text: 'channel photo',
      media: { kind: 'photo', base64: gradientJpeg(150, 100).toString('base64'), fileName: 'c.jpg' },
    });
    assert.equal(posted.status, 201, JSON.stringify(posted.body));
    const dialogs = await bob.getDialogs({});
    const dialog = dialogs.find((d) => d.title === 'Pictures');
    assert.ok(dialog?.entity);
    const [post] = await bob.getMessages(dialog.entity, { ids: [posted.body.id] });
    assert.equal(post.message, 'channel photo');
    assert.ok(post.media instanceof Api.MessageMediaPhoto);
    const image = (await bob.downloadMedia(post, {})) as Buffer;
    assert.deepEqual([jpeg.decode(image).width, jpeg.decode(image).height], [150, 100]);
  });

  test('bad media bodies get clear 400s', async () => {
    const bad = await control(sandbox, 'POST', '/messages', {
      from: carolPhone,
      to: bobPhone,
      album: [{ kind: 'photo', base64: 'aGk=', fileName: 'a.jpg' }],
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'ALBUM_INVALID');
    const both = await control(sandbox, 'POST', '/messages', {
      from: carolPhone,
      to: bobPhone,
      media: { kind: 'document', base64: 'aGk=', path: '/etc/hostname', fileName: 'a' },
    });
    assert.equal(both.status, 400);
    const notImage = await control(sandbox, 'POST', '/messages', {
      from: carolPhone,
      to: bobPhone,
      media: { kind: 'photo', base64: 'aGVsbG8=', fileName: 'a.jpg' },
    });
    assert.equal(notImage.status, 400);
    assert.equal(notImage.body.error.code, 'IMAGE_PROCESS_FAILED');
    const missing = await control(sandbox, 'POST', '/messages', {
      from: carolPhone,
      to: bobPhone,
      media: { kind: 'document', path: '/nonexistent/file', fileName: 'a' },
    });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'FILE_PATH_INVALID');
  });
});
