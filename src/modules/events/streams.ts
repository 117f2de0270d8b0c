import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { AppError } from '../../lib/errors.js';
import type { EventType } from '../../lib/events.js';
import { assertSessionAccess, sessionScope } from '../../plugins/auth.js';
import type { AuthService, Principal } from '../auth/auth.service.js';
import { expandEventPatterns, type StreamQuery } from './events.schema.js';
import { matchesFilter, type EventFilter, type EventsService, type StoredEvent } from './events.service.js';

export interface StreamLimits {
  heartbeatMs: number;
  /** Live events held while a client replays; past it the client re-reads the log instead. */
  maxQueuedEvents: number;
  /** Bytes waiting in a client's socket; past it the client is too slow and is disconnected. */
  maxBufferedBytes: number;
}

/** How a stream client writes: SSE and WebSocket differ only here. */
interface Transport {
  readonly kind: 'sse' | 'ws';
  write(event: StoredEvent): void;
  buffered(): number;
  /** Resolves when the socket buffer has drained (or the client is gone). */
  drained(): Promise<void>;
  heartbeat(): void;
  close(reason: string): void;
}

const REPLAY_PAGE = 500;
/**
 * How often every open stream's credential is checked again. A check is a cache lookup in the
 * auth service (the database only when its cache entry is older than 30 s), and revocations made
 * by this process trigger a check at once: this interval bounds how long a stream outlives a
 * credential revoked by another process, after that process's cache delay.
 */
const CREDENTIAL_CHECK_MS = 1000;
/** Longest delay setTimeout takes; a token expiring later is caught by the periodic check. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Why a stream ends when its credential stops being valid (WebSocket: 4000 + 401). */
const CREDENTIAL_INVALID = 'credential invalid';
export const WS_CLOSE_UNAUTHORIZED = 4401;

/** The credential a stream was opened with: it must stay valid for as long as the stream is open. */
export interface StreamCaller {
  principal: Principal;
  /** The API key or JWT as presented (memory only, never logged). */
  credential: string;
}

export type StreamAuth = Pick<AuthService, 'authenticate' | 'onRevocation'>;

/**
 * One connected client. Replay, then live, without a gap or a repeat: the client subscribes to
 * live events first and holds them while it reads the log after `since`; when a page comes back
 * short it sends the held events newer than the last one sent and switches to live in the same
 * tick. Publishing is serialised, so live events arrive in id order and "newer than the last sent"
 * is exact.
 */
class StreamClient {
  private mode: 'replay' | 'live' = 'replay';
  private held: StoredEvent[] = [];
  private overflowed = false;
  private lastId: number;
  private closed = false;
  private unsubscribe: () => void = () => {};
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly events: EventsService,
    readonly caller: StreamCaller,
    private readonly filter: EventFilter,
    private readonly transport: Transport,
    private readonly limits: StreamLimits,
    private readonly log: FastifyBaseLogger,
    private readonly onClosed: (client: StreamClient) => void,
  ) {
    this.lastId = 0;
  }

  get kind(): 'sse' | 'ws' {
    return this.transport.kind;
  }

  buffered(): number {
    return this.closed ? 0 : this.transport.buffered();
  }

  /** The id it has read the log up to while replaying; undefined once live (caught up). */
  get replayingAt(): number | undefined {
    return this.mode === 'replay' && !this.closed ? this.lastId : undefined;
  }

  async start(since: number | null): Promise<void> {
    this.unsubscribe = this.events.subscribe((batch) => this.onLive(batch));
    this.heartbeatTimer = setInterval(() => this.transport.heartbeat(), this.limits.heartbeatMs);
    this.heartbeatTimer.unref();
    const expiresAt = this.caller.principal.tokenExpiresAt;
    if (expiresAt) {
      const left = expiresAt.getTime() - Date.now();
      if (left <= MAX_TIMER_MS) {
        this.expiryTimer = setTimeout(() => this.close(CREDENTIAL_INVALID), Math.max(0, left));
        this.expiryTimer.unref();
      }
    }
    if (since === null) {
      this.mode = 'live';
      return;
    }
    this.lastId = since;
    try {
      await this.replay();
    } catch (err) {
      this.log.warn({ err }, 'event stream replay failed');
      this.close('replay failed');
    }
  }

  private async replay(): Promise<void> {
    for (;;) {
      const page = await this.events.readAfter(this.lastId, this.filter, REPLAY_PAGE);
      if (this.closed) return;
      for (const event of page) {
        this.transport.write(event);
        this.lastId = event.id;
      }
      // Replay goes at the client's pace rather than filling the socket buffer.
      if (this.transport.buffered() > this.limits.maxBufferedBytes / 2) await this.transport.drained();
      if (this.closed) return;
      if (page.length === REPLAY_PAGE) continue;
      if (this.overflowed) {
        // Held events were dropped: they are in the log, read on from there.
        this.overflowed = false;
        continue;
      }
      const held = this.held;
      this.held = [];
      this.mode = 'live';
      this.sendLive(held);
      return;
    }
  }

  private onLive(batch: StoredEvent[]): void {
    if (this.closed) return;
    if (this.mode === 'replay') {
      for (const event of batch) {
        if (!matchesFilter(this.filter, event)) continue;
        if (this.held.length >= this.limits.maxQueuedEvents) {
          this.overflowed = true;
          this.held = [];
        } else if (!this.overflowed) this.held.push(event);
      }
      return;
    }
    this.sendLive(batch);
  }

  private sendLive(batch: StoredEvent[]): void {
    for (const event of batch) {
      if (event.id <= this.lastId || !matchesFilter(this.filter, event)) continue;
      this.transport.write(event);
      this.lastId = event.id;
    }
    if (this.transport.buffered() > this.limits.maxBufferedBytes) {
      this.log.warn(
        { buffered: this.transport.buffered(), lastEventId: this.lastId },
        'event stream client too slow; disconnected',
      );
      this.close('too slow');
    }
  }

  /** Ends the stream when its key was deleted, its JWT logged out or expired. */
  async checkCredential(auth: StreamAuth): Promise<void> {
    if (this.closed) return;
    try {
      const principal = await auth.authenticate(this.caller.credential);
      if (principal.keyId === this.caller.principal.keyId) return;
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'UNAUTHORIZED')) {
        // The database could not answer: the stream stays until a check can decide.
        this.log.warn({ err }, 'could not check an event stream credential');
        return;
      }
    }
    this.close(CREDENTIAL_INVALID);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.held = [];
    this.transport.close(reason);
    this.onClosed(this);
  }
}

/** The SSE and WebSocket streams: filters from the caller's rights, and every open client. */
export class EventStreams {
  private readonly clients = new Set<StreamClient>();
  private credentialTimer: NodeJS.Timeout | null = null;
  private checking = false;
  private checkAgain = false;

  constructor(
    private readonly events: EventsService,
    private readonly limits: StreamLimits,
    private readonly auth: StreamAuth,
  ) {
    auth.onRevocation(() => void this.checkCredentials());
  }

  /** Checks every open stream's credential; a call during a check runs one more afterwards. */
  private async checkCredentials(): Promise<void> {
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.checkAgain = false;
        await Promise.all([...this.clients].map((client) => client.checkCredential(this.auth)));
      } while (this.checkAgain);
    } finally {
      this.checking = false;
    }
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * Open clients by transport, the bytes waiting in their sockets, and the position of the
   * furthest-behind client still replaying the log (null when all are live) (for /metrics).
   */
  stats(): { sse: number; ws: number; bufferedBytes: number; oldestReplayId: number | null } {
    const out = { sse: 0, ws: 0, bufferedBytes: 0, oldestReplayId: null as number | null };
    for (const client of this.clients) {
      out[client.kind]++;
      out.bufferedBytes += client.buffered();
      const at = client.replayingAt;
      if (at !== undefined && (out.oldestReplayId === null || at < out.oldestReplayId))
        out.oldestReplayId = at;
    }
    return out;
  }

  /** Types from `?types=`, sessions from `?sessionId=` within what the caller's key may see. */
  filterFor(principal: Principal, query: StreamQuery): EventFilter {
    const types: Set<EventType> | null = query.types ? expandEventPatterns(query.types.split(',')) : null;
    if (query.sessionId) {
      assertSessionAccess(principal, query.sessionId);
      return { types, sessionIds: [query.sessionId] };
    }
    return { types, sessionIds: sessionScope(principal) };
  }

  private track(client: StreamClient, since: number | null): void {
    this.clients.add(client);
    if (!this.credentialTimer) {
      this.credentialTimer = setInterval(() => void this.checkCredentials(), CREDENTIAL_CHECK_MS);
      this.credentialTimer.unref();
    }
    void client.start(since);
  }

  private untrack(client: StreamClient): void {
    this.clients.delete(client);
    if (this.clients.size === 0 && this.credentialTimer) {
      clearInterval(this.credentialTimer);
      this.credentialTimer = null;
    }
  }

  openSse(
    request: FastifyRequest,
    reply: FastifyReply,
    caller: StreamCaller,
    filter: EventFilter,
    since: number | null,
  ): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': connected\nretry: 2000\n\n');
    res.socket?.setNoDelay(true);
    const log = request.log;
    const transport: Transport = {
      kind: 'sse',
      write: (event) => {
        res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${event.json}\n\n`);
      },
      buffered: () => res.writableLength,
      drained: () =>
        new Promise((resolve) => {
          if (res.writableLength === 0 || res.destroyed) return resolve();
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        }),
      heartbeat: () => {
        res.write(': keep-alive\n\n');
      },
      close: (reason) => {
        if (!res.destroyed) {
          if (reason === 'too slow' || reason === 'replay failed') res.destroy();
          else {
            // EventSource reconnects by itself and then meets the 401.
            if (reason === CREDENTIAL_INVALID) res.write(': credential revoked or expired\n\n');
            res.end();
          }
        }
      },
    };
    const client = new StreamClient(this.events, caller, filter, transport, this.limits, log, (c) =>
      this.untrack(c),
    );
    res.on('close', () => client.close('client left'));
    res.on('error', () => client.close('socket error'));
    this.track(client, since);
  }

  openWebSocket(
    socket: WebSocket,
    request: FastifyRequest,
    caller: StreamCaller,
    filter: EventFilter,
    since: number | null,
  ): void {
    let alive = true;
    socket.on('pong', () => {
      alive = true;
    });
    const transport: Transport = {
      kind: 'ws',
      write: (event) => socket.send(event.json),
      buffered: () => socket.bufferedAmount,
      drained: () =>
        new Promise((resolve) => {
          const check = () => {
            if (socket.bufferedAmount === 0 || socket.readyState !== socket.OPEN) resolve();
            else setTimeout(check, 10);
          };
          check();
        }),
      heartbeat: () => {
        if (!alive) {
          socket.terminate();
          return;
        }
        alive = false;
        socket.ping();
      },
      close: (reason) => {
        if (socket.readyState === socket.OPEN) {
          if (reason === 'too slow') socket.terminate();
          else if (reason === CREDENTIAL_INVALID)
            socket.close(WS_CLOSE_UNAUTHORIZED, 'UNAUTHORIZED: credential revoked or expired');
          else socket.close(reason === 'shutting down' ? 1001 : 1011, reason);
        }
      },
    };
    const client = new StreamClient(this.events, caller, filter, transport, this.limits, request.log, (c) =>
      this.untrack(c),
    );
    socket.on('close', () => client.close('client left'));
    socket.on('error', () => client.close('socket error'));
    this.track(client, since);
  }

  /** Ends every stream (app shutdown), so open connections do not hold the server. */
  closeAll(): void {
    for (const client of [...this.clients]) client.close('shutting down');
  }
}
