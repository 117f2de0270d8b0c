/**
 * The dashboard in a real browser: its built assets (built here when missing or older than the
 * sources), Debian's Chromium driven by playwright-core, and a real TeleFlow with the embedded
 * sandbox listening on loopback.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createTestApp, type TestApp } from './app.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const SOURCES = [join(ROOT, 'dashboard'), join(ROOT, 'package-lock.json')];
const BUILT_INDEX = join(ROOT, 'dist/dashboard/index.html');
const LOCK = join(ROOT, 'dist/.dashboard-build.lock');

/** Debian's chromium (`apt-get install chromium`); .ci/run installs it when it is missing. */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

/** Why the browser tests cannot run here, or false. */
export const SKIP_BROWSER = CHROMIUM
  ? false
  : 'chromium not found (/usr/bin/chromium): apt-get install chromium';

/** The newest modification time under `path` (node_modules and build output left out). */
function newestMtime(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

function builtIsCurrent(): boolean {
  if (!existsSync(BUILT_INDEX)) return false;
  const built = statSync(BUILT_INDEX).mtimeMs;
  return SOURCES.every((source) => !existsSync(source) || newestMtime(source) <= built);
}

/**
 * Builds the dashboard (`npm run build:dashboard`'s vite build) unless dist/dashboard is newer
 * than every source. A lock directory keeps two test processes from building at once.
 */
export function ensureDashboardBuilt(): void {
  if (builtIsCurrent()) return;
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // Another process builds; a lock older than 5 minutes was left by a killed one.
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > 5 * 60_000)
        rmSync(LOCK, { force: true, recursive: true });
      if (Date.now() > deadline) throw new Error(`the dashboard build lock ${LOCK} stayed taken`);
      spawnSync('sleep', ['1']);
    }
  }
  try {
    if (builtIsCurrent()) return;
    const vite = join(ROOT, 'node_modules/vite/bin/vite.js');
    const result = spawnSync(
      process.execPath,
      [vite, 'build', '--config', 'dashboard/vite.config.ts', '--logLevel', 'warn'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 5 * 60_000,
      },
    );
    if (result.status !== 0)
      throw new Error(`vite build failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  } finally {
    rmSync(LOCK, { force: true, recursive: true });
  }
}

/** A host name other than localhost: browsers treat localhost as secure, which can hide problems. */
export const HOST = 'teleflow.test';

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--host-resolver-rules=MAP ${HOST} 127.0.0.1`,
    ],
  });
}

export interface DashboardHarness {
  t: TestApp;
  /** `http://teleflow.test:<port>`: the dashboard is at `${origin}/dashboard/`. */
  origin: string;
  browser: Browser;
  /** Calls the API as the admin, unwrapping `data` (throws on an error answer). */
  api<T = any>(method: string, url: string, body?: unknown): Promise<T>;
  /** A fresh page (own storage) that records page errors and CSP violations. */
  newPage(): Promise<Page & { problems: string[] }>;
  close(): Promise<void>;
}

/** TeleFlow with the embedded sandbox on 127.0.0.1, and a browser that reaches it as teleflow.test. */
export async function startDashboard(env: Record<string, string> = {}): Promise<DashboardHarness> {
  ensureDashboardBuilt();
  const t = await createTestApp({ env: { TELEGRAM_SANDBOX: 'true', ...env } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = t.app.server.address() as AddressInfo;
  const browser = await launchBrowser();
  const origin = `http://${HOST}:${port}`;
  return {
    t,
    origin,
    browser,
    async api(method, url, body) {
      const res = await t.app.inject({
        method: method as 'GET',
        url,
        headers: { 'x-api-key': t.adminKey },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
      return res.statusCode === 204 ? undefined : res.json().data;
    },
    async newPage() {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = (await context.newPage()) as Page & { problems: string[] };
      page.problems = [];
      page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text()))
          page.problems.push(`console: ${message.text()}`);
      });
      return page;
    },
    async close() {
      await browser.close();
      await t.close();
    },
  };
}

/** Signs in on the sign-in page with an API key and waits for the shell. */
export async function signInWithKey(page: Page, origin: string, key: string, hash = ''): Promise<void> {
  await page.goto(`${origin}/dashboard/${hash}`, { waitUntil: 'load' });
  await page.getByTestId('sign-in-key').fill(key);
  await page.getByTestId('sign-in-submit').click();
  await page.getByTestId('signed-in-role').waitFor({ timeout: 15_000 });
}

/** Where screenshots go: DASHBOARD_SCREENSHOTS_DIR (docs/screenshots for the README) or a temp dir. */
export const SCREENSHOTS_DIR = process.env.DASHBOARD_SCREENSHOTS_DIR
  ? join(ROOT, process.env.DASHBOARD_SCREENSHOTS_DIR)
  : join(tmpdir(), 'teleflow-dashboard-screenshots');

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const path = join(SCREENSHOTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** axe-core's serious and critical violations on the page as it is now (axe.source injected). */
export async function axeViolations(page: Page): Promise<string[]> {
  const axe = (await import('axe-core')).default;
  await page.evaluate(axe.source);
  const results = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as {
    violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[];
  };
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} (${v.nodes
          .map((n) => n.target.join(' '))
          .slice(0, 5)
          .join(', ')})`,
    );
}

let accounts = 0;

/** A sandbox user signed in through TeleFlow's API (code flow): a connected session. */
export async function connectedAccount(
  h: DashboardHarness,
  name: string,
): Promise<{ sessionId: string; phone: string; userId: string }> {
  accounts += 1;
  const phone = `1555${String(process.pid % 1000).padStart(3, '0')}${String(8000 + accounts)}`;
  const user = await h.api('POST', '/api/v1/sandbox/users', { phone, firstName: name });
  const session = await h.api('POST', '/api/v1/sessions', { phone, name });
  const { code } = await h.api('GET', `/api/v1/sandbox/codes?phone=${phone}`);
  const verified = await h.api('POST', '/api/v1/sessions/verify-code', { sessionId: session.id, code });
  if (verified.status !== 'connected') throw new Error(`session ${session.id} is ${verified.status}`);
  return { sessionId: session.id, phone, userId: user.id };
}

/** Picks an option of a Mantine Select or MultiSelect by its label. */
export async function pickOption(page: Page, testId: string, label: string | RegExp): Promise<void> {
  await page.getByTestId(testId).click();
  await page.getByRole('option', { name: label }).first().click();
}
