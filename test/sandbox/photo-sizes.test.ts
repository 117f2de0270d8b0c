/**
 * The sandbox's photo sizes and stripped thumbnails against Telegram's rules
 * (https://core.telegram.org/constructor/photoSize, /api/files#stripped-thumbnails), and its file
 * store's streaming uploads and range reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { strippedPhotoToJpg } from 'teleproto/Utils.js';
import { decodePhoto, photoSizes } from '../../src/sandbox/world/photo-sizes.js';
import { STRIPPED_QUALITY, scaledQuantTable } from '../../src/sandbox/world/jpeg-stripped.js';
import { FileStore } from '../../src/sandbox/world/files.js';
import { gradientJpeg, rpcError } from './media-fixtures.js';

const dims = (width: number, height: number) =>
  photoSizes(decodePhoto(gradientJpeg(width, height))).sizes.map((s) => `${s.type}:${s.w}x${s.h}`);

test('photo sizes go up to the box that holds the original, each a JPEG of its size', () => {
  assert.deepEqual(dims(80, 60), ['s:80x60']);
  assert.deepEqual(dims(1280, 960), ['s:100x75', 'm:320x240', 'x:800x600', 'y:1280x960']);
  assert.deepEqual(dims(3000, 2000), ['s:100x67', 'm:320x213', 'x:800x533', 'y:1280x853', 'w:2560x1707']);
  const { sizes } = photoSizes(decodePhoto(gradientJpeg(500, 400)));
  for (const size of sizes) {
    const decoded = jpeg.decode(size.bytes);
    assert.deepEqual([decoded.width, decoded.height], [size.w, size.h]);
  }
});

test('photos past Telegram limits or not images are refused', async () => {
  assert.equal(
    await rpcError(Promise.resolve().then(() => decodePhoto(gradientJpeg(30, 700)))),
    'PHOTO_INVALID_DIMENSIONS',
  );
  assert.equal(
    await rpcError(Promise.resolve().then(() => decodePhoto(Buffer.from('GIF89a....')))),
    'IMAGE_PROCESS_FAILED',
  );
  const broken = gradientJpeg(100, 100).subarray(0, 300);
  assert.equal(await rpcError(Promise.resolve().then(() => decodePhoto(broken))), 'IMAGE_PROCESS_FAILED');
});

test("stripped thumbnails are coded with the tables of the client's fixed header", () => {
  // The header a client puts back (teleproto's strippedPhotoToJpg), with a 1x1 body.
  const header = strippedPhotoToJpg(Buffer.from([1, 8, 8]));
  const zigzag = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
    14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39,
    46, 53, 60, 61, 54, 47, 55, 62, 63,
  ];
  const luma = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17,
    22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78,
    87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
  ];
  const dqt = header.indexOf(Buffer.from([0xff, 0xdb]));
  const table = [...header.subarray(dqt + 5, dqt + 5 + 64)];
  const ours = scaledQuantTable(luma, STRIPPED_QUALITY);
  assert.deepEqual(
    table,
    zigzag.map((natural) => ours[natural]),
  );
  // And a real thumbnail decodes to its size and colours.
  const { stripped } = photoSizes(decodePhoto(gradientJpeg(400, 200)));
  assert.deepEqual([stripped[0], stripped[1], stripped[2]], [1, 20, 40]);
  const image = jpeg.decode(strippedPhotoToJpg(stripped), { useTArray: true });
  assert.deepEqual([image.width, image.height], [40, 20]);
  const right = (10 * 40 + 39) * 4;
  assert.ok(image.data[right] > 200, `red at the right edge: ${image.data[right]}`);
  assert.ok(image.data[10 * 40 * 4] < 50, 'no red at the left edge');
});

test('with a data dir, upload parts go to disk as they come (any order) and ranges are read back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-files-'));
  try {
    const store = new FileStore(dir);
    const part = (n: number, size: number) => Buffer.alloc(size, n + 1);
    await store.savePart('7', '42', 2, part(2, 100));
    await store.savePart('7', '42', 0, part(0, 4096));
    await store.savePart('7', '42', 1, part(1, 4096));
    const uploads = join(dir, 'files', 'uploads');
    assert.equal(statSync(uploads).mode & 0o777, 0o700);
    const [folder] = readdirSync(uploads);
    assert.deepEqual(readdirSync(join(uploads, folder)).sort(), ['0', '1', '2']);
    assert.equal(statSync(join(uploads, folder, '0')).mode & 0o777, 0o600);
    const blob = await store.assemble('7', '42', 3, false);
    assert.equal(blob.size, 4096 * 2 + 100);
    assert.deepEqual(readdirSync(uploads), []);
    const middle = await store.read(blob.sha256, 4096 - 2, 4);
    assert.deepEqual([...middle], [1, 1, 2, 2]);
    const tail = await store.read(blob.sha256, 8192, 4096);
    assert.equal(tail.length, 100);
    // The same InputFile may be used again; another account's parts are its own.
    assert.equal((await store.assemble('7', '42', 3, false)).sha256, blob.sha256);
    assert.equal(await rpcError(store.assemble('8', '42', 3, false)), 'FILE_PART_0_MISSING');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
