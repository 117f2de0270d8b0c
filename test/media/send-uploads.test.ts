/**
 * Uploads that are reused: one upload sent to several chats reaches Telegram once per session
 * (the sandbox counts upload.saveFilePart calls), an expired file reference uploads it again;
 * big files in parts; Idempotency-Key retries; session isolation.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { sha256Hex } from '../../src/lib/crypto.js';
import { signIn } from '../helpers/telegram.js';
import {
  documentOf,
  multipartBody,
  newestFrom,
  postForm,
  startMediaWorld,
  type MediaWorld,
} from './media-fixtures.js';

let w: MediaWorld;

before(async () => {
  w = await startMediaWorld();
});

after(async () => {
  await w?.close();
});

interface FilesReport {
  files: { id: string; size: number; sha256: string; parts: number; big: boolean }[];
  saveFilePart: number;
  saveBigFilePart: number;
}
const filesOf = (phone: string) => w.sbx.control<FilesReport>('GET', `/files?phone=${phone}`);

const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(700 * 1024)]);

test('one upload sent to three chats is uploaded to Telegram once; an expired file reference uploads it again', async () => {
  const carol = await signIn(w.t, w.sbx, { username: `carol${randomBytes(3).toString('hex')}` });
  const group = await w.sbx.control<{ id: string }>('POST', '/chats', {
    type: 'group',
    title: 'Files',
    owner: w.alice.phone,
    members: [carol.phone],
  });
  await w.t.call('GET', `/api/v1/chats?sessionId=${w.alice.sessionId}`);
  const up = await w.t.call('POST', '/api/v1/uploads', {
    base64: PDF.toString('base64'),
    fileName: 'notes.pdf',
  });
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const { uploadId } = up.body.data;
  const before = await filesOf(w.alice.phone);

  for (const [chatId, caption] of [
    [`@${w.bobName}`, 'to bob'],
    [group.id, 'to the group'],
    ['me', 'to myself'],
  ]) {
    const res = await w.t.call('POST', '/api/v1/messages/send-media', {
      sessionId: w.alice.sessionId,
      chatId,
      kind: 'document',
      uploadId,
      caption,
    });
    assert.equal(res.status, 200, `${caption}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.data.media.kind, 'document');
    assert.equal(res.body.data.media.fileName, 'notes.pdf');
    assert.equal(res.body.data.media.size, PDF.length);
  }
  const after = await filesOf(w.alice.phone);
  assert.equal(after.files.length - before.files.length, 1, 'one file uploaded for three sends');
  assert.equal(
    after.saveFilePart - before.saveFilePart,
    Math.ceil(PDF.length / (512 * 1024)),
    'its parts once',
  );
  assert.equal(after.files.at(-1)?.sha256, sha256Hex(PDF));
  const atBob = await newestFrom(w.bob, w.alice.username, 'to bob');
  assert.ok(((await w.bob.downloadMedia(atBob, {})) as Buffer).equals(PDF), 'Bob gets the bytes');
  const inGroup = await w.t.call(
    'GET',
    `/api/v1/messages/history?sessionId=${carol.sessionId}&chatId=${group.id}&limit=1`,
  );
  assert.equal(inGroup.body.data[0].text, 'to the group');
  assert.equal(inGroup.body.data[0].media.kind, 'document');

  // Telegram ages file references: a send by id answers FILE_REFERENCE_EXPIRED, and the file
  // is uploaded again.
  await w.sbx.control('POST', '/file-references/expire', { phone: w.alice.phone });
  const again = await w.t.call('POST', '/api/v1/messages/send-media', {
    sessionId: w.alice.sessionId,
    chatId: `@${w.bobName}`,
    kind: 'document',
    uploadId,
    caption: 'after expiry',
  });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  const reuploaded = await filesOf(w.alice.phone);
  assert.equal(reuploaded.files.length - after.files.length, 1, 'uploaded again once');
  const atBobAgain = await newestFrom(w.bob, w.alice.username, 'after expiry');
  assert.ok(((await w.bob.downloadMedia(atBobAgain, {})) as Buffer).equals(PDF));
  // The new reference is remembered: the next send uploads nothing.
  const third = await w.t.call('POST', '/api/v1/messages/send-media', {
    sessionId: w.alice.sessionId,
    chatId: 'me',
    kind: 'document',
    uploadId,
  });
  assert.equal(third.status, 200, JSON.stringify(third.body));
  assert.equal((await filesOf(w.alice.phone)).files.length, reuploaded.files.length);
});

test('a file over 10 MB goes up in big parts (multipart body, streamed) and arrives whole', async () => {
  const big = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(11 * 1024 * 1024)]);
  const before = await filesOf(w.alice.phone);
  const form = multipartBody(
    { sessionId: w.alice.sessionId, chatId: `@${w.bobName}`, kind: 'document', caption: 'big file' },
    { fileName: 'big.pdf', contentType: 'application/pdf', data: big },
  );
  const res = await postForm(w.t, '/api/v1/messages/send-media', form);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().data.media.size, big.length);
  const after = await filesOf(w.alice.phone);
  const file = after.files.at(-1)!;
  assert.equal(file.big, true);
  assert.equal(file.size, big.length);
  assert.equal(after.saveBigFilePart - before.saveBigFilePart, Math.ceil(big.length / (512 * 1024)));
  assert.equal(after.saveFilePart, before.saveFilePart);
  const seen = await newestFrom(w.bob, w.alice.username, 'big file');
  assert.equal(documentOf(seen).size.toString(), String(big.length));
  assert.ok(((await w.bob.downloadMedia(seen, {})) as Buffer).equals(big), 'the same bytes');
});

test('Idempotency-Key: a retry answers the first message and sends nothing; another body with the key is 409', async () => {
  const body = {
    sessionId: w.alice.sessionId,
    chatId: 'me',
    kind: 'document',
    base64: PDF.subarray(0, 4096).toString('base64'),
    fileName: 'once.pdf',
    caption: 'only once',
  };
  const headers = { 'idempotency-key': `media-${randomBytes(4).toString('hex')}` };
  const first = await w.t.call('POST', '/api/v1/messages/send-media', body, headers);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const retry = await w.t.call('POST', '/api/v1/messages/send-media', body, headers);
  assert.equal(retry.status, 200);
  assert.deepEqual(retry.body.data, first.body.data);
  const history = await w.t.call(
    'GET',
    `/api/v1/messages/history?sessionId=${w.alice.sessionId}&chatId=me&limit=5`,
  );
  assert.equal(history.body.data.filter((m: { text: string }) => m.text === 'only once').length, 1);
  const other = await w.t.call(
    'POST',
    '/api/v1/messages/send-media',
    { ...body, caption: 'changed' },
    headers,
  );
  assert.equal(other.status, 409);
  assert.equal(other.body.error.code, 'CONFLICT');
});

test('a key limited to another session: 404 SESSION_NOT_FOUND on send-media and send-album, nothing sent', async () => {
  const other = await signIn(w.t, w.sbx);
  const limited = await w.t.keyFor('operator', [other.sessionId]);
  const headers = { 'x-api-key': limited };
  const one = await w.t.call(
    'POST',
    '/api/v1/messages/send-media',
    {
      sessionId: w.alice.sessionId,
      chatId: 'me',
      kind: 'document',
      base64: 'JVBERi0=',
      caption: 'not yours',
    },
    headers,
  );
  assert.equal(one.status, 404, JSON.stringify(one.body));
  assert.equal(one.body.error.code, 'SESSION_NOT_FOUND');
  const form = multipartBody(
    { sessionId: w.alice.sessionId, chatId: 'me', kind: 'document' },
    { fileName: 'x.pdf', contentType: 'application/pdf', data: PDF.subarray(0, 100) },
  );
  const viaForm = await postForm(w.t, '/api/v1/messages/send-media', form, limited);
  assert.equal(viaForm.statusCode, 404, viaForm.body);
  const album = await w.t.call(
    'POST',
    '/api/v1/messages/send-album',
    {
      sessionId: w.alice.sessionId,
      chatId: 'me',
      items: [
        { kind: 'document', base64: 'JVBERi0=' },
        { kind: 'document', base64: 'JVBERi0=' },
      ],
    },
    headers,
  );
  assert.equal(album.status, 404, JSON.stringify(album.body));
  const history = await w.t.call(
    'GET',
    `/api/v1/messages/history?sessionId=${w.alice.sessionId}&chatId=me&limit=3`,
  );
  assert.ok(!history.body.data.some((m: { text: string }) => m.text === 'not yours'));
});
