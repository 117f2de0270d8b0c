/**
 * Wakes the instances when a lease is released (PostgreSQL LISTEN/NOTIFY), so a session of an
 * instance that stops is taken over at once rather than at the next poll. One connection of
 * its own per instance (LISTEN needs it for as long as it listens); a lost connection is
 * opened again after a second, the periodic poll covering the gap.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import pg from 'pg';
import type { Logger } from 'pino';

const RETRY_MS = 1000;

export class LeaseNotifier {
  /** One channel per schema: clusters sharing a server but not a schema do not wake each other. */
  private readonly channel: string;
  private client?: pg.Client;
  private stopped = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly databaseUrl: string,
    schema: string | undefined,
    private readonly log: Logger,
    private readonly onReleased: () => void,
  ) {
    this.channel = `teleflow_leases_${schema ?? 'public'}`.toLowerCase();
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.listen();
  }

  private async listen(): Promise<void> {
    const url = new URL(this.databaseUrl);
    url.searchParams.delete('schema');
    const client = new pg.Client({ connectionString: url.toString() });
    client.on('notification', (msg) => {
      if (msg.channel === this.channel) this.onReleased();
    });
    client.on('error', (err) => {
      this.log.warn({ err }, 'cluster: the notification connection failed; opening it again');
      void client.end().catch(() => undefined);
      if (this.client === client) this.client = undefined;
      this.scheduleRetry();
    });
    try {
      await client.connect();
      await client.query(`listen "${this.channel}"`);
      this.client = client;
      if (this.stopped) await this.stop();
    } catch (err) {
      this.log.warn({ err }, 'cluster: could not listen for lease releases; polling only for now');
      void client.end().catch(() => undefined);
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.listen();
    }, RETRY_MS);
    this.retry.unref();
  }

  /** Tells every instance that leases were released. */
  async notify(db: Kysely<Database>): Promise<void> {
    await sql`select pg_notify(${this.channel}, '')`.execute(db);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
