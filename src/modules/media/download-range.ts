/**
 * The `Range` header of a download (RFC 9110 section 14): byte ranges in the order asked,
 * suffix ranges (`-500`: the last 500 bytes), open ranges (`100-`), and the answer when none of
 * them can be served (416). A header that is not a byte range at all, or that asks for more
 * pieces than is reasonable, is ignored and the whole file is sent, as the RFC allows.
 */

/** First and last byte, both inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeRequest =
  { kind: 'whole' } | { kind: 'ranges'; ranges: ByteRange[] } | { kind: 'unsatisfiable' };

/** More pieces than this are answered with the whole file (a defence against tiny-range floods). */
export const MAX_RANGES = 16;

const SPEC = /^\s*(\d*)\s*-\s*(\d*)\s*$/;

export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'whole' };
  const m = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (!m) return { kind: 'whole' };
  const specs = m[1]!.split(',').filter((s) => s.trim() !== '');
  if (specs.length === 0 || specs.length > MAX_RANGES) return { kind: 'whole' };
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const parts = SPEC.exec(spec);
    if (!parts || (parts[1] === '' && parts[2] === '')) return { kind: 'whole' };
    const [first, last] = [parts[1]!, parts[2]!];
    if (first === '') {
      // A suffix: the last N bytes (all of them when N is larger than the file).
      const length = Number(last);
      if (length === 0 || size === 0) continue;
      ranges.push({ start: Math.max(0, size - length), end: size - 1 });
      continue;
    }
    const start = Number(first);
    if (last !== '' && Number(last) < start) return { kind: 'whole' };
    if (start >= size) continue;
    ranges.push({ start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) });
  }
  return ranges.length === 0 ? { kind: 'unsatisfiable' } : { kind: 'ranges', ranges };
}

/** `bytes 0-99/1234`. */
export const contentRange = (r: ByteRange, size: number) => `bytes ${r.start}-${r.end}/${size}`;
