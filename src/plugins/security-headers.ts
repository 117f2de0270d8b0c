import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Headers every answer has anyway; not part of the security set. */
const BASELINE = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);

/**
 * Helmet's headers that matter for answers no browser renders as a page (the JSON API): the
 * rest of helmet's set (X-DNS-Prefetch-Control, X-Download-Options,
 * X-Permitted-Cross-Domain-Policies, X-XSS-Protection, Origin-Agent-Cluster,
 * Cross-Origin-Opener-Policy) governs documents and their windows. The same choice as OWASP's
 * REST Security Cheat Sheet; every header costs the API's answers CPU (about 0.2 µs each in
 * Node's header checks and writes, `npm run bench -- http`).
 */
const API_HEADERS = new Set([
  'strict-transport-security',
  'x-content-type-options',
  'x-frame-options',
  'referrer-policy',
  'cross-origin-resource-policy',
]);

/**
 * Helmet's headers for the given options, computed once by @fastify/helmet itself on a
 * throwaway instance. Registered directly, @fastify/helmet rebuilds the whole helmet middleware
 * on every request, which cost about a third of the API's throughput in `npm run bench -- http`.
 */
export async function helmetHeaders(options: FastifyHelmetOptions): Promise<Record<string, string>> {
  const probe = Fastify({ logger: false });
  await probe.register(fastifyHelmet, { ...options, global: true });
  probe.get('/', async () => '');
  try {
    const res = await probe.inject({ url: '/' });
    return Object.fromEntries(
      Object.entries(res.headers)
        .filter(([name, value]) => !BASELINE.has(name) && typeof value === 'string')
        .map(([name, value]) => [name, value as string]),
    );
  } finally {
    await probe.close();
  }
}

export interface SecurityHeadersOptions {
  helmet: FastifyHelmetOptions;
  /** Headers every answer carries besides the security set (e.g. `Vary: Origin`). */
  extra?: Record<string, string>;
}

/**
 * Sets the security headers on every answer (routes may override them, e.g. Swagger UI's CSP):
 * helmet's whole set on pages and files, its API subset (API_HEADERS) on /api/ answers.
 */
export const securityHeadersPlugin = fp<SecurityHeadersOptions>(
  async (app: FastifyInstance, options) => {
    const all = { ...(await helmetHeaders(options.helmet)), ...options.extra };
    const api = Object.fromEntries(
      Object.entries(all).filter(([name]) => API_HEADERS.has(name) || name in (options.extra ?? {})),
    );
    // A callback hook, not async: it runs on every request and needs no promise.
    app.addHook('onRequest', (request, reply, done) => {
      reply.headers(request.url.startsWith('/api/') ? api : all);
      done();
    });
  },
  { name: 'security-headers' },
);
