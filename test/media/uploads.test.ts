import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { sha256Hex } from '../../src/lib/crypto.js';
import { fetchToStore } from '../../src/modules/media/fetch-source.js';
import { UploadStore } from '../../src/modules/media/upload-store.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { multipartBody, PNG, startFileServer, type FileServer } from './media-fixtures.js';

let t: TestApp;
let files: FileServer;
const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(3000)]);

before(async () => {
  t = await createTestApp();
  files = await startFileServer({
    'doc.pdf': { type: 'application/pdf', data: PDF },
    'pixel.png': { type: 'image/png; charset=binary', data: PNG },
  });
});

after(async () => {
  await t?.close();
  await files?.close();
});

const upload = (payload: unknown, headers: Record<string, string> = {}, app = t) =>
  app.app.inject({
    method: 'POST',
    url: '/api/v1/uploads',
    headers: { 'x-api-key': app.adminKey, ...headers },
    payload: payload as string,
  });
const call = (method: 'GET' | 'DELETE', path: string, app = t) =>
  app.app.inject({ method, url: path, headers: { 'x-api-key': app.adminKey } });

test('base64 and multipart uploads: content-addressed in DATA_DIR with private modes, listed, deleted', async () => {
  const first = await upload({ base64: PNG.toString('base64'), fileName: 'pixel.png' });
  assert.equal(first.statusCode, 201, first.body);
  const a = first.json().data;
  assert.equal(a.sha256, sha256Hex(PNG));
  assert.equal(a.size, PNG.length);
  assert.equal(a.mimeType, 'image/png');
  assert.equal(a.fileName, 'pixel.png');
  assert.match(a.uploadId, /^upl_/);
  const ttl = Date.parse(a.expiresAt) - Date.now();
  assert.ok(ttl > 23 * 3600_000 && ttl <= 24 * 3600_000, `expires in 24 h by default (${ttl} ms)`);

  const form = multipartBody({}, { fileName: 'same.png', contentType: 'image/png', data: PNG });
  const second = await upload(form.payload, form.headers);
  assert.equal(second.statusCode, 201, second.body);
  const b = second.json().data;
  assert.equal(b.sha256, a.sha256, 'the same bytes give the same sha256');
  assert.notEqual(b.uploadId, a.uploadId);
  assert.equal(b.fileName, 'same.png');

  const dir = join(t.dataDir, 'uploads');
  const path = join(dir, a.sha256);
  assert.deepEqual(readFileSync(path), PNG);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n !== 'tmp'),
    [a.sha256],
    'one file for both uploads',
  );
  assert.deepEqual(readdirSync(join(dir, 'tmp')), [], 'nothing left staged');

  const got = await call('GET', `/api/v1/uploads/${a.uploadId}`);
  assert.equal(got.statusCode, 200);
  assert.deepEqual(got.json().data, a);

  assert.equal((await call('DELETE', `/api/v1/uploads/${a.uploadId}`)).statusCode, 200);
  assert.ok(existsSync(path), 'the other upload still holds the file');
  const gone = await call('GET', `/api/v1/uploads/${a.uploadId}`);
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.json().error.code, 'UPLOAD_NOT_FOUND');
  assert.equal((await call('DELETE', `/api/v1/uploads/${b.uploadId}`)).statusCode, 200);
  assert.ok(!existsSync(path), 'the last upload took the file with it');
  assert.equal((await call('DELETE', `/api/v1/uploads/${b.uploadId}`)).statusCode, 404);
});

test('url uploads: fetched from a real HTTP server, named from the URL, type from the bytes; redirects followed', async () => {
  const res = await upload({ url: `${files.url}/doc.pdf` });
  assert.equal(res.statusCode, 201, res.body);
  const data = res.json().data;
  assert.equal(data.sha256, sha256Hex(PDF));
  assert.equal(data.mimeType, 'application/pdf');
  assert.equal(data.fileName, 'doc.pdf');
  const chunked = await upload({ url: `${files.url}/redirect/pixel.png` });
  assert.equal(chunked.statusCode, 201, chunked.body);
  assert.equal(chunked.json().data.mimeType, 'image/png');
  const missing = await upload({ url: `${files.url}/nothing.bin` });
  assert.equal(missing.statusCode, 400);
  assert.match(missing.json().error.message, /HTTP 404/);
});

test('bad upload bodies: 400 in the envelope', async () => {
  const cases: [unknown, string][] = [
    [{ base64: PNG.toString('base64') }, 'body.fileName'],
    [{ base64: '!!not base64!!', fileName: 'x.bin' }, 'body.base64'],
    [{ base64: PNG.toString('base64'), fileName: 'x.png', url: `${files.url}/pixel.png` }, 'body'],
    [{}, 'body'],
    [{ url: 'ftp://example.com/file' }, 'body.url'],
    [{ url: 'http://user:pw@example.com/file' }, 'body.url'],
  ];
  for (const [body, field] of cases) {
    const res = await upload(body);
    assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
    assert.equal(res.json().error.code, 'VALIDATION_ERROR');
    assert.ok(
      res.json().error.details.some((d: { field: string }) => d.field === field),
      `${JSON.stringify(body)} names ${field}: ${res.body}`,
    );
  }
  const twoFiles = multipartBody(
    {},
    { name: 'other', fileName: 'x.png', contentType: 'image/png', data: PNG },
  );
  const wrongPart = await upload(twoFiles.payload, twoFiles.headers);
  assert.equal(wrongPart.statusCode, 400, wrongPart.body);
  const unknownField = multipartBody(
    { colour: 'red' },
    { fileName: 'x.png', contentType: 'image/png', data: PNG },
  );
  const extra = await upload(unknownField.payload, unknownField.headers);
  assert.equal(extra.statusCode, 400, extra.body);
  assert.equal(extra.json().error.details[0].field, 'body.colour');
  assert.deepEqual(readdirSync(join(t.dataDir, 'uploads', 'tmp')), [], 'refused files are not kept');
});

test('limits: 413 PAYLOAD_TOO_LARGE over MEDIA_MAX_FILE_BYTES (multipart, base64, url with and without a length) and over the store cap', async () => {
  const small = await createTestApp({ env: { MEDIA_MAX_FILE_BYTES: '2000', MEDIA_STORE_MAX_BYTES: '5000' } });
  try {
    const big = randomBytes(2500);
    const form = multipartBody(
      {},
      { fileName: 'big.bin', contentType: 'application/octet-stream', data: big },
    );
    const tries = [
      await upload(form.payload, form.headers, small),
      await upload({ base64: big.toString('base64'), fileName: 'big.bin' }, {}, small),
      await upload({ url: `${files.url}/doc.pdf` }, {}, small),
      await upload({ url: `${files.url}/chunked/doc.pdf` }, {}, small),
    ];
    for (const res of tries) {
      assert.equal(res.statusCode, 413, res.body);
      assert.equal(res.json().error.code, 'PAYLOAD_TOO_LARGE');
    }
    assert.deepEqual(readdirSync(join(small.dataDir, 'uploads', 'tmp')), []);

    const first = { base64: randomBytes(1800).toString('base64'), fileName: 'f1.bin' };
    const kept = [
      await upload(first, {}, small),
      await upload({ base64: randomBytes(1800).toString('base64'), fileName: 'f2.bin' }, {}, small),
    ];
    for (const res of kept) assert.equal(res.statusCode, 201, res.body);
    const full = await upload(
      { base64: randomBytes(1800).toString('base64'), fileName: 'f3.bin' },
      {},
      small,
    );
    assert.equal(full.statusCode, 413, full.body);
    assert.match(full.json().error.message, /store is full/);
    // The same bytes again take no more room.
    const again = await upload({ ...first, fileName: 'again.bin' }, {}, small);
    assert.equal(again.statusCode, 201, again.body);
    assert.equal(again.json().data.sha256, kept[0]!.json().data.sha256);
  } finally {
    await small.close();
  }
});

test('the media routes have their own JSON limit (MEDIA_JSON_BODY_LIMIT_BYTES), apart from BODY_LIMIT_BYTES', async () => {
  const limited = await createTestApp({
    env: { BODY_LIMIT_BYTES: '4096', MEDIA_JSON_BODY_LIMIT_BYTES: '65536' },
  });
  try {
    const file = randomBytes(20_000);
    const ok = await upload({ base64: file.toString('base64'), fileName: 'f.bin' }, {}, limited);
    assert.equal(ok.statusCode, 201, 'a base64 body over BODY_LIMIT_BYTES fits the media limit');
    const text = await limited.app.inject({
      method: 'POST',
      url: '/api/v1/messages/send',
      headers: { 'x-api-key': limited.adminKey },
      payload: { sessionId: 's', chatId: 'me', text: 'x'.repeat(5000) },
    });
    assert.equal(text.statusCode, 413, 'other routes keep BODY_LIMIT_BYTES');
    const tooBig = await upload(
      { base64: randomBytes(60_000).toString('base64'), fileName: 'g.bin' },
      {},
      limited,
    );
    assert.equal(tooBig.statusCode, 413);
    assert.equal(tooBig.json().error.code, 'PAYLOAD_TOO_LARGE');
  } finally {
    await limited.close();
  }
});

test('types come from the bytes: a TGS sticker by its name, an unknown file as declared or octet-stream', async () => {
  const tgs = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), randomBytes(200)]);
  const sticker = await upload({ base64: tgs.toString('base64'), fileName: 'hi.tgs' });
  assert.equal(sticker.json().data.mimeType, 'application/x-tgsticker');
  const gzip = await upload({ base64: tgs.toString('base64'), fileName: 'data.gz' });
  assert.equal(gzip.json().data.mimeType, 'application/gzip');
  const text = Buffer.from('plain words');
  const declared = await upload({
    base64: text.toString('base64'),
    fileName: 'a.txt',
    mimeType: 'text/plain',
  });
  assert.equal(declared.json().data.mimeType, 'text/plain');
  const lying = await upload({ base64: PNG.toString('base64'), fileName: 'a.txt', mimeType: 'text/plain' });
  assert.equal(lying.json().data.mimeType, 'image/png', 'the bytes win over the declared type');
  const unknown = await upload({ base64: text.toString('base64'), fileName: 'a.bin' });
  assert.equal(unknown.json().data.mimeType, 'application/octet-stream');
});

test('uploads expire after MEDIA_UPLOAD_TTL: 404 afterwards, and the sweep removes the file', async () => {
  let now = Date.now();
  const timed = await createTestApp({ clock: { now: () => new Date(now) }, env: { MEDIA_UPLOAD_TTL: '1h' } });
  try {
    const res = await upload({ base64: PNG.toString('base64'), fileName: 'p.png' }, {}, timed);
    assert.equal(res.statusCode, 201, res.body);
    const data = res.json().data;
    assert.equal(Date.parse(data.expiresAt), now + 3600_000);
    now += 3599_000;
    assert.equal((await call('GET', `/api/v1/uploads/${data.uploadId}`, timed)).statusCode, 200);
    now += 2000;
    assert.equal((await call('GET', `/api/v1/uploads/${data.uploadId}`, timed)).statusCode, 404);
    const path = join(timed.dataDir, 'uploads', data.sha256);
    assert.ok(existsSync(path));
    // What the periodic sweep runs.
    const store = new UploadStore({
      db: timed.app.services.db.db,
      dataDir: timed.dataDir,
      clock: { now: () => new Date(now) },
      log: pino({ level: 'silent' }),
      ttlSeconds: 3600,
      maxStoreBytes: 1e9,
    });
    await store.sweep();
    assert.ok(!existsSync(path), 'the expired file is removed');
  } finally {
    await timed.close();
  }
});

test('url sources and the SSRF guard: private addresses are refused unless WEBHOOK_ALLOW_PRIVATE, names checked by their resolved addresses', async () => {
  const prod = await createTestApp({ env: { WEBHOOK_ALLOW_PRIVATE: 'false' } });
  try {
    const before = files.requests.length;
    const refused = await upload({ url: `${files.url}/pixel.png` }, {}, prod);
    assert.equal(refused.statusCode, 400, refused.body);
    assert.equal(refused.json().error.details[0].field, 'body.url');
    assert.match(refused.json().error.details[0].message, /private, loopback/);
    assert.equal(files.requests.length, before, 'the loopback server was never dialled');
  } finally {
    await prod.close();
  }

  // A name is judged by what it resolves to: the resolver is injected, nothing private is dialled.
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-fetch-'));
  try {
    const store = new UploadStore({
      db: t.app.services.db.db,
      dataDir: dir,
      clock: { now: () => new Date() },
      log: pino({ level: 'silent' }),
      ttlSeconds: 60,
      maxStoreBytes: 1e9,
    });
    const asked: string[] = [];
    const port = new URL(files.url).port;
    const resolver = async (host: string) => {
      asked.push(host);
      return host === 'intranet.example'
        ? [{ address: '10.1.2.3', family: 4 }]
        : [{ address: '127.0.0.1', family: 4 }];
    };
    const opts = { timeoutMs: 5000, maxBytes: 1e6, userAgent: 'test', resolver };
    await assert.rejects(
      fetchToStore(store, `http://intranet.example:${port}/pixel.png`, { ...opts, allowPrivate: false }),
      (err: { code?: string; details?: { message: string }[] }) =>
        err.code === 'VALIDATION_ERROR' && /private/.test(err.details?.[0]?.message ?? ''),
    );
    const loopback = await fetchToStore(store, `http://files.example:${port}/pixel.png`, {
      ...opts,
      allowPrivate: false,
    }).catch((e: { code?: string }) => e);
    assert.equal((loopback as { code?: string }).code, 'VALIDATION_ERROR', 'loopback by name is refused too');
    const allowed = await fetchToStore(store, `http://files.example:${port}/pixel.png`, {
      ...opts,
      allowPrivate: true,
    });
    assert.equal(allowed.file.sha256, sha256Hex(PNG), 'the injected resolver is what is dialled');
    assert.deepEqual(asked, ['intranet.example', 'files.example', 'files.example']);
    await store.discard(allowed.file);

    const slow = await fetchToStore(store, `${files.url}/slow`, {
      ...opts,
      resolver: undefined,
      allowPrivate: true,
      timeoutMs: 300,
    }).catch((e: { code?: string; message: string }) => e);
    assert.equal((slow as { code?: string }).code, 'BAD_REQUEST');
    assert.match((slow as Error).message, /longer than 300 ms/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a 200 MB multipart upload over a real connection is streamed to disk: memory stays flat, the hash is right', async () => {
  const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const size = 200 * 1024 * 1024;
  const boundary = '----teleflowstream';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const block = randomBytes(1024 * 1024);
  const hash = createHash('sha256');
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const body = Readable.from(
      (function* () {
        yield head;
        for (let sent = 0; sent < size; sent += block.length) {
          hash.update(block);
          yield block;
        }
        yield tail;
      })(),
    );
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${address}/api/v1/uploads`,
        {
          method: 'POST',
          headers: {
            'x-api-key': t.adminKey,
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': String(head.length + size + tail.length),
          },
        },
        (answer) => {
          let text = '';
          answer.on('data', (c: Buffer) => (text += c.toString()));
          answer.on('end', () => resolve({ status: answer.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      body.pipe(req);
    });
    assert.equal(res.status, 201, res.body);
    const data = JSON.parse(res.body).data;
    assert.equal(data.size, size);
    assert.equal(data.sha256, hash.digest('hex'));
    assert.equal(statSync(join(t.dataDir, 'uploads', data.sha256)).size, size);
    // Client and server share this process: a buffered file would add its 200 MB at least once.
    assert.ok(
      peak - baseline < 120 * 1024 * 1024,
      `memory grew by ${Math.round((peak - baseline) / 2 ** 20)} MB`,
    );
    assert.equal((await call('DELETE', `/api/v1/uploads/${data.uploadId}`)).statusCode, 200);
  } finally {
    clearInterval(sampler);
  }
});

test('OpenAPI: the upload and send-media routes describe multipart bodies with a binary file part', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
  const doc = res.json();
  for (const path of ['/api/v1/uploads', '/api/v1/messages/send-media']) {
    const content = doc.paths[path].post.requestBody.content;
    assert.ok(content['application/json'].schema.properties.base64, `${path} JSON takes base64`);
    const form = content['multipart/form-data'].schema;
    assert.deepEqual(form.properties.file, { ...form.properties.file, type: 'string', format: 'binary' });
    assert.ok(form.required.includes('file'), `${path} requires the file part`);
    assert.equal(form.properties.base64, undefined, 'JSON-only sources are not form fields');
  }
  const sendForm =
    doc.paths['/api/v1/messages/send-media'].post.requestBody.content['multipart/form-data'].schema;
  for (const field of ['sessionId', 'chatId', 'kind', 'caption', 'convert'])
    assert.ok(sendForm.properties[field], field);
  assert.ok(doc.paths['/api/v1/messages/send-album'].post.requestBody.content['application/json']);
  assert.ok(doc.paths['/api/v1/uploads/{id}'].get);
  assert.ok(doc.paths['/api/v1/uploads/{id}'].delete);
});
