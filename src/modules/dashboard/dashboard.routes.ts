/**
 * The web dashboard's built assets (vite's outDir, `dist/dashboard`), served at /dashboard/.
 * Hashed files under assets/ are cached for a year (their names change with their content);
 * index.html is never cached, because it carries a fresh CSP nonce on every answer and names
 * the current assets. Files come precompressed (`.br`, `.gz`, written by the dashboard build)
 * when the browser accepts it. Any other /dashboard/ path is the single-page app's (hash
 * routing), so it gets index.html too; a missing file with an extension stays a 404.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../lib/errors.js';

/** dist/dashboard from src/modules/dashboard (tsx) and from dist/modules/dashboard (built) alike. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../dist/dashboard/', import.meta.url));

export interface DashboardOptions {
  /** Where the built dashboard lives; DEFAULT_DASHBOARD_DIR unless a test says otherwise. */
  root?: string;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The dashboard's Content Security Policy. Scripts come only from this origin (vite emits no
 * inline script). Styles: Mantine injects `<style>` elements for its CSS variables and
 * responsive style props; rather than allowing every inline style ('unsafe-inline'), each
 * index.html answer carries a fresh nonce in `<meta name="csp-nonce">`, and the app hands it
 * to MantineProvider's `getStyleNonce`, so only those elements run. Style *attributes* set from
 * script (React's `style` prop goes through the CSSOM) are not affected by CSP. No
 * upgrade-insecure-requests: like /docs, the dashboard must work over plain http at any host.
 */
export function dashboardCsp(nonce?: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    nonce ? `style-src 'self' 'nonce-${nonce}'` : "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const NOT_BUILT_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>TeleFlow dashboard not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}code{background:#eee;padding:0 .25rem}</style>
</head>
<body>
<h1>The dashboard has not been built</h1>
<p>This TeleFlow serves the dashboard from <code>dist/dashboard</code>, which does not exist yet.
Build it with <code>npm run build</code> (the server and the dashboard) or <code>npm run build:dashboard</code>,
then reload this page. The API and its documentation at <a href="/docs">/docs</a> work without it.</p>
</body>
</html>
`;

/**
 * index.html with this answer's nonce in `<meta name="csp-nonce" content>`, where the app reads
 * it (dashboard/src/theme.ts); any `__CSP_NONCE__` placeholder (vite's `html.cspNonce`) too.
 */
export function withNonce(html: string, nonce: string): string {
  const marked = html.replaceAll('__CSP_NONCE__', nonce);
  if (/<meta[^>]+name="csp-nonce"/.test(marked)) return marked;
  return marked.replace(/<head([^>]*)>/i, `<head$1>\n    <meta name="csp-nonce" content="${nonce}">`);
}

function dashboardHeaders(reply: FastifyReply, csp: string): void {
  reply.header('content-security-policy', csp);
  // Plain http on any host name must keep working (see the CSP above).
  reply.removeHeader('strict-transport-security');
}

export async function dashboardRoutes(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const root = resolve(options.root ?? DEFAULT_DASHBOARD_DIR);
  await app.register(fastifyStatic, {
    root,
    serve: false,
    preCompressed: true,
    // Cache-Control is set per file below, not by the static server.
    cacheControl: false,
    suppressWarning: true,
  });

  const sendIndex = async (reply: FastifyReply) => {
    const html = await readFile(join(root, 'index.html'), 'utf8').catch(() => undefined);
    reply.header('cache-control', 'no-cache');
    if (html === undefined) {
      dashboardHeaders(reply, NOT_BUILT_CSP);
      return reply.code(404).type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
    }
    const nonce = randomBytes(16).toString('base64');
    dashboardHeaders(reply, dashboardCsp(nonce));
    return reply.type('text/html; charset=utf-8').send(withNonce(html, nonce));
  };

  // Static files: no credentials needed, nothing to rate-limit (the API's limits count API calls).
  const config = { rateLimit: false as const };
  app.get('/dashboard', { schema: { hide: true }, config }, (_request, reply) => sendIndex(reply));
  app.get<{ Params: { '*': string } }>(
    '/dashboard/*',
    { schema: { hide: true }, config },
    async (request, reply) => {
      const relative = request.params['*'];
      if (relative === '' || relative === 'index.html') return sendIndex(reply);
      const file = resolve(root, relative);
      const inside = file.startsWith(root + sep);
      const found = inside
        ? await stat(file).then(
            (s) => s.isFile(),
            () => false,
          )
        : false;
      if (!found) {
        // A path that names a file (an old asset, a typo) is a 404; any other is the app's route.
        if (!inside || extname(relative) !== '' || relative.startsWith('assets/'))
          throw new AppError('ROUTE_NOT_FOUND', `No dashboard file ${relative.slice(0, 200)}`);
        return sendIndex(reply);
      }
      dashboardHeaders(reply, dashboardCsp());
      reply.header('cache-control', relative.startsWith('assets/') ? IMMUTABLE : 'no-cache');
      return reply.sendFile(relative);
    },
  );
  // The root leads to the dashboard (the API's documentation stays at /docs).
  app.get('/', { schema: { hide: true }, config }, (_request, reply) => reply.redirect('/dashboard', 302));
}
