import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The raw body, exactly as received (signatures are computed over it). */
  body: string;
  at: number;
  /** The status this receiver answered with. */
  status: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Status to answer request number n (0-based); default 200. */
  respond: (n: number, req: http.IncomingMessage) => number | Promise<number>;
  /** Resolves when at least `count` requests matching `where` arrived; rejects after `timeoutMs`. */
  waitFor(
    count: number,
    timeoutMs?: number,
    where?: (r: ReceivedRequest) => boolean,
  ): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 that records every webhook POST it gets. */
export async function startWebhookReceiver(
  opts: { port?: number; respond?: WebhookReceiver['respond'] } = {},
): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const waiters = new Set<() => void>();
  const receiver = {
    respond: opts.respond ?? (() => 200),
  } as WebhookReceiver;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = requests.length;
      void Promise.resolve(receiver.respond(n, req)).then((status) => {
        requests.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
          status,
        });
        res
          .writeHead(status, { 'content-type': 'text/plain' })
          .end(status < 300 ? 'ok' : `failing with ${status}`);
        for (const w of waiters) w();
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    requests,
    waitFor(count: number, timeoutMs = 10_000, where: (r: ReceivedRequest) => boolean = () => true) {
      return new Promise<ReceivedRequest[]>((resolve, reject) => {
        const check = () => {
          const matching = requests.filter(where);
          if (matching.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(matching);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `timed out waiting for ${count} webhook requests (got ${requests.filter(where).length})`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  });
  return receiver;
}
