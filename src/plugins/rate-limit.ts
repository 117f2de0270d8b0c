import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../lib/errors.js';
import type { AuthService, Principal } from '../modules/auth/auth.service.js';
import { credentialOf } from './auth.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: never counted (health checks, the dashboard's files). */
    rateLimit?: false;
  }
}

export interface RateLimitOptions {
  auth: Pick<AuthService, 'authenticate' | 'cachedPrincipal'>;
  max: number;
  windowMs: number;
}

interface Window {
  count: number;
  /** When the window ends (ms since the epoch). */
  resetAt: number;
}

/**
 * Counts per key in fixed windows that start at a key's first request (what clients of
 * `x-ratelimit-reset` expect: the time left of their own window). At most `maxKeys` windows
 * are kept: the map's order is the order windows started, so ended ones are dropped from its
 * front, and when it is full of live windows the oldest goes (its key starts afresh: a flood of
 * more than `maxKeys` addresses in one window is beyond what a per-address limit can hold).
 */
export class WindowCounter {
  private readonly windows = new Map<string, Window>();
  private hits = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one request of `key`; returns its window with this request counted. */
  hit(key: string): Window {
    const now = this.now();
    // Now and then the ended windows of keys that went quiet are dropped.
    if ((++this.hits & 1023) === 0) this.evictEnded(now);
    let w = this.windows.get(key);
    if (w === undefined || w.resetAt <= now) {
      // Deleted and set again: a new window goes to the back of the map.
      if (w !== undefined) this.windows.delete(key);
      else if (this.windows.size >= this.maxKeys) this.evict(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return w;
  }

  get size(): number {
    return this.windows.size;
  }

  private evictEnded(now: number): void {
    for (const [key, w] of this.windows) {
      if (w.resetAt > now) return;
      this.windows.delete(key);
    }
  }

  /** Drops the ended windows at the front; if there were none, the oldest live one. */
  private evict(now: number): void {
    let freed = false;
    for (const [key, w] of this.windows) {
      if (w.resetAt > now) {
        if (!freed) this.windows.delete(key);
        return;
      }
      this.windows.delete(key);
      freed = true;
    }
  }
}

/** Windows kept per kind of key (see WindowCounter): a few MB at most. */
const MAX_KEYS = 100_000;

/**
 * Requests per window, counted per API key (a key and the JWTs issued for it share a budget)
 * or, without a valid credential, per client address. The count runs in a root onRequest hook,
 * before the authentication of /api/v1, so failed logins and guessed keys are limited too and
 * rotating made-up keys gains nothing. Routes opt out with `config: { rateLimit: false }`.
 * Answers carry x-ratelimit-limit, -remaining and -reset (seconds left in the window); over the
 * limit: 429 RATE_LIMITED with Retry-After.
 *
 * In place of @fastify/rate-limit: a callback hook that resolves a credential seen recently
 * without a promise and counts in a plain map cost about 2 µs less per request
 * (`npm run bench -- http`). Keys and addresses are counted apart, so a flood of addresses
 * cannot push a key's window out.
 */
export const rateLimitPlugin = fp<RateLimitOptions>(
  async (app: FastifyInstance, opts) => {
    const { auth, max, windowMs } = opts;
    const byKey = new WindowCounter(windowMs, MAX_KEYS);
    const byAddress = new WindowCounter(windowMs, MAX_KEYS);
    const limit = String(max);

    const count = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
      const principal = request.principal;
      const w = principal ? byKey.hit(principal.keyId) : byAddress.hit(request.ip);
      const resetSeconds = Math.max(0, Math.ceil((w.resetAt - Date.now()) / 1000));
      reply.header('x-ratelimit-limit', limit);
      reply.header('x-ratelimit-remaining', String(Math.max(0, max - w.count)));
      reply.header('x-ratelimit-reset', String(resetSeconds));
      if (w.count <= max) return done();
      const retryAfter = Math.max(1, resetSeconds);
      done(
        new AppError(
          'RATE_LIMITED',
          `Rate limit of ${max} requests per ${windowMs / 1000} s exceeded; retry in ${retryAfter} s`,
          undefined,
          retryAfter,
        ),
      );
    };

    app.addHook('onRequest', (request, reply, done) => {
      const cfg = request.routeOptions.config;
      // A request another instance passed on was counted there (src/modules/cluster/forwarding.ts).
      if (cfg.rateLimit === false || request.clusterForwarded) return done();
      const credential = credentialOf(request, cfg.allowQueryToken === true);
      // Resolved once here; the auth plugin reuses it (and answers 401 when it is null).
      if (credential === undefined) {
        request.principal = null;
        return count(request, reply, done);
      }
      const known = auth.cachedPrincipal(credential);
      if (known !== undefined) {
        request.principal = known;
        return count(request, reply, done);
      }
      auth.authenticate(credential).then(
        (principal: Principal) => {
          request.principal = principal;
          count(request, reply, done);
        },
        () => {
          request.principal = null;
          count(request, reply, done);
        },
      );
    });
  },
  { name: 'rate-limit' },
);
