/**
 * The sandbox's control API: HTTP JSON on loopback that plays "the other people" in tests and
 * development (create users, post as them, read login codes, inject faults). Routes are a
 * table (routes.ts) so `GET /` can list every one of them.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { z } from 'zod';
import { RpcError } from '../contract.js';
import type { World } from '../world/world.js';
import type { FaultInjector } from '../world/faults.js';
import { ControlError, buildRoutes } from './routes.js';
import type { Route } from './routes.js';

export interface ControlServerOptions {
  world: World;
  faults: FaultInjector;
  port: number;
  host?: string;
  logger?: Logger;
  /** RPC methods the dispatcher answers, listed by `GET /`. */
  methods?: string[];
}

export interface ControlServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { error: { code, message } });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ControlError(413, 'PAYLOAD_TOO_LARGE', 'Body larger than 1 MB');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ControlError(400, 'INVALID_JSON', 'Body is not valid JSON');
  }
}

function match(route: Route, method: string, path: string): Record<string, string> | undefined {
  if (route.method !== method) return undefined;
  const want = route.path.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return undefined;
  }
  return params;
}

export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const routes = buildRoutes({
    world: options.world,
    faults: options.faults,
    methods: options.methods ?? [],
  });
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      const method = req.method ?? 'GET';
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
          sendError(res, 405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; see GET /`);
        else sendError(res, 404, 'NOT_FOUND', `No route ${method} ${path}; see GET /`);
        return;
      }
      try {
        const body = method === 'GET' || method === 'HEAD' ? {} : await readJson(req);
        const parsed = found.route.body
          ? found.route.body.safeParse(body)
          : { success: true as const, data: body };
        if (!parsed.success) {
          sendError(res, 400, 'VALIDATION_FAILED', z.prettifyError(parsed.error));
          return;
        }
        const result = await found.route.handler({
          params: found.params,
          query: url.searchParams,
          body: parsed.data,
        });
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
          options.logger?.error({ err: error }, 'sandbox control: unexpected error');
          sendError(res, 500, 'INTERNAL', 'Unexpected error in the sandbox control API');
        }
      }
    })();
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
