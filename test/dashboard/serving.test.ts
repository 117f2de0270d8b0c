import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { dashboardRoutes } from '../../src/modules/dashboard/dashboard.routes.js';
import { errorsPlugin } from '../../src/plugins/errors.js';
import { securityHeadersPlugin } from '../../src/plugins/security-headers.js';

const INDEX = `<!doctype html>
<html lang="en">
  <head>
    <script type="module" crossorigin src="/dashboard/assets/index-Abc123.js"></script>
    <link rel="stylesheet" crossorigin href="/dashboard/assets/index-Def456.css">
  </head>
  <body><div id="root"></div></body>
</html>
`;
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4000))});\n`;

/** A built dashboard as vite and the compression step leave it, in a temp dir. */
function fixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-dashboard-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dir, 'assets/index-Abc123.js'), SCRIPT);
  writeFileSync(join(dir, 'assets/index-Abc123.js.br'), brotliCompressSync(SCRIPT));
  writeFileSync(join(dir, 'assets/index-Abc123.js.gz'), gzipSync(SCRIPT));
  writeFileSync(join(dir, 'assets/index-Def456.css'), 'body{margin:0}');
  return dir;
}

async function serve(root: string) {
  const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
  await app.register(errorsPlugin);
  await app.register(securityHeadersPlugin, { helmet: { contentSecurityPolicy: false } });
  await app.register(dashboardRoutes, { root });
  await app.ready();
  return app;
}

test('index.html: no-cache, a strict CSP with a fresh style nonce per answer, no HSTS', async () => {
  const root = fixture();
  const app = await serve(root);
  try {
    const nonces = new Set<string>();
    for (const url of ['/dashboard', '/dashboard/', '/dashboard/index.html']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.equal(res.headers['strict-transport-security'], undefined, 'plain http must keep working');
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|upgrade-insecure-requests/);
      const nonce = /style-src 'self' 'nonce-([^']+)'/.exec(csp)?.[1];
      assert.ok(nonce, csp);
      // The page hands the same nonce to the app for Mantine's <style> elements.
      assert.ok(res.body.includes(`<meta name="csp-nonce" content="${nonce}">`), res.body);
      assert.ok(res.body.includes('/dashboard/assets/index-Abc123.js'));
      nonces.add(nonce);
    }
    assert.equal(nonces.size, 3, 'a new nonce on every answer');
  } finally {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('hashed assets: immutable for a year, brotli or gzip as accepted, identity otherwise', async () => {
  const root = fixture();
  const app = await serve(root);
  try {
    const url = '/dashboard/assets/index-Abc123.js';
    const br = await app.inject({ url, headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(br.statusCode, 200);
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(String(br.headers['content-type']), /javascript/);
    assert.match(String(br.headers.vary), /accept-encoding/i);
    assert.equal(brotliDecompressSync(br.rawPayload).toString(), SCRIPT);
    assert.ok(br.rawPayload.length < SCRIPT.length / 10, `compressed to ${br.rawPayload.length} bytes`);

    const gz = await app.inject({ url, headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.rawPayload).toString(), SCRIPT);

    const plain = await app.inject({ url, headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body, SCRIPT);

    // A file without precompressed copies is sent as it is.
    const css = await app.inject({
      url: '/dashboard/assets/index-Def456.css',
      headers: { 'accept-encoding': 'br' },
    });
    assert.equal(css.statusCode, 200);
    assert.equal(css.body, 'body{margin:0}');
    // Files outside assets/ keep their names across builds: revalidated, never immutable.
    const icon = await app.inject({ url: '/dashboard/favicon.svg' });
    assert.equal(icon.statusCode, 200);
    assert.equal(icon.headers['cache-control'], 'no-cache');
  } finally {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("the app's other paths get index.html; missing files and paths outside the folder are 404", async () => {
  const root = fixture();
  const app = await serve(root);
  try {
    for (const url of ['/dashboard/sessions', '/dashboard/some/deep/route']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.ok(res.body.includes('<div id="root">'), url);
      assert.equal(res.headers['cache-control'], 'no-cache');
    }
    for (const url of [
      '/dashboard/assets/index-Old999.js',
      '/dashboard/missing.png',
      '/dashboard/../package.json',
      '/dashboard/%2e%2e/%2e%2e/package.json',
      '/dashboard/assets/%2e%2e/%2e%2e/%2e%2e/package.json',
    ]) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, `${url}: ${res.statusCode} ${res.body.slice(0, 100)}`);
      assert.doesNotMatch(res.body, /"name": "teleflow"/);
    }
  } finally {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('without built assets /dashboard explains how to build them (404, HTML)', async () => {
  const root = join(mkdtempSync(join(tmpdir(), 'teleflow-dashboard-')), 'not-built');
  const app = await serve(root);
  try {
    for (const url of ['/dashboard', '/dashboard/sessions']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, url);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.match(res.body, /npm run build:dashboard/);
      assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
    }
  } finally {
    await app.close();
  }
});
