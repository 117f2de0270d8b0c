/**
 * Media in a cluster: two real TeleFlow processes (CLUSTER=true) on one PostgreSQL, each with
 * its own DATA_DIR (no shared storage), against one sandbox. An upload stored through A is sent
 * by a session B runs (B fetches the file from A over the internal channel); a multipart
 * send-media through A for a session on B is carried out by B, with the same Idempotency-Key
 * guarantees; the internal file route answers nobody else. PostgreSQL only (TEST_DATABASE_URL).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TEST_SECRETS } from '../helpers/app.js';
import { clusterSkip as skip, startCluster, type Cluster, type Instance } from '../helpers/cluster.js';
import { fileBytes } from '../media/download-fixtures.js';

let cluster: Cluster;
let a: Instance;
let b: Instance;
/** A session B runs, and the user it sends to. */
let onB: string;
let peerName: string;
const headers = { 'x-api-key': TEST_SECRETS.API_KEY };

const call = (via: Instance, method: string, path: string, body?: unknown) =>
  cluster.api(via.index, method, path, body);

/** The bytes Telegram (the sandbox) keeps of a sent message's file, read back through A. */
async function sentBytes(message: any): Promise<Buffer> {
  const path = `/api/v1/media/${encodeURIComponent(message.media.mediaId as string)}?sessionId=${onB}`;
  const res = await fetch(`${a.url}${path}`, { headers });
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

/** Files in an instance's upload store (staged copies in tmp/ included). */
const storedFiles = (instance: Instance) => {
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const top = list(join(instance.dataDir, 'uploads')).filter((n) => n !== 'tmp');
  return { stored: top, staged: list(join(instance.dataDir, 'uploads', 'tmp')) };
};

before(async () => {
  if (skip) return;
  cluster = await startCluster({ instances: 2 });
  [a, b] = cluster.instances as [Instance, Instance];
  // New sessions go to the least loaded instance: of two, one lands on each.
  for (let i = 0; i < 2; i++) {
    const signed = await cluster.signIn(a.index, 'Media');
    if ((await cluster.ownerOf(signed.id)) === b.index) onB = signed.id;
    else peerName = signed.username;
  }
  assert.ok(onB && peerName, 'a session on each instance');
});

after(async () => {
  await cluster?.close();
});

test('an upload stored through A is sent by a session B runs', { skip }, async () => {
  const bytes = fileBytes(1300 * 1024 + 77);
  const form = new FormData();
  form.set('file', new Blob([bytes]), 'from-a.bin');
  const res = await fetch(`${a.url}/api/v1/uploads`, {
    method: 'POST',
    headers,
    body: form,
  });
  assert.equal(res.status, 201);
  const upload = ((await res.json()) as any).data;
  assert.deepEqual(storedFiles(a).stored, [upload.sha256]);
  assert.deepEqual(storedFiles(b).stored, [], 'B has no copy');

  for (const via of [a, b]) {
    const sent = await call(via, 'POST', '/api/v1/messages/send-media', {
      sessionId: onB,
      chatId: `@${peerName}`,
      kind: 'document',
      uploadId: upload.uploadId,
      // Another name each time: the same name would go out again by Telegram's file id.
      fileName: `through-${via.index}.bin`,
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.headers.get('x-teleflow-instance'), via === a ? b.id : null);
    assert.equal(sent.body.data.media.fileName, `through-${via.index}.bin`);
    assert.ok((await sentBytes(sent.body.data)).equals(bytes), `the bytes, through ${via.index}`);
  }
  // B's copies were staged for the sends and removed after them.
  assert.deepEqual(storedFiles(b), { stored: [], staged: [] });

  // A deleted upload is gone for both.
  assert.equal((await call(b, 'DELETE', `/api/v1/uploads/${upload.uploadId}`)).status, 200);
  const gone = await call(a, 'POST', '/api/v1/messages/send-media', {
    sessionId: onB,
    chatId: `@${peerName}`,
    kind: 'document',
    uploadId: upload.uploadId,
  });
  assert.equal(gone.status, 404, JSON.stringify(gone.body));
  assert.equal(gone.body.error.code, 'UPLOAD_NOT_FOUND');
});

test('a multipart send-media through A for a session on B is carried out by B', { skip }, async () => {
  const bytes = fileBytes(900 * 1024 + 5);
  const name = 'отчёт "май"; 2026.bin';
  const send = async (via: Instance, key?: string) => {
    const form = new FormData();
    form.set('sessionId', onB);
    form.set('chatId', `@${peerName}`);
    form.set('kind', 'document');
    form.set('caption', 'line one\r\nline two');
    form.set('silent', 'true');
    form.set('file', new Blob([bytes], { type: 'application/x-report' }), name);
    const res = await fetch(`${via.url}/api/v1/messages/send-media`, {
      method: 'POST',
      headers: { ...headers, ...(key ? { 'idempotency-key': key } : {}) },
      body: form,
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };
  const sent = await send(a);
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  assert.equal(sent.headers.get('x-teleflow-instance'), b.id);
  assert.equal(sent.body.data.text, 'line one\r\nline two');
  // The name as B reads it from the same form sent to it directly (FormData writes `"` as %22).
  const direct = await send(b);
  assert.equal(direct.status, 200, JSON.stringify(direct.body));
  assert.equal(sent.body.data.media.fileName, direct.body.data.media.fileName);
  assert.match(sent.body.data.media.fileName as string, /^отчёт .*май.*; 2026\.bin$/);
  assert.ok((await sentBytes(sent.body.data)).equals(bytes), 'the bytes');
  assert.deepEqual(storedFiles(a).staged, [], "A's staged file removed");

  // One Idempotency-Key, through A then through B: the first answer, one message.
  const once = await send(a, 'media-cluster-k1');
  const again = await send(b, 'media-cluster-k1');
  assert.equal(once.status, 200, JSON.stringify(once.body));
  assert.deepEqual(again.body, once.body);
});

test('the internal file route answers only another instance', { skip }, async () => {
  const form = new FormData();
  form.set('file', new Blob([fileBytes(4096)]), 'x.bin');
  const res = await fetch(`${a.url}/api/v1/uploads`, {
    method: 'POST',
    headers,
    body: form,
  });
  const { uploadId } = ((await res.json()) as any).data;
  for (const extra of [{}, headers]) {
    const direct = await fetch(`${a.url}/internal/cluster/uploads/${uploadId}`, {
      headers: extra,
    });
    assert.equal(direct.status, 404);
    assert.equal(((await direct.json()) as any).error.code, 'ROUTE_NOT_FOUND');
  }
});
