/**
 * The operations metrics of one TeleFlow process, in Prometheus's text format (prom-client).
 * Counters and histograms are fed as things happen (the services report through the small
 * interfaces of src/lib/metrics.ts); gauges of state (sessions, streams, the delivery backlog,
 * the newest event) are read when Prometheus scrapes. Every name starts with `teleflow_`; the
 * README's "Metrics" section lists them.
 *
 * Several instances on one database are told apart by `teleflow_instance_info{instance_id}` and
 * by the `owner` label of `teleflow_sessions`; Prometheus adds its own `instance` target label,
 * which is why ours is called `instance_id`.
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { CommittedEvent, OperationsMetrics } from '../../lib/metrics.js';
import { HttpStats } from './http-stats.js';
import { PlainCounter, PlainHistogram } from './plain-metrics.js';
import { StateGauges, type MetricsSources } from './state-gauges.js';

export type { MetricsSources };

const PREFIX = 'teleflow_';

const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const DELIVERY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/**
 * Process metrics (CPU, memory, event loop, GC) describe the process, not an app: collected
 * once per process however many apps it builds (tests build many), into their own registry.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: PREFIX });
  }
  return processRegistry;
}

export class MetricsRegistry implements OperationsMetrics {
  readonly registry = new Registry();
  /** Plain numbers, not prom-client metrics: they are touched on every request. */
  private readonly http: HttpStats;
  /** Plain numbers too (plain-metrics.ts): they change with every send and event. */
  private readonly sends: PlainCounter;
  private readonly floodWaits: PlainCounter;
  private readonly floodWaitSeconds: PlainCounter;
  private readonly eventsCommittedTotal: PlainCounter;
  private readonly commitDelay: PlainHistogram;
  private readonly deliveryDelay: PlainHistogram;
  private readonly deliveryAttempts: PlainCounter;
  private readonly deliveriesDead: PlainCounter;
  private readonly state: StateGauges;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    processMetrics();
    new Gauge({
      name: `${PREFIX}instance_info`,
      help: 'This TeleFlow instance: always 1, with its id, version and commit as labels',
      labelNames: ['instance_id', 'version', 'commit'],
      registers,
    }).set({ instance_id: sources.instanceId, version: sources.version, commit: sources.commit ?? '' }, 1);

    this.http = new HttpStats(
      { requests: `${PREFIX}http_requests_total`, duration: `${PREFIX}http_request_duration_seconds` },
      {
        requests: 'HTTP requests answered, by method, route pattern and status class (2xx, 4xx...)',
        duration: 'Time from request to response, by method, route pattern and status class',
      },
      HTTP_BUCKETS,
    );

    this.sends = new PlainCounter(
      `${PREFIX}sends_total`,
      'Send requests (send, reply) answered, by session and result: ok or the error code',
      ['session_id', 'result'],
    );
    this.floodWaits = new PlainCounter(
      `${PREFIX}flood_waits_total`,
      'FLOOD_WAIT answers from Telegram, by session (slept through or returned as 429)',
      ['session_id'],
    );
    this.floodWaitSeconds = new PlainCounter(
      `${PREFIX}flood_wait_seconds_total`,
      'Seconds Telegram asked to wait in FLOOD_WAIT answers, by session',
      ['session_id'],
    );
    this.eventsCommittedTotal = new PlainCounter(
      `${PREFIX}events_committed_total`,
      'Events committed to the event log by this instance, by type',
      ['type'],
    );
    this.commitDelay = new PlainHistogram(
      `${PREFIX}event_commit_delay_seconds`,
      'Time from an event being created to its commit to the log (before any stream or webhook hears of it)',
      [],
      COMMIT_BUCKETS,
    );
    this.deliveryDelay = new PlainHistogram(
      `${PREFIX}webhook_delivery_delay_seconds`,
      'Time from a delivery being due (created, or its retry time) to the start of its attempt',
      [],
      DELIVERY_BUCKETS,
    );
    this.deliveryAttempts = new PlainCounter(
      `${PREFIX}webhook_delivery_attempts_total`,
      'Webhook delivery attempts by result: succeeded, failed (a retry is due) or dead (the last one failed)',
      ['result'],
    );
    this.deliveriesDead = new PlainCounter(
      `${PREFIX}webhook_deliveries_dead_total`,
      'Webhook deliveries that failed their last attempt',
      [],
    );
    this.state = new StateGauges(sources, PREFIX, registers);
  }

  /** One answered HTTP request; `route` is the pattern (`/api/v1/sessions/:id`), never the URL. */
  httpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.http.observe(method, route, statusCode, seconds);
  }

  sendCompleted(sessionId: string, result: string): void {
    this.sends.inc([sessionId, result]);
  }

  floodWait(sessionId: string, seconds: number): void {
    this.floodWaits.inc([sessionId]);
    this.floodWaitSeconds.inc([sessionId], seconds);
  }

  eventsCommitted(events: readonly CommittedEvent[]): void {
    const now = this.sources.now().getTime();
    for (const event of events) {
      this.eventsCommittedTotal.inc([event.type]);
      this.commitDelay.observe(Math.max(0, now - Date.parse(event.envelope.timestamp)) / 1000);
      // A deleted session's series go with it: labels stay bounded by the sessions that exist.
      if (event.type === 'session.deleted') this.forgetSession(event.sessionId);
    }
  }

  deliveryAttempted(outcome: 'succeeded' | 'failed' | 'dead', dueAt: string, startedAt: Date): void {
    this.deliveryDelay.observe(Math.max(0, startedAt.getTime() - Date.parse(dueAt)) / 1000);
    this.deliveryAttempts.inc([outcome]);
    if (outcome === 'dead') this.deliveriesDead.inc();
  }

  private forgetSession(sessionId: string | null): void {
    if (!sessionId) return;
    for (const metric of [this.sends, this.floodWaits, this.floodWaitSeconds]) {
      metric.remove((values) => values[0] === sessionId);
    }
  }

  /** The text Prometheus scrapes: this app's metrics and the process's. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    await this.state.refresh();
    const [own, proc] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    const plain = [
      this.http.render(),
      ...[
        this.sends,
        this.floodWaits,
        this.floodWaitSeconds,
        this.eventsCommittedTotal,
        this.commitDelay,
        this.deliveryDelay,
        this.deliveryAttempts,
        this.deliveriesDead,
      ].map((m) => `${m.render()}\n`),
    ].join('');
    return { contentType: this.registry.contentType, body: `${own}\n${plain}\n${proc}` };
  }
}
