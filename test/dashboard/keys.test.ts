import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  SKIP_BROWSER,
  connectedAccount,
  pickOption,
  screenshot,
  signInWithKey,
  startDashboard,
} from '../helpers/dashboard.js';

test(
  'API keys: create one with a role and a session (shown once), then revoke it',
  { skip: SKIP_BROWSER, timeout: 180_000 },
  async () => {
    const h = await startDashboard();
    try {
      const alice = await connectedAccount(h, 'Alice');
      const page = await h.newPage();
      await signInWithKey(page, h.origin, h.t.adminKey, '#/keys');
      await page.getByTestId('create-key').click();
      await page.getByTestId('key-name').fill('billing-viewer');
      await pickOption(page, 'key-role', 'viewer');
      await pickOption(page, 'key-sessions', /Alice/);
      await page.keyboard.press('Escape');
      await page.getByTestId('create-key-submit').click();
      const key = (await page.getByTestId('created-key-value').innerText()).trim();
      assert.match(key, /^tf_/);
      await screenshot(page, 'api-key-created');
      await page.getByTestId('created-key-done').click();
      await page.getByTestId('created-key-value').waitFor({ state: 'detached' });

      // The key works, with that role and session limit.
      const me = await h.t.app.inject({ url: '/api/v1/auth/me', headers: { 'x-api-key': key } });
      assert.equal(me.statusCode, 200);
      assert.equal(me.json().data.role, 'viewer');
      assert.deepEqual(me.json().data.apiKey.sessionIds, [alice.sessionId]);

      const row = page.locator('[data-key-name="billing-viewer"]');
      await row.waitFor();
      assert.match(await row.innerText(), /viewer/);
      assert.match(await row.innerText(), /Alice/);
      await screenshot(page, 'api-keys');

      const id = me.json().data.apiKey.id as string;
      await page.getByTestId(`revoke-key-${id}`).click();
      await page.getByTestId('revoke-key-confirm').click();
      await row.waitFor({ state: 'detached' });
      const after = await h.t.app.inject({ url: '/api/v1/auth/me', headers: { 'x-api-key': key } });
      assert.equal(after.statusCode, 401, 'the revoked key is refused');
      assert.deepEqual(page.problems, []);
    } finally {
      await h.close();
    }
  },
);

test(
  'a viewer key is offered no write actions; a key limited to one session sees only it',
  { skip: SKIP_BROWSER, timeout: 180_000 },
  async () => {
    const h = await startDashboard();
    try {
      const alice = await connectedAccount(h, 'Alice');
      const bob = await connectedAccount(h, 'Bob');

      const viewer = await h.t.keyFor('viewer');
      const page = await h.newPage();
      await signInWithKey(page, h.origin, viewer, '#/sessions');
      assert.equal((await page.getByTestId('signed-in-role').innerText()).toLowerCase(), 'viewer');
      await page.getByText('Alice').first().waitFor();
      for (const hidden of ['nav-webhooks', 'nav-keys', 'nav-sandbox', 'add-session'])
        assert.equal(await page.getByTestId(hidden).count(), 0, `${hidden} is not offered to a viewer`);
      const writes = page.getByRole('button', {
        name: /^(connect|disconnect|delete|export|add an account)$/i,
      });
      assert.equal(await writes.count(), 0, 'no write action on the sessions page');
      await screenshot(page, 'viewer-sessions');
      await page.getByTestId('nav-events').click();
      await page.getByTestId('events-pause').waitFor();
      assert.deepEqual(page.problems, []);

      const limited = await h.t.keyFor('operator', [alice.sessionId]);
      const other = await h.newPage();
      await signInWithKey(other, h.origin, limited, '#/sessions');
      await other.getByText('Alice').first().waitFor();
      assert.equal(await other.getByText('Bob').count(), 0, "Bob's session is not shown");
      await other.getByTestId('nav-events').click();
      await other.getByTestId('events-session').click();
      const options = await other.getByRole('option').allInnerTexts();
      assert.deepEqual(options, ['Alice'], "the session filter offers only the key's session");
      assert.ok(bob.sessionId);
      assert.deepEqual(other.problems, []);
    } finally {
      await h.close();
    }
  },
);
