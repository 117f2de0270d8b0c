import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createTestApp } from '../helpers/app.js';
import { HOST, SKIP_BROWSER, launchBrowser } from '../helpers/dashboard.js';

test(
  `/docs renders its operations in a real browser over plain http at a host other than localhost`,
  {
    skip: SKIP_BROWSER,
    timeout: 90_000,
  },
  async () => {
    const t = await createTestApp();
    // At teleflow.test, not localhost: browsers treat localhost as secure, which hid the problem.
    const browser = await launchBrowser();
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = t.app.server.address() as AddressInfo;
      const page = await browser.newPage();
      const failed: string[] = [];
      page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));

      const response = await page.goto(`http://${HOST}:${port}/docs`, { waitUntil: 'load' });
      assert.equal(response?.status(), 200);
      // Swagger UI renders after its scripts fetch /docs/json; wait for it, then count.
      await page
        .waitForFunction('document.querySelectorAll(".opblock").length > 20', undefined, { timeout: 30_000 })
        .catch(() => {});
      const operations = await page.locator('.opblock').count();
      assert.ok(
        operations > 20,
        `Swagger UI rendered ${operations} operations; failed requests: ${failed.join(', ') || 'none'}; ` +
          `page errors: ${pageErrors.join(', ') || 'none'}`,
      );
      assert.deepEqual(failed, [], 'every asset loaded over plain http');
      assert.match(await page.locator('.info .title').innerText(), /TeleFlow/);
      // The root leads to the dashboard; /docs is reached by name.
      await page.goto(`http://${HOST}:${port}/`, { waitUntil: 'commit' });
      assert.match(new URL(page.url()).pathname, /^\/dashboard/);
    } finally {
      await browser.close();
      await t.close();
    }
  },
);
