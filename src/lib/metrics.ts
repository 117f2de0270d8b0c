/**
 * What the services report to the operations metrics (`GET /metrics`, src/modules/metrics/).
 * Each service takes the part it reports as an optional dependency, so nothing changes where no
 * metrics are wired (scripts, METRICS_ENABLED=false). Every method is cheap and never throws.
 * Labels are bounded: session ids (as many as sessions), event types and error codes (closed
 * lists); never a phone number, a chat or a secret.
 */
import { AppError } from './errors.js';

export interface SendMetrics {
  /** A send request ended: `result` is `ok` or the error code it answered with. */
  sendCompleted(sessionId: string, result: string): void;
}

export interface FloodWaitMetrics {
  /** Telegram answered FLOOD_WAIT_X to one of the session's calls (slept through or not). */
  floodWait(sessionId: string, seconds: number): void;
}

/** What the metrics need of a committed event; `envelope.timestamp` is when it was created. */
export interface CommittedEvent {
  id: number;
  type: string;
  sessionId: string | null;
  envelope: { timestamp: string };
}

export interface EventLogMetrics {
  /** Events just committed to the log, in id order. */
  eventsCommitted(events: readonly CommittedEvent[]): void;
}

export interface DeliveryMetrics {
  /**
   * A webhook delivery attempt ended. `dueAt` is when it was due (its retry time, or its
   * creation for a first attempt), `startedAt` when the attempt began.
   */
  deliveryAttempted(outcome: 'succeeded' | 'failed' | 'dead', dueAt: string, startedAt: Date): void;
}

export type OperationsMetrics = SendMetrics & FloodWaitMetrics & EventLogMetrics & DeliveryMetrics;

/** The `result` label of a failed call: its code from the closed list, or `error`. */
export function resultOf(err: unknown): string {
  return err instanceof AppError ? err.code : 'error';
}

/** Reports the outcome of a send (`ok` or its error code) and passes the promise on unchanged. */
export function countSend<T>(
  metrics: SendMetrics | undefined,
  sessionId: string,
  sent: Promise<T>,
): Promise<T> {
  if (!metrics) return sent;
  return sent.then(
    (value) => {
      metrics.sendCompleted(sessionId, 'ok');
      return value;
    },
    (err: unknown) => {
      metrics.sendCompleted(sessionId, resultOf(err));
      throw err;
    },
  );
}
