/**
 * The gauges of state, read from the services when Prometheus scrapes: sessions by status and
 * owner, the newest event, the webhook delivery backlog, the stream clients. They are all read
 * before the registry is serialised (a prom-client `collect` that sets another gauge would be
 * serialised a scrape late).
 */
import { Gauge, type Registry } from 'prom-client';

/** What the metrics read at scrape time; app.ts wires it to the services. */
export interface MetricsSources {
  instanceId: string;
  version: string;
  commit: string | null;
  /** Every session in the database, by status. */
  sessionsByStatus(): Promise<Record<string, number>>;
  /** The sessions this instance runs, with their status. */
  ownedSessions(): Promise<{ id: string; status: string }[]>;
  streams(): { sse: number; ws: number; bufferedBytes: number; oldestReplayId: number | null };
  deliveryBacklog(): Promise<{ open: number; oldestDueAt: string | null; oldestEventId: number | null }>;
  newestEvent(): Promise<{ id: number; createdAt: string } | undefined>;
  /**
   * In a cluster: the newest id this instance's live streams have been handed (events reach them
   * by reading the shared log after each commit anywhere; src/modules/cluster/event-log.ts).
   */
  liveReadId?(): number | undefined;
  now(): Date;
}

/** The owner of sessions no instance runs (as far as this instance knows). */
export const NO_OWNER = 'none';

export class StateGauges {
  private readonly sessions: Gauge;
  private readonly lastId: Gauge;
  private readonly lastAt: Gauge;
  private readonly consumed: Gauge;
  private readonly backlogOpen: Gauge;
  private readonly backlogAge: Gauge;
  private readonly streamClients: Gauge;
  private readonly streamBuffered: Gauge;

  constructor(
    private readonly sources: MetricsSources,
    prefix: string,
    registers: Registry[],
  ) {
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name: `${prefix}${name}`, help, labelNames, registers });
    this.sessions = gauge(
      'sessions',
      `Sessions by status and owner: the instance id that runs them, or "${NO_OWNER}"`,
      ['status', 'owner'],
    );
    this.lastId = gauge('event_log_last_id', 'Id of the newest event in the log');
    this.lastAt = gauge(
      'event_log_last_timestamp_seconds',
      'Creation time of the newest event in the log (Unix seconds; 0 while the log is empty)',
    );
    this.consumed = gauge(
      'event_log_consumed_id',
      'How far each consumer has read the log: webhooks up to their oldest open delivery, streams up to their furthest-behind replaying client (the newest id when caught up)',
      ['consumer'],
    );
    this.backlogOpen = gauge(
      'webhook_deliveries_open',
      'Webhook deliveries waiting for an attempt or a retry (enabled webhooks)',
    );
    this.backlogAge = gauge(
      'webhook_delivery_backlog_seconds',
      'How long the most overdue open webhook delivery has been due (0 when none is)',
    );
    this.streamClients = gauge('stream_clients', 'Open event stream clients, by transport (sse, ws)', [
      'transport',
    ]);
    this.streamBuffered = gauge(
      'stream_buffered_bytes',
      'Bytes written to event stream clients and not yet taken by them',
    );
  }

  async refresh(): Promise<void> {
    const src = this.sources;
    const [all, owned, newest, backlog] = await Promise.all([
      src.sessionsByStatus(),
      src.ownedSessions(),
      src.newestEvent(),
      src.deliveryBacklog(),
    ]);
    this.setSessions(all, owned);
    const lastId = newest?.id ?? 0;
    this.lastId.set(lastId);
    this.lastAt.set(newest ? Date.parse(newest.createdAt) / 1000 : 0);
    this.backlogOpen.set(backlog.open);
    const overdueMs = backlog.oldestDueAt ? src.now().getTime() - Date.parse(backlog.oldestDueAt) : 0;
    this.backlogAge.set(Math.max(0, overdueMs) / 1000);
    const streams = src.streams();
    const webhooksAt = backlog.oldestEventId === null ? lastId : backlog.oldestEventId - 1;
    this.consumed.set({ consumer: 'webhooks' }, Math.min(lastId, webhooksAt));
    const live = src.liveReadId?.() ?? lastId;
    this.consumed.set({ consumer: 'streams' }, Math.min(lastId, live, streams.oldestReplayId ?? lastId));
    this.streamClients.set({ transport: 'sse' }, streams.sse);
    this.streamClients.set({ transport: 'ws' }, streams.ws);
    this.streamBuffered.set(streams.bufferedBytes);
  }

  private setSessions(all: Record<string, number>, owned: { status: string }[]): void {
    const rest = { ...all };
    const mine: Record<string, number> = {};
    for (const s of owned) {
      mine[s.status] = (mine[s.status] ?? 0) + 1;
      rest[s.status] = (rest[s.status] ?? 0) - 1;
    }
    this.sessions.reset();
    for (const [status, n] of Object.entries(mine))
      this.sessions.set({ status, owner: this.sources.instanceId }, n);
    for (const [status, n] of Object.entries(rest))
      if (n > 0) this.sessions.set({ status, owner: NO_OWNER }, n);
  }
}
