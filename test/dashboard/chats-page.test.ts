/**
 * The Chats page in a real browser against TeleFlow with the embedded sandbox: history paging,
 * reply, edit, react, delete, mark read, a group's sender names, typing, attaching a photo, and
 * a received file's preview and download.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { encode as encodeJpeg } from 'jpeg-js';
import {
  SKIP_BROWSER,
  connectedAccount,
  screenshot,
  signInWithKey,
  startDashboard,
} from '../helpers/dashboard.js';

/** A small real JPEG (a gradient), so Telegram (and the sandbox) make a photo with sizes. */
function jpeg(width = 64, height = 48): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([(i % width) * 4, (i / width) * 5, 128, 255], i * 4);
  return Buffer.from(encodeJpeg({ data, width, height }, 90).data);
}

test(
  'Chats: history paging, reply, edit, react, delete, mark read, group senders, typing, attach and download',
  { skip: SKIP_BROWSER, timeout: 300_000 },
  async () => {
    const h = await startDashboard();
    try {
      const control = (await h.api('GET', '/api/v1/sandbox')).controlUrl as string;
      const asUser = async (path: string, body: unknown): Promise<any> => {
        const res = await fetch(`${control}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
        return res.json();
      };
      const ann = await connectedAccount(h, 'Ann');
      const ben = '15557770001';
      await h.api('POST', '/api/v1/sandbox/users', { phone: ben, firstName: 'Ben', lastName: 'Writer' });
      for (let i = 0; i < 35; i++)
        await asUser('/messages', { from: ben, to: ann.phone, text: `old message ${i}` });

      const page = await h.newPage();
      await signInWithKey(page, h.origin, h.t.adminKey, `#/chats?session=${ann.sessionId}`);
      await page.getByTestId('dialog').filter({ hasText: 'Ben Writer' }).click();
      const messages = page.getByTestId('message');
      const byText = (text: string) =>
        messages.filter({
          has: page.getByTestId('message-text').filter({ hasText: new RegExp(`^${text}$`) }),
        });
      // A message's own actions menu (the one its button controls): an earlier menu may still be
      // closing, so a page-wide lookup could find that one's items.
      const actionsOf = async (text: string) => {
        const button = byText(text).getByTestId('message-actions');
        await button.click();
        const id = await button.getAttribute('aria-controls');
        assert.ok(id, 'the actions button names its menu');
        const menu = page.locator(`[id="${id}"]`);
        await menu.waitFor();
        return menu;
      };
      await messages.filter({ hasText: 'old message 34' }).waitFor();
      // The newest page (30), then older ones on demand, oldest first, the reader kept in place.
      assert.equal(await messages.count(), 30);
      await page.getByTestId('load-older').click();
      await byText('old message 0').waitFor();
      assert.equal(await messages.count(), 35);

      // Send, then reply to Ben's last message, edit ours, react, delete.
      await page.getByTestId('composer-input').fill('hello Ben');
      await page.keyboard.press('Enter');
      await byText('hello Ben').waitFor();
      await (await actionsOf('old message 34')).getByTestId('message-reply').click();
      await page.getByTestId('composer-input').fill('a reply');
      await page.getByTestId('composer-send').click();
      assert.match(await byText('a reply').getByTestId('message-reply-to').innerText(), /old message 34/);
      await (await actionsOf('hello Ben')).getByTestId('message-edit').click();
      await page.getByTestId('composer-input').fill('hello, Ben');
      await page.keyboard.press('Enter');
      await byText('hello, Ben').waitFor();
      assert.match(await byText('hello, Ben').innerText(), /edited/);
      await (
        await actionsOf('old message 33')
      )
        .locator('[data-testid="message-react"][data-emoji="👍"]')
        .click();
      await byText('old message 33').getByTestId('message-reaction').waitFor();
      await (await actionsOf('a reply')).getByTestId('message-delete').click();
      await page.getByTestId('delete-message-confirm').click();
      await byText('a reply').waitFor({ state: 'detached' });

      // What the page showed is what Telegram has.
      const history = await h.api(
        'GET',
        `/api/v1/messages/history?sessionId=${ann.sessionId}&chatId=${await page.getByTestId('conversation').getAttribute('data-chat-id')}&limit=5`,
      );
      const texts = history.map((m: { text: string }) => m.text);
      assert.ok(texts.includes('hello, Ben') && !texts.includes('a reply'), texts.join(' | '));
      const reacted = history.find((m: { text: string }) => m.text === 'old message 33');
      assert.deepEqual(reacted?.reactions, [{ emoji: '👍', count: 1 }]);

      // Typing and a live message; mark read.
      await asUser('/typing', { from: ben, to: ann.phone });
      await page.getByTestId('typing').getByText('typing…').waitFor();
      await asUser('/messages', { from: ben, to: ann.phone, text: 'live now' });
      await byText('live now').waitFor();
      await page.waitForFunction(
        () => (globalThis as any).document.querySelector('[data-testid="typing"]')?.textContent === '',
      );
      const [read] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/v1/messages/read')),
        page.getByTestId('mark-read').click(),
      ]);
      assert.equal(read.status(), 200);

      // Attach a photo: previewed, sent with its caption, shown from TeleFlow's media route.
      await page
        .getByTestId('attach-input')
        .setInputFiles({ name: 'dot.jpg', mimeType: 'image/jpeg', buffer: jpeg() });
      assert.equal(await page.getByTestId('attachment-kind').inputValue(), 'photo');
      await page.getByTestId('composer-input').fill('a photo');
      await page.getByTestId('composer-send').click();
      await byText('a photo').getByTestId('media-preview').waitFor({ timeout: 30_000 });

      // A file Ben sends arrives live and downloads (through a signed link) with its bytes.
      await asUser('/messages', {
        from: ben,
        to: ann.phone,
        text: 'the notes',
        media: {
          kind: 'document',
          base64: Buffer.from('notes body').toString('base64'),
          fileName: 'notes.txt',
        },
      });
      const file = byText('the notes').getByTestId('media-download');
      const [download] = await Promise.all([page.waitForEvent('download'), file.click()]);
      assert.equal(download.suggestedFilename(), 'notes.txt');
      assert.equal(await readFile(await download.path(), 'utf8'), 'notes body');
      await screenshot(page, 'chats-actions');

      // In a group, messages name their senders.
      const group = await asUser('/chats', {
        type: 'supergroup',
        title: 'Team',
        owner: ben,
        members: [ann.phone],
      });
      await asUser('/messages', { from: ben, to: group.id, text: 'hello team' });
      await page.goto(`${h.origin}/dashboard/#/chats?session=${ann.sessionId}&chat=${group.id}`);
      await byText('hello team').getByText('Ben Writer').waitFor();
      assert.deepEqual(page.problems, []);
    } finally {
      await h.close();
    }
  },
);
