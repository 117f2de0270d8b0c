/**
 * Files given as an http(s) `url`: fetched through the same SSRF guard as webhooks (no private,
 * loopback or link-local address unless WEBHOOK_ALLOW_PRIVATE, checked on every address the name
 * resolves to at connect time, and on each redirect), within a size and a time limit, and
 * streamed to disk.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { basename } from 'node:path';
import { AppError } from '../../lib/errors.js';
import {
  guardedLookup,
  isForbiddenAddress,
  parseWebhookUrl,
  UnsafeUrlError,
  type HostResolver,
} from '../../lib/ssrf.js';
import type { StagedFile, UploadStore } from './upload-store.js';

const MAX_REDIRECTS = 3;

export interface FetchOptions {
  allowPrivate: boolean;
  timeoutMs: number;
  maxBytes: number;
  userAgent: string;
  /** Host name resolution (DNS unless a test injects its own). */
  resolver?: HostResolver;
}

export interface FetchedFile {
  file: StagedFile;
  /** The Content-Type the server declared (without parameters). */
  mimeType?: string;
  /** From Content-Disposition, else the last segment of the URL's path. */
  fileName?: string;
}

const invalidUrl = (field: string, message: string) =>
  new AppError('VALIDATION_ERROR', 'Request validation failed', [{ field, message }]);

/** Downloads `rawUrl` into a staged file; the field names the input in error details. */
export async function fetchToStore(
  store: UploadStore,
  rawUrl: string,
  opts: FetchOptions,
  field = 'body.url',
): Promise<FetchedFile> {
  const lookup = guardedLookup(opts.allowPrivate, opts.resolver);
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let url = rawUrl;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let target: URL;
    try {
      const parsed = parseWebhookUrl(url);
      if (!opts.allowPrivate && isIP(parsed.host) && isForbiddenAddress(parsed.host))
        throw new UnsafeUrlError(`${parsed.host} is a private, loopback, link-local or reserved address`);
      target = parsed.url;
    } catch (err) {
      if (err instanceof UnsafeUrlError) throw invalidUrl(field, err.message);
      throw err;
    }
    const res = await get(target, lookup, opts.userAgent, signal).catch((err: unknown) => {
      throw fetchFailed(target, err, opts.timeoutMs, field);
    });
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      url = new URL(res.headers.location, target).toString();
      continue;
    }
    if (status < 200 || status >= 300) {
      res.resume();
      throw new AppError('BAD_REQUEST', `Fetching the url answered HTTP ${status}`, {
        field,
        status,
      });
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      res.destroy();
      throw new AppError('PAYLOAD_TOO_LARGE', `The file at the url is larger than ${opts.maxBytes} bytes`, {
        maxBytes: opts.maxBytes,
        size: declared,
      });
    }
    let file: StagedFile;
    try {
      file = await store.stage(res, opts.maxBytes);
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw fetchFailed(target, err, opts.timeoutMs, field);
    }
    const mimeType = res.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    return { file, mimeType: mimeType || undefined, fileName: fileNameOf(res.headers, target) };
  }
  throw new AppError('BAD_REQUEST', `Fetching the url took more than ${MAX_REDIRECTS} redirects`, { field });
}

function get(
  url: URL,
  lookup: ReturnType<typeof guardedLookup>,
  userAgent: string,
  signal: AbortSignal,
): Promise<http.IncomingMessage> {
  const request = url.protocol === 'https:' ? https.get : http.get;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { lookup, signal, headers: { 'user-agent': userAgent, accept: '*/*' } },
      resolve,
    );
    req.on('error', reject);
  });
}

function fetchFailed(url: URL, err: unknown, timeoutMs: number, field: string): AppError {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EFORBIDDENADDRESS')
    return invalidUrl(
      field,
      `${url.hostname} resolves only to private, loopback, link-local or reserved addresses`,
    );
  const timedOut = e?.name === 'AbortError' || e?.name === 'TimeoutError';
  return new AppError(
    'BAD_REQUEST',
    timedOut
      ? `Fetching the url took longer than ${timeoutMs} ms`
      : `Could not fetch the url: ${e?.code ?? e?.message ?? 'connection failed'}`,
    { field },
  );
}

function fileNameOf(headers: http.IncomingHttpHeaders, url: URL): string | undefined {
  const disposition = headers['content-disposition'] ?? '';
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  let name: string | undefined;
  try {
    name = star ? decodeURIComponent(star[1]!) : plain?.[1];
    name ??= decodeURIComponent(basename(url.pathname));
  } catch {
    name = undefined;
  }
  return name && name !== '/' ? basename(name) : undefined;
}
