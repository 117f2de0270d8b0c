/**
 * Downloading received media end to end against the sandbox: Range (start, middle, suffix,
 * two ranges, 416), HEAD, ETag, Content-Disposition, an expired file reference renewed on the
 * fly, a file kept on another DC, signed links, the disk cache, and who may download.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { testPhone } from '../helpers/sandbox.js';
import {
  createTelegramTestApp,
  signIn,
  startTestSandbox,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';
import { assertBytes, download, fileBytes, receivedWithMedia, sendFromApp } from './download-fixtures.js';

let sbx: TestSandbox;
let t: TelegramTestApp;
let me: { sessionId: string; phone: string; userId: string };
let friend: { phone: string; id: string };
const seen = new Set<number>();
/** A 1.2 MB file (three 512 KB parts) received once, for the range tests. */
const bytes = fileBytes(1_200_000);
let mediaId: string;
let url: string;

async function newFriend(dc?: number) {
  const phone = testPhone();
  const created = await sbx.control<{ id: string }>('POST', '/users', { phone, ...(dc ? { dc } : {}) });
  return { phone, id: created.id };
}

/** A document from `from` to me; its mediaId. */
async function receive(from: { phone: string; id: string }, content: Buffer, fileName = 'data.bin') {
  await sendFromApp(sbx, from.phone, me.phone, { kind: 'document', fileName, bytes: content });
  const message = await receivedWithMedia(t, me.sessionId, from.id, seen);
  return message.media.mediaId as string;
}

const getFileCalls = () => sbx.sandbox.rateLimits.calls('upload.getFile', me.userId);

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx, { env: { MEDIA_CACHE_MAX_BYTES: String(4 * 1024 * 1024) } });
  me = await signIn(t, sbx);
  friend = await newFriend();
  mediaId = await receive(friend, bytes, 'Отчёт "Q1".bin');
  url = `/api/v1/media/${mediaId}?sessionId=${me.sessionId}`;
});

after(async () => {
  await t?.close();
  await sbx?.close();
});

test('GET: the whole file with its type, length, name, validator and cache headers; HEAD: the headers alone', async () => {
  const res = await download(t, url, { range: 'bytes=0-0' }); // a range: the cache stays empty here
  assert.equal(res.status, 206);
  const whole = await download(t, url);
  assert.equal(whole.status, 200);
  assertBytes(whole.body, bytes, 'whole file');
  assert.equal(whole.headers['content-type'], 'application/octet-stream');
  assert.equal(whole.headers['accept-ranges'], 'bytes');
  assert.match(String(whole.headers['cache-control']), /private/);
  assert.equal(
    whole.headers['content-disposition'],
    `inline; filename="_____ _Q1_.bin"; filename*=UTF-8''%D0%9E%D1%82%D1%87%D1%91%D1%82%20%22Q1%22.bin`,
  );
  const etag = String(whole.headers.etag);
  assert.match(etag, /^"[\w-]+"$/);

  const calls = getFileCalls();
  const head = await download(t, url, {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(bytes.length));
  assert.equal(head.headers.etag, etag);
  assert.equal(head.body.length, 0);
  assert.equal(getFileCalls(), calls, 'HEAD reads nothing from Telegram');

  const again = await download(t, url, { 'if-none-match': etag });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
});

test('Range: start, middle across a part boundary, suffix, open end, two ranges in order, 416', async () => {
  const cases: [string, number, number][] = [
    ['bytes=0-99', 0, 99],
    ['bytes=524000-525999', 524_000, 525_999],
    ['bytes=-500', bytes.length - 500, bytes.length - 1],
    ['bytes=1100000-', 1_100_000, bytes.length - 1],
    ['bytes=1199999-5000000', 1_199_999, bytes.length - 1],
  ];
  for (const [range, start, end] of cases) {
    const res = await download(t, url, { range });
    assert.equal(res.status, 206, range);
    assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${bytes.length}`, range);
    assert.equal(res.headers['content-length'], String(end - start + 1), range);
    assertBytes(res.body, bytes.subarray(start, end + 1), range);
  }

  const two = await download(t, url, { range: 'bytes=700000-700099, 10-19' });
  assert.equal(two.status, 206);
  const type = String(two.headers['content-type']);
  const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(type)?.[1];
  assert.ok(boundary, type);
  assert.equal(two.headers['content-length'], String(two.body.length));
  const text = two.body.toString('latin1');
  const parts = text.split(`--${boundary}`).slice(1, -1);
  assert.equal(parts.length, 2);
  assert.equal(text.endsWith(`--${boundary}--\r\n`), true);
  const expected: [number, number][] = [
    [700_000, 700_099],
    [10, 19],
  ];
  parts.forEach((part, i) => {
    const [start, end] = expected[i]!;
    const [head, body] = part.split('\r\n\r\n') as [string, string];
    assert.match(head, new RegExp(`Content-Range: bytes ${start}-${end}/${bytes.length}`));
    assertBytes(Buffer.from(body.slice(0, -2), 'latin1'), bytes.subarray(start, end + 1), `part ${i}`);
  });

  const beyond = await download(t, url, { range: `bytes=${bytes.length}-` });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers['content-range'], `bytes */${bytes.length}`);
  assert.equal(beyond.json().error.code, 'RANGE_NOT_SATISFIABLE');

  const stale = await download(t, url, { range: 'bytes=0-9', 'if-range': '"another-file"' });
  assert.equal(stale.status, 200, 'If-Range with another validator: the whole file');
  assert.equal(stale.body.length, bytes.length);
});

test('an expired file reference is renewed by fetching the message again, unseen by the client', async () => {
  const other = await receive(friend, fileBytes(700_000));
  const first = await download(t, `/api/v1/media/${other}?sessionId=${me.sessionId}`, { range: 'bytes=0-9' });
  assert.equal(first.status, 206);
  const fetches = sbx.sandbox.rateLimits.calls('messages.getMessages', me.userId);
  await sbx.control('POST', '/file-references/expire', { phone: me.phone });
  const res = await download(t, `/api/v1/media/${other}?sessionId=${me.sessionId}`, {
    range: 'bytes=600000-',
  });
  assert.equal(res.status, 206);
  assert.equal(res.body.length, 100_000);
  assert.ok(
    sbx.sandbox.rateLimits.calls('messages.getMessages', me.userId) > fetches,
    'the message was fetched again for a fresh reference',
  );
});

test('a file kept on another DC is read there (uploader on DC 4, session on DC 2), and FILE_MIGRATE is followed', async () => {
  const far = await newFriend(4);
  const content = fileBytes(900_000);
  const farId = await receive(far, content);
  const res = await download(t, `/api/v1/media/${farId}?sessionId=${me.sessionId}`);
  assert.equal(res.status, 200);
  assertBytes(res.body, content, 'file on DC 4');
  assert.ok(sbx.sandbox.rateLimits.calls('auth.exportAuthorization', me.userId) >= 1, 'authorized on DC 4');

  // Asked on the wrong DC once (a file that moved), the download follows FILE_MIGRATE_X.
  const near = await receive(friend, fileBytes(300_000));
  await sbx.control('POST', '/faults', {
    error: 'FILE_MIGRATE_4',
    method: 'upload.getFile',
    phone: me.phone,
    count: 1,
  });
  const moved = await download(t, `/api/v1/media/${near}?sessionId=${me.sessionId}`, { range: 'bytes=0-99' });
  assert.equal(moved.status, 206, moved.body.toString().slice(0, 300));
  assert.equal(moved.body.length, 100);
});

test('signed links download without credentials until they expire; changed ones are refused', async () => {
  const made = await t.call('POST', `/api/v1/media/${mediaId}/link`, { sessionId: me.sessionId });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  const link = new URL(made.body.data.url as string);
  assert.ok(Date.parse(made.body.data.expiresAt as string) > Date.now() + 3500_000);
  const anonymous = await t.app.inject({ url: link.pathname });
  assert.equal(anonymous.statusCode, 200);
  assertBytes(anonymous.rawPayload, bytes, 'through the link');
  const ranged = await t.app.inject({ url: link.pathname, headers: { range: 'bytes=-10' } });
  assert.equal(ranged.statusCode, 206);
  assertBytes(ranged.rawPayload, bytes.subarray(-10), 'range through the link');

  const token = link.pathname.split('/').pop()!;
  const [v, payload, sig] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as unknown[];
  claims[3] = (claims[3] as number) + 86_400;
  const stretched = `${v}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
  for (const bad of [stretched, `${v}.${payload}.${sig.slice(0, -3)}abc`]) {
    const res = await t.app.inject({ url: `/media/links/${bad}` });
    assert.equal(res.statusCode, 401, bad);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'UNAUTHORIZED');
  }

  const short = await t.call('POST', `/api/v1/media/${mediaId}/link`, {
    sessionId: me.sessionId,
    expiresIn: 1,
  });
  const shortPath = new URL(short.body.data.url as string).pathname;
  await new Promise((r) => setTimeout(r, 2100));
  const expired = await t.app.inject({ url: shortPath });
  assert.equal(expired.statusCode, 401);
  assert.match((expired.json() as { error: { message: string } }).error.message, /expired/);
});

test('a key limited to another session gets 404 MEDIA_NOT_FOUND; viewers download; bad ids are 404', async () => {
  const other = await signIn(t, sbx);
  const limited = await t.keyFor('admin', [other.sessionId]);
  for (const method of ['GET', 'HEAD'] as const) {
    const res = await t.app.inject({ method, url, headers: { 'x-api-key': limited } });
    assert.equal(res.statusCode, 404, method);
    if (method === 'GET')
      assert.equal((res.json() as { error: { code: string } }).error.code, 'MEDIA_NOT_FOUND');
  }
  const link = await t.call(
    'POST',
    `/api/v1/media/${mediaId}/link`,
    { sessionId: me.sessionId },
    { 'x-api-key': limited },
  );
  assert.equal(link.status, 404);
  assert.equal(link.body.error.code, 'MEDIA_NOT_FOUND');
  // The other session cannot reach my message's file through its own id either.
  const throughOther = await download(t, `/api/v1/media/${mediaId}?sessionId=${other.sessionId}`);
  assert.equal(throughOther.status, 404);
  assert.equal(throughOther.json().error.code, 'MEDIA_NOT_FOUND');

  const viewer = await t.keyFor('viewer');
  const viewed = await t.app.inject({ url, headers: { 'x-api-key': viewer, range: 'bytes=0-9' } });
  assert.equal(viewed.statusCode, 206);

  for (const bad of ['not-a-media-id', Buffer.from('1.123.1.d.5').toString('base64url')]) {
    const res = await download(t, `/api/v1/media/${bad}?sessionId=${me.sessionId}`);
    assert.equal(res.status, 404, bad);
    assert.equal(res.json().error.code, 'MEDIA_NOT_FOUND');
  }
  const noSession = await download(t, `/api/v1/media/${mediaId}?sessionId=sess_missing`);
  assert.equal(noSession.json().error.code, 'MEDIA_NOT_FOUND');
  const badThumb = await download(t, `${url}&thumb=xx`);
  assert.equal(badThumb.status, 400);
  assert.equal(badThumb.json().error.code, 'VALIDATION_ERROR');
});

test('the disk cache serves a file read whole once without asking Telegram again', async () => {
  const content = fileBytes(800_000);
  const id = await receive(friend, content);
  const fileUrl = `/api/v1/media/${id}?sessionId=${me.sessionId}`;
  const first = await download(t, fileUrl);
  assertBytes(first.body, content, 'first');
  const calls = getFileCalls();
  const second = await download(t, fileUrl);
  assertBytes(second.body, content, 'from the cache');
  const part = await download(t, fileUrl, { range: 'bytes=100-199' });
  assertBytes(part.body, content.subarray(100, 200), 'a range from the cache');
  assert.equal(getFileCalls(), calls, 'no upload.getFile for cached bytes');
});

test('the OpenAPI document describes the downloads as binary', async () => {
  const doc = (await t.app.inject({ url: '/docs/json' })).json() as {
    paths: Record<string, Record<string, { responses: Record<string, any> }>>;
  };
  const get = doc.paths['/api/v1/media/{mediaId}']?.get;
  assert.ok(get, 'GET /api/v1/media/{mediaId} is documented');
  assert.deepEqual(get.responses['200'].content['application/octet-stream'].schema, {
    type: 'string',
    format: 'binary',
  });
  assert.ok(doc.paths['/media/links/{token}']?.get, 'the signed link route is documented');
});

test('20 downloads of different files at once all arrive whole (parts queue per account, not on the wire)', async () => {
  const files = Array.from({ length: 20 }, () => fileBytes(2 * 1024 * 1024));
  const ids: string[] = [];
  for (const content of files) ids.push(await receive(friend, content));
  const answers = await Promise.all(
    ids.map((id) => download(t, `/api/v1/media/${id}?sessionId=${me.sessionId}`)),
  );
  answers.forEach((res, i) => {
    assert.equal(res.status, 200, `download ${i}`);
    assertBytes(res.body, files[i]!, `download ${i}`);
  });
});
