import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Headers every answer has anyway; not part of the security set. */
const BASELINE = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);

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

/** Sets helmet's security headers on every answer (routes may override them, e.g. Swagger UI's CSP). */
export const securityHeadersPlugin = fp<FastifyHelmetOptions>(
  async (app: FastifyInstance, options) => {
    const headers = await helmetHeaders(options);
    // A callback hook, not async: it runs on every request and needs no promise.
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(headers);
      done();
    });
  },
  { name: 'security-headers' },
);
