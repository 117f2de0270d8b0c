/**
 * The dashboard's sign-in lasts for the tab: a reload keeps it, another tab does not have it,
 * and a token revoked elsewhere (its event stream closed with 4401) returns the tab to sign-in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKIP_BROWSER, signInWithKey, startDashboard } from '../helpers/dashboard.js';

test(
  'sign-in lasts for the tab, and a token revoked elsewhere returns the tab to the sign-in page',
  { skip: SKIP_BROWSER, timeout: 120_000 },
  async () => {
    const h = await startDashboard();
    try {
      const page = await h.newPage();
      await signInWithKey(page, h.origin, h.t.adminKey, '#/sessions');
      await page.locator('[data-testid="live-status"][data-status="open"]').waitFor();
      const token = (await page.evaluate('sessionStorage.getItem("teleflow.jwt")')) as string;
      assert.match(token, /^ey/);

      await page.reload();
      await page.getByTestId('signed-in-role').waitFor();
      const other = await h.newPage();
      await other.goto(`${h.origin}/dashboard/#/sessions`);
      await other.getByTestId('sign-in-form').waitFor();

      // Revoked from elsewhere: the open stream ends (4401) and the page signs out at once.
      await page.locator('[data-testid="live-status"][data-status="open"]').waitFor();
      const res = await h.t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.statusCode, 200);
      await page.getByTestId('sign-in-form').waitFor({ timeout: 20_000 });
      assert.equal(await page.evaluate('sessionStorage.getItem("teleflow.jwt")'), null);
      assert.deepEqual([...page.problems, ...other.problems], []);
    } finally {
      await h.close();
    }
  },
);
