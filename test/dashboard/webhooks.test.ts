import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import {
  SKIP_BROWSER,
  connectedAccount,
  pickOption,
  screenshot,
  signInWithKey,
  startDashboard,
} from '../helpers/dashboard.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

test(
  'webhooks: create one (secret shown once), see its deliveries and every attempt, redeliver, send a test, rotate the secret',
  { skip: SKIP_BROWSER, timeout: 180_000 },
  async () => {
    // No automatic retry within the test: a failed delivery waits for the redeliver button.
    const h = await startDashboard({ WEBHOOK_RETRY_SCHEDULE: '1h' });
    const receiver = await startWebhookReceiver();
    try {
      const alice = await connectedAccount(h, 'Alice');
      const bob = await connectedAccount(h, 'Bob');
      const page = await h.newPage();
      await signInWithKey(page, h.origin, h.t.adminKey, '#/webhooks');

      await page.getByTestId('create-webhook').click();
      await page.getByTestId('webhook-url').fill(receiver.url);
      await pickOption(page, 'webhook-sessions', /Alice/);
      await page.keyboard.press('Escape');
      await page.getByTestId('webhook-description').fill('the receiver of the test');
      await page.getByTestId('webhook-save').click();
      const secret = (await page.getByTestId('webhook-secret-value').innerText()).trim();
      assert.match(secret, /^whsec_/);
      await page.getByTestId('webhook-secret-done').click();
      await page.getByTestId('webhook-secret-value').waitFor({ state: 'detached' });

      const [hook] = await h.api('GET', '/api/v1/webhooks');
      assert.equal(hook.url, receiver.url);
      assert.deepEqual(hook.sessionIds, [alice.sessionId]);

      // A real event: Bob writes to Alice; the receiver gets it, signed with the secret shown.
      await h.api('POST', '/api/v1/sandbox/messages', { from: bob.phone, to: alice.phone, text: 'hi Alice' });
      const [received] = await receiver.waitFor(1, 15_000, (r) => r.body.includes('hi Alice'));
      const signature = createHmac('sha256', secret).update(received.body).digest('hex');
      assert.equal(received.headers['x-teleflow-signature'], signature, 'signed with the secret shown once');

      await page.getByTestId(`webhook-deliveries-${hook.id}`).click();
      const delivered = page.locator('[data-testid^="delivery-row-"][data-status="succeeded"]');
      await delivered.first().waitFor({ timeout: 15_000 });

      // A failing receiver: the test event fails once, its attempt shows the answer; redeliver.
      receiver.respond = () => 503;
      await page.getByTestId(`webhook-test-${hook.id}`).click();
      await page.getByTestId('webhook-notice').waitFor();
      const failed = page.locator('[data-testid^="delivery-row-"][data-status="failed"]');
      await failed.first().waitFor({ timeout: 15_000 });
      const deliveryId = (await failed.first().getAttribute('data-testid'))!.replace('delivery-row-', '');
      await page.getByTestId(`delivery-open-${deliveryId}`).click();
      const attempts = page.getByTestId(`delivery-attempts-${deliveryId}`);
      await attempts.getByText('HTTP 503').first().waitFor();
      receiver.respond = () => 200;
      await page.getByTestId(`redeliver-${deliveryId}`).click();
      await page
        .locator(`[data-testid="delivery-row-${deliveryId}"][data-status="succeeded"]`)
        .waitFor({ timeout: 15_000 });
      await attempts.getByText('HTTP 200').first().waitFor({ timeout: 10_000 });
      assert.equal(await attempts.getByTestId('delivery-attempt').count(), 2, 'both attempts are listed');
      await screenshot(page, 'webhooks');

      // Edit: a new description and a rotated secret, shown once.
      await page.getByTestId(`webhook-edit-${hook.id}`).click();
      await page.getByTestId('webhook-description').fill('edited');
      await page.getByTestId('webhook-rotate-secret').check();
      await page.getByTestId('webhook-save').click();
      const rotated = (await page.getByTestId('webhook-secret-value').innerText()).trim();
      assert.match(rotated, /^whsec_/);
      assert.notEqual(rotated, secret);
      await page.getByTestId('webhook-secret-done').click();
      await page.getByTestId(`webhook-row-${hook.id}`).getByText('edited', { exact: true }).waitFor();
      await h.api('POST', `/api/v1/webhooks/${hook.id}/test`, {});
      const [after] = await receiver.waitFor(
        1,
        15_000,
        (r) =>
          r.headers['x-teleflow-event'] !== undefined &&
          r.at > Date.now() - 10_000 &&
          createHmac('sha256', rotated).update(r.body).digest('hex') === r.headers['x-teleflow-signature'],
      );
      assert.ok(after, 'the rotated secret signs the next delivery');
      assert.deepEqual(page.problems, []);
    } finally {
      await receiver.close();
      await h.close();
    }
  },
);
