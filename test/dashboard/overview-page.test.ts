/**
 * The Overview page in a real browser against TeleFlow with the embedded sandbox: health and
 * version, sessions by status, events per minute from the live stream, a failing webhook, and
 * the sandbox's addresses; a viewer sees neither webhooks nor the sandbox.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKIP_BROWSER, connectedAccount, signInWithKey, startDashboard } from '../helpers/dashboard.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

test(
  'Overview: health, version, sessions by status, live events per minute, failing webhooks, sandbox addresses',
  { skip: SKIP_BROWSER, timeout: 180_000 },
  async () => {
    const h = await startDashboard({ WEBHOOK_RETRY_SCHEDULE: '1h' });
    const receiver = await startWebhookReceiver({ respond: () => 500 });
    try {
      const ivy = await connectedAccount(h, 'Ivy');
      await connectedAccount(h, 'Jon');
      await h.api('POST', `/api/v1/sessions/${ivy.sessionId}/disconnect`);
      const hook = await h.api('POST', '/api/v1/webhooks', { url: receiver.url, events: ['*'] });

      const page = await h.newPage();
      await signInWithKey(page, h.origin, h.t.adminKey, '#/');
      await page.getByTestId('health-status').getByText('ok').waitFor();
      const version = (await h.t.app.inject('/version')).json();
      assert.match(
        await page.getByTestId('overview-version').innerText(),
        new RegExp(`TeleFlow ${version.version}`),
      );
      assert.match(await page.getByTestId('overview-sessions-connected').innerText(), /1/);
      assert.match(await page.getByTestId('overview-sessions-disconnected').innerText(), /1/);

      // Events counted as they arrive on the page's stream; the session counts follow them.
      assert.equal(await page.getByTestId('events-per-minute').innerText(), '0');
      await page.locator('[data-testid="live-status"][data-status="open"]').waitFor();
      await h.api('POST', `/api/v1/sessions/${ivy.sessionId}/connect`);
      await page.waitForFunction(
        () =>
          Number(
            (globalThis as any).document.querySelector('[data-testid="events-per-minute"]')?.textContent,
          ) > 0,
        null,
        { timeout: 20_000 },
      );
      await page.getByTestId('overview-sessions-connected').getByText('2').waitFor({ timeout: 20_000 });

      // A webhook whose receiver answers 500 is listed as failing (after a reload of the page).
      await h.api('POST', `/api/v1/webhooks/${hook.id}/test`, {});
      await receiver.waitFor(1, 15_000);
      await page.reload();
      await page.getByTestId('failing-webhook').getByText(receiver.url).waitFor({ timeout: 20_000 });

      // The sandbox's addresses, as GET /api/v1/sandbox gives them.
      const sandbox = await h.api('GET', '/api/v1/sandbox');
      const tile = await page.getByTestId('overview-sandbox').innerText();
      for (const dc of sandbox.dcs) assert.ok(tile.includes(`${dc.host}:${dc.port}`), tile);
      assert.ok(tile.includes(sandbox.controlUrl));

      // A viewer: no webhooks, no sandbox.
      const viewer = await h.newPage();
      await signInWithKey(viewer, h.origin, await h.t.keyFor('viewer'), '#/');
      await viewer.getByTestId('health-status').waitFor();
      assert.equal(await viewer.getByTestId('overview-webhooks').count(), 0);
      assert.equal(await viewer.getByTestId('overview-sandbox').count(), 0);
      assert.deepEqual([...page.problems, ...viewer.problems], []);
    } finally {
      await receiver.close();
      await h.close();
    }
  },
);
