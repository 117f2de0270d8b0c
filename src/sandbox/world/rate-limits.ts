/**
 * Flood limits per account and method, as Telegram applies them: a method called more often
 * than its budget answers 420 FLOOD_WAIT_X, X being the seconds until the oldest call of the
 * window leaves it (core.telegram.org/api/errors, "420 FLOOD"). Telegram does not publish its
 * budgets; resolving usernames is known to be the strictest (core.telegram.org/method/
 * contacts.resolveUsername lists FLOOD_WAIT_X), so it is limited to a few calls a minute.
 * The limiter also counts every call, so tests can tell how often a method was called.
 */
import { RpcError } from '../contract.js';

export interface MethodBudget {
  /** Calls allowed within the window. */
  calls: number;
  perSeconds: number;
}

/** Method name (as in the schema, e.g. "contacts.resolveUsername") -> its budget per account. */
export type RateLimitBudgets = Record<string, MethodBudget>;

export const TELEGRAM_LIKE_BUDGETS: RateLimitBudgets = {
  'contacts.resolveUsername': { calls: 10, perSeconds: 60 },
  'updates.getChannelDifference': { calls: 100, perSeconds: 30 },
};

export class RateLimiter {
  private readonly budgets = new Map<string, MethodBudget>();
  private readonly windows = new Map<string, number[]>();
  private readonly counts = new Map<string, number>();

  constructor(
    budgets: RateLimitBudgets = TELEGRAM_LIKE_BUDGETS,
    private readonly now: () => number = Date.now,
  ) {
    for (const [method, budget] of Object.entries(budgets)) this.budgets.set(method.toLowerCase(), budget);
  }

  /** Counts the call; throws FLOOD_WAIT_X when the account spent the method's budget. */
  check(method: string, userId: number | undefined): void {
    const name = method.toLowerCase();
    for (const key of [name, `${name}#${userId ?? ''}`])
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const budget = this.budgets.get(name);
    if (!budget || userId === undefined) return;
    const key = `${userId}:${name}`;
    const at = this.now();
    const windowMs = budget.perSeconds * 1000;
    const recent = (this.windows.get(key) ?? []).filter((t) => t > at - windowMs);
    if (recent.length >= budget.calls) {
      this.windows.set(key, recent);
      const wait = Math.max(1, Math.ceil((recent[0]! + windowMs - at) / 1000));
      throw new RpcError(420, `FLOOD_WAIT_${wait}`);
    }
    recent.push(at);
    this.windows.set(key, recent);
  }

  /** How many times the method was called (by one account when userId is given). */
  calls(method: string, userId?: number | string): number {
    const name = method.toLowerCase();
    return this.counts.get(userId === undefined ? name : `${name}#${userId}`) ?? 0;
  }

  /** Forgets the spent budgets (the counts stay). */
  reset(): void {
    this.windows.clear();
  }
}
