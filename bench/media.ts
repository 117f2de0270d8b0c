/**
 * `npm run bench -- media`: moving files through TeleFlow beside the client library alone,
 * against the sandbox in its own process (bench/sandbox-child.ts), TeleFlow in its own
 * (src/server.ts, so its memory is its own).
 *   1. Downloading BENCH_MEDIA_MB (default 100) MB: GET /api/v1/media/:mediaId over real HTTP
 *      beside a direct teleproto client reading the same size with iterDownload (512 KB
 *      requests): MB/s each and the ratio (target: TeleFlow at least 0.8x direct).
 *   2. Uploading the same size: POST /api/v1/uploads (multipart) + POST /messages/send-media
 *      beside client.sendFile: MB/s each and the ratio.
 *   3. BENCH_MEDIA_CONCURRENT (default 20) downloads of different files of
 *      BENCH_MEDIA_CONCURRENT_MB (default 5) MB at once: aggregate MB/s.
 *   4. TeleFlow's resident set while it serves a BENCH_MEDIA_RSS_MB (default 200) MB download,
 *      sampled every 50 ms after a 64 MB warm-up (target: growth under 64 MB).
 * Both sides use the same AES-IGE (TeleFlow's, src/telegram/transfer-speed.ts), so the ratio
 * measures TeleFlow's path, not the cipher. The sandbox serves both and is usually the limit on
 * a small machine: the absolute figures say more about it than about either side.
 */
import { spawn } from 'node:child_process';
import { openAsBlob, rmSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import type { Api, TelegramClient } from 'teleproto';
import { consecutiveDcs } from '../src/telegram/dc.js';
import { applyTransferSpeedups } from '../src/telegram/transfer-speed.js';
import { TEST_SECRETS } from '../test/helpers/app.js';
import { createSandboxClient } from '../test/helpers/sandbox-client.js';
import {
  api,
  drain,
  rssOf,
  signInOverHttp,
  startTeleflowProcess,
  writeRandomFile,
} from '../test/media/download-fixtures.js';

const MB = 1024 * 1024;
const SIZE_MB = Number(process.env.BENCH_MEDIA_MB ?? 100);
const CONCURRENT = Number(process.env.BENCH_MEDIA_CONCURRENT ?? 20);
const CONCURRENT_MB = Number(process.env.BENCH_MEDIA_CONCURRENT_MB ?? 5);
const RSS_MB = Number(process.env.BENCH_MEDIA_RSS_MB ?? 200);
/** Download rounds, alternating which side goes first; the median of each side is shown. */
const ROUNDS = Number(process.env.BENCH_MEDIA_ROUNDS ?? 2);
/** Upload rounds, alternating the same way. */
const UP_ROUNDS = Number(process.env.BENCH_MEDIA_UPLOAD_ROUNDS ?? 2);
/** BENCH_MEDIA_ONLY=upload: the upload comparison alone. */
const ONLY_UPLOAD = process.env.BENCH_MEDIA_ONLY === 'upload';
/** Longest any one transfer may take before the benchmark gives up on it. */
const TRANSFER_TIMEOUT_MS = 15 * 60_000;

applyTransferSpeedups();
const dir = mkdtempSync(join(tmpdir(), 'teleflow-bench-media-'));
const rate = (bytes: number, ms: number) => bytes / MB / (ms / 1000);
const fmt = (v: number) => `${v.toFixed(2)} MB/s`;

async function startSandboxProcess() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/sandbox-child.ts'], {
    cwd: new URL('..', import.meta.url).pathname,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<{ host: string; port: number; controlUrl: string; publicKeyPem: string }>(
    (resolve) => lines.once('line', (line) => resolve((JSON.parse(line) as { ready: never }).ready)),
  );
  const pemFile = join(dir, 'sandbox.pem');
  writeFileSync(pemFile, ready.publicKeyPem);
  return { ...ready, pemFile, close: () => child.stdin!.write('close\n') };
}

const sandbox = await startSandboxProcess();
async function control(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${sandbox.controlUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`control ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

const teleflow = await startTeleflowProcess(sandbox, { MEDIA_CACHE_MAX_BYTES: '0' });
const phones = { receiver: '9996610001', direct: '9996620002', sender: '9996630003' };
const sessionId = await signInOverHttp(teleflow.base, sandbox.controlUrl, phones.receiver);
const sender = (await control('POST', '/users', { phone: phones.sender, firstName: 'Sender' })) as {
  id: string;
};
const direct: TelegramClient = createSandboxClient({
  host: sandbox.host,
  port: sandbox.port,
  dcs: consecutiveDcs(sandbox.host, sandbox.port),
  publicKeyPem: sandbox.publicKeyPem,
  timeout: 30,
});
await direct.start({
  phoneNumber: phones.direct,
  phoneCode: async () => phones.direct[5]!.repeat(5),
  password: async () => '',
  firstAndLastNames: async () => ['Direct', 'Client'],
  onError: async (err: Error) => {
    throw err;
  },
});

/** The sender sends `path` to both accounts; the mediaId TeleFlow reports and the direct client's message. */
async function sendToBoth(path: string, name: string): Promise<{ mediaId: string; message: Api.Message }> {
  await control('POST', '/messages', {
    from: phones.sender,
    to: phones.receiver,
    media: { kind: 'document', path, fileName: name },
  });
  await control('POST', '/messages', {
    from: phones.sender,
    to: phones.direct,
    media: { kind: 'document', path, fileName: name },
  });
  return { mediaId: await newestMedia(name), message: (await directMessage(name))! };
}

async function newestMedia(name: string): Promise<string> {
  for (let tries = 0; tries < 200; tries++) {
    const history = (await api(
      teleflow.base,
      'GET',
      `/api/v1/messages/history?sessionId=${sessionId}&chatId=${sender.id}&limit=30`,
    ).catch(() => [])) as { media: { mediaId: string; fileName?: string } | null }[];
    const found = history.find((m) => m.media?.fileName === name);
    if (found) return found.media!.mediaId;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`TeleFlow did not receive ${name}`);
}

async function directMessage(name: string): Promise<Api.Message | undefined> {
  for (let tries = 0; tries < 200; tries++) {
    const messages = await direct.getMessages(sender.id, { limit: 30 });
    const found = messages.find(
      (m) => (m.media as Api.MessageMediaDocument | undefined)?.document && m.file?.name === name,
    );
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

const mediaUrl = (mediaId: string) => `${teleflow.base}/api/v1/media/${mediaId}?sessionId=${sessionId}`;
const headers = { 'x-api-key': TEST_SECRETS.API_KEY };
/** Reads a download to the end, counting bytes only (the direct side hashes nothing either). */
const readAll = async (url: string, extra: Record<string, string> = {}) =>
  (await drain(await fetch(url, { headers: { ...headers, ...extra } }), undefined, false)).bytes;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const value = await Promise.race([
    work(),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('transfer timed out')), TRANSFER_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
  return { ms: performance.now() - start, value };
}

async function directDownload(message: Api.Message): Promise<number> {
  let bytes = 0;
  for await (const chunk of direct.iterDownload({ file: message.media as never, requestSize: 512 * 1024 }))
    bytes += chunk.length;
  return bytes;
}

try {
  console.log(
    `Media benchmark: ${SIZE_MB} MB each way, ${CONCURRENT} x ${CONCURRENT_MB} MB at once, ${RSS_MB} MB for memory\n`,
  );

  // 1. Downloads.
  const file = join(dir, 'payload.bin');
  await writeRandomFile(file, SIZE_MB * MB);
  // With the upload comparison alone, a small file still introduces the sender to both accounts.
  const small = join(dir, 'small.bin');
  if (ONLY_UPLOAD) await writeRandomFile(small, 1024);
  const { mediaId, message } = await sendToBoth(ONLY_UPLOAD ? small : file, 'payload.bin');
  const rates = { teleflow: [] as number[], direct: [] as number[] };
  const sides = { teleflow: () => readAll(mediaUrl(mediaId)), direct: () => directDownload(message) };
  for (let round = 0; round < (ONLY_UPLOAD ? 0 : ROUNDS); round++) {
    const order = round % 2 === 0 ? (['teleflow', 'direct'] as const) : (['direct', 'teleflow'] as const);
    for (const side of order) {
      const run = await timed(sides[side]);
      rates[side].push(rate(run.value, run.ms));
    }
  }
  if (!ONLY_UPLOAD) {
    const down = [median(rates.teleflow), median(rates.direct)] as const;
    console.log(
      `1. Download, ${ROUNDS} rounds (TeleFlow ${rates.teleflow.map(fmt).join(', ')}; direct ${rates.direct.map(fmt).join(', ')}), medians:`,
    );
    console.log(
      `   TeleFlow GET /media  ${fmt(down[0])}   direct iterDownload ${fmt(down[1])}   ratio ${(down[0] / down[1]).toFixed(2)}x (target >= 0.8x)`,
    );
  }

  // 2. Uploads: rounds alternating which side goes first, as for downloads.
  const upRates = { teleflow: [] as number[], direct: [] as number[] };
  const phases = { store: [] as number[], send: [] as number[], multipart: [] as number[] };
  const upSides = {
    direct: async () => {
      await direct.sendFile(sender.id, { file, forceDocument: true, workers: 4 });
      return SIZE_MB * MB;
    },
    teleflow: async () => {
      const start = performance.now();
      const form = new FormData();
      form.set('file', await openAsBlob(file), 'upload.bin');
      const uploaded = await fetch(`${teleflow.base}/api/v1/uploads`, {
        method: 'POST',
        headers,
        body: form,
      });
      if (uploaded.status !== 201) throw new Error(`POST /uploads answered ${uploaded.status}`);
      const { data } = (await uploaded.json()) as { data: { uploadId: string } };
      const stored = performance.now();
      // A different file name each round: a file this session sent before would go out by id.
      await api(teleflow.base, 'POST', '/api/v1/messages/send-media', {
        sessionId,
        chatId: sender.id,
        kind: 'document',
        uploadId: data.uploadId,
        fileName: `upload-${phases.store.length}.bin`,
      });
      phases.store.push(stored - start);
      phases.send.push(performance.now() - stored);
      return SIZE_MB * MB;
    },
    multipart: async () => {
      const form = new FormData();
      form.set('sessionId', sessionId);
      form.set('chatId', sender.id);
      form.set('kind', 'document');
      form.set('file', await openAsBlob(file), `multipart-${phases.multipart.length}.bin`);
      const start = performance.now();
      const res = await fetch(`${teleflow.base}/api/v1/messages/send-media`, {
        method: 'POST',
        headers,
        body: form,
      });
      if (res.status !== 200)
        throw new Error(`POST /messages/send-media answered ${res.status}: ${await res.text()}`);
      phases.multipart.push(performance.now() - start);
      return SIZE_MB * MB;
    },
  };
  for (let round = 0; round < UP_ROUNDS; round++) {
    const order = round % 2 === 0 ? (['teleflow', 'direct'] as const) : (['direct', 'teleflow'] as const);
    for (const side of order) {
      const run = await timed(upSides[side]);
      upRates[side].push(rate(run.value, run.ms));
    }
    await timed(upSides.multipart);
  }
  const up = [median(upRates.teleflow), median(upRates.direct)] as const;
  const secs = (values: number[]) => values.map((v) => `${(v / 1000).toFixed(1)} s`).join(', ');
  console.log(
    `2. Upload, ${UP_ROUNDS} rounds (TeleFlow ${upRates.teleflow.map(fmt).join(', ')}; direct ${upRates.direct.map(fmt).join(', ')}), medians:`,
  );
  console.log(`   POST /uploads ${secs(phases.store)}; send-media by uploadId ${secs(phases.send)}`);
  // Each round's two transfers ran one after the other: their ratio is the least disturbed by
  // other work on the machine.
  const perRound = upRates.teleflow.map((v, i) => v / upRates.direct[i]!);
  console.log(`   ratio per round ${perRound.map((r) => `${r.toFixed(2)}x`).join(', ')}`);
  console.log(
    `   TeleFlow uploads + send-media ${fmt(up[0])}   direct sendFile ${fmt(up[1])}   ratio ${(up[0] / up[1]).toFixed(2)}x (target >= 0.8x)`,
  );
  const multipartRate = median(phases.multipart.map((ms) => rate(SIZE_MB * MB, ms)));
  console.log(
    `   TeleFlow send-media with a multipart file ${fmt(multipartRate)} (${secs(phases.multipart)})   ratio ${(multipartRate / up[1]).toFixed(2)}x`,
  );
  if (!ONLY_UPLOAD) {
    // 3. Concurrent downloads of different files.
    const ids: string[] = [];
    for (let i = 0; i < CONCURRENT; i++) {
      const path = join(dir, `part-${i}.bin`);
      await writeRandomFile(path, CONCURRENT_MB * MB);
      await control('POST', '/messages', {
        from: phones.sender,
        to: phones.receiver,
        media: { kind: 'document', path, fileName: `part-${i}.bin` },
      });
      ids.push(await newestMedia(`part-${i}.bin`));
    }
    const together = await timed(async () => {
      const sizes = await Promise.all(ids.map((id) => readAll(mediaUrl(id))));
      return sizes.reduce((a, b) => a + b, 0);
    });
    console.log(
      `3. ${CONCURRENT} concurrent downloads of ${CONCURRENT_MB} MB: ${fmt(rate(together.value, together.ms))} aggregate`,
    );

    // 4. Memory while serving a large download.
    const big = join(dir, 'big.bin');
    await writeRandomFile(big, RSS_MB * MB);
    await control('POST', '/messages', {
      from: phones.sender,
      to: phones.receiver,
      media: { kind: 'document', path: big, fileName: 'big.bin' },
    });
    const bigId = await newestMedia('big.bin');
    await readAll(mediaUrl(bigId), { range: `bytes=0-${64 * MB - 1}` });
    const pid = teleflow.server.child.pid!;
    const baseline = rssOf(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
    const served = await timed(() => readAll(mediaUrl(bigId))).finally(() => clearInterval(sampler));
    console.log(
      `4. RSS during a ${RSS_MB} MB download (${fmt(rate(served.value, served.ms))}): baseline ${(baseline / MB).toFixed(1)} MB, growth ${((peak - baseline) / MB).toFixed(1)} MB (target < 64 MB)`,
    );
  }
} finally {
  await direct.destroy().catch(() => undefined);
  await teleflow.stop();
  sandbox.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
