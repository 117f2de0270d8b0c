/**
 * The order of a session's `updates` and `updatesCombined` by seq (core.telegram.org/api/updates,
 * "Update sequence"): local seq + 1 = seq_start is the next one; at or below the local seq, one
 * already applied; above it, some went missing. Those are waited for briefly (pushes arrive out
 * of order), then the session asks Telegram for the difference. seq 0 means unordered.
 */
export interface SeqOrderDeps {
  get(): number | undefined;
  set(seq: number): void;
  /** Some stayed missing: run getDifference. */
  onGap(): void;
  waitMs: number;
}

export class SeqOrder {
  /** Containers that came before the ones in between: [seq_start, seq]. */
  private pending: Array<[number, number]> = [];
  private timer?: NodeJS.Timeout;

  constructor(private readonly deps: SeqOrderDeps) {}

  alreadyApplied(seqStart: number): boolean {
    const local = this.deps.get() ?? 0;
    return local > 0 && seqStart <= local;
  }

  /** A container seq_start..seq was applied. */
  note(seqStart: number, seq: number): void {
    const local = this.deps.get() ?? 0;
    if (local > 0 && seqStart > local + 1) {
      this.pending.push([seqStart, seq]);
      if (!this.timer) {
        this.timer = setTimeout(() => this.expired(), this.deps.waitMs);
        this.timer.unref();
      }
      return;
    }
    this.deps.set(seq);
    this.drain();
  }

  /** getDifference set the local seq: what it covers is no longer missing. */
  afterDifference(): void {
    const local = this.deps.get() ?? 0;
    this.pending = this.pending.filter(([, end]) => end > local);
    this.drain();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
  }

  private drain(): void {
    this.pending.sort((a, b) => a[0] - b[0]);
    while (this.pending.length && this.pending[0]![0] <= (this.deps.get() ?? 0) + 1) {
      this.deps.set(Math.max(this.deps.get() ?? 0, this.pending.shift()![1]));
    }
    if (this.pending.length === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private expired(): void {
    this.timer = undefined;
    if (this.pending.length === 0) return;
    this.pending = [];
    this.deps.onGap();
  }
}
