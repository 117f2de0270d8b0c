import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  SKIP_BROWSER,
  axeViolations,
  connectedAccount,
  screenshot,
  signInWithKey,
  startDashboard,
} from '../helpers/dashboard.js';

/** Each page with something on it, and what to wait for before scanning. */
const PAGES: { hash: string; ready: string; name: string }[] = [
  { hash: '#/', ready: 'nav-overview', name: 'overview' },
  { hash: '#/sessions', ready: 'session-list', name: 'sessions' },
  { hash: '#/chats', ready: 'chat-session', name: 'chats' },
  { hash: '#/events', ready: 'event-row', name: 'events' },
  { hash: '#/webhooks', ready: 'webhooks-table', name: 'webhooks' },
  { hash: '#/keys', ready: 'keys-table', name: 'api-keys' },
  { hash: '#/sandbox', ready: 'sandbox-users', name: 'sandbox' },
];

test(
  'axe-core finds no serious or critical violation on any page, on a desktop and on a phone-sized screen',
  { skip: SKIP_BROWSER, timeout: 240_000 },
  async () => {
    const h = await startDashboard();
    try {
      const alice = await connectedAccount(h, 'Alice');
      const bob = await connectedAccount(h, 'Bob');
      await h.api('POST', '/api/v1/sandbox/messages', { from: bob.phone, to: alice.phone, text: 'hello' });
      await h.api('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['message.*'] });
      await h.t.keyFor('operator', [alice.sessionId]);

      const found: string[] = [];
      const page = await h.newPage();
      await page.goto(`${h.origin}/dashboard/`);
      await page.getByTestId('sign-in-key').waitFor();
      found.push(...(await axeViolations(page)).map((v) => `sign-in: ${v}`));
      await signInWithKey(page, h.origin, h.t.adminKey);
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: width > 800 ? 800 : 844 });
        for (const { hash, ready, name } of PAGES) {
          await page.goto(`${h.origin}/dashboard/${hash}`);
          // The events page shows what happens from now on: one event to show.
          if (name === 'events') {
            await page
              .locator('[data-testid="events-status"][data-status="open"]')
              .waitFor({ timeout: 15_000 });
            await h.api('POST', '/api/v1/sandbox/messages', {
              from: bob.phone,
              to: alice.phone,
              text: 'again',
            });
          }
          await page.getByTestId(ready).first().waitFor({ timeout: 15_000 });
          found.push(...(await axeViolations(page)).map((v) => `${name} (${width}px): ${v}`));
          if (width < 800 && name === 'events') await screenshot(page, 'events-phone');
        }
      }
      assert.deepEqual(found, [], found.join('\n'));
      assert.deepEqual(page.problems, []);
    } finally {
      await h.close();
    }
  },
);
