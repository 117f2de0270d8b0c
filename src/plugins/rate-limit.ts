import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../lib/errors.js';
import type { AuthService } from '../modules/auth/auth.service.js';
import { credentialOf } from './auth.js';

export interface RateLimitOptions {
  auth: AuthService;
  max: number;
  windowMs: number;
}

/**
 * Requests per window, counted per API key (a key and the JWTs issued for it share a budget)
 * or, without a valid credential, per client address. The count runs in a root onRequest hook,
 * before the authentication of /api/v1, so failed logins and guessed keys are limited too and
 * rotating made-up keys gains nothing. Routes opt out with `config: { rateLimit: false }`.
 */
export const rateLimitPlugin = fp<RateLimitOptions>(
  async (app: FastifyInstance, opts) => {
    await app.register(rateLimit, {
      global: false,
      max: opts.max,
      timeWindow: opts.windowMs,
      keyGenerator: (request) => (request.principal ? `key:${request.principal.keyId}` : `ip:${request.ip}`),
      // context.after is the time left in the window, not the window: both are stated apart.
      errorResponseBuilder: (_request, context) => {
        const retryAfter = Math.max(1, Math.ceil(context.ttl / 1000));
        return new AppError(
          'RATE_LIMITED',
          `Rate limit of ${context.max} requests per ${opts.windowMs / 1000} s exceeded; retry in ${retryAfter} s`,
          undefined,
          retryAfter,
        );
      },
    });
    const limit = app.rateLimit();
    app.addHook('onRequest', async (request, reply) => {
      const cfg = request.routeOptions.config;
      // A request another instance passed on was counted there (src/modules/cluster/forwarding.ts).
      if (cfg.rateLimit === false || request.clusterForwarded) return;
      const credential = credentialOf(request, cfg.allowQueryToken === true);
      // Resolved once here; the auth plugin reuses it (and answers 401 when it is null).
      request.principal = credential ? await opts.auth.authenticate(credential).catch(() => null) : null;
      await limit.call(app, request, reply);
    });
  },
  { name: 'rate-limit' },
);
