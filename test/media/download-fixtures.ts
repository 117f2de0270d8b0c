/**
 * Shared pieces of the media tests: real JPEG images, files of any size, a user of the sandbox
 * sending media from "their app" (the control API), and waiting for TeleFlow to receive it.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { TEST_SECRETS } from '../helpers/app.js';
import { freePort, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { eventsOf, waitFor, type TelegramTestApp, type TestSandbox } from '../helpers/telegram.js';

/** A real JPEG of `width` x `height` with a pattern that survives re-encoding. */
export function jpegImage(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = ((x + y) * 7) % 256;
      data[i + 3] = 255;
    }
  return Buffer.from(jpeg.encode({ width, height, data }, 90).data);
}

/** Random bytes with a recognisable start, so a misplaced range shows. */
export function fileBytes(size: number): Buffer {
  const bytes = randomBytes(size);
  for (let i = 0; i + 8 <= Math.min(size, 4096); i += 8) bytes.writeUInt32BE(i, i);
  return bytes;
}

export interface SentMedia {
  kind: string;
  fileName: string;
  mimeType?: string;
  bytes: Buffer;
  extra?: Record<string, unknown>;
}

/** `fromPhone` sends `media` to `to` through the control API; returns the sender's message id. */
export async function sendFromApp(
  sbx: TestSandbox,
  fromPhone: string,
  to: string,
  media: SentMedia,
  text = '',
): Promise<number> {
  const res = await sbx.control<{ id: number }>('POST', '/messages', {
    from: fromPhone,
    to,
    ...(text ? { text } : {}),
    media: {
      kind: media.kind,
      base64: media.bytes.toString('base64'),
      fileName: media.fileName,
      ...(media.mimeType ? { mimeType: media.mimeType } : {}),
      ...media.extra,
    },
  });
  return res.id;
}

/** The message.received event of the next message from `senderId` with media, newest first. */
export async function receivedWithMedia(
  t: TelegramTestApp,
  sessionId: string,
  senderId: string,
  seen: Set<number>,
): Promise<Record<string, any>> {
  const event = await waitFor(
    async () =>
      (await eventsOf(t, sessionId, 'message.received')).find(
        (e) => e.message.senderId === senderId && e.message.media && !seen.has(e.message.id as number),
      ),
    15_000,
    'a message with media',
  );
  seen.add(event.message.id as number);
  return event.message as Record<string, any>;
}

/** GET (or another method) of a media URL with the admin key; the raw answer. */
export async function download(
  t: TelegramTestApp,
  url: string,
  headers: Record<string, string> = {},
  method: 'GET' | 'HEAD' = 'GET',
) {
  const res = await t.app.inject({ method, url, headers: { 'x-api-key': t.adminKey, ...headers } });
  return { status: res.statusCode, headers: res.headers, body: res.rawPayload, json: () => res.json() };
}

export function assertBytes(actual: Buffer, expected: Buffer, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(actual.equals(expected), `${what}: bytes differ`);
}

/** Where a sandbox is, for a TeleFlow process pointed at it. */
export interface SandboxAddress {
  host: string;
  port: number;
  pemFile: string;
  controlUrl: string;
}

/** A TeleFlow process (src/server.ts) on a fresh data dir against `sandbox`. */
export async function startTeleflowProcess(
  sandbox: SandboxAddress,
  env: Record<string, string> = {},
): Promise<{ server: ServerProcess; base: string; dataDir: string; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'teleflow-media-proc-'));
  const port = await freePort();
  const server = await startServer({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    DATABASE_URL: `file:${join(dataDir, 'teleflow.db')}`,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '1000000',
    TELEGRAM_DC: `${sandbox.host}:${sandbox.port}`,
    TELEGRAM_DC_PUBLIC_KEY_FILE: sandbox.pemFile,
    SEND_RATE_PER_CHAT: '0',
    ...TEST_SECRETS,
    ...env,
  });
  return {
    server,
    base: `http://127.0.0.1:${port}`,
    dataDir,
    async stop() {
      await stopServer(server, 'SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Calls a TeleFlow process's API with the admin key; JSON in and out. */
export async function api(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      'x-api-key': TEST_SECRETS.API_KEY,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as { data?: unknown };
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

/** Creates `phone` in the sandbox and signs it in through a TeleFlow process; the session id. */
export async function signInOverHttp(base: string, controlUrl: string, phone: string): Promise<string> {
  const ctl = (method: string, path: string, body?: unknown) =>
    fetch(`${controlUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then((r) => r.json() as Promise<any>);
  await ctl('POST', '/users', { phone, firstName: 'Receiver' });
  const session = await api(base, 'POST', '/api/v1/sessions', { phone });
  const { code } = await ctl('GET', `/codes?phone=${phone}`);
  await api(base, 'POST', '/api/v1/sessions/verify-code', { sessionId: session.id, code });
  return session.id as string;
}

/** The resident set of a process, from /proc (Linux). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Writes `size` random bytes to `path` a megabyte at a time; returns their SHA-256 (hex). */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let done = 0; done < size;) {
    const chunk = randomBytes(Math.min(1024 * 1024, size - done));
    hash.update(chunk);
    done += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  return hash.digest('hex');
}

/**
 * Reads a streamed HTTP answer to the end without keeping it: its byte count and SHA-256, with
 * `onChunk` called as it goes (for sampling memory).
 */
export async function drain(
  res: Response,
  onChunk: () => void = () => {},
  hashing = true,
): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (hashing) hash.update(chunk);
    bytes += chunk.length;
    onChunk();
  }
  return { bytes, sha256: hashing ? hash.digest('hex') : '' };
}
