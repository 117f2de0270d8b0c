/**
 * The pieces of a download that need no Telegram: Range parsing (RFC 9110), the
 * Content-Disposition of file names (RFC 6266), signed links, and the disk cache's LRU cap on
 * a real directory.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { MediaCache } from '../../src/modules/media/cache.js';
import { contentDisposition } from '../../src/modules/media/download.js';
import { MAX_RANGES, parseRange } from '../../src/modules/media/download-range.js';
import { MediaLinks } from '../../src/modules/media/links.js';

test('Range: single, open, suffix, several in order, clamped, unsatisfiable, ignored', () => {
  assert.deepEqual(parseRange(undefined, 1000), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=0-99', 1000), { kind: 'ranges', ranges: [{ start: 0, end: 99 }] });
  assert.deepEqual(parseRange('bytes=900-', 1000), { kind: 'ranges', ranges: [{ start: 900, end: 999 }] });
  assert.deepEqual(parseRange('bytes=-100', 1000), { kind: 'ranges', ranges: [{ start: 900, end: 999 }] });
  assert.deepEqual(parseRange('bytes=-5000', 1000), { kind: 'ranges', ranges: [{ start: 0, end: 999 }] });
  assert.deepEqual(parseRange('bytes=500-5000', 1000), {
    kind: 'ranges',
    ranges: [{ start: 500, end: 999 }],
  });
  assert.deepEqual(parseRange('bytes=500-599, 0-9', 1000), {
    kind: 'ranges',
    ranges: [
      { start: 500, end: 599 },
      { start: 0, end: 9 },
    ],
  });
  // Ranges beyond the end are dropped; with none left the answer is 416.
  assert.deepEqual(parseRange('bytes=0-9,2000-3000', 1000), {
    kind: 'ranges',
    ranges: [{ start: 0, end: 9 }],
  });
  assert.deepEqual(parseRange('bytes=1000-', 1000), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 1000), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  // Not a byte range, malformed, reversed, or too many pieces: the whole file.
  for (const header of ['items=0-1', 'bytes=abc', 'bytes=5-1', 'bytes=-', 'bytes=', '0-99'])
    assert.deepEqual(parseRange(header, 1000), { kind: 'whole' }, header);
  const many = `bytes=${Array.from({ length: MAX_RANGES + 1 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')}`;
  assert.deepEqual(parseRange(many, 1000), { kind: 'whole' });
});

test('Content-Disposition carries an ASCII fallback and the exact UTF-8 name', () => {
  assert.equal(
    contentDisposition('report.pdf'),
    `inline; filename="report.pdf"; filename*=UTF-8''report.pdf`,
  );
  assert.equal(
    contentDisposition('Отчёт "Q1" 100%.pdf'),
    `inline; filename="_____ _Q1_ 100_.pdf"; filename*=UTF-8''%D0%9E%D1%82%D1%87%D1%91%D1%82%20%22Q1%22%20100%25.pdf`,
  );
  assert.doesNotMatch(contentDisposition('a\r\nSet-Cookie: x=1'), /[\r\n]/);
});

test('signed links: valid until expiry, refused when changed, expired or signed with another secret', () => {
  const links = new MediaLinks('a-secret-of-the-right-length-0123456789abcdef');
  const token = links.sign({ sessionId: 'sess_1', mediaId: 'abc', thumb: 'm', expiresAt: 2000 });
  assert.deepEqual(links.verify(token, 1999), {
    sessionId: 'sess_1',
    mediaId: 'abc',
    thumb: 'm',
    expiresAt: 2000,
  });
  assert.throws(() => links.verify(token, 2000), { code: 'UNAUTHORIZED', message: /expired/ });
  const [v, payload, sig] = token.split('.') as [string, string, string];
  const stretched = Buffer.from(JSON.stringify(['sess_1', 'abc', 'm', 9999])).toString('base64url');
  for (const bad of [
    `${v}.${stretched}.${sig}`,
    `${v}.${payload}.${sig.slice(0, -2)}AA`,
    `l0.${payload}.${sig}`,
    `${token}.x`,
    'garbage',
  ])
    assert.throws(() => links.verify(bad, 1000), { code: 'UNAUTHORIZED', message: /not valid/ }, bad);
  const other = new MediaLinks('another-secret-of-the-right-length-0123456789');
  assert.throws(() => other.verify(token, 1000), { code: 'UNAUTHORIZED' });
});

test('the disk cache keeps whole files only, evicts the least recently used past its cap, and survives a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-media-cache-'));
  try {
    const log = pino({ level: 'silent' });
    const cache = new MediaCache(dir, 2500, log);
    const put = async (key: string, size: number, fill: number, complete = true) => {
      const w = await cache.writer(key, size);
      assert.ok(w, key);
      await w.write(Buffer.alloc(complete ? size : size - 1, fill));
      await w.commit();
    };
    await put('f1_', 1000, 1);
    await put('f2_', 1000, 2);
    await put('f3_m', 1000, 3, false); // short: not kept
    assert.equal(await cache.lookup('f3_m'), undefined);
    assert.ok(await cache.lookup('f1_')); // f1 is now more recent than f2
    await put('f4_', 1000, 4); // over the cap: f2 goes
    assert.equal(await cache.lookup('f2_'), undefined);
    assert.deepEqual(readFileSync((await cache.lookup('f4_'))!), Buffer.alloc(1000, 4));
    assert.equal(cache.usedBytes, 2000);
    assert.equal(await cache.writer('f5_', 3000), undefined, 'larger than the cap');
    assert.deepEqual(readdirSync(dir).sort(), ['f1_', 'f4_']);

    writeFileSync(join(dir, 'f9_.1234.part'), 'left by a crash');
    const again = new MediaCache(dir, 1500, log);
    assert.ok(await again.lookup('f4_'), 'the most recent file stays');
    assert.equal(again.usedBytes, 1000);
    assert.equal(existsSync(join(dir, 'f9_.1234.part')), false);
    assert.equal(MediaCache.key('../etc', ''), undefined);
    assert.equal(new MediaCache(dir, 0, log).enabled, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("MTProto's AES-IGE over one cipher gives the library's own bytes, both ways", async () => {
  const { IGE } = await import('teleproto/crypto/IGE.js');
  const { applyTransferSpeedups, originalIge } = await import('../../src/telegram/transfer-speed.js');
  applyTransferSpeedups();
  for (const size of [16, 32, 1024, 512 * 1024 + 48]) {
    const key = randomBytes(32);
    const iv = randomBytes(32);
    const plain = randomBytes(size);
    const ige = new IGE(key, iv);
    const encrypted = ige.encryptIge(plain);
    assert.ok(
      Buffer.from(encrypted).equals(originalIge.encryptIge.call(ige as never, plain)),
      `encrypt ${size}`,
    );
    assert.ok(Buffer.from(ige.decryptIge(encrypted)).equals(plain), `decrypt ${size}`);
    assert.ok(
      Buffer.from(originalIge.decryptIge.call(ige as never, encrypted)).equals(plain),
      `library decrypts ours ${size}`,
    );
  }
});
