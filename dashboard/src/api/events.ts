import {
  createContext,
  createElement,
  useContext,
  useEffect,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from 'react';
import type { EventType, TeleFlowEvent } from './client';

/**
 * The live event stream: one WebSocket (`/api/v1/ws?token=`) per signed-in tab, shared by every
 * page. A dropped connection is opened again with `?since=<last id seen>`, so no event is lost
 * or repeated across reconnects. Pages subscribe with `useLiveEvents`.
 */

export type StreamStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';
export type EventListener = (event: TeleFlowEvent) => void;

export interface EventStreamOptions {
  /** The JWT (or key) for `?token=`: browsers cannot set headers on a WebSocket. */
  token: string;
  /** Comma list of types with `*` and `prefix.*` wildcards; all when absent. */
  types?: string;
  sessionId?: string;
  /** Replay the events after this id before going live. */
  since?: string;
  /** The credential ended (closed with 4401): the app signs out. */
  onUnauthorized?: () => void;
}

const RATE_WINDOW_SECONDS = 60;
const MAX_BACKOFF_MS = 15_000;

/** One WebSocket event stream with resume; `close()` ends it for good. */
export class EventStream {
  private socket: WebSocket | null = null;
  private readonly listeners = new Set<EventListener>();
  private readonly statusListeners = new Set<() => void>();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private ended = false;
  /** Events counted per second over the last minute (ring buffer by epoch second). */
  private readonly buckets = new Array<number>(RATE_WINDOW_SECONDS).fill(0);
  private readonly bucketSecond = new Array<number>(RATE_WINDOW_SECONDS).fill(0);
  status: StreamStatus = 'connecting';
  /** The id of the last event received; a reconnect resumes after it. */
  lastId: string | null;

  constructor(private readonly options: EventStreamOptions) {
    this.lastId = options.since ?? null;
    this.connect();
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener: () => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Events received in the last minute. */
  eventsLastMinute(now = Date.now()): number {
    const second = Math.floor(now / 1000);
    let total = 0;
    for (let i = 0; i < RATE_WINDOW_SECONDS; i++) {
      if (second - this.bucketSecond[i] < RATE_WINDOW_SECONDS) total += this.buckets[i];
    }
    return total;
  }

  close(): void {
    this.ended = true;
    clearTimeout(this.retryTimer);
    this.socket?.close(1000, 'closed');
    this.socket = null;
    this.setStatus('closed');
  }

  private url(): string {
    const params = new URLSearchParams({ token: this.options.token });
    if (this.options.types) params.set('types', this.options.types);
    if (this.options.sessionId) params.set('sessionId', this.options.sessionId);
    if (this.lastId) params.set('since', this.lastId);
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${window.location.host}/api/v1/ws?${params}`;
  }

  private connect(): void {
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onopen = () => {
      this.failures = 0;
      this.setStatus('open');
    };
    socket.onmessage = (message) => {
      if (typeof message.data !== 'string') return;
      let event: TeleFlowEvent;
      try {
        event = JSON.parse(message.data) as TeleFlowEvent;
      } catch {
        return;
      }
      this.lastId = event.id;
      this.count();
      for (const listener of this.listeners) listener(event);
    };
    socket.onclose = (close) => {
      if (this.socket !== socket || this.ended) return;
      this.socket = null;
      // 4401: the credential ended (signed out elsewhere, expired, key deleted).
      if (close.code === 4401) {
        this.close();
        this.options.onUnauthorized?.();
        return;
      }
      this.setStatus('reconnecting');
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.failures++);
      this.retryTimer = setTimeout(() => this.connect(), delay * (0.75 + Math.random() / 2));
    };
  }

  private count(): void {
    const second = Math.floor(Date.now() / 1000);
    const slot = second % RATE_WINDOW_SECONDS;
    if (this.bucketSecond[slot] !== second) {
      this.bucketSecond[slot] = second;
      this.buckets[slot] = 0;
    }
    this.buckets[slot]++;
  }

  private setStatus(status: StreamStatus): void {
    if (this.status === status) return;
    this.status = status;
    for (const listener of this.statusListeners) listener();
  }
}

const LiveEventsContext = createContext<EventStream | null>(null);

/** Opens the tab's shared stream for the signed-in token; closes it on sign-out. */
export function LiveEventsProvider({
  token,
  onUnauthorized,
  children,
}: {
  token: string;
  onUnauthorized: () => void;
  children: ReactNode;
}) {
  const unauthorized = useRef(onUnauthorized);
  unauthorized.current = onUnauthorized;
  const [stream, setStream] = useState<EventStream | null>(null);
  useEffect(() => {
    const opened = new EventStream({ token, onUnauthorized: () => unauthorized.current() });
    setStream(opened);
    return () => opened.close();
  }, [token]);
  return createElement(LiveEventsContext.Provider, { value: stream }, children);
}

/** The tab's shared stream (null outside the signed-in layout). */
export function useEventStream(): EventStream | null {
  return useContext(LiveEventsContext);
}

function matches(type: string, patterns: readonly string[] | undefined): boolean {
  if (!patterns?.length) return true;
  return patterns.some(
    (p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))),
  );
}

/**
 * Calls `listener` for each live event (of `types`, with `*` and `prefix.*` wildcards, and of
 * `sessionId` when given). The latest listener is used without resubscribing.
 *
 *   useLiveEvents((event) => ..., { types: ['session.*'] });
 */
export function useLiveEvents(
  listener: EventListener,
  filter: { types?: readonly (EventType | `${string}.*` | '*')[]; sessionId?: string } = {},
): void {
  const stream = useEventStream();
  const latest = useRef(listener);
  latest.current = listener;
  const types = filter.types?.join(',');
  const { sessionId } = filter;
  useEffect(() => {
    if (!stream) return;
    const patterns = types?.split(',');
    return stream.subscribe((event) => {
      if (sessionId !== undefined && event.sessionId !== sessionId) return;
      if (matches(event.type, patterns)) latest.current(event);
    });
  }, [stream, types, sessionId]);
}

/** The shared stream's state, for a "live" indicator. */
export function useStreamStatus(): StreamStatus {
  const stream = useEventStream();
  return useSyncExternalStore(
    (onChange) => stream?.onStatus(onChange) ?? (() => {}),
    () => stream?.status ?? 'closed',
  );
}
