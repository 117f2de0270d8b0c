/**
 * Answers a download request from a MediaSource: 200 with the whole file, 206 with one range
 * or several (multipart/byteranges, in the order asked), 416 for a range the file cannot
 * give, 304 for a matching If-None-Match; HEAD gets the same headers and no body. The body is
 * a stream read from Telegram as the client takes it.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../lib/errors.js';
import { contentRange, parseRange, type ByteRange } from './download-range.js';
import type { MediaSource } from './media.service.js';

/** `inline; filename="..."; filename*=UTF-8''...` (RFC 6266, RFC 8187): an ASCII fallback and the exact name. */
export function contentDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(fileName).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `inline; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

const matchesEtag = (header: string | undefined, etag: string) =>
  header !== undefined &&
  (header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag));

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

export function sendMedia(
  request: FastifyRequest,
  reply: FastifyReply,
  source: MediaSource,
  cacheControl: string,
): FastifyReply {
  const head = request.method === 'HEAD';
  reply.header('Accept-Ranges', 'bytes');
  reply.header('ETag', source.etag);
  reply.header('Cache-Control', cacheControl);
  reply.header('Content-Disposition', contentDisposition(source.fileName));
  if (matchesEtag(header(request, 'if-none-match'), source.etag)) return reply.code(304).send();

  // If-Range: a range only while the client's copy is this one (RFC 9110 section 13.1.5).
  const ifRange = header(request, 'if-range');
  const rangeHeader =
    ifRange === undefined || ifRange.trim() === source.etag ? header(request, 'range') : undefined;
  const asked = parseRange(rangeHeader, source.size);

  if (asked.kind === 'unsatisfiable') {
    reply.header('Content-Range', `bytes */${source.size}`);
    throw new AppError(
      'RANGE_NOT_SATISFIABLE',
      `The file has ${source.size} bytes; no range asked is within it`,
      {
        size: source.size,
      },
    );
  }
  if (asked.kind === 'whole') {
    reply.code(200).type(source.mimeType).header('Content-Length', String(source.size));
    return reply.send(head || source.size === 0 ? undefined : source.open(0, source.size - 1));
  }
  if (asked.ranges.length === 1) {
    const [range] = asked.ranges as [ByteRange];
    reply
      .code(206)
      .type(source.mimeType)
      .header('Content-Range', contentRange(range, source.size))
      .header('Content-Length', String(range.end - range.start + 1));
    return reply.send(head ? undefined : source.open(range.start, range.end));
  }
  const boundary = randomBytes(12).toString('hex');
  const parts = asked.ranges.map((range) => ({
    range,
    header: Buffer.from(
      `--${boundary}\r\nContent-Type: ${source.mimeType}\r\nContent-Range: ${contentRange(range, source.size)}\r\n\r\n`,
    ),
  }));
  const closing = Buffer.from(`--${boundary}--\r\n`);
  const length =
    parts.reduce((sum, p) => sum + p.header.length + (p.range.end - p.range.start + 1) + 2, 0) +
    closing.length;
  reply.code(206).type(`multipart/byteranges; boundary=${boundary}`).header('Content-Length', String(length));
  if (head) return reply.send();
  return reply.send(Readable.from(multipart(source, parts, closing)));
}

async function* multipart(
  source: MediaSource,
  parts: { range: ByteRange; header: Buffer }[],
  closing: Buffer,
): AsyncGenerator<Buffer> {
  const crlf = Buffer.from('\r\n');
  for (const { range, header } of parts) {
    yield header;
    for await (const chunk of source.open(range.start, range.end)) yield chunk as Buffer;
    yield crlf;
  }
  yield closing;
}
