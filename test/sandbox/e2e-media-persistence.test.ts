/**
 * Media with a data dir: files are stored content-addressed under files/ (0600 in a 0700
 * folder), a local file given by path is stored without being read whole, and photos and
 * documents survive a sandbox restart (history shows them, downloads still work).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api } from 'teleproto';
import type { TelegramClient } from 'teleproto';
import {
  clientFor,
  closeClient,
  control,
  saveSession,
  signedInClient,
  startTestSandbox,
  testPhone,
} from '../helpers/sandbox.js';
import type { Sandbox } from '../helpers/sandbox.js';
import { gradientJpeg } from './media-fixtures.js';

let sandbox: Sandbox;
let dataDir: string;
const clients: TelegramClient[] = [];

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'teleflow-media-'));
  sandbox = await startTestSandbox({ dataDir });
});

after(async () => {
  for (const client of clients) await closeClient(client);
  await sandbox.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('files live under files/ by SHA-256 and survive a restart', async () => {
  const senderPhone = testPhone(4);
  const readerPhone = testPhone(5);
  const senderName = `sender${senderPhone.slice(-4)}`;
  await control(sandbox, 'POST', '/users', {
    phone: senderPhone,
    firstName: 'Sender',
    username: senderName,
    dc: 4,
  });
  const reader = await signedInClient(sandbox, readerPhone);
  clients.push(reader);
  const bytes = randomBytes(2 * 1024 * 1024 + 77);
  const source = join(dataDir, 'source.bin');
  writeFileSync(source, bytes);
  const sentDocument = await control(sandbox, 'POST', '/messages', {
    from: senderPhone,
    to: readerPhone,
    text: 'by path',
    media: { kind: 'document', path: source, fileName: 'source.bin', mimeType: 'application/zip' },
  });
  assert.equal(sentDocument.status, 201, JSON.stringify(sentDocument.body));
  const sentPhoto = await control(sandbox, 'POST', '/messages', {
    from: senderPhone,
    to: readerPhone,
    media: { kind: 'photo', base64: gradientJpeg(400, 300).toString('base64'), fileName: 'p.jpg' },
  });
  assert.equal(sentPhoto.status, 201);

  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const filesDir = join(dataDir, 'files');
  assert.equal(statSync(filesDir).mode & 0o777, 0o700);
  assert.equal(statSync(join(filesDir, sha256)).mode & 0o777, 0o600);
  const listed = (await control(sandbox, 'GET', `/files?phone=${senderPhone}`)).body;
  const entry = listed.files.find((f: { sha256: string }) => f.sha256 === sha256);
  assert.deepEqual(
    { dc: entry.dc, size: entry.size, parts: entry.parts, big: entry.big },
    { dc: 4, size: bytes.length, parts: 5, big: false },
  );

  const session = saveSession(reader);
  await closeClient(reader);
  await sandbox.close();
  sandbox = await startTestSandbox({ dataDir });
  const resumed = clientFor(sandbox, session);
  clients.push(resumed);
  await resumed.connect();
  const [photo, document] = await resumed.getMessages(`@${senderName}`, { limit: 2 });
  assert.ok(document.media instanceof Api.MessageMediaDocument);
  const doc = document.media.document as Api.Document;
  assert.equal(doc.mimeType, 'application/zip');
  assert.equal(doc.dcId, 4);
  // The file lives on DC 4: the client exports its authorization there and downloads it.
  const downloaded = (await resumed.downloadMedia(document, {})) as Buffer;
  assert.ok(downloaded.equals(bytes));
  assert.ok(photo.media instanceof Api.MessageMediaPhoto);
  const image = (await resumed.downloadMedia(photo, {})) as Buffer;
  assert.ok(image.length > 0);
  assert.ok(readdirSync(filesDir).includes(sha256));
});
