import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKIP_BROWSER, screenshot, signInWithKey, startDashboard } from '../helpers/dashboard.js';

test(
  'sign in with an API key over plain http at a host other than localhost, under the CSP; sign out revokes the token',
  { skip: SKIP_BROWSER, timeout: 120_000 },
  async () => {
    const h = await startDashboard();
    try {
      const page = await h.newPage();
      const failed: string[] = [];
      page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));

      // The root leads to the dashboard, which asks for a key.
      await page.goto(`${h.origin}/`, { waitUntil: 'load' });
      assert.match(new URL(page.url()).pathname, /^\/dashboard\/?$/);
      await page.getByTestId('sign-in-key').waitFor();
      await screenshot(page, 'sign-in');

      // A wrong key is refused on the page.
      await page.getByTestId('sign-in-key').fill('tf_not_a_key');
      await page.getByTestId('sign-in-submit').click();
      await page.getByTestId('sign-in-error').waitFor({ timeout: 10_000 });

      await signInWithKey(page, h.origin, h.t.adminKey);
      assert.equal((await page.getByTestId('signed-in-role').innerText()).toLowerCase(), 'admin');
      // Mantine's <style> elements carry the answer's nonce, so none was refused.
      const styles = await page.evaluate<number>(`document.querySelectorAll('style').length`);
      assert.ok(styles > 0, 'Mantine injected its styles');
      assert.deepEqual(page.problems, [], 'no page errors, no CSP violations');
      assert.deepEqual(failed, [], 'every request succeeded over plain http');

      // The token is a JWT kept for the tab; signing out revokes it on the server.
      const token = await page.evaluate<string | null>(`(() => {
        for (const store of [sessionStorage, localStorage])
          for (let i = 0; i < store.length; i++) {
            const jwt = /eyJ[\\w-]+\\.[\\w-]+\\.[\\w-]+/.exec(store.getItem(store.key(i)) ?? '');
            if (jwt) return jwt[0];
          }
        return null;
      })()`);
      assert.ok(token, 'a JWT is kept in the tab');
      const me = await h.t.app.inject({
        url: '/api/v1/auth/me',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(me.statusCode, 200);
      await page.getByTestId('sign-out').click();
      await page.getByTestId('sign-in-key').waitFor({ timeout: 10_000 });
      const after = await h.t.app.inject({
        url: '/api/v1/auth/me',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(after.statusCode, 401, 'the token was revoked');
    } finally {
      await h.close();
    }
  },
);
