import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../lib/errors.js';
import type { Role } from '../modules/auth/auth.schema.js';
import { ROLE_RANK, type AuthService, type Principal } from '../modules/auth/auth.service.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Lowest role allowed; default viewer for GET/HEAD and operator for everything else. */
    minRole?: Role;
    /** No credentials needed (login). */
    public?: boolean;
    /** `?token=` is accepted too (SSE and WebSocket: browsers cannot set headers there). */
    allowQueryToken?: boolean;
  }
}

/**
 * The credential a request carries: X-API-Key, a Bearer token, or (where allowed) `?token=`.
 * An Authorization header in another form (a bare key, Basic...) is no credential: the auth
 * hook answers it with a 401 that names the expected form rather than "missing credentials".
 */
export function credentialOf(request: FastifyRequest, allowQuery: boolean): string | undefined {
  const apiKey = request.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey) return apiKey;
  const auth = request.headers.authorization;
  if (auth) {
    // "Bearer" in any case, whitespace, the credential: a prefix check, as this runs on every request.
    if (auth.length > 7 && auth.slice(0, 6).toLowerCase() === 'bearer' && /\s/.test(auth[6]!)) {
      const credential = auth.slice(7).trim();
      if (credential) return credential;
    }
  }
  if (allowQuery) {
    const token = (request.query as Record<string, unknown> | undefined)?.token;
    if (typeof token === 'string' && token) return token;
  }
  return undefined;
}

/**
 * Authenticates every route registered in the scope it is added to, then checks the route's
 * role. Sessions are checked by the services through `assertSessionAccess`/`sessionScope`.
 */
export const authPlugin = fp<{ auth: AuthService }>(
  async (app: FastifyInstance, opts) => {
    app.decorateRequest('principal', null);
    const check = (request: FastifyRequest, principal: Principal): AppError | undefined => {
      const cfg = request.routeOptions.config;
      const needed: Role =
        cfg.minRole ?? (request.method === 'GET' || request.method === 'HEAD' ? 'viewer' : 'operator');
      if (ROLE_RANK[principal.role] >= ROLE_RANK[needed]) return undefined;
      return new AppError('FORBIDDEN', `This route needs the ${needed} role; this key has ${principal.role}`);
    };
    // A callback hook: the rate limiter has usually resolved the caller, and then no promise is made.
    app.addHook('onRequest', (request, _reply, done) => {
      const cfg = request.routeOptions.config;
      if (cfg.public) return done();
      if (request.principal) return done(check(request, request.principal));
      const credential = credentialOf(request, cfg.allowQueryToken === true);
      if (credential === undefined && request.headers.authorization) {
        return done(
          new AppError(
            'UNAUTHORIZED',
            "Authorization header must be 'Bearer <token>' (an API key or a JWT); or send the key in X-API-Key",
          ),
        );
      }
      opts.auth.authenticate(credential).then(
        (principal) => {
          request.principal = principal;
          done(check(request, principal));
        },
        (err: Error) => done(err),
      );
    });
  },
  { name: 'auth' },
);

/** The one place that enforces keys limited to some sessions: others look as if they did not exist. */
export function assertSessionAccess(principal: Principal | null, sessionId: string): void {
  if (!principal) throw new AppError('UNAUTHORIZED', 'Missing credentials');
  if (principal.sessionIds !== null && !principal.sessionIds.includes(sessionId)) {
    throw new AppError('SESSION_NOT_FOUND', 'Session not found');
  }
}

/** For list routes: null means every session, otherwise only these ids. */
export function sessionScope(principal: Principal | null): string[] | null {
  if (!principal) throw new AppError('UNAUTHORIZED', 'Missing credentials');
  return principal.sessionIds;
}

export function requirePrincipal(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('UNAUTHORIZED', 'Missing credentials');
  return request.principal;
}
