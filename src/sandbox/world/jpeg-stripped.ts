/**
 * Telegram's stripped thumbnails (photoStrippedSize, type "i"): a tiny JPEG (at most 40x40) with
 * its fixed header and footer cut off, `0x01, height, width` in front of the entropy-coded data
 * (https://core.telegram.org/api/files#stripped-thumbnails). Clients put back a header that is
 * the same for every stripped thumbnail: baseline, 4:2:0 chroma subsampling, the JPEG standard's
 * Huffman tables (ITU T.81 Annex K.3) and its quantization tables scaled to quality 20. So the
 * body must be coded with exactly those tables: this is a small baseline encoder that does so
 * (jpeg-js, used for the other sizes, codes 4:4:4 and cannot).
 */

/** Width and height of a stripped thumbnail fit in this box. */
export const STRIPPED_BOX = 40;

const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
];

// ITU T.81 Annex K.1, natural order.
const LUMA_QUANT = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22,
  29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103,
  121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_QUANT = [
  17,
  18,
  24,
  47,
  99,
  99,
  99,
  99,
  18,
  21,
  26,
  66,
  99,
  99,
  99,
  99,
  24,
  26,
  56,
  99,
  99,
  99,
  99,
  99,
  47,
  66,
  99,
  99,
  99,
  99,
  99,
  99,
  ...Array<number>(32).fill(99),
];

/** The standard table scaled to a quality as libjpeg does (quality 20: 250 %), natural order. */
export function scaledQuantTable(base: number[], quality: number): number[] {
  const scale = quality < 50 ? 5000 / quality : 200 - quality * 2;
  return base.map((q) => Math.min(255, Math.max(1, Math.floor((q * scale + 50) / 100))));
}

export const STRIPPED_QUALITY = 20;
const QUANT = [
  scaledQuantTable(LUMA_QUANT, STRIPPED_QUALITY),
  scaledQuantTable(CHROMA_QUANT, STRIPPED_QUALITY),
];

// ITU T.81 Annex K.3: code counts per length 1..16, then the symbols.
const DC_BITS = [
  [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
  [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
];
const DC_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_BITS = [
  [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
  [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
];
const AC_VALUES = [
  '01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a' +
    '3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a9293' +
    '9495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6' +
    'e7e8e9eaf1f2f3f4f5f6f7f8f9fa',
  '000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a2627' +
    '28292a35363738393a434445464748494a535455565758595a636465666768696a737475767778797a8283848586878889' +
    '8a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4' +
    'e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa',
].map((hex) => [...Buffer.from(hex, 'hex')]);

type Code = [code: number, length: number];

/** Canonical Huffman codes (T.81 Annex C) by symbol. */
function huffmanCodes(bits: number[], values: number[]): Code[] {
  const codes: Code[] = [];
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < bits[length - 1]; i++) codes[values[k++]] = [code++, length];
    code <<= 1;
  }
  return codes;
}

const DC_CODES = [huffmanCodes(DC_BITS[0], DC_VALUES), huffmanCodes(DC_BITS[1], DC_VALUES)];
const AC_CODES = [huffmanCodes(AC_BITS[0], AC_VALUES[0]), huffmanCodes(AC_BITS[1], AC_VALUES[1])];

const COS = Array.from({ length: 8 }, (_, x) =>
  Array.from({ length: 8 }, (__, u) => Math.cos(((2 * x + 1) * u * Math.PI) / 16)),
);

class BitWriter {
  private readonly bytes: number[] = [];
  private acc = 0;
  private count = 0;

  write(code: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((code >> i) & 1);
      if (++this.count === 8) this.flushByte();
    }
  }

  private flushByte(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0); // byte stuffing
    this.acc = 0;
    this.count = 0;
  }

  finish(): Buffer {
    if (this.count > 0) this.write(0x7f, 8 - this.count); // pad with one bits
    return Buffer.from(this.bytes);
  }
}

/** Magnitude category and the bits that follow it (T.81 F.1.2.1). */
function category(value: number): { size: number; bits: number } {
  const abs = Math.abs(value);
  const size = abs === 0 ? 0 : Math.floor(Math.log2(abs)) + 1;
  return { size, bits: value < 0 ? value + (1 << size) - 1 : value };
}

function encodeBlock(out: BitWriter, block: Float64Array, table: 0 | 1, previousDc: number): number {
  const quant = QUANT[table];
  const coefficients = new Array<number>(64);
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      let sum = 0;
      for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) sum += block[y * 8 + x] * COS[x][u] * COS[y][v];
      const cu = u === 0 ? Math.SQRT1_2 : 1;
      const cv = v === 0 ? Math.SQRT1_2 : 1;
      coefficients[v * 8 + u] = Math.round((0.25 * cu * cv * sum) / quant[v * 8 + u]);
    }
  }
  const dc = coefficients[0];
  const diff = category(dc - previousDc);
  out.write(...DC_CODES[table][diff.size]);
  if (diff.size) out.write(diff.bits, diff.size);
  let run = 0;
  for (let k = 1; k < 64; k++) {
    const value = coefficients[ZIGZAG[k]];
    if (value === 0) {
      run++;
      continue;
    }
    while (run > 15) {
      out.write(...AC_CODES[table][0xf0]);
      run -= 16;
    }
    const ac = category(value);
    out.write(...AC_CODES[table][(run << 4) | ac.size]);
    out.write(ac.bits, ac.size);
    run = 0;
  }
  if (run > 0) out.write(...AC_CODES[table][0x00]);
  return dc;
}

/**
 * The stripped thumbnail of an RGBA image already scaled to fit STRIPPED_BOX: `0x01, height,
 * width` and the scan data, coded for Telegram's fixed header.
 */
export function encodeStripped(rgba: Uint8Array, width: number, height: number): Buffer {
  if (width < 1 || height < 1 || width > 255 || height > 255) throw new Error('bad stripped size');
  const pixel = (x: number, y: number): [number, number, number] => {
    const i = (Math.min(y, height - 1) * width + Math.min(x, width - 1)) * 4;
    const [r, g, b] = [rgba[i], rgba[i + 1], rgba[i + 2]];
    return [
      0.299 * r + 0.587 * g + 0.114 * b,
      -0.168736 * r - 0.331264 * g + 0.5 * b + 128,
      0.5 * r - 0.418688 * g - 0.081312 * b + 128,
    ];
  };
  const out = new BitWriter();
  const dc = [0, 0, 0];
  for (let my = 0; my < height; my += 16) {
    for (let mx = 0; mx < width; mx += 16) {
      for (const [bx, by] of [
        [0, 0],
        [8, 0],
        [0, 8],
        [8, 8],
      ]) {
        const block = new Float64Array(64);
        for (let y = 0; y < 8; y++)
          for (let x = 0; x < 8; x++) block[y * 8 + x] = pixel(mx + bx + x, my + by + y)[0] - 128;
        dc[0] = encodeBlock(out, block, 0, dc[0]);
      }
      for (const component of [1, 2]) {
        const block = new Float64Array(64);
        for (let y = 0; y < 8; y++) {
          for (let x = 0; x < 8; x++) {
            let sum = 0;
            for (const [dx, dy] of [
              [0, 0],
              [1, 0],
              [0, 1],
              [1, 1],
            ])
              sum += pixel(mx + 2 * x + dx, my + 2 * y + dy)[component];
            block[y * 8 + x] = sum / 4 - 128;
          }
        }
        dc[component] = encodeBlock(out, block, 1, dc[component]);
      }
    }
  }
  return Buffer.concat([Buffer.from([1, height, width]), out.finish()]);
}
