/**
 * Real stream clients for the event stream tests: the `eventsource` package's EventSource and
 * the `ws` package's WebSocket, against a TeleFlow app listening on a loopback port.
 */
import type { AddressInfo } from 'node:net';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { EVENT_TYPES } from '../../src/lib/events.js';
import { createTestApp, type TestAppOptions } from './app.js';

export type Started = Awaited<ReturnType<typeof createTestApp>> & { base: string; ws: string };

/** A test app listening on 127.0.0.1 (`port` 0: any free port). */
export async function startApp(
  env: Record<string, string> = {},
  opts: TestAppOptions & { port?: number } = {},
): Promise<Started> {
  const t = await createTestApp({ ...opts, env });
  await t.app.listen({ port: opts.port ?? 0, host: '127.0.0.1' });
  const { port } = t.app.server.address() as AddressInfo;
  return Object.assign(t, { base: `http://127.0.0.1:${port}/api/v1`, ws: `ws://127.0.0.1:${port}/api/v1` });
}

export interface SseFrame {
  id: string;
  type: string;
  data: string;
}

async function until(pred: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out; ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A real EventSource client collecting every frame (events are named by type, so listen to all 28). */
export function openSse(url: string, headers: Record<string, string> = {}) {
  const frames: SseFrame[] = [];
  /** The HTTP status of each failed (re)connection, e.g. 401 once the credential is gone. */
  const errorCodes: (number | undefined)[] = [];
  let opens = 0;
  const es = new EventSource(url, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...headers } }),
  });
  for (const type of EVENT_TYPES) {
    es.addEventListener(type, (e) => frames.push({ id: e.lastEventId, type: e.type, data: e.data }));
  }
  es.addEventListener('open', () => opens++);
  es.addEventListener('error', (e) => errorCodes.push(e.code));
  return {
    es,
    frames,
    errorCodes,
    opens: () => opens,
    until: (pred: () => boolean, timeoutMs = 8000) =>
      until(pred, timeoutMs, () => `got ${frames.length} frames`),
  };
}

export function openWs(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  const frames: string[] = [];
  ws.on('message', (data) => frames.push(String(data)));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    frames,
    opened,
    closed,
    until: (pred: () => boolean, timeoutMs = 8000) =>
      until(pred, timeoutMs, () => `got ${frames.length} frames`),
  };
}

/** The HTTP status a WebSocket upgrade is refused with (0 if it was accepted). */
export function wsRefusal(url: string, headers: Record<string, string> = {}): Promise<number> {
  const ws = new WebSocket(url, { headers });
  return new Promise<number>((resolve) => {
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => {
      ws.close();
      resolve(0);
    });
    ws.on('error', () => {});
  });
}
