/**
 * The HTTP request counter and duration histogram, kept in plain numbers and written in the
 * Prometheus text format at scrape time. They are touched on every request, where prom-client's
 * own metrics would hash and validate the labels each time (about 6 µs of CPU per request in
 * `npm run bench -- http`); here a request costs one map lookup and a few additions.
 */

interface Series {
  /** The label set, already written: `method="GET",route="/x",status_class="2xx"`. */
  labels: string;
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  buckets: number[];
}

import { escapeLabel as escape } from './plain-metrics.js';

export class HttpStats {
  private readonly series = new Map<string, Series>();

  constructor(
    private readonly names: { requests: string; duration: string },
    private readonly help: { requests: string; duration: string },
    private readonly bounds: readonly number[],
  ) {}

  /** One answered request; `route` is the pattern (bounded), never the URL. */
  observe(method: string, route: string, statusCode: number, seconds: number): void {
    const statusClass = `${Math.floor(statusCode / 100)}xx`;
    const key = `${method} ${statusClass} ${route}`;
    let s = this.series.get(key);
    if (!s) {
      s = {
        labels: `method="${escape(method)}",route="${escape(route)}",status_class="${statusClass}"`,
        count: 0,
        sum: 0,
        buckets: new Array<number>(this.bounds.length + 1).fill(0),
      };
      this.series.set(key, s);
    }
    s.count++;
    s.sum += seconds;
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++;
    s.buckets[i]!++;
  }

  /** Both metrics in the text exposition format, each with its HELP and TYPE lines. */
  render(): string {
    const { requests, duration } = this.names;
    const out = [
      `# HELP ${requests} ${this.help.requests}`,
      `# TYPE ${requests} counter`,
      ...[...this.series.values()].map((s) => `${requests}{${s.labels}} ${s.count}`),
      `# HELP ${duration} ${this.help.duration}`,
      `# TYPE ${duration} histogram`,
    ];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += s.buckets[i]!;
        out.push(`${duration}_bucket{${s.labels},le="${bound}"} ${cumulative}`);
      });
      out.push(`${duration}_bucket{${s.labels},le="+Inf"} ${s.count}`);
      out.push(`${duration}_sum{${s.labels}} ${s.sum}`);
      out.push(`${duration}_count{${s.labels}} ${s.count}`);
    }
    return `${out.join('\n')}\n`;
  }
}
