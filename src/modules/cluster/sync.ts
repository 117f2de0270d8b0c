/**
 * What the instances of a cluster share besides sessions (those are cluster.ts's): one ordered
 * event log that every instance's streams follow (event-log.ts), webhook queues run by one
 * instance at a time (webhook-leases.ts), and caches dropped everywhere when credentials or
 * webhooks change (shared-state.ts), all woken through one LISTEN connection (bus.ts), which
 * also carries the session leases' wake-ups (cluster.ts).
 */
import type { Kysely } from 'kysely';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../../db/types.js';
import type { AuthService } from '../auth/auth.service.js';
import type { EventsService } from '../events/events.service.js';
import type { WebhooksService } from '../webhooks/webhooks.service.js';
import { ClusterBus } from './bus.js';
import { BootstrapKey } from './bootstrap-key.js';
import { ClusterEventLog } from './event-log.js';
import { SharedState } from './shared-state.js';
import { WebhookLeases } from './webhook-leases.js';

export interface ClusterSyncOptions {
  db: Kysely<Database>;
  databaseUrl: string;
  schema?: string;
  instanceId: string;
  leaseTtlMs: number;
  webhookTimeoutMs: number;
  auth: AuthService;
  events: EventsService;
  webhooks: WebhooksService;
  log: FastifyBaseLogger;
}

export class ClusterSync {
  readonly bus: ClusterBus;
  readonly eventLog: ClusterEventLog;
  readonly webhookLeases: WebhookLeases;
  private readonly bootstrapKey: BootstrapKey;

  constructor(private readonly o: ClusterSyncOptions) {
    this.bus = new ClusterBus(o.databaseUrl, o.schema, o.log);
    this.eventLog = new ClusterEventLog(o.events, this.bus, o.schema, o.instanceId, o.log);
    this.bootstrapKey = new BootstrapKey({
      db: o.db,
      bus: this.bus,
      instanceId: o.instanceId,
      auth: o.auth,
      log: o.log,
    });
    new SharedState({
      db: o.db,
      bus: this.bus,
      instanceId: o.instanceId,
      auth: o.auth,
      webhooks: o.webhooks.repo,
      bootstrapKey: this.bootstrapKey,
      log: o.log,
    });
    this.webhookLeases = new WebhookLeases({
      db: o.db,
      bus: this.bus,
      instanceId: o.instanceId,
      clusterLeaseTtlMs: o.leaseTtlMs,
      attemptTimeoutMs: o.webhookTimeoutMs,
      log: o.log,
    });
    o.webhooks.dispatcher.useGate(this.webhookLeases);
  }

  /** Before anything publishes: listens, and takes the log's newest id as the streams' start. */
  async start(): Promise<void> {
    await this.bus.start();
    await this.eventLog.start();
    await this.bootstrapKey.start();
    this.webhookLeases.start((id) => this.o.webhooks.dispatcher.kick(id));
  }

  /** After the last events were committed and the webhook workers stopped. */
  async stop(): Promise<void> {
    this.eventLog.stop();
    this.webhookLeases.stop();
    await this.bus.stop();
  }
}
