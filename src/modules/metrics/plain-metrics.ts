/**
 * Counters and histograms kept in plain numbers and written in the Prometheus text format at
 * scrape time, for the metrics touched on the hot paths (every request, send and event).
 * prom-client's own metrics hash, sort and validate the labels on every update, several times
 * per send (its counter, its event's counter and commit-delay histogram, the request's). Here an
 * update is one map lookup and a few additions; label values are escaped once, when a series is
 * first seen.
 */

/** Prometheus label value escaping: backslash, double quote and newline. */
export const escapeLabel = (value: string): string =>
  value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));

/** A map key for label values: joined by a character no label value holds. */
export const keyOf = (values: readonly string[]): string =>
  values.length === 1 ? values[0]! : values.join('\u0000');

interface Series {
  /** The label set, already written: `method="GET",route="/x"` (empty without labels). */
  labels: string;
  values: readonly string[];
}

abstract class PlainMetric<S extends Series> {
  protected readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    protected readonly help: string,
    protected readonly labelNames: readonly string[],
  ) {}

  protected abstract create(labels: string, values: readonly string[]): S;

  /**
   * The series of these label values (in labelNames' order), made on first use. `key` names
   * the values uniquely; a caller updating several metrics with the same labels makes it once.
   */
  protected get(values: readonly string[], key = keyOf(values)): S {
    let s = this.series.get(key);
    if (!s) {
      const labels = this.labelNames.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`).join(',');
      s = this.create(labels, [...values]);
      this.series.set(key, s);
    }
    return s;
  }

  /** Drops the series whose label values match (e.g. those of a deleted session). */
  remove(match: (values: readonly string[]) => boolean): void {
    for (const [key, s] of this.series) if (match(s.values)) this.series.delete(key);
  }

  protected header(type: 'counter' | 'histogram'): string[] {
    // A metric without labels has its one series from the start, as a zero (prom-client's way).
    if (this.labelNames.length === 0) this.get([]);
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${type}`];
  }

  abstract render(): string;
}

const braces = (labels: string) => (labels ? `{${labels}}` : '');

export class PlainCounter extends PlainMetric<Series & { value: number }> {
  protected create(labels: string, values: readonly string[]) {
    return { labels, values, value: 0 };
  }

  inc(values: readonly string[] = [], by = 1, key?: string): void {
    this.get(values, key).value += by;
  }

  render(): string {
    const out = this.header('counter');
    for (const s of this.series.values()) out.push(`${this.name}${braces(s.labels)} ${s.value}`);
    return out.join('\n');
  }
}

export class PlainHistogram extends PlainMetric<Series & { count: number; sum: number; buckets: number[] }> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
  ) {
    super(name, help, labelNames);
  }

  protected create(labels: string, values: readonly string[]) {
    return { labels, values, count: 0, sum: 0, buckets: new Array<number>(this.bounds.length + 1).fill(0) };
  }

  observe(value: number, values: readonly string[] = [], key?: string): void {
    const s = this.get(values, key);
    s.count++;
    s.sum += value;
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    s.buckets[i]!++;
  }

  render(): string {
    const out = this.header('histogram');
    for (const s of this.series.values()) {
      const sep = s.labels ? `${s.labels},` : '';
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += s.buckets[i]!;
        out.push(`${this.name}_bucket{${sep}le="${bound}"} ${cumulative}`);
      });
      out.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${braces(s.labels)} ${s.sum}`);
      out.push(`${this.name}_count${braces(s.labels)} ${s.count}`);
    }
    return out.join('\n');
  }
}
