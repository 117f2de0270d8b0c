import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import { openDatabase, type Db } from './db/index.js';
import { migrateToLatest } from './db/migrate.js';
import { systemClock, type Clock } from './lib/clock.js';
import { AppError } from './lib/errors.js';
import { newRequestId } from './lib/ids.js';
import { validatorCompiler } from './lib/schemas.js';
import { createSerializerCompiler } from './lib/serializer.js';
import { AuthRepository } from './modules/auth/auth.repository.js';
import { authRoutes } from './modules/auth/auth.routes.js';
import { AuthService } from './modules/auth/auth.service.js';
import type { Role } from './modules/auth/auth.schema.js';
import { chatsRoutes } from './modules/chats/chats.routes.js';
import { Cluster } from './modules/cluster/cluster.js';
import { forwardingPlugin } from './modules/cluster/forwarding.js';
import { ClusterUploads, clusterUploadRoutes } from './modules/cluster/uploads.js';
import { ClusterSync } from './modules/cluster/sync.js';
import { dashboardRoutes } from './modules/dashboard/dashboard.routes.js';
import { eventsRoutes } from './modules/events/events.routes.js';
import { EventsService } from './modules/events/events.service.js';
import { EventStreams } from './modules/events/streams.js';
import { attachUpdateEvents } from './modules/events/update-listener.js';
import { ChatsService } from './modules/chats/chats.service.js';
import { healthRoutes } from './modules/health/health.routes.js';
import { messagesRoutes } from './modules/messages/messages.routes.js';
import { MediaTools } from './modules/media/convert.js';
import { FileRefRepository } from './modules/media/file-refs.js';
import { MediaFiles } from './modules/media/media-files.js';
import { MediaSendService } from './modules/media/media-send.service.js';
import { mediaSendRoutes } from './modules/media/send-media.routes.js';
import { UploadStore } from './modules/media/upload-store.js';
import { MediaCache } from './modules/media/cache.js';
import { MediaLinks } from './modules/media/links.js';
import { mediaLinkRoutes, mediaRoutes } from './modules/media/media.routes.js';
import { MediaService } from './modules/media/media.service.js';
import { metricsPlugin } from './modules/metrics/metrics.routes.js';
import { MetricsRegistry, type MetricsSources } from './modules/metrics/metrics.service.js';
import { IdempotencyStore } from './modules/messages/idempotency.js';
import { MessagesService } from './modules/messages/messages.service.js';
import { sandboxRoutes } from './modules/sandbox/sandbox.routes.js';
import { SessionManager, type SessionManagerOptions } from './modules/sessions/session-manager.js';
import { sessionsRoutes } from './modules/sessions/sessions.routes.js';
import { SessionsRepository } from './modules/sessions/sessions.repository.js';
import { SecretBox } from './lib/crypto.js';
import { resolveTelegramEndpoint, type TelegramEndpoint } from './telegram/endpoint.js';
import { SendPacer } from './telegram/pacing.js';
import { webhooksRoutes } from './modules/webhooks/webhooks.routes.js';
import { WebhooksService } from './modules/webhooks/webhooks.service.js';
import { authPlugin } from './plugins/auth.js';
import { corsPlugin } from './plugins/cors.js';
import { errorsPlugin, frameworkErrors } from './plugins/errors.js';
import { jsonBodyPlugin } from './plugins/json-body.js';
import { openapiPlugin } from './plugins/openapi.js';
import { rateLimitPlugin } from './plugins/rate-limit.js';
import { securityHeadersPlugin } from './plugins/security-headers.js';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface BuildOptions {
  /** A pino logger; without one the app logs nothing (tests). */
  logger?: Logger;
  clock?: Clock;
  /** An already open database (tests share one); otherwise DATABASE_URL is opened and closed with the app. */
  db?: Db;
  /** Session manager tuning (tests shorten the watchdog and reconnect delays). */
  sessionManager?: Partial<
    Pick<
      SessionManagerOptions,
      'watchdogIntervalMs' | 'reconnectBaseMs' | 'reconnectMaxMs' | 'callTimeoutMs' | 'qrLoginTtlMs'
    >
  >;
}

export interface AppServices {
  config: Config;
  db: Db;
  clock: Clock;
  auth: AuthService;
  /** The event pipeline: publish() records an event durably, then streams and webhooks get it. */
  events: EventsService;
  /** Telegram accounts: login, connections, update catch-up (src/modules/sessions/). */
  sessions: SessionManager;
  /** Where sessions connect; `sandbox` is set when TELEGRAM_SANDBOX=true started one in-process. */
  telegram: TelegramEndpoint;
  webhooks: WebhooksService;
  streams: EventStreams;
  /** Set by server.ts when a shutdown starts; new API requests then get 503 SHUTTING_DOWN. */
  lifecycle: { shuttingDown: boolean };
  /** Every route with the role it needs: the shared auth tests walk this list. */
  routes: RouteInfo[];
  /** This instance's part in a cluster (CLUSTER=true); null for one process per database. */
  cluster: Cluster | null;
}

export interface RouteInfo {
  method: string;
  url: string;
  minRole: Role;
  public: boolean;
  allowQueryToken: boolean;
  /** The route's response schemas by status (the serializer tests compile each one). */
  responses: Record<string, unknown>;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: AppServices;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** What a metrics source answers (annotated: the sources refer to services built after them). */
type Source<K extends 'sessionsByStatus' | 'ownedSessions' | 'streams' | 'deliveryBacklog' | 'newestEvent'> =
  ReturnType<MetricsSources[K]>;

/** Builds the whole application as a Fastify instance; never listens (server.ts does). */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    trustProxy: config.trustProxy,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : newRequestId();
    },
    // Fastify makes a child logger per request to bind its id; with the redaction's wildcard
    // paths that costs a redaction pass per request (about 4% of a GET's CPU in
    // `npm run bench -- http`). A silent logger writes nothing, so its requests share it.
    childLoggerFactory: (logger, bindings, childOptions) =>
      logger.level === 'silent' ? logger : logger.child(bindings, childOptions),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    frameworkErrors,
    // While closing, requests still reach the hooks, so they get the SHUTTING_DOWN envelope
    // (and /health its 503) instead of Fastify's own bare 503.
    return503OnClosing: false,
    ajv: { customOptions: { coerceTypes: false } },
  }).withTypeProvider<ZodTypeProvider>();
  // The API speaks JSON only: a text/plain body is a 415, not a string handed to validation.
  app.removeContentTypeParser('text/plain');

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(createSerializerCompiler({ checked: config.env !== 'production' }));

  const ownsDb = !options.db;
  const db = options.db ?? openDatabase(config.databaseUrl);
  await migrateToLatest(db);
  const clock = options.clock ?? systemClock;
  // Read at scrape time only, by when every service below exists.
  const metrics: MetricsRegistry | undefined = config.metrics.enabled
    ? new MetricsRegistry({
        instanceId: config.instanceId,
        version: VERSION,
        commit: config.commit,
        sessionsByStatus: (): Source<'sessionsByStatus'> => sessions.countByStatus(),
        ownedSessions: (): Source<'ownedSessions'> => sessions.owned(),
        streams: (): Source<'streams'> => streams.stats(),
        deliveryBacklog: (): Source<'deliveryBacklog'> => webhooks.dispatcher.backlog(),
        newestEvent: (): Source<'newestEvent'> => events.newest(),
        liveReadId: (): number | undefined => clusterSync?.eventLog.lag().readId,
        now: () => clock.now(),
      })
    : undefined;
  const auth = new AuthService({
    repo: new AuthRepository(db.db),
    bootstrapApiKey: config.apiKey,
    jwtSecret: config.jwtSecret,
    jwtExpiresInSeconds: config.jwtExpiresInSeconds,
    clock,
    log: app.log,
  });
  const events = new EventsService({
    db: db.db,
    ...(db.sqlite ? { sqlite: db.sqlite } : {}),
    clock,
    log: app.log,
    retentionDays: config.events.retentionDays,
    pruneIntervalMs: config.events.pruneIntervalMs,
    metrics,
  });
  // Webhook and stream filters may only name sessions that exist.
  const sessionRows = new SessionsRepository(db.db);
  const existingSessionIds = async (ids: string[]) => (await sessionRows.list(ids)).map((r) => r.id);
  const webhooks = new WebhooksService({
    db,
    events,
    existingSessionIds,
    clock,
    log: app.log,
    encryptionKey: config.sessionEncryptionKey,
    allowPrivate: config.webhookAllowPrivate,
    retryScheduleMs: config.webhooks.retryScheduleMs,
    timeoutMs: config.webhooks.timeoutMs,
    maxConsecutiveFailures: config.webhooks.maxConsecutiveFailures,
    pollIntervalMs: config.webhooks.pollIntervalMs,
    retentionDays: config.events.retentionDays,
    userAgent: `TeleFlow/${VERSION}`,
    metrics,
  });
  const streams = new EventStreams(events, config.streams, auth);
  const telegramLog = (options.logger ?? pino({ level: 'silent' })) as Logger;
  const telegram = await resolveTelegramEndpoint(
    config.telegram,
    config.dataDir,
    telegramLog.child({ component: 'telegram' }),
    { production: config.isProduction },
  );
  // The event log, webhook queues and caches shared by the instances, and the one LISTEN
  // connection that wakes them (src/modules/cluster/sync.ts).
  const clusterSync = config.cluster
    ? new ClusterSync({
        db: db.db,
        databaseUrl: config.databaseUrl,
        schema: db.schema,
        instanceId: config.instanceId,
        leaseTtlMs: config.cluster.leaseTtlMs,
        webhookTimeoutMs: config.webhooks.timeoutMs,
        auth,
        events,
        webhooks,
        log: app.log,
      })
    : null;
  // Several instances on one PostgreSQL: session leases, placement, forwarding (src/modules/cluster/).
  const cluster =
    config.cluster && clusterSync
      ? new Cluster({
          db: db.db,
          bus: clusterSync.bus,
          instanceId: config.instanceId,
          instanceUrl: config.cluster.instanceUrl,
          leaseTtlMs: config.cluster.leaseTtlMs,
          rebalanceBatch: config.cluster.rebalanceBatch,
          log: app.log,
        })
      : null;
  const sessions = new SessionManager({
    repo: new SessionsRepository(db.db),
    endpoint: telegram,
    box: new SecretBox(config.telegram.sessionKeys, 'session'),
    apiId: config.telegram.apiId,
    apiHash: config.telegram.apiHash,
    clock,
    log: telegramLog.child({ component: 'sessions' }),
    events,
    floodSleepThresholdSeconds: config.telegram.floodSleepThresholdSeconds,
    metrics,
    ...(cluster ? { ownership: cluster } : {}),
    ...options.sessionManager,
  });
  // chat.*, group.*, channel.*, user.* and others' message changes, from incoming updates.
  attachUpdateEvents(sessions, events, telegramLog.child({ component: 'update-events' }));
  // Text and media sends share the Idempotency-Key records and the pacer.
  const idempotency = new IdempotencyStore(db.db, clock);
  const pacer = new SendPacer(config.telegram.pacing);
  const uploadStore = new UploadStore({
    db: db.db,
    dataDir: config.dataDir,
    clock,
    log: app.log,
    ttlSeconds: config.media.uploadTtlSeconds,
    maxStoreBytes: config.media.storeMaxBytes,
    ...(cluster ? { remote: new ClusterUploads(cluster, config.jwtSecret, config.requestTimeoutMs) } : {}),
  });
  const mediaFiles = new MediaFiles({
    store: uploadStore,
    tools: new MediaTools({ ffmpegPath: config.media.ffmpegPath, ffprobePath: config.media.ffprobePath }),
    limits: { maxPhotoBytes: config.media.maxPhotoBytes, maxFileBytes: config.media.maxFileBytes },
    fetch: {
      allowPrivate: config.webhookAllowPrivate,
      timeoutMs: config.media.fetchTimeoutMs,
      userAgent: `TeleFlow/${VERSION}`,
    },
  });
  const mediaSend = new MediaSendService({
    sessions,
    idempotency,
    pacer,
    files: mediaFiles,
    refs: new FileRefRepository(db.db, clock),
    log: telegramLog,
  });
  const messages = new MessagesService({
    sessions,
    idempotency,
    pacer,
    metrics,
    log: telegramLog,
  });
  const chats = new ChatsService({ sessions, log: telegramLog });
  const media = new MediaService({
    sessions,
    cache: new MediaCache(join(config.dataDir, 'media-cache'), config.mediaCache.maxBytes, telegramLog),
    links: new MediaLinks(config.jwtSecret),
    clock,
    log: telegramLog,
  });
  const lifecycle = { shuttingDown: false };
  const routes: RouteInfo[] = [];
  app.decorate('services', {
    config,
    db,
    clock,
    auth,
    events,
    webhooks,
    streams,
    sessions,
    telegram,
    lifecycle,
    routes,
    cluster,
  });
  app.addHook('onReady', async () => {
    await clusterSync?.start();
    events.start();
    webhooks.start(config.events.pruneIntervalMs);
    await uploadStore.start();
    await sessions.start();
    await cluster?.start(sessions);
  });
  // Before the server stops accepting: open streams would hold it, the worker must stop writing.
  app.addHook('preClose', async () => {
    await cluster?.quiesce();
    streams.closeAll();
    await webhooks.stop();
    await events.stop();
  });
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD' || !route.url.startsWith('/api/')) continue;
      const cfg = (route.config ?? {}) as { minRole?: Role; public?: boolean; allowQueryToken?: boolean };
      routes.push({
        method,
        url: route.url,
        minRole: cfg.minRole ?? (method === 'GET' ? 'viewer' : 'operator'),
        public: cfg.public === true,
        allowQueryToken: cfg.allowQueryToken === true,
        responses: (route.schema?.response ?? {}) as Record<string, unknown>,
      });
    }
  });
  app.addHook('onClose', async () => {
    uploadStore.stop();
    await sessions.close();
    // After the sessions disconnected: their leases go back and the other instances take them.
    await cluster?.stop();
    await clusterSync?.stop();
    await telegram.close();
    if (ownsDb) await db.close();
  });

  // A callback hook (no promise): it runs on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    if (lifecycle.shuttingDown && request.url.startsWith('/api/')) {
      reply.header('Connection', 'close');
      done(new AppError('SHUTTING_DOWN', 'The server is shutting down; retry shortly', undefined, 5));
      return;
    }
    done();
  });

  await app.register(errorsPlugin);
  await app.register(jsonBodyPlugin);
  // Vary: Origin on every answer: what CORS adds to an answer depends on the caller's Origin.
  await app.register(securityHeadersPlugin, {
    helmet: { contentSecurityPolicy: false },
    extra: { vary: 'Origin' },
  });
  await app.register(corsPlugin, {
    origins: config.corsOrigin === '*' ? '*' : config.corsOrigin.split(',').map((s) => s.trim()),
    exposedHeaders: ['X-Request-Id', 'Retry-After'],
    maxAgeSeconds: 600,
  });
  // Before the rate limiter: a request passed on by another instance carries a signed identity.
  if (cluster) {
    await app.register(forwardingPlugin, {
      cluster,
      secret: config.jwtSecret,
      timeoutMs: config.requestTimeoutMs,
    });
    await app.register(clusterUploadRoutes, { store: uploadStore });
  }
  await app.register(rateLimitPlugin, {
    auth,
    max: config.rateLimit.max,
    windowMs: config.rateLimit.windowMs,
  });
  await app.register(openapiPlugin, { version: VERSION });
  // The web dashboard's built assets at /dashboard/ (GET / leads there).
  await app.register(dashboardRoutes);

  if (metrics) await app.register(metricsPlugin, { metrics, auth, token: config.metrics.token });
  await app.register(mediaLinkRoutes, { media });
  await app.register(healthRoutes, {
    source: {
      version: VERSION,
      commit: config.commit,
      isShuttingDown: () => lifecycle.shuttingDown,
      pingDatabase: () => db.ping(),
      sessionsByStatus: () => sessions.countByStatus(),
      instanceId: config.instanceId,
      ownedSessions: () => sessions.owned(),
    },
  });

  await app.register(
    async (api) => {
      await api.register(authPlugin, { auth });
      await api.register(authRoutes, { prefix: '/auth', auth });
      await api.register(sessionsRoutes, {
        prefix: '/sessions',
        sessions,
      });
      await api.register(messagesRoutes, {
        prefix: '/messages',
        messages,
      });
      await api.register(mediaSendRoutes, {
        service: mediaSend,
        files: mediaFiles,
        store: uploadStore,
        maxFileBytes: config.media.maxFileBytes,
        jsonBodyLimitBytes: config.media.jsonBodyLimitBytes,
        uploadTtlSeconds: config.media.uploadTtlSeconds,
      });
      await api.register(chatsRoutes, { prefix: '/chats', chats });
      await api.register(mediaRoutes, { prefix: '/media', media });
      await api.register(webhooksRoutes, { prefix: '/webhooks', webhooks });
      await api.register(eventsRoutes, { streams, existingSessionIds });
      await api.register(sandboxRoutes, { telegram });
    },
    { prefix: '/api/v1' },
  );

  return app as unknown as FastifyInstance;
}
