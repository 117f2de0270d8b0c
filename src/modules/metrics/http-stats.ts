/**
 * The HTTP request counter and duration histogram (plain numbers, see plain-metrics.ts): they
 * are touched on every request, where prom-client's own metrics would hash and validate the
 * labels each time (about 6 µs of CPU per request in `npm run bench -- http`).
 */
import { keyOf, PlainCounter, PlainHistogram } from './plain-metrics.js';

const LABELS = ['method', 'route', 'status_class'] as const;
const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

export class HttpStats {
  private readonly requests: PlainCounter;
  private readonly duration: PlainHistogram;

  constructor(
    names: { requests: string; duration: string },
    help: { requests: string; duration: string },
    bounds: readonly number[],
  ) {
    this.requests = new PlainCounter(names.requests, help.requests, LABELS);
    this.duration = new PlainHistogram(names.duration, help.duration, LABELS, bounds);
  }

  /** One answered request; `route` is the pattern (bounded), never the URL. */
  observe(method: string, route: string, statusCode: number, seconds: number): void {
    const labels = [
      method,
      route,
      STATUS_CLASSES[Math.floor(statusCode / 100)] ?? `${Math.floor(statusCode / 100)}xx`,
    ];
    // One key for both metrics: this runs on every request.
    const key = keyOf(labels);
    this.requests.inc(labels, 1, key);
    this.duration.observe(seconds, labels, key);
  }

  /** Both metrics in the text exposition format, each with its HELP and TYPE lines. */
  render(): string {
    return `${this.requests.render()}\n${this.duration.render()}\n`;
  }
}
