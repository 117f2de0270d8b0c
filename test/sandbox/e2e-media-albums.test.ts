/**
 * Albums and re-sent media with the real client: messages.uploadMedia + sendMultiMedia (one
 * batch of updates for the recipient), photos and documents sent again by id, file references
 * that expire (POST /file-references/expire, and with age), FILE_MIGRATE_X for files on another
 * DC, and document thumbnails uploaded by the client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import jpeg from 'jpeg-js';
import { Api, errors } from 'teleproto';
import type { TelegramClient } from 'teleproto';
import { CustomFile } from 'teleproto/client/uploads.js';
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

const bufferFile = (fileName: string, bytes: Buffer) => new CustomFile(fileName, bytes.length, '', bytes);

type RawSender = { _sender: { send(request: Api.AnyRequest): Promise<unknown> } };

let sandbox: Sandbox;
let alice: TelegramClient;
let bob: TelegramClient;
const alicePhone = testPhone(6);
const bobPhone = testPhone(7);
const davePhone = testPhone(8);
const name = (phone: string, who: string) => `@${who}${phone.slice(-4)}`;
/** Every Updates pushed to one of Bob's connections. */
const bobPushes: Api.TypeUpdates[] = [];

before(async () => {
  sandbox = await startTestSandbox();
  await control(sandbox, 'POST', '/users', {
    phone: alicePhone,
    firstName: 'Alice',
    username: `alice${alicePhone.slice(-4)}`,
  });
  await control(sandbox, 'POST', '/users', {
    phone: bobPhone,
    firstName: 'Bob',
    username: `bob${bobPhone.slice(-4)}`,
  });
  await control(sandbox, 'POST', '/users', {
    phone: davePhone,
    firstName: 'Dave',
    username: `dave${davePhone.slice(-4)}`,
    dc: 4,
  });
  alice = await signedInClient(sandbox, alicePhone);
  bob = await signedInClient(sandbox, bobPhone);
  await alice.getMe();
  const bobId = Number((await bob.getMe()).id);
  const sink = sandbox.world.updateSink!;
  const push = sink.push.bind(sink);
  sink.push = (keys, updates) => {
    const bobKeys = new Set(sandbox.world.keysOf(bobId));
    if ([...keys].some((key) => bobKeys.has(key))) bobPushes.push(updates);
    push(keys, updates);
  };
});

after(async () => {
  await closeClient(alice);
  await closeClient(bob);
  await sandbox.close();
});

function newMessagesIn(updates: Api.TypeUpdates): Api.Message[] {
  if (!(updates instanceof Api.Updates)) return [];
  return updates.updates
    .filter((u): u is Api.UpdateNewMessage => u instanceof Api.UpdateNewMessage)
    .map((u) => u.message as Api.Message);
}

describe('albums', () => {
  test('an album sent with sendFile (uploadMedia + sendMultiMedia) reaches the recipient as one batch', async () => {
    const files = [gradientJpeg(300, 200), gradientJpeg(200, 300)].map(
      (bytes, i) => new CustomFile(`p${i}.jpg`, bytes.length, '', bytes),
    );
    const sent = await alice.sendFile(name(bobPhone, 'bob'), { file: files, caption: ['first', 'second'] });
    assert.equal((sent as unknown as Api.Message[]).length, 2);
    const batch = await waitFor(
      () => bobPushes.find((updates) => newMessagesIn(updates).length === 2),
      5000,
      'one push with both messages',
    );
    const messages = newMessagesIn(batch);
    assert.ok(messages.every((m) => m.media instanceof Api.MessageMediaPhoto));
    assert.equal(new Set(messages.map((m) => m.groupedId?.toString())).size, 1);
    assert.ok(messages[0].groupedId);
    assert.deepEqual(
      messages.map((m) => m.message),
      ['first', 'second'],
    );
  });

  test('sendMultiMedia refuses too many, too few and mixed items', async () => {
    const uploaded = (await alice.invoke(
      new Api.messages.UploadMedia({
        peer: name(bobPhone, 'bob'),
        media: new Api.InputMediaUploadedPhoto({
          file: await alice.uploadFile({
            file: bufferFile('x.jpg', gradientJpeg(50, 50)),
            workers: 1,
          }),
        }),
      }),
    )) as Api.MessageMediaPhoto;
    const photo = uploaded.photo as Api.Photo;
    const inputPhoto = new Api.InputMediaPhoto({
      id: new Api.InputPhoto({
        id: photo.id,
        accessHash: photo.accessHash,
        fileReference: photo.fileReference,
      }),
    });
    const item = (media: Api.TypeInputMedia) =>
      new Api.InputSingleMedia({ media, message: '', randomId: randomBytes(8).readBigInt64LE() as never });
    const send = (items: Api.InputSingleMedia[]) =>
      alice.invoke(new Api.messages.SendMultiMedia({ peer: name(bobPhone, 'bob'), multiMedia: items }));
    assert.equal(
      await rpcError(send(Array.from({ length: 11 }, () => item(inputPhoto)))),
      'MULTI_MEDIA_TOO_LONG',
    );
    assert.equal(await rpcError(send([item(inputPhoto)])), 'MEDIA_INVALID');
    const doc = (await alice.invoke(
      new Api.messages.UploadMedia({
        peer: name(bobPhone, 'bob'),
        media: new Api.InputMediaUploadedDocument({
          file: await alice.uploadFile({
            file: bufferFile('a.bin', randomBytes(10)),
            workers: 1,
          }),
          mimeType: 'application/octet-stream',
          attributes: [],
        }),
      }),
    )) as Api.MessageMediaDocument;
    const document = doc.document as Api.Document;
    const inputDocument = new Api.InputMediaDocument({
      id: new Api.InputDocument({
        id: document.id,
        accessHash: document.accessHash,
        fileReference: document.fileReference,
      }),
    });
    assert.equal(await rpcError(send([item(inputPhoto), item(inputDocument)])), 'MEDIA_INVALID');
    const fine = (await send([item(inputPhoto), item(inputPhoto)])) as Api.Updates;
    assert.equal(fine.updates.filter((u) => u instanceof Api.UpdateNewMessage).length, 2);
  });
});

describe('file references and sending again by id', () => {
  let message: Api.Message;
  let document: Api.Document;

  before(async () => {
    await control(sandbox, 'POST', '/messages', {
      from: alicePhone,
      to: bobPhone,
      text: 'keep this',
      media: { kind: 'document', base64: randomBytes(10_000).toString('base64'), fileName: 'k.bin' },
    });
    [message] = await bob.getMessages(name(alicePhone, 'alice'), { limit: 1 });
    document = (message.media as Api.MessageMediaDocument).document as Api.Document;
  });

  const location = (doc: Api.Document) =>
    new Api.InputDocumentFileLocation({
      id: doc.id,
      accessHash: doc.accessHash,
      fileReference: doc.fileReference,
      thumbSize: '',
    });
  const getFile = (client: TelegramClient, doc: Api.Document) =>
    client.invoke(new Api.upload.GetFile({ location: location(doc), offset: 0 as never, limit: 4096 }));
  const resend = (client: TelegramClient, doc: Api.Document) =>
    client.invoke(
      new Api.messages.SendMedia({
        peer: name(alicePhone, 'alice'),
        media: new Api.InputMediaDocument({
          id: new Api.InputDocument({
            id: doc.id,
            accessHash: doc.accessHash,
            fileReference: doc.fileReference,
          }),
        }),
        message: 'again',
        randomId: randomBytes(8).readBigInt64LE() as never,
      }),
    );

  test('a document is sent again by id, access hash and file reference', async () => {
    const result = (await resend(bob, document)) as Api.Updates;
    const copy = newMessagesIn(result)[0];
    const sentDoc = (copy.media as Api.MessageMediaDocument).document as Api.Document;
    assert.equal(sentDoc.id.toString(), document.id.toString());
    const [atAlice] = await alice.getMessages(name(bobPhone, 'bob'), { limit: 1 });
    assert.equal(atAlice.message, 'again');
    assert.ok(((await alice.downloadMedia(atAlice, {})) as Buffer).length === 10_000);
  });

  test('expired references answer FILE_REFERENCE_EXPIRED until the message is fetched again', async () => {
    assert.ok(await getFile(bob, document));
    const expired = await control(sandbox, 'POST', '/file-references/expire', { phone: bobPhone });
    assert.equal(expired.status, 200);
    assert.equal(await rpcError(getFile(bob, document)), 'FILE_REFERENCE_EXPIRED');
    assert.equal(await rpcError(resend(bob, document)), 'FILE_REFERENCE_EXPIRED');
    // Alice's references were not aged.
    const [atAlice] = await alice.getMessages(name(bobPhone, 'bob'), { limit: 1 });
    assert.ok(await getFile(alice, (atAlice.media as Api.MessageMediaDocument).document as Api.Document));
    // Fetching the message again gives a fresh reference.
    const [again] = await bob.getMessages(name(alicePhone, 'alice'), { ids: [message.id] });
    const fresh = (again.media as Api.MessageMediaDocument).document as Api.Document;
    assert.notDeepEqual(Buffer.from(fresh.fileReference), Buffer.from(document.fileReference));
    const file = (await getFile(bob, fresh)) as Api.upload.File;
    assert.equal(file.bytes.length, 4096);
    // Everyone's at once.
    await control(sandbox, 'POST', '/file-references/expire', {});
    assert.equal(await rpcError(getFile(bob, fresh)), 'FILE_REFERENCE_EXPIRED');
  });

  test('references age out after fileReferenceTtlMs', async () => {
    const short = await startTestSandbox({ world: { fileReferenceTtlMs: 300 } });
    try {
      const [a, b] = [testPhone(6), testPhone(7)];
      await control(short, 'POST', '/users', { phone: a, firstName: 'A' });
      await control(short, 'POST', '/users', { phone: b, firstName: 'B' });
      const sent = await control(short, 'POST', '/messages', {
        from: a,
        to: b,
        media: { kind: 'document', base64: 'aGVsbG8=', fileName: 'h.txt' },
      });
      const reader = short.world.userByPhone(b)!.id;
      const rendered = short.world.apiMessage(reader, sent.body.copies[b]) as Api.Message;
      const doc = (rendered.media as Api.MessageMediaDocument).document as Api.Document;
      const request = new Api.upload.GetFile({ location: location(doc), offset: 0 as never, limit: 4096 });
      assert.equal((await short.world.media.getFile(undefined, request)).bytes.toString(), 'hello');
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(await rpcError(short.world.media.getFile(undefined, request)), 'FILE_REFERENCE_EXPIRED');
    } finally {
      await short.close();
    }
  });
});

describe('files on another data centre', () => {
  test('getFile on the wrong DC answers FILE_MIGRATE_4; downloadMedia follows it', async () => {
    const bytes = randomBytes(70_000);
    await control(sandbox, 'POST', '/messages', {
      from: davePhone,
      to: bobPhone,
      text: 'from DC 4',
      media: { kind: 'document', base64: bytes.toString('base64'), fileName: 'd.bin' },
    });
    const [message] = await bob.getMessages(name(davePhone, 'dave'), { limit: 1 });
    const doc = (message.media as Api.MessageMediaDocument).document as Api.Document;
    assert.equal(doc.dcId, 4);
    const request = new Api.upload.GetFile({
      location: new Api.InputDocumentFileLocation({
        id: doc.id,
        accessHash: doc.accessHash,
        fileReference: doc.fileReference,
        thumbSize: '',
      }),
      offset: 0 as never,
      limit: 65536,
    });
    // Bob's own connection is DC 2, the file's DC is 4.
    const migrate = await (bob as unknown as RawSender)._sender.send(request).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(migrate instanceof errors.FileMigrateError, String(migrate));
    assert.equal(migrate.newDc, 4);
    // Asked on DC 2 on purpose, the client follows FILE_MIGRATE_4 (auth.exportAuthorization there).
    const viaMigrate = (await bob.downloadFile(request.location, { dcId: 2, fileSize: doc.size })) as Buffer;
    assert.ok(viaMigrate.equals(bytes));
    const direct = (await bob.downloadMedia(message, {})) as Buffer;
    assert.ok(direct.equals(bytes));
  });
});

describe('uploads from an account of another data centre', () => {
  test("a DC 4 account's upload is stored on DC 4 and a DC 2 account downloads it", async () => {
    const erinPhone = testPhone(9);
    await control(sandbox, 'POST', '/users', {
      phone: erinPhone,
      firstName: 'Erin',
      username: `erin${erinPhone.slice(-4)}`,
      dc: 4,
    });
    // Signs in through DC 2, is sent to DC 4 (PHONE_MIGRATE_4) and uploads there.
    const erin = await signedInClient(sandbox, erinPhone);
    try {
      const bytes = randomBytes(200_000);
      await erin.sendFile(name(bobPhone, 'bob'), {
        file: bufferFile('e.bin', bytes),
        forceDocument: true,
        caption: 'from Erin',
      });
      const files = (await control(sandbox, 'GET', `/files?phone=${erinPhone}`)).body;
      assert.deepEqual(
        files.files.map((f: { dc: number; size: number }) => [f.dc, f.size]),
        [[4, bytes.length]],
      );
      assert.ok(files.saveFilePart > 0);
      const [message] = await bob.getMessages(name(erinPhone, 'erin'), { limit: 1 });
      assert.equal(((message.media as Api.MessageMediaDocument).document as Api.Document).dcId, 4);
      assert.ok(((await bob.downloadMedia(message, {})) as Buffer).equals(bytes));
    } finally {
      await closeClient(erin);
    }
  });
});

describe('document thumbnails', () => {
  test('a thumb uploaded with a video becomes document.thumbs (m and i) and downloads', async () => {
    const video = randomBytes(50_000);
    const thumb = gradientJpeg(640, 360);
    await alice.sendFile(name(bobPhone, 'bob'), {
      file: new CustomFile('clip.mp4', video.length, '', video),
      thumb,
      attributes: [new Api.DocumentAttributeVideo({ duration: 3, w: 640, h: 360, supportsStreaming: true })],
      caption: 'clip',
    });
    const [message] = await bob.getMessages(name(alicePhone, 'alice'), { limit: 1 });
    assert.equal(message.message, 'clip');
    const media = message.media as Api.MessageMediaDocument;
    assert.equal(media.video, true);
    const doc = media.document as Api.Document;
    const thumbs = doc.thumbs ?? [];
    assert.ok(thumbs.some((t) => t instanceof Api.PhotoStrippedSize));
    const m = thumbs.find((t): t is Api.PhotoSize => t instanceof Api.PhotoSize && t.type === 'm');
    assert.deepEqual([m?.w, m?.h], [320, 180]);
    const file = (await bob.invoke(
      new Api.upload.GetFile({
        location: new Api.InputDocumentFileLocation({
          id: doc.id,
          accessHash: doc.accessHash,
          fileReference: doc.fileReference,
          thumbSize: 'm',
        }),
        offset: 0 as never,
        limit: 512 * 1024,
      }),
    )) as Api.upload.File;
    assert.ok(file.type instanceof Api.storage.FileJpeg);
    const decoded = jpeg.decode(file.bytes);
    assert.deepEqual([decoded.width, decoded.height], [320, 180]);
    assert.ok(((await bob.downloadMedia(message, {})) as Buffer).equals(video));
  });
});
