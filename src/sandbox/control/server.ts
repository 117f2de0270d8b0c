/**
 * The sandbox's control API: HTTP JSON on loopback that plays "the other people" in tests and
 * development (create users, post as them, read login codes, inject faults). Routes are a
 * table (routes/) so `GET /` can list every one of them.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { z } from 'zod';
import { RpcError } from '../contract.js';
import type { World } from '../world/world.js';
import type { FaultInjector } from '../world/faults.js';
import { ControlError, buildRoutes } from './routes/index.js';
import type { Route } from './routes/index.js';

export interface ControlServerOptions {
  world: World;
  faults: FaultInjector;
  /** The port to listen on (0: a free one), or `shared` with the port another listener hands over. */
  port: number | { shared: number };
  host?: string;
  logger?: Logger;
  /** RPC methods the dispatcher answers, listed by `GET /`. */
  methods?: string[];
}

export interface ControlServer {
  url: string;
  port: number;
  /** Serves a connection another listener accepted (the MTProto port it shares), paused, its first bytes unshifted. */
  acceptConnection(socket: Socket): void;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  // A request refused before its body was read: close the connection rather than read the rest.
  send(res, status, { error: { code, message } }, status === 413 ? { connection: 'close' } : {});
}

async function readJson(req: IncomingMessage, maxBody = MAX_BODY): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = () =>
    new ControlError(413, 'PAYLOAD_TOO_LARGE', `Body larger than ${Math.round(maxBody / 1024 / 1024)} MB`);
  if (Number.isFinite(declared) && declared > maxBody) throw tooLarge();
  // Listeners rather than for-await: leaving that loop early would destroy the socket before
  // the 413 could be written.
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) {
        req.off('data', onData);
        req.off('end', onEnd);
        reject(tooLarge());
      } else chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
  const text = raw.toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    // Syntax errors, and nesting too deep for the parser's stack, alike.
    throw new ControlError(400, 'INVALID_JSON', 'Body is not valid JSON');
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ControlError(
      400,
      'BAD_PATH',
      `Bad percent-encoding in the path segment ${segment.slice(0, 100)}`,
    );
  }
}

/** The route's parameters (still percent-encoded) when method and path match it. */
function match(route: Route, method: string, path: string): Record<string, string> | undefined {
  if (route.method !== method) return undefined;
  const want = route.path.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) params[want[i].slice(1)] = got[i];
    else if (want[i] !== got[i]) return undefined;
  }
  return params;
}

/** One request, start to end: every failure becomes a JSON error, never an exception. */
async function handle(
  routes: Route[],
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger | undefined,
): Promise<void> {
  const method = req.method ?? 'GET';
  try {
    const raw = req.url ?? '/';
    // Parsed against a fixed origin: a path such as "//x" must not be read as a host name.
    const url =
      raw.startsWith('/') && URL.canParse(`http://sandbox${raw}`)
        ? new URL(`http://sandbox${raw}`)
        : undefined;
    if (!url) throw new ControlError(400, 'BAD_PATH', 'The request target is not a path');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    let found: { route: Route; params: Record<string, string> } | undefined;
    let pathKnown = false;
    for (const route of routes) {
      if (match({ ...route, method }, method, path)) pathKnown = true;
      const params = match(route, method, path);
      if (params) {
        found = { route, params };
        break;
      }
    }
    if (!found) {
      if (pathKnown)
        throw new ControlError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; see GET /`);
      throw new ControlError(404, 'NOT_FOUND', `No route ${method} ${path.slice(0, 200)}; see GET /`);
    }
    const params = Object.fromEntries(
      Object.entries(found.params).map(([name, value]) => [name, decodeSegment(value)]),
    );
    const body = method === 'GET' || method === 'HEAD' ? {} : await readJson(req, found.route.maxBody);
    const parsed = found.route.body
      ? found.route.body.safeParse(body)
      : { success: true as const, data: body };
    if (!parsed.success) {
      sendError(res, 400, 'VALIDATION_FAILED', z.prettifyError(parsed.error));
      return;
    }
    const result = await found.route.handler({ params, query: url.searchParams, body: parsed.data });
    send(res, result.status ?? 200, result.body);
  } catch (error) {
    if (error instanceof ControlError) sendError(res, error.status, error.code, error.message);
    else if (error instanceof RpcError)
      sendError(
        res,
        error.errorCode === 404 ? 404 : 400,
        error.errorMessage,
        `Telegram error ${error.errorMessage}`,
      );
    else {
      logger?.error({ err: error, method }, 'sandbox control: unexpected error');
      sendError(res, 500, 'INTERNAL', 'Unexpected error in the sandbox control API');
    }
  }
}

export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const routes = buildRoutes({
    world: options.world,
    faults: options.faults,
    methods: options.methods ?? [],
  });
  const server = createServer((req, res) => {
    handle(routes, req, res, options.logger).catch((error: unknown) => {
      // Only a failure to write the answer itself lands here: drop the connection.
      options.logger?.error({ err: error }, 'sandbox control: could not answer');
      res.destroy();
    });
  });
  // Requests that are not HTTP at all still get a JSON answer before the connection closes.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // As Node's own handler: nothing more once an answer to this connection has started.
    const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (error.code === 'ECONNRESET' || !socket.writable || answering) {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const text = JSON.stringify({
      error: tooLarge
        ? { code: 'HEADERS_TOO_LARGE', message: 'Request headers too large' }
        : { code: 'BAD_REQUEST', message: 'Malformed HTTP request' },
    });
    socket.end(
      `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n` +
        `connection: close\r\n\r\n${text}`,
    );
  });
  const host = options.host ?? '127.0.0.1';
  const wanted = options.port;
  if (typeof wanted === 'number') {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(wanted, host, () => {
        server.off('error', reject);
        server.on('error', (error) =>
          options.logger?.error({ err: error }, 'sandbox control: listener error'),
        );
        resolve();
      });
    });
  }
  const port = typeof wanted === 'number' ? (server.address() as AddressInfo).port : wanted.shared;
  return {
    url: `http://${host}:${port}`,
    port,
    acceptConnection(socket) {
      server.emit('connection', socket);
      socket.resume();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
