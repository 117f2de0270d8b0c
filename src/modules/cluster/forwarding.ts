/**
 * Any instance answers: a request that acts on a session run by another instance is carried
 * out by that instance. One hook finds the session a route acts on (`sessionId` in the body or
 * query, `:id` of /sessions/:id, the session of a signed media link); when a live instance
 * other than this one holds its lease, the request goes there over HTTP (its INSTANCE_URL) with
 * the caller's resolved credential in a signed header (signing.ts), and its answer (status,
 * headers, body, streamed as it comes) is this instance's answer. New sessions (POST /sessions,
 * /sessions/qr, /sessions/import) go to the least loaded live instance.
 *
 * The receiving instance trusts the signed identity instead of a credential, applies the same
 * role and session checks, and never forwards the request again: a session that moved meanwhile
 * answers 503 SESSION_NOT_CONNECTED, as a session between owners does. Idempotency records are
 * in the shared database, so a retry through any instance finds the first attempt's answer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { PassThrough, Transform, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../lib/errors.js';
import { MediaLinks } from '../media/links.js';
import type { MultipartFile } from '../media/media-files.js';
import { multipartFile } from '../media/multipart.js';
import type { Cluster } from './cluster.js';
import type { LiveInstance } from './instances.js';
import {
  bodyHash,
  FORWARDED_HEADER,
  ForwardSigner,
  SIGNATURE_HEADER,
  type ForwardClaims,
} from './signing.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when another instance of the cluster passed this request on (signed identity). */
    clusterForwarded: boolean;
  }
}

export interface ForwardingOptions {
  cluster: Cluster;
  /** JWT_SECRET: the internal channel's key and the media links' are derived from it. */
  secret: string;
  /** How long the owner may take to start answering. */
  timeoutMs: number;
}

/** Routes that reach a session's client (the others read the shared database or the event log). */
const SESSION_ROUTES = ['/api/v1/sessions', '/api/v1/messages', '/api/v1/chats', '/api/v1/media'];
const CONNECT_ROUTE = '/api/v1/sessions/:id/connect';
/**
 * Sends carrying a file: the owner answers once Telegram has the whole file (up to 2000 MB), so
 * the wait for its answer is longer than other routes'.
 */
const MEDIA_SEND_ROUTES = new Set(['/api/v1/messages/send-media', '/api/v1/messages/send-album']);
const MEDIA_SEND_TIMEOUT_MS = 15 * 60_000;
const NEW_SESSION_ROUTES = new Set(['/api/v1/sessions', '/api/v1/sessions/qr', '/api/v1/sessions/import']);
/** Request headers the owner needs to answer the same way. */
const PASSED_HEADERS = [
  'host',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'accept',
  'idempotency-key',
  'range',
  'if-range',
  'if-none-match',
  'if-modified-since',
  'user-agent',
];
/** Response headers that describe the hop, not the answer. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);

type Target = { kind: 'session'; id: string } | { kind: 'new' };

export const forwardingPlugin = fp<ForwardingOptions>(
  async (app: FastifyInstance, opts) => {
    const signer = new ForwardSigner(opts.secret, opts.cluster.instanceId);
    const links = new MediaLinks(opts.secret);
    const claimsOf = new WeakMap<FastifyRequest, { claims: ForwardClaims; hash?: () => string }>();
    app.decorateRequest('clusterForwarded', false);

    // Before the rate limiter and the credential check: the identity is the signed one.
    app.addHook('onRequest', async (request) => {
      const value = request.headers[FORWARDED_HEADER];
      if (value === undefined) return;
      const signature = request.headers[SIGNATURE_HEADER];
      const claims =
        typeof value === 'string' && typeof signature === 'string'
          ? signer.verify(value, signature, request.method, request.url)
          : 'malformed';
      if (typeof claims === 'string') {
        throw new AppError('UNAUTHORIZED', `Forwarded request refused: ${claims}`);
      }
      request.clusterForwarded = true;
      request.principal = claims.principal;
      claimsOf.set(request, { claims });
    });

    // The body's hash, as its bytes are read, for the signature's body check.
    app.addHook('preParsing', async (request, _reply, payload) => {
      const entry = claimsOf.get(request);
      // multipart is read from the raw request by the route (see the preHandler hook).
      if (!entry || isMultipart(request)) return payload;
      const hasher = new BodyHasher();
      entry.hash = () => hasher.digest();
      return payload.pipe(hasher);
    });

    app.addHook('preValidation', async (request, reply) => {
      const entry = claimsOf.get(request);
      // A multipart body is read by the route itself: checked in preHandler below.
      if (entry && isMultipart(request)) return;
      if (entry) {
        const hash = entry.hash ? entry.hash() : bodyHash(undefined);
        if (hash !== entry.claims.body) throw new AppError('UNAUTHORIZED', 'Forwarded request refused: body');
        return;
      }
      const target = targetOf(request, links);
      if (!target || isMultipart(request)) return;
      // A session nobody runs that is to be connected is placed like a new one.
      const owner =
        target.kind === 'new'
          ? await opts.cluster.placeNew()
          : ((await opts.cluster.ownerOf(target.id)) ??
            (request.routeOptions.url === CONNECT_ROUTE && !opts.cluster.mayRun(target.id)
              ? await opts.cluster.placeNew()
              : undefined));
      if (!owner || owner.id === opts.cluster.instanceId) return;
      return forward(request, reply, owner, signer, opts.timeoutMs);
    });

    // A multipart body (send-media with a file part) is read by the route, its file staged on
    // disk: only then is its session known (its fields may follow the file). A request for a
    // session another instance runs goes there with the fields and the staged file as a new
    // multipart body. The signature covers the fields and the file's SHA-256 (multipartClaim):
    // the owner checks them once it has read the body in turn.
    app.addHook('preHandler', async (request, reply) => {
      if (!isMultipart(request)) return;
      const file = multipartFile(request);
      const entry = claimsOf.get(request);
      if (entry) {
        if (bodyHash(multipartClaim(request.body, file)) !== entry.claims.body)
          throw new AppError('UNAUTHORIZED', 'Forwarded request refused: body');
        return;
      }
      const target = targetOf(request, links);
      if (target?.kind !== 'session') return;
      const owner = await opts.cluster.ownerOf(target.id);
      if (!owner || owner.id === opts.cluster.instanceId) return;
      return forward(request, reply, owner, signer, opts.timeoutMs, file);
    });
  },
  { name: 'cluster-forwarding' },
);

/** The session a request acts on, or `new` for a route that creates one. */
function targetOf(request: FastifyRequest, links: MediaLinks): Target | undefined {
  const route = request.routeOptions.url;
  if (!route) return undefined;
  if (route === '/media/links/:token') {
    try {
      const { token } = request.params as { token: string };
      return { kind: 'session', id: links.verify(token, Date.now() / 1000).sessionId };
    } catch {
      return undefined;
    }
  }
  if (!SESSION_ROUTES.some((prefix) => route === prefix || route.startsWith(`${prefix}/`))) return undefined;
  if (request.method === 'POST' && NEW_SESSION_ROUTES.has(route)) return { kind: 'new' };
  // The list and one session's row are read from the shared database by any instance.
  if (request.method === 'GET' && (route === '/api/v1/sessions' || route === '/api/v1/sessions/:id'))
    return undefined;
  if (route.startsWith('/api/v1/sessions/:id')) {
    const { id } = request.params as { id?: unknown };
    return typeof id === 'string' ? { kind: 'session', id } : undefined;
  }
  for (const source of [request.body, request.query]) {
    const id = (source as { sessionId?: unknown } | undefined)?.sessionId;
    if (typeof id === 'string' && id) return { kind: 'session', id };
  }
  return undefined;
}

const isMultipart = (request: FastifyRequest) =>
  String(request.headers['content-type'] ?? '').startsWith('multipart/');

/** What the signature of a forwarded multipart body covers: its fields and its file. */
function multipartClaim(fields: unknown, file: MultipartFile | undefined): string {
  const f = file && {
    sha256: file.file.sha256,
    size: file.file.size,
    fileName: file.fileName ?? null,
    mimeType: file.mimeType ?? null,
  };
  return JSON.stringify({ fields: fields ?? null, file: f ?? null });
}

/** The fields and the staged file of a multipart request as a multipart body again. */
function multipartBody(
  fields: unknown,
  file: MultipartFile | undefined,
): { type: string; length: number; stream: Readable } {
  const boundary = `teleflow-${randomBytes(16).toString('hex')}`;
  const disposition = (name: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"`;
  let head = '';
  for (const [name, value] of Object.entries((fields ?? {}) as Record<string, unknown>))
    if (value !== undefined) head += `${disposition(name)}\r\n\r\n${String(value)}\r\n`;
  const tail = `--${boundary}--\r\n`;
  const stream = new PassThrough();
  let length = Buffer.byteLength(head) + Buffer.byteLength(tail);
  if (!file) {
    stream.end(head + tail);
    return { type: `multipart/form-data; boundary=${boundary}`, length, stream };
  }
  // RFC 7578 4.2: the file name percent-encoded in filename*, whatever characters it has.
  head +=
    `${disposition('file')}; filename*=UTF-8''${encodeURIComponent(file.fileName ?? '')}\r\n` +
    `Content-Type: ${file.mimeType ?? 'application/octet-stream'}\r\n\r\n`;
  length = Buffer.byteLength(head) + file.file.size + 2 + Buffer.byteLength(tail);
  stream.write(head);
  createReadStream(file.file.path)
    .on('error', (err) => stream.destroy(err))
    .on('end', () => stream.end(`\r\n${tail}`))
    .pipe(stream, { end: false });
  return { type: `multipart/form-data; boundary=${boundary}`, length, stream };
}

async function forward(
  request: FastifyRequest,
  reply: FastifyReply,
  owner: LiveInstance,
  signer: ForwardSigner,
  timeoutMs: number,
  file?: MultipartFile,
): Promise<FastifyReply> {
  const multipart = isMultipart(request);
  const body =
    multipart || request.body === undefined || request.method === 'GET' || request.method === 'HEAD'
      ? undefined
      : JSON.stringify(request.body);
  const headers: Record<string, string> = {
    ...signer.sign(owner.id, {
      method: request.method,
      url: request.url,
      body: multipart ? multipartClaim(request.body, file) : body,
      principal: request.principal,
    }),
    'x-request-id': request.id,
  };
  for (const name of PASSED_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  let payload: string | Readable | undefined = body;
  if (multipart) {
    const encoded = multipartBody(request.body, file);
    headers['content-type'] = encoded.type;
    headers['content-length'] = String(encoded.length);
    payload = encoded.stream;
  }
  const route = request.routeOptions.url ?? '';
  const wait = MEDIA_SEND_ROUTES.has(route) ? Math.max(timeoutMs, MEDIA_SEND_TIMEOUT_MS) : timeoutMs;
  let res: IncomingMessage;
  try {
    res = await send(new URL(`${owner.url}${request.url}`), request.method, headers, payload, wait);
  } catch {
    throw moving(`The instance running this session (${owner.id}) did not answer`);
  }
  // The caller going away stops the owner's answer (a download) too.
  reply.raw.once('close', () => res.destroy());
  const status = res.statusCode ?? 502;
  if (status === 503 && String(res.headers['content-type']).includes('json')) {
    const text = await readAll(res);
    // An owner shutting down hands its sessions over: to the caller the session is moving.
    if (text.includes('"SHUTTING_DOWN"')) throw moving('The session is moving to another instance');
    return relay(reply, res, owner, text);
  }
  if (request.method === 'HEAD' || status === 204 || status === 304) {
    res.resume();
    return relay(reply, res, owner, undefined);
  }
  return relay(reply, res, owner, res);
}

/**
 * One HTTP request to another instance (node:http, which lets the Host header through: links
 * and URLs the owner builds name the host the caller used). Resolves with the answer's head.
 */
function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | Readable | undefined,
  timeoutMs: number,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers }, (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    const timer = setTimeout(() => req.destroy(new Error('no answer in time')), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (typeof body === 'object') body.pipe(req);
    else req.end(body);
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function relay(
  reply: FastifyReply,
  res: IncomingMessage,
  owner: LiveInstance,
  body: string | Readable | undefined,
): FastifyReply {
  reply.status(res.statusCode ?? 502);
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined && !HOP_HEADERS.has(name)) reply.header(name, value);
  }
  reply.header('x-teleflow-instance', owner.id);
  return reply.send(body);
}

function moving(message: string): AppError {
  return new AppError('SESSION_NOT_CONNECTED', message, undefined, 5);
}

/** Passes a body through unchanged, hashing it. */
class BodyHasher extends Transform {
  private readonly hash = createHash('sha256');

  override _transform(
    chunk: Buffer,
    _enc: BufferEncoding,
    done: (err?: Error | null, data?: Buffer) => void,
  ) {
    this.hash.update(chunk);
    done(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}
