/**
 * Photos as Telegram stores them: the original is not kept; the server decodes it and keeps
 * JPEGs scaled into the boxes of the photoSize types s (100), m (320), x (800), y (1280) and
 * w (2560), up to the size that holds the original (https://core.telegram.org/constructor/photoSize),
 * plus a stripped thumbnail "i" (https://core.telegram.org/api/files#stripped-thumbnails).
 * JPEG is decoded and encoded with jpeg-js, PNG decoded with pngjs (Telegram converts PNG photos
 * to JPEG too); anything else is refused with IMAGE_PROCESS_FAILED.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { RpcError } from '../contract.js';
import { STRIPPED_BOX, encodeStripped } from './jpeg-stripped.js';

export interface Image {
  width: number;
  height: number;
  /** RGBA, 4 bytes a pixel. */
  data: Uint8Array;
}

export interface EncodedSize {
  type: string;
  w: number;
  h: number;
  bytes: Buffer;
}

/** photoSize types and their boxes (https://core.telegram.org/constructor/photoSize). */
export const PHOTO_SIZE_BOXES: ReadonlyArray<[type: string, box: number]> = [
  ['s', 100],
  ['m', 320],
  ['x', 800],
  ['y', 1280],
  ['w', 2560],
];

/** Telegram's photo limits (https://core.telegram.org/bots/api#sendphoto): at most 10 MB, width
 * plus height at most 10000, a side ratio of at most 20. */
export const MAX_PHOTO_BYTES = 10 * 1024 * 1024;
const MAX_DIMENSIONS_SUM = 10_000;
const MAX_RATIO = 20;
const JPEG_QUALITY = 87;

export function isJpeg(bytes: Buffer): boolean {
  return bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

export function isPng(bytes: Buffer): boolean {
  return bytes.length > 8 && bytes.subarray(0, 8).equals(Buffer.from('89504e470d0a1a0a', 'hex'));
}

/** Decodes a JPEG or PNG photo; IMAGE_PROCESS_FAILED for anything else or a broken file,
 * PHOTO_INVALID_DIMENSIONS past Telegram's limits. */
export function decodePhoto(bytes: Buffer): Image {
  if (bytes.length > MAX_PHOTO_BYTES) throw new RpcError(400, 'PHOTO_SAVE_FILE_INVALID');
  let image: Image;
  try {
    if (isJpeg(bytes)) {
      image = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: 50,
        maxMemoryUsageInMB: 512,
      });
    } else if (isPng(bytes)) {
      const png = PNG.sync.read(bytes);
      image = { width: png.width, height: png.height, data: png.data };
    } else throw new Error('not an image the sandbox decodes');
  } catch {
    throw new RpcError(400, 'IMAGE_PROCESS_FAILED');
  }
  const { width, height } = image;
  if (
    width < 1 ||
    height < 1 ||
    width + height > MAX_DIMENSIONS_SUM ||
    Math.max(width, height) / Math.min(width, height) > MAX_RATIO
  )
    throw new RpcError(400, 'PHOTO_INVALID_DIMENSIONS');
  return image;
}

/** Fits width x height into a square box, keeping the ratio (never enlarging). */
export function fitBox(width: number, height: number, box: number): { w: number; h: number } {
  if (width <= box && height <= box) return { w: width, h: height };
  const scale = box / Math.max(width, height);
  return { w: Math.max(1, Math.round(width * scale)), h: Math.max(1, Math.round(height * scale)) };
}

/** Area-average downscaling (each target pixel is the mean of the source pixels it covers). */
export function scaleImage(image: Image, w: number, h: number): Image {
  if (w === image.width && h === image.height) return image;
  const data = new Uint8Array(w * h * 4);
  const sx = image.width / w;
  const sy = image.height / h;
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor(y * sy);
    const y1 = Math.max(y0 + 1, Math.floor((y + 1) * sy));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor(x * sx);
      const x1 = Math.max(x0 + 1, Math.floor((x + 1) * sx));
      const sum = [0, 0, 0, 0];
      for (let yy = y0; yy < y1; yy++) {
        for (let xx = x0; xx < x1; xx++) {
          const i = (yy * image.width + xx) * 4;
          for (let c = 0; c < 4; c++) sum[c] += image.data[i + c];
        }
      }
      const count = (y1 - y0) * (x1 - x0);
      const o = (y * w + x) * 4;
      for (let c = 0; c < 4; c++) data[o + c] = Math.round(sum[c] / count);
    }
  }
  return { width: w, height: h, data };
}

function encodeJpeg(image: Image): Buffer {
  return jpeg.encode({ width: image.width, height: image.height, data: image.data }, JPEG_QUALITY).data;
}

/**
 * The sizes Telegram keeps of a photo: one per box up to the first box that holds the original
 * (that one at the original's dimensions), each a real JPEG; and the stripped thumbnail.
 */
export function photoSizes(image: Image): { sizes: EncodedSize[]; stripped: Buffer } {
  const wanted: Array<{ type: string; w: number; h: number }> = [];
  for (const [type, box] of PHOTO_SIZE_BOXES) {
    wanted.push({ type, ...fitBox(image.width, image.height, box) });
    if (Math.max(image.width, image.height) <= box) break;
  }
  // Largest first, each scaled from the one before (cheaper than from the original every time).
  const sizes: EncodedSize[] = [];
  let source = image;
  for (const size of [...wanted].reverse()) {
    source = scaleImage(source, size.w, size.h);
    sizes.unshift({ ...size, bytes: encodeJpeg(source) });
  }
  const tiny = fitBox(source.width, source.height, STRIPPED_BOX);
  const strippedImage = scaleImage(source, tiny.w, tiny.h);
  return { sizes, stripped: encodeStripped(strippedImage.data, tiny.w, tiny.h) };
}

/** Width and height of a JPEG or PNG without decoding it whole (thumbnails of documents). */
export function imageDimensions(bytes: Buffer): { w: number; h: number } | undefined {
  if (isPng(bytes) && bytes.length >= 24) return { w: bytes.readUInt32BE(16), h: bytes.readUInt32BE(20) };
  if (!isJpeg(bytes)) return undefined;
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1];
    const length = bytes.readUInt16BE(i + 2);
    // SOF0..SOF15 except DHT (c4), JPG (c8) and DAC (cc).
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker))
      return { h: bytes.readUInt16BE(i + 5), w: bytes.readUInt16BE(i + 7) };
    i += 2 + length;
  }
  return undefined;
}
