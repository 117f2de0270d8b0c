/**
 * The Sessions page in a real browser against TeleFlow with the embedded sandbox: live status
 * from session events, disconnect and connect, export (asked first, shown once), delete (asked
 * first), and a thousand sessions in a virtualised list that scrolls and filters.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureSessions } from '../helpers/app.js';
import {
  SKIP_BROWSER,
  connectedAccount,
  screenshot,
  signInWithKey,
  startDashboard,
} from '../helpers/dashboard.js';

test(
  'Sessions: live status, disconnect and connect, export once, delete, and 1,000 sessions virtualised',
  { skip: SKIP_BROWSER, timeout: 240_000 },
  async () => {
    const h = await startDashboard();
    try {
      const eve = await connectedAccount(h, 'Eve');
      const page = await h.newPage();
      await signInWithKey(page, h.origin, h.t.adminKey, '#/sessions');
      const row = page.locator(`[data-testid="session-row"][data-session-id="${eve.sessionId}"]`);
      await row.and(page.locator('[data-status="connected"]')).waitFor();

      // A change made elsewhere (the API) shows up live, without a reload.
      await h.api('POST', `/api/v1/sessions/${eve.sessionId}/disconnect`);
      await row.and(page.locator('[data-status="disconnected"]')).waitFor({ timeout: 15_000 });
      // And from the page: connect, disconnect.
      await row.getByTestId('session-action-connect').click();
      await row.and(page.locator('[data-status="connected"]')).waitFor({ timeout: 20_000 });
      await row.getByTestId('session-action-disconnect').click();
      await row.and(page.locator('[data-status="disconnected"]')).waitFor({ timeout: 15_000 });
      assert.equal((await h.api('GET', `/api/v1/sessions/${eve.sessionId}`)).status, 'disconnected');
      await row.getByTestId('session-action-connect').click();
      await row.and(page.locator('[data-status="connected"]')).waitFor({ timeout: 20_000 });

      // Export: asked first, the string shown in the dialog only, gone once it closes.
      await row.getByTestId('session-action-export').click();
      assert.equal(await page.getByTestId('exported-session-string').count(), 0);
      await page.getByTestId('export-session-confirm').click();
      const exported = (await page.getByTestId('exported-session-string').innerText()).trim();
      assert.match(exported, /^1[A-Za-z0-9+/=_-]{100,}$/);
      await page.keyboard.press('Escape');
      await page.getByTestId('exported-session-string').waitFor({ state: 'detached' });
      assert.equal(await page.getByText(exported).count(), 0);

      // A thousand more sessions: only the rows in view are in the page; the last is reachable.
      const ids = Array.from({ length: 1000 }, (_, i) => `ses_many${String(i).padStart(12, '0')}`);
      await ensureSessions(h.t.app, ids);
      await page.reload();
      await page.getByTestId('session-count').getByText('1001 sessions').waitFor({ timeout: 20_000 });
      assert.ok(
        (await page.getByTestId('session-row').count()) < 60,
        'rows outside the view are not rendered',
      );
      await page.getByTestId('session-list').evaluate((list) => list.scrollTo(0, list.scrollHeight));
      await page.locator(`[data-session-id="${ids[999]}"]`).waitFor();
      assert.ok((await page.getByTestId('session-row').count()) < 60);
      await page.getByTestId('session-filter').fill('ses_many000000000500');
      await page.getByTestId('session-count').getByText('1 of 1001 sessions').waitFor();
      await screenshot(page, 'sessions-filtered');

      // Delete: asked first, then gone from the page and from TeleFlow.
      const doomed = page.locator(`[data-session-id="${ids[500]}"]`);
      await doomed.getByTestId('session-action-delete').click();
      await page.getByTestId('delete-session-confirm').click();
      await doomed.waitFor({ state: 'detached' });
      const left = await h.api('GET', '/api/v1/sessions');
      assert.equal(left.length, 1000);
      assert.ok(!left.some((s: { id: string }) => s.id === ids[500]));
      assert.deepEqual(page.problems, []);
    } finally {
      await h.close();
    }
  },
);
