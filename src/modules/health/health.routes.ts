import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface HealthSource {
  version: string;
  commit: string | null;
  isShuttingDown(): boolean;
  pingDatabase(): Promise<boolean>;
  /** Sessions by status; filled in once the session manager exists. */
  sessionsByStatus(): Promise<Record<string, number>>;
  /** This process's name (INSTANCE_ID). */
  instanceId: string;
  /** The sessions this process runs, with their status (ids only: never a phone). */
  ownedSessions(): Promise<{ id: string; status: string }[]>;
}

const healthBody = z
  .object({
    status: z.enum(['ok', 'degraded', 'shutting_down']),
    uptimeSeconds: z.number(),
    database: z.object({ ok: z.boolean() }),
    sessions: z.record(z.string(), z.number()),
    instance: z.object({
      id: z.string().meta({ description: 'The answering instance (INSTANCE_ID)' }),
      sessions: z
        .array(z.object({ id: z.string(), status: z.string() }))
        .meta({ description: 'The sessions this instance runs' }),
    }),
  })
  .meta({ id: 'Health' });

export const healthRoutes: FastifyPluginAsyncZod<{ source: HealthSource }> = async (app, { source }) => {
  app.get(
    '/health',
    {
      config: { public: true, rateLimit: false },
      schema: {
        tags: ['operations'],
        summary: 'Liveness and readiness: 200 while serving, 503 while shutting down or without a database',
        security: [],
        response: { 200: healthBody, 503: healthBody },
      },
    },
    async (_request, reply) => {
      const dbOk = await source.pingDatabase();
      const shutting = source.isShuttingDown();
      const sessions = dbOk ? await source.sessionsByStatus().catch(() => ({})) : {};
      const owned = dbOk ? await source.ownedSessions().catch(() => []) : [];
      const status = shutting ? 'shutting_down' : dbOk ? 'ok' : 'degraded';
      return reply.status(status === 'ok' ? 200 : 503).send({
        status,
        uptimeSeconds: Math.round(process.uptime()),
        database: { ok: dbOk },
        sessions,
        instance: { id: source.instanceId, sessions: owned },
      });
    },
  );

  app.get(
    '/version',
    {
      config: { public: true, rateLimit: false },
      schema: {
        tags: ['operations'],
        summary: 'Version of TeleFlow and its runtime',
        security: [],
        response: {
          200: z.object({
            name: z.literal('teleflow'),
            version: z.string(),
            commit: z.string().nullable(),
            node: z.string(),
          }),
        },
      },
    },
    async () => ({
      name: 'teleflow' as const,
      version: source.version,
      commit: source.commit,
      node: process.versions.node,
    }),
  );
};
