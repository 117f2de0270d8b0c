import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../lib/errors.js';
import { credentialOf } from '../../plugins/auth.js';
import type { AuthService } from '../auth/auth.service.js';
import type { MetricsRegistry } from './metrics.service.js';

export interface MetricsRoutesOptions {
  metrics: MetricsRegistry;
  auth: Pick<AuthService, 'authenticate'>;
  /** METRICS_TOKEN: a bearer token that may read /metrics (besides admin credentials). */
  token: string | null;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Who may scrape: the METRICS_TOKEN as a bearer token (what Prometheus sends with its
 * `authorization` setting), or an admin credential not limited to some sessions (the metrics
 * name every session). Nobody else, not even from loopback: behind a reverse proxy every
 * request comes from loopback.
 */
async function assertMayScrape(
  request: FastifyRequest,
  auth: MetricsRoutesOptions['auth'],
  token: Buffer | null,
): Promise<void> {
  const credential = credentialOf(request, false);
  if (credential === undefined) {
    throw new AppError(
      'UNAUTHORIZED',
      'GET /metrics needs Authorization: Bearer <METRICS_TOKEN> or an admin credential',
    );
  }
  if (token && timingSafeEqual(digest(credential), token)) return;
  // The rate limiter has resolved the credential already (null when it is not a key or JWT).
  const principal = request.principal ?? (await auth.authenticate(credential));
  if (!principal) throw new AppError('UNAUTHORIZED', 'Invalid credentials');
  if (principal.role !== 'admin' || principal.sessionIds !== null) {
    throw new AppError(
      'FORBIDDEN',
      'GET /metrics needs METRICS_TOKEN or an admin key not limited to some sessions',
    );
  }
}

/** GET /metrics, and the HTTP request metrics of every route (a root onResponse hook). */
const metricsRoutes: FastifyPluginAsyncZod<MetricsRoutesOptions> = async (app, opts) => {
  const { metrics } = opts;
  const token = opts.token ? digest(opts.token) : null;

  // A callback hook (no promise): it runs on every request. The route pattern, never the URL,
  // so ids in paths do not make new series; requests that match no route share one.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequest(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });

  app.get(
    '/metrics',
    {
      onRequest: async (request) => assertMayScrape(request, opts.auth, token),
      schema: {
        tags: ['operations'],
        summary: 'Operations metrics in the Prometheus text format (METRICS_TOKEN or an admin credential)',
        security: [{ bearer: [] }, { apiKey: [] }],
        response: { 200: z.string().meta({ description: 'Prometheus text exposition format 0.0.4' }) },
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await metrics.scrape();
      return reply.type(contentType).send(body);
    },
  );
};

export const metricsPlugin = fp(metricsRoutes, { name: 'metrics' });
