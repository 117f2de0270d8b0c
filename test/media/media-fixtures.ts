/**
 * Files and bodies for the media tests: multipart bodies built by hand (as a browser sends
 * them), a real loopback HTTP server serving files, and media made by the real ffmpeg.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Api, type TelegramClient } from 'teleproto';
import { closeClient, signedInClient, testPhone } from '../helpers/sandbox.js';
import {
  createTelegramTestApp,
  signIn,
  startTestSandbox,
  waitFor,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';

/** A 1x1 PNG. */
export const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a0c9f1b70000000049454e44ae426082',
  'hex',
);

/** A JPEG of `width` x `height` of colour noise (made by ffmpeg; sizes above ~1 MB need a big one). */
export function jpeg(dir: string, width = 64, height = 48, quality = 5): Buffer {
  const out = join(dir, `img-${width}x${height}-${randomBytes(3).toString('hex')}.jpg`);
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${width}x${height}`,
    '-frames:v',
    '1',
    '-q:v',
    String(quality),
    out,
  ]);
  return readFileSync(out);
}

export function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args], { stdio: 'pipe', timeout: 120_000 });
}

/** Makes a file with ffmpeg (`args` are the input and encoding options) and returns its bytes. */
export function makeMedia(dir: string, name: string, args: string[]): Buffer {
  const out = join(dir, name);
  ffmpeg([...args, out]);
  return readFileSync(out);
}

/** A multipart/form-data body: text fields, then the file part. */
export function multipartBody(
  fields: Record<string, string>,
  file?: { name?: string; fileName: string; contentType: string; data: Buffer },
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----teleflow${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const [name, value] of Object.entries(fields))
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  if (file)
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${file.name ?? 'file'}"; filename="${file.fileName}"\r\n` +
          `Content-Type: ${file.contentType}\r\n\r\n`,
      ),
      file.data,
      Buffer.from('\r\n'),
    );
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(chunks),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

/** POSTs a multipart body built by multipartBody to an app, with its admin key unless `key` is given. */
export function postForm(
  t: { app: FastifyInstance; adminKey: string },
  url: string,
  form: ReturnType<typeof multipartBody>,
  key = t.adminKey,
) {
  return t.app.inject({
    method: 'POST',
    url,
    headers: { 'x-api-key': key, ...form.headers },
    payload: form.payload,
  });
}

/** ffmpeg input options: a test picture of `size` (WxH) and a tone, `seconds` long, H.264 + AAC. */
export function testVideoArgs(size: string, seconds: number, sound = true): string[] {
  return [
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${size}:rate=10`,
    ...(sound ? ['-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`] : []),
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    ...(sound ? ['-c:a', 'aac', '-shortest'] : []),
  ];
}

export interface FileServer {
  url: string;
  /** Paths asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A real HTTP server on loopback. Routes: `/<name>` serves `files[name]` with its type and
 * length; `/chunked/<name>` the same without a length; `/redirect/<name>` redirects there;
 * `/slow` never answers.
 */
export async function startFileServer(
  files: Record<string, { type: string; data: Buffer }>,
): Promise<FileServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    if (path === '/slow') return; // never answers
    const redirect = /^\/redirect\/(.+)$/.exec(path);
    if (redirect) {
      res.writeHead(302, { location: `/${redirect[1]}` }).end();
      return;
    }
    const chunked = path.startsWith('/chunked/');
    const file = files[decodeURIComponent(path.replace(/^\/(chunked\/)?/, ''))];
    if (!file) {
      res.writeHead(404).end('not here');
      return;
    }
    res.writeHead(200, {
      'content-type': file.type,
      ...(chunked ? {} : { 'content-length': String(file.data.length) }),
    });
    res.end(file.data);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface MediaWorld {
  sbx: TestSandbox;
  t: TelegramTestApp;
  /** Signed in through TeleFlow. */
  alice: { sessionId: string; phone: string; userId: string; username: string };
  /** A real teleproto client on the sandbox. */
  bob: TelegramClient;
  bobName: string;
  bobPhone: string;
  close(): Promise<void>;
}

/** A sandbox, a TeleFlow app with Alice signed in, and Bob's own teleproto client. */
export async function startMediaWorld(env: Record<string, string> = {}): Promise<MediaWorld> {
  const sbx = await startTestSandbox();
  const t = await createTelegramTestApp(sbx, { env });
  const username = `alice${randomBytes(3).toString('hex')}`;
  const alice = { ...(await signIn(t, sbx, { username, firstName: 'Alice' })), username };
  const bobPhone = testPhone();
  const bobName = `bob${bobPhone.slice(-6)}`;
  await sbx.control('POST', '/users', { phone: bobPhone, firstName: 'Bob', username: bobName });
  const bob = await signedInClient(sbx.sandbox, bobPhone);
  await bob.getMe();
  return {
    sbx,
    t,
    alice,
    bob,
    bobName,
    bobPhone,
    async close() {
      await closeClient(bob);
      await t.close();
      await sbx.close();
    },
  };
}

/** The newest message `client` has from `username`, once it carries this caption. */
export async function newestFrom(
  client: TelegramClient,
  username: string,
  caption: string,
): Promise<Api.Message> {
  return waitFor(
    async () => {
      const [message] = await client.getMessages(`@${username}`, { limit: 1 });
      return message?.message === caption ? message : undefined;
    },
    10_000,
    `"${caption}" arrives`,
  );
}

export function documentOf(message: Api.Message): Api.Document {
  if (
    !(message.media instanceof Api.MessageMediaDocument) ||
    !(message.media.document instanceof Api.Document)
  )
    throw new Error(`not a document: ${message.media?.className}`);
  return message.media.document;
}

export const attributeOf = <T>(doc: Api.Document, cls: new (...args: never[]) => T): T | undefined =>
  doc.attributes.find((a) => a instanceof cls) as T | undefined;

/** The newest `count` messages `client` has from `username` (newest first), once `ready` holds. */
export async function waitForMessages(
  client: TelegramClient,
  username: string,
  count: number,
  ready: (messages: Api.Message[]) => boolean,
): Promise<Api.Message[]> {
  return waitFor(
    async () => {
      const messages = [...(await client.getMessages(`@${username}`, { limit: count }))];
      return ready(messages) ? messages : undefined;
    },
    10_000,
    `${count} messages from ${username}`,
  );
}
