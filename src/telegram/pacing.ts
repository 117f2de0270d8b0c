/**
 * Send pacing: a token bucket per session and one per chat, so bulk sends stay under Telegram's
 * limits instead of collecting flood waits. Calls wait their turn in order (FIFO per bucket).
 */
export interface PacingLimits {
  /** Messages per second per session (0 = unlimited). */
  perSessionPerSecond: number;
  /** Burst per session. */
  perSessionBurst: number;
  /** Messages per second per chat (0 = unlimited). */
  perChatPerSecond: number;
  /** Burst per chat. */
  perChatBurst: number;
}

class TokenBucket {
  private tokens: number;
  private last = Date.now();
  private tail: Promise<void> = Promise.resolve();
  lastUsed = Date.now();

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
  ) {
    this.tokens = capacity;
  }

  take(): Promise<void> {
    const turn = this.tail.then(async () => {
      const now = Date.now();
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
      this.last = now;
      if (this.tokens < 1) {
        const waitMs = Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
        await new Promise((r) => setTimeout(r, waitMs));
        this.tokens = 1;
        this.last = Date.now();
      }
      this.tokens -= 1;
      this.lastUsed = Date.now();
    });
    this.tail = turn;
    return turn;
  }
}

export class SendPacer {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly limits: PacingLimits) {}

  private bucket(key: string, rate: number, burst: number): TokenBucket {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size > 10_000) this.prune();
      b = new TokenBucket(rate, Math.max(1, burst));
      this.buckets.set(key, b);
    }
    return b;
  }

  private prune(): void {
    const cutoff = Date.now() - 10 * 60_000;
    for (const [k, b] of this.buckets) if (b.lastUsed < cutoff) this.buckets.delete(k);
  }

  /** Resolves when one more message may go to this chat from this session. */
  async acquire(sessionId: string, chatId: string): Promise<void> {
    const { perChatPerSecond, perChatBurst, perSessionPerSecond, perSessionBurst } = this.limits;
    if (perChatPerSecond > 0)
      await this.bucket(`c:${sessionId}:${chatId}`, perChatPerSecond, perChatBurst).take();
    if (perSessionPerSecond > 0)
      await this.bucket(`s:${sessionId}`, perSessionPerSecond, perSessionBurst).take();
  }
}
