/**
 * The instances' wake-up calls (PostgreSQL LISTEN/NOTIFY): a new event committed (`events`,
 * the newest id), deliveries due for some webhooks (`deliveries`, their ids), shared state
 * changed (`state`: credentials revoked, webhooks changed) and session leases given back
 * (`leases`: another instance may take the sessions over at once). A notification only wakes:
 * what changed is always read from the database, so a lost one costs a delay, never data.
 *
 * One connection of its own per instance (LISTEN holds it); when it drops, it is opened again
 * after a second and the `reconnected` handlers read what was missed meanwhile.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../../db/types.js';

export type Topic = 'events' | 'deliveries' | 'state' | 'leases';
const TOPICS: readonly Topic[] = ['events', 'deliveries', 'state', 'leases'];
const RETRY_MS = 1000;
/** Names the LISTEN connection in pg_stat_activity. */
export const LISTEN_APPLICATION_NAME = 'teleflow-cluster-bus';

/** The channel of a topic: one per schema, so clusters sharing a server but not a schema stay apart. */
export function channelOf(topic: Topic, schema: string | undefined): string {
  const name = `teleflow_${topic}_${schema ?? 'public'}`.toLowerCase();
  // Identifiers are cut at 63 bytes: a long schema name is replaced by its digest.
  if (name.length <= 63) return name;
  const digest = createHash('sha256')
    .update(schema ?? '')
    .digest('hex')
    .slice(0, 16);
  return `teleflow_${topic}_${digest}`;
}

/** What the parts that talk over the bus share: the database, the bus, who this instance is. */
export interface BusContext {
  db: Kysely<Database>;
  bus: ClusterBus;
  instanceId: string;
  log: FastifyBaseLogger;
}

export class ClusterBus {
  private readonly channels = new Map<string, Topic>();
  private readonly handlers = new Map<Topic, ((payload: string) => void)[]>();
  private readonly reconnectHandlers: (() => void)[] = [];
  private client?: pg.Client;
  private stopped = true;
  private retry?: NodeJS.Timeout;
  private listenedOnce = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly schema: string | undefined,
    private readonly log: FastifyBaseLogger,
  ) {
    for (const topic of TOPICS) this.channels.set(channelOf(topic, schema), topic);
  }

  on(topic: Topic, handler: (payload: string) => void): void {
    const list = this.handlers.get(topic) ?? [];
    list.push(handler);
    this.handlers.set(topic, list);
  }

  /** Called after the connection was lost and is listening again: read what was missed. */
  onReconnected(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.listen();
  }

  /** Whether the LISTEN connection is up (for tests and /metrics). */
  get listening(): boolean {
    return this.client !== undefined;
  }

  private async listen(): Promise<void> {
    const url = new URL(this.databaseUrl);
    url.searchParams.delete('schema');
    const client = new pg.Client({
      connectionString: url.toString(),
      application_name: LISTEN_APPLICATION_NAME,
    });
    client.on('notification', (msg) => {
      const topic = this.channels.get(msg.channel);
      if (!topic) return;
      for (const handler of this.handlers.get(topic) ?? []) {
        try {
          handler(msg.payload ?? '');
        } catch (err) {
          this.log.error({ err, topic }, 'cluster: notification handler failed');
        }
      }
    });
    const lost = (err?: unknown) => {
      if (this.client !== client) return;
      this.client = undefined;
      if (!this.stopped) this.log.warn({ err }, 'cluster: the LISTEN connection was lost; opening it again');
      void client.end().catch(() => undefined);
      this.scheduleRetry();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      for (const channel of this.channels.keys()) await client.query(`listen "${channel}"`);
    } catch (err) {
      this.log.warn({ err }, 'cluster: could not LISTEN; trying again in a second');
      void client.end().catch(() => undefined);
      this.scheduleRetry();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    if (this.listenedOnce) for (const handler of this.reconnectHandlers) handler();
    this.listenedOnce = true;
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.listen();
    }, RETRY_MS);
    this.retry.unref();
  }

  /**
   * Notifies every instance (this one too). Inside a transaction the notification goes out at
   * its commit, and not at all on a rollback.
   */
  async notify(db: Kysely<Database> | Transaction<Database>, topic: Topic, payload = ''): Promise<void> {
    await sql`select pg_notify(${channelOf(topic, this.schema)}, ${payload})`.execute(db);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.retry = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
