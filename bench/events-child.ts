/**
 * Helper process of bench/events.ts (never run alone). Role from argv[2]:
 *   receiver <port-file>       an HTTP webhook receiver recording publish-to-receive latency
 *   clients <base> <key> <n>   n stream clients, half SSE (eventsource), half WebSocket (ws)
 * It reads commands from the parent over IPC and answers with JSON messages.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';

const now = () => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(latencies: number[]) {
  const s = [...latencies].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), max: s.at(-1) ?? NaN };
}

const send = (msg: unknown) => process.send!(msg);
const role = process.argv[2];

if (role === 'receiver') {
  const ids = new Set<string>();
  let requests = 0;
  let latencies: number[] = [];
  let lastAt = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; data: { t0: number } };
      requests++;
      ids.add(body.id);
      lastAt = now();
      latencies.push(lastAt - body.data.t0);
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => send({ port: (server.address() as AddressInfo).port }));
  process.on('message', (cmd: string) => {
    if (cmd === 'reset') {
      ids.clear();
      requests = 0;
      latencies = [];
      send({ ok: true });
    } else if (cmd === 'stats') {
      send({ distinct: ids.size, requests, lastAt, ...summary(latencies) });
    } else if (cmd === 'exit') {
      server.close();
      server.closeAllConnections();
      process.exit(0);
    }
  });
}

if (role === 'clients') {
  const [base, key, nRaw] = process.argv.slice(3) as [string, string, string];
  const n = Number(nRaw);
  let received = 0;
  let latencies: number[] = [];
  const closers: (() => void)[] = [];
  let opened = 0;
  const onFrame = (json: string) => {
    const t0 = (JSON.parse(json) as { data: { t0: number } }).data.t0;
    latencies.push(now() - t0);
    received++;
  };
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      const es = new EventSource(`${base}/events?types=user.*&token=${encodeURIComponent(key)}`);
      es.addEventListener('user.typing', (e) => onFrame(e.data));
      es.addEventListener('open', () => opened++);
      closers.push(() => es.close());
    } else {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/ws?types=user.typing`, {
        headers: { 'x-api-key': key },
      });
      ws.on('message', (d) => onFrame(String(d)));
      ws.on('open', () => opened++);
      ws.on('error', () => {});
      closers.push(() => ws.close());
    }
  }
  const waitOpen = setInterval(() => {
    if (opened === n) {
      clearInterval(waitOpen);
      send({ opened });
    }
  }, 20);
  process.on('message', (cmd: string) => {
    if (cmd === 'stats') {
      send({ received, ...summary(latencies) });
      latencies = [];
      received = 0;
    } else if (cmd === 'exit') {
      for (const c of closers) c();
      setTimeout(() => process.exit(0), 200);
    }
  });
}
