/**
 * `npm run bench -- dashboard` (or `npx tsx bench/dashboard.ts`): the dashboard in headless
 * Chromium (Debian's, driven by playwright-core) against TeleFlow in its own process (the
 * embedded sandbox, SQLite in a temp dir, silent logs), on loopback.
 *   1. First load, BENCH_LOADS times (default 5), each in a fresh browser context (empty cache):
 *      the JavaScript and CSS transferred (compressed bytes on the wire) for the sign-in page, and
 *      again once signed in on the Overview; time to interactive: from navigation start to the
 *      sign-in form accepting input (the key field enabled), and to the signed-in Overview.
 *      Targets: under 300 kB and under 1 s.
 *   2. The Events page receiving BENCH_EVENT_RATE events/s (default 200) for BENCH_SECONDS
 *      (default 30): a sandbox user writes to a signed-in session through the sandbox's control
 *      API (each message is one message.received event), paced, with at most 64 calls in
 *      flight. A requestAnimationFrame counter in the page gives frames per second for each
 *      second of the run: min, p5 and average (target: at least 30), beside an idle baseline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDashboardBuilt, launchBrowser } from '../test/helpers/dashboard.js';
import { freePort, startServer, stopServer, type ServerProcess } from '../test/helpers/server-process.js';

const LOADS = Number(process.env.BENCH_LOADS ?? 5);
const RATE = Number(process.env.BENCH_EVENT_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const MAX_IN_FLIGHT = 64;
const API_KEY = 'tf_bench_admin_key_0123456789abcdefghijklmn';

const kB = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;
const ms = (value: number) => `${Math.round(value)} ms`;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

async function api<T = any>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': API_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as { data: T };
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

ensureDashboardBuilt();
const dataDir = mkdtempSync(join(tmpdir(), 'teleflow-bench-dashboard-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
let server: ServerProcess | undefined;
const browser = await launchBrowser();
try {
  server = await startServer({
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    TELEGRAM_SANDBOX: 'true',
    JWT_SECRET: 'bench-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    API_KEY,
    SESSION_ENCRYPTION_KEY: 'bench-encryption-key-0123456789abcdefghijklmnop',
    RATE_LIMIT_MAX: '1000000',
  });

  // ---- 1. first load ----
  console.log(`first load (${LOADS} cold loads; targets: < 300 kB of JS and CSS, < 1 s to interactive)`);
  const rows: { signIn: number; signedIn: number; ttiSignIn: number; ttiSignedIn: number }[] = [];
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    let transferred = 0;
    page.on('requestfinished', (request) => {
      if (!['script', 'stylesheet'].includes(request.resourceType())) return;
      void request
        .sizes()
        .then((sizes) => (transferred += sizes.responseBodySize + sizes.responseHeadersSize));
    });
    await page.goto(`${base}/dashboard/`, { waitUntil: 'commit' });
    // Navigation start to the key field accepting input, in the page's own clock.
    const ttiSignIn = Number(
      await (
        await page.waitForFunction(
          () => {
            const input = (globalThis as any).document.querySelector('[data-testid="sign-in-key"]');
            return input && !input.disabled ? performance.now() : 0;
          },
          undefined,
          { polling: 'raf', timeout: 30_000 },
        )
      ).jsonValue(),
    );
    await page.waitForLoadState('networkidle');
    const signIn = transferred;
    const started = await page.evaluate<number>('performance.now()');
    await page.getByTestId('sign-in-key').fill(API_KEY);
    await page.getByTestId('sign-in-submit').click();
    const done = Number(
      await (
        await page.waitForFunction(
          () =>
            (globalThis as any).document.querySelector('[data-testid="signed-in-role"]')
              ? performance.now()
              : 0,
          undefined,
          { polling: 'raf', timeout: 30_000 },
        )
      ).jsonValue(),
    );
    await page.waitForLoadState('networkidle');
    rows.push({ signIn, signedIn: transferred, ttiSignIn, ttiSignedIn: done - started });
    await context.close();
  }
  const median = (pick: (r: (typeof rows)[number]) => number) => {
    const sorted = rows.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const signInBytes = median((r) => r.signIn);
  const tti = median((r) => r.ttiSignIn);
  console.log(
    `  sign-in page: JS+CSS ${kB(signInBytes)} transferred, interactive after ${ms(tti)} (median; ` +
      `range ${ms(Math.min(...rows.map((r) => r.ttiSignIn)))}-${ms(Math.max(...rows.map((r) => r.ttiSignIn)))})`,
  );
  console.log(
    `  signed in (Overview's chunks added): JS+CSS ${kB(median((r) => r.signedIn))} in all, ` +
      `shown ${ms(median((r) => r.ttiSignedIn))} after the sign-in click`,
  );
  console.log(
    `  verdict: ${signInBytes < 300 * 1024 ? 'size OK' : 'size OVER 300 kB'}, ${tti < 1000 ? 'time OK' : 'time OVER 1 s'}`,
  );

  // ---- 2. the events page under load ----
  const sandbox = await api<{ controlUrl: string }>(base, 'GET', '/api/v1/sandbox');
  const control = async (path: string, body: unknown) => {
    const res = await fetch(`${sandbox.controlUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`control ${path}: ${res.status} ${await res.text()}`);
  };
  const [alice, bob] = ['15550100001', '15550100002'];
  await control('/users', { phone: alice, firstName: 'Alice' });
  await control('/users', { phone: bob, firstName: 'Bob' });
  const session = await api<{ id: string }>(base, 'POST', '/api/v1/sessions', { phone: alice });
  const { code } = await fetch(`${sandbox.controlUrl}/codes?phone=${alice}`).then(
    (r) => r.json() as Promise<{ code: string }>,
  );
  await api(base, 'POST', '/api/v1/sessions/verify-code', { sessionId: session.id, code });

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}/dashboard/#/events`);
  await page.getByTestId('sign-in-key').fill(API_KEY);
  await page.getByTestId('sign-in-submit').click();
  await page.locator('[data-testid="events-status"][data-status="open"]').waitFor({ timeout: 30_000 });
  await page.evaluate(`(() => {
    window.__frames = [];
    const tick = (t) => { window.__frames.push(t); requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  })()`);
  await sleep(3000);
  const idleFrames = await page.evaluate<number>('window.__frames.length');

  console.log(`\nevents page: ${RATE} events/s for ${SECONDS} s (target: at least 30 fps)`);
  const total = RATE * SECONDS;
  const startFrameIndex = await page.evaluate<number>('window.__frames.length');
  const startedAt = performance.now();
  let sent = 0;
  let failed = 0;
  let inFlight = 0;
  let maxLateMs = 0;
  for (let i = 0; i < total; i++) {
    const due = startedAt + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    else maxLateMs = Math.max(maxLateMs, -wait);
    while (inFlight >= MAX_IN_FLIGHT) await sleep(1);
    inFlight++;
    control('/messages', { from: bob, to: alice, text: `bench ${i}` }).then(
      () => {
        sent++;
        inFlight--;
      },
      () => {
        failed++;
        inFlight--;
      },
    );
  }
  while (inFlight > 0) await sleep(10);
  const elapsed = (performance.now() - startedAt) / 1000;
  await sleep(1000);
  const frames = await page.evaluate<number[]>(`window.__frames.slice(${startFrameIndex})`);
  const shown = await page.getByTestId('events-count').innerText();
  // Frames in each whole second of the run.
  const perSecond: number[] = [];
  const first = frames[0];
  for (let s = 0; s < Math.floor(elapsed); s++)
    perSecond.push(frames.filter((t) => t >= first + s * 1000 && t < first + (s + 1) * 1000).length);
  const sorted = [...perSecond].sort((a, b) => a - b);
  const avg = perSecond.reduce((a, b) => a + b, 0) / Math.max(1, perSecond.length);
  console.log(
    `  sent ${sent} messages in ${elapsed.toFixed(1)} s (${(sent / elapsed).toFixed(0)}/s, ${failed} failed, ` +
      `at most ${ms(maxLateMs)} behind schedule); the page shows "${shown}"`,
  );
  console.log(`  idle baseline: ${(idleFrames / 3).toFixed(0)} fps`);
  console.log(
    `  under load: min ${sorted[0]} fps, p5 ${percentile(sorted, 5)} fps, avg ${avg.toFixed(1)} fps over ${perSecond.length} s`,
  );
  console.log(
    `  verdict: ${sorted[0] >= 30 ? 'OK' : percentile(sorted, 5) >= 30 ? 'p5 OK, min below 30' : 'BELOW 30 fps'}`,
  );
  await context.close();
} finally {
  await browser.close();
  await stopServer(server, 'SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}
