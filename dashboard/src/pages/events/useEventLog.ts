import { useEffect, useRef, useState } from 'react';
import type { TeleFlowEvent } from '../../api/client';
import { EventStream, type StreamStatus } from '../../api/events';

/** The monitor keeps this many events (the newest); older ones fall off the end. */
export const MAX_EVENTS = 10_000;
/** Events arriving between two flushes are added in one render. */
const FLUSH_MS = 100;

export interface LoggedEvent {
  event: TeleFlowEvent;
  /** The envelope as lower-case JSON, made once, for the payload search. */
  haystack: string;
}

export interface EventLogOptions {
  token: string;
  /** Comma list of types and wildcards; all when empty. */
  types: string;
  sessionId: string | null;
  /** Replay the events after this id, then go live; null: live only. */
  since: string | null;
  paused: boolean;
}

export interface EventLog {
  /** Newest first, at most MAX_EVENTS. */
  events: LoggedEvent[];
  /** Events received while paused, shown on resume. */
  pending: number;
  status: StreamStatus;
  clear(): void;
}

/**
 * A stream of its own for the monitor (its filters and replay point differ from the tab's shared
 * stream), batched into one state update per FLUSH_MS, so hundreds of events a second cost a
 * few renders. While paused, events are held (up to MAX_EVENTS) rather than dropped.
 */
export function useEventLog({ token, types, sessionId, since, paused }: EventLogOptions): EventLog {
  const [events, setEvents] = useState<LoggedEvent[]>([]);
  const [pending, setPending] = useState(0);
  const [status, setStatus] = useState<StreamStatus>('connecting');
  const queue = useRef<LoggedEvent[]>([]);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    queue.current = [];
    setEvents([]);
    setPending(0);
    const stream = new EventStream({
      token,
      ...(types ? { types } : {}),
      ...(sessionId ? { sessionId } : {}),
      ...(since ? { since } : {}),
    });
    const offStatus = stream.onStatus(() => setStatus(stream.status));
    setStatus(stream.status);
    const off = stream.subscribe((event) => {
      queue.current.push({ event, haystack: JSON.stringify(event).toLowerCase() });
      if (queue.current.length > MAX_EVENTS) queue.current.splice(0, queue.current.length - MAX_EVENTS);
    });
    const timer = window.setInterval(() => {
      if (queue.current.length === 0) return;
      if (pausedRef.current) {
        setPending(queue.current.length);
        return;
      }
      const batch = queue.current.reverse();
      queue.current = [];
      setPending(0);
      setEvents((current) => {
        const next = batch.concat(current);
        return next.length > MAX_EVENTS ? next.slice(0, MAX_EVENTS) : next;
      });
    }, FLUSH_MS);
    return () => {
      window.clearInterval(timer);
      off();
      offStatus();
      stream.close();
    };
  }, [token, types, sessionId, since]);

  return {
    events,
    pending,
    status,
    clear: () => {
      queue.current = [];
      setPending(0);
      setEvents([]);
    },
  };
}
