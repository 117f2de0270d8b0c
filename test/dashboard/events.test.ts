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

/** Records what the page copies (the fallback copy selects a textarea; the clipboard API is not there over http). */
const RECORD_COPIES = `(() => {
  window.__copied = [];
  document.addEventListener('copy', () => {
    const el = document.activeElement;
    window.__copied.push(el && 'value' in el ? el.value : String(getSelection()));
  }, true);
})()`;

test(
  'events: live from a sandbox user, search in payloads, pause, copy as JSON, filter by session, replay from an id',
  { skip: SKIP_BROWSER, timeout: 180_000 },
  async () => {
    const h = await startDashboard();
    try {
      const alice = await connectedAccount(h, 'Alice');
      const bob = await connectedAccount(h, 'Bob');
      const page = await h.newPage();
      await signInWithKey(page, h.origin, h.t.adminKey, '#/events');
      await page.locator('[data-testid="events-status"][data-status="open"]').waitFor({ timeout: 15_000 });

      // A message from a sandbox user appears live.
      const send = (text: string) =>
        h.api('POST', '/api/v1/sandbox/messages', { from: bob.phone, to: alice.phone, text });
      await send('live hello');
      const hello = page.locator('[data-testid="event-row"][data-type="message.received"]', {
        hasText: 'live hello',
      });
      await hello.waitFor({ timeout: 15_000 });
      const helloId = Number(await hello.getAttribute('data-event-id'));

      // Search in payloads.
      await send('another one');
      await page.locator('[data-testid="event-row"]', { hasText: 'another one' }).first().waitFor();
      await page.getByTestId('events-search').fill('live hello');
      await page.waitForFunction(
        `[...document.querySelectorAll('[data-testid="event-row"]')].every((r) => r.textContent.includes('live hello'))`,
      );
      await page.getByTestId('events-search').fill('');

      // Copy an event as JSON.
      await page.evaluate(RECORD_COPIES);
      await hello.click();
      await page.getByTestId('event-detail').waitFor();
      await screenshot(page, 'events');
      await page.getByTestId('event-copy').click();
      await page.getByTestId('event-copy').getByText('Copied').waitFor();
      const copied = (await page.evaluate<string[]>('window.__copied')).at(-1)!;
      const envelope = JSON.parse(copied);
      assert.equal(Number(envelope.id), helloId);
      assert.equal(envelope.type, 'message.received');
      assert.equal(envelope.sessionId, alice.sessionId);
      assert.equal(envelope.data.message.text, 'live hello');

      // Pause holds new events; resume shows them.
      await page.getByTestId('events-pause').click();
      await send('while paused');
      await page.getByTestId('events-pause').getByText(/new\)/).waitFor({ timeout: 15_000 });
      assert.equal(await page.locator('[data-testid="event-row"]', { hasText: 'while paused' }).count(), 0);
      await page.getByTestId('events-pause').click();
      await page.locator('[data-testid="event-row"]', { hasText: 'while paused' }).first().waitFor();

      // Filter by session (applied by the server): only Bob's events.
      await pickOption(page, 'events-session', 'Bob');
      await send('seen from Bob');
      const bobs = page.locator('[data-testid="event-row"]', { hasText: 'seen from Bob' });
      await bobs.first().waitFor({ timeout: 15_000 });
      await page.waitForTimeout(500);
      const sessions = await page.locator('[data-testid="event-row"] .tf-event-session').allInnerTexts();
      assert.ok(
        sessions.length > 0 && sessions.every((s) => s === 'Bob'),
        `sessions shown: ${sessions.join(', ')}`,
      );

      // Replay from an id: the events after it (of Bob's session) come back from the log.
      await page.getByTestId('events-clear').click();
      await page.getByTestId('events-empty').waitFor();
      await page.getByTestId('events-replay-id').fill(String(helloId - 1));
      await page.getByTestId('events-replay').click();
      await page.getByTestId('events-replaying').waitFor();
      await page
        .locator('[data-testid="event-row"]', { hasText: 'seen from Bob' })
        .first()
        .waitFor({ timeout: 15_000 });
      assert.deepEqual(page.problems, []);
    } finally {
      await h.close();
    }
  },
);

test(
  'events: 10,000 events replayed into the monitor keep the DOM small and scroll to the oldest',
  { skip: SKIP_BROWSER, timeout: 180_000 },
  async () => {
    const h = await startDashboard();
    try {
      const alice = await connectedAccount(h, 'Alice');
      const events = h.t.app.services.events;
      const before = Number(
        (await events.readAfter(0, { types: null, sessionIds: null }, 100_000)).at(-1)?.id ?? 0,
      );
      const total = 10_000;
      for (let start = 0; start < total; start += 500)
        await Promise.all(
          Array.from({ length: 500 }, (_, i) =>
            events.publish({
              type: 'user.typing',
              sessionId: alice.sessionId,
              data: { userId: '1', chatId: '1', action: `typing ${start + i}` },
            }),
          ),
        );
      const page = await h.newPage();
      await signInWithKey(page, h.origin, h.t.adminKey, '#/events');
      await page.getByTestId('events-replay-id').fill(String(before));
      await page.getByTestId('events-replay').click();
      await page.getByTestId('events-count').getByText('10000 events').waitFor({ timeout: 60_000 });
      const rows = await page.getByTestId('event-row').count();
      assert.ok(rows > 5 && rows < 100, `${rows} rows in the DOM for 10,000 events`);
      await page.getByTestId('events-list').evaluate((el: any) => {
        el.scrollTop = el.scrollHeight;
      });
      // The oldest rows come into view (an event recorded meanwhile may have pushed out the first).
      const bottom = page.locator('[data-testid="event-row"]', { hasText: /"typing \d"/ });
      await bottom.first().waitFor({ timeout: 10_000 });
      await page.getByTestId('events-search').fill('typing 9999');
      await page.getByTestId('events-count').getByText('1 of 10000 events').waitFor({ timeout: 10_000 });
      assert.deepEqual(page.problems, []);
    } finally {
      await h.close();
    }
  },
);
