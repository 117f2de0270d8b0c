/**
 * A 200 MB download through a real TeleFlow process stays flat in memory: the file (sent by
 * path from the sandbox's disk) streams from Telegram as the client reads it, and the
 * process's resident set grows by well under 64 MB. The bytes arrive whole (SHA-256), and a
 * client reading slowly holds TeleFlow back instead of making it buffer.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TEST_SECRETS } from '../helpers/app.js';
import { testPhone } from '../helpers/sandbox.js';
import { startTestSandbox, waitFor, type TestSandbox } from '../helpers/telegram.js';
import {
  api,
  drain,
  rssOf,
  signInOverHttp,
  startTeleflowProcess,
  writeRandomFile,
} from './download-fixtures.js';

const SIZE = 200 * 1024 * 1024;
const MAX_GROWTH = 64 * 1024 * 1024;

let sbx: TestSandbox;
let teleflow: Awaited<ReturnType<typeof startTeleflowProcess>>;
const file = join(tmpdir(), `teleflow-media-200mb-${process.pid}.bin`);
let sha256: string;
let url: string;

before(async () => {
  sbx = await startTestSandbox();
  sha256 = await writeRandomFile(file, SIZE);
  teleflow = await startTeleflowProcess({ ...sbx.sandbox, pemFile: sbx.pemFile });
  const phone = testPhone();
  const sessionId = await signInOverHttp(teleflow.base, sbx.sandbox.controlUrl, phone);
  const sender = testPhone();
  const created = await sbx.control<{ id: string }>('POST', '/users', { phone: sender, firstName: 'Sender' });
  await sbx.control('POST', '/messages', {
    from: sender,
    to: phone,
    text: 'big file',
    media: { kind: 'document', path: file, fileName: 'big.bin' },
  });
  const message = await waitFor(
    async () => {
      const history = (await api(
        teleflow.base,
        'GET',
        `/api/v1/messages/history?sessionId=${sessionId}&chatId=${created.id}&limit=1`,
      )) as { media: { mediaId: string; size: number } | null }[];
      return history[0]?.media ? history[0] : undefined;
    },
    20_000,
    'the big file to arrive',
  );
  assert.equal(message.media!.size, SIZE);
  url = `${teleflow.base}/api/v1/media/${message.media!.mediaId}?sessionId=${sessionId}`;
});

after(async () => {
  await teleflow?.stop();
  await sbx?.close();
  rmSync(file, { force: true });
});

test('a 200 MB download streams: byte for byte, and the process grows by well under 64 MB', async (t) => {
  const headers = { 'x-api-key': TEST_SECRETS.API_KEY };
  // The baseline is the steady state of a process that downloads: connections and code warm,
  // and the garbage V8 lets pile up before collecting it (about 64 MB of buffers outside its
  // heap) already reached once, by a first 64 MB. What the 200 MB download then adds is what
  // it holds.
  await drain(await fetch(url, { headers: { ...headers, range: `bytes=0-${64 * 1024 * 1024 - 1}` } }));
  const pid = teleflow.server.child.pid!;
  const baseline = rssOf(pid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
  try {
    const res = await fetch(url, { headers });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(SIZE));
    const got = await drain(res, () => (peak = Math.max(peak, rssOf(pid))));
    assert.equal(got.bytes, SIZE);
    assert.equal(got.sha256, sha256, 'the bytes are the file');
  } finally {
    clearInterval(sampler);
  }
  const growth = peak - baseline;
  t.diagnostic(
    `RSS baseline ${(baseline / 2 ** 20).toFixed(1)} MB, peak growth ${(growth / 2 ** 20).toFixed(1)} MB`,
  );
  assert.ok(growth < MAX_GROWTH, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MB`);
});

test('a client that stops reading holds the download back instead of filling memory', async () => {
  const pid = teleflow.server.child.pid!;
  const res = await fetch(url, { headers: { 'x-api-key': TEST_SECRETS.API_KEY } });
  const reader = res.body!.getReader();
  await reader.read();
  const before = rssOf(pid);
  await new Promise((r) => setTimeout(r, 1500)); // the client reads nothing meanwhile
  const paused = rssOf(pid) - before;
  await reader.cancel();
  assert.ok(
    paused < 32 * 1024 * 1024,
    `RSS grew by ${(paused / 2 ** 20).toFixed(1)} MB while the client paused`,
  );
});
