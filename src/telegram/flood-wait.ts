/**
 * Calls that treat FLOOD_WAIT_X as a delay, not a failure (core.telegram.org/api/errors, "420
 * FLOOD"): the call is made again after X seconds. The catch-up calls Telegram this way, so a
 * limited account keeps its session and never reconnects in a loop that would only spend more
 * of its budget.
 */
import type { Logger } from 'pino';
import type { Api } from 'teleproto';
import { telegramErrorName } from './errors.js';

/** The seconds of a FLOOD_WAIT_X answer (420 with its seconds), or undefined for any other error. */
export function floodWaitSeconds(err: unknown): number | undefined {
  const e = err as { code?: unknown; seconds?: unknown };
  return telegramErrorName(err) && e.code === 420 && typeof e.seconds === 'number' ? e.seconds : undefined;
}

export class FloodWaiter {
  private readonly sleeps = new Set<() => void>();
  private until = 0;
  private stopped = false;

  constructor(
    private readonly invoke: <R extends Api.AnyRequest>(request: R) => Promise<R['__response']>,
    private readonly log: Logger,
  ) {}

  /** True while a call waits out a FLOOD_WAIT (the connection is fine meanwhile). */
  get waiting(): boolean {
    return this.until > Date.now();
  }

  async call<R extends Api.AnyRequest>(request: R): Promise<R['__response']> {
    for (;;) {
      try {
        return await this.invoke(request);
      } catch (err) {
        const seconds = floodWaitSeconds(err);
        if (seconds === undefined || this.stopped) throw err;
        this.log.info({ method: request.className, seconds }, 'limited by Telegram: waiting');
        this.until = Math.max(this.until, Date.now() + seconds * 1000);
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            this.sleeps.delete(done);
            resolve();
          };
          const timer = setTimeout(done, seconds * 1000);
          this.sleeps.add(done);
        });
        if (this.stopped) throw err;
      }
    }
  }

  /** Ends the waits now: the waiting calls fail with their FLOOD_WAIT. */
  stop(): void {
    this.stopped = true;
    for (const wake of [...this.sleeps]) wake();
  }
}
