/**
 * Everything an operator does to bring accounts in and talk, without a terminal: the Sandbox
 * page plays the other people (creates users, shows login codes, sends as a user, accepts a QR
 * login), the Sessions page signs accounts in by code (with 2FA) and by QR, the Chats page sends
 * and shows messages live. Two tabs: the operator's and the "other people's".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKIP_BROWSER, pickOption, screenshot, signInWithKey, startDashboard } from '../helpers/dashboard.js';

const CAROL = '15559871001';
const DAVE = '15559871002';
const BOB = '15559871003';

test(
  'sign accounts in by code (2FA) and by QR through the Sandbox page, send a message, see a sandbox user write live',
  { skip: SKIP_BROWSER, timeout: 240_000 },
  async () => {
    const h = await startDashboard();
    try {
      await h.api('POST', '/api/v1/sandbox/users', { phone: BOB, firstName: 'Bob' });
      const operator = await h.newPage();
      const others = await h.newPage();
      await signInWithKey(others, h.origin, h.t.adminKey, '#/sandbox');

      // The Sandbox page creates Carol, with a 2FA password.
      await others.getByTestId('sandbox-user-phone').fill(CAROL);
      await others.getByTestId('sandbox-user-first-name').fill('Carol');
      await others.getByTestId('sandbox-user-password').fill('carol-secret');
      await others.getByTestId('sandbox-user-submit').click();
      await others.getByTestId(`sandbox-user-${CAROL}`).waitFor();

      // The Sessions page signs Carol in: phone, the code read on the Sandbox page, password.
      await signInWithKey(operator, h.origin, h.t.adminKey, '#/sessions');
      await operator.getByTestId('add-session').click();
      await operator.getByTestId('phone-input').fill(CAROL);
      await operator.getByTestId('session-name-input').fill('Carol');
      await operator.getByTestId('phone-submit').click();
      await operator.getByTestId('code-input').waitFor();
      const code = (await others.getByTestId(`sandbox-code-${CAROL}`).innerText({ timeout: 15_000 })).trim();
      assert.match(code, /^\d{5}$/);
      await others.evaluate('window.scrollTo(0, 0)');
      await screenshot(others, 'sandbox');
      await operator.getByTestId('code-input').fill(code);
      await operator.getByTestId('code-submit').click();
      await operator.getByTestId('password-input').fill('carol-secret');
      await operator.getByTestId('password-submit').click();
      await operator
        .getByTestId('add-session-done')
        .getByText(/Connected/)
        .waitFor({ timeout: 20_000 });
      await operator.getByTestId('add-session-close').click();
      await operator.locator('[data-testid="session-row"][data-status="connected"]').first().waitFor();

      // By QR: the Sessions page shows the code, Dave accepts it on the Sandbox page.
      await h.api('POST', '/api/v1/sandbox/users', { phone: DAVE, firstName: 'Dave' });
      await operator.getByTestId('add-session').click();
      await operator.getByTestId('add-session-qr').click();
      await operator.getByTestId('qr-name-input').fill('Dave by QR');
      await operator.getByTestId('qr-start').click();
      const qrUrl = (await operator.getByTestId('qr-url').innerText({ timeout: 15_000 })).trim();
      assert.match(qrUrl, /^tg:\/\/login\?token=/);
      await screenshot(operator, 'sessions-qr');
      await others.getByTestId('sandbox-refresh').click();
      await pickOption(others, 'sandbox-qr-user', /Dave/);
      await others.getByTestId('sandbox-qr-token').fill(qrUrl);
      await others.getByTestId('sandbox-qr-submit').click();
      await others.getByTestId('sandbox-qr-result').waitFor();
      await operator
        .getByTestId('add-session-done')
        .getByText(/Connected/)
        .waitFor({ timeout: 20_000 });
      await operator.getByTestId('add-session-close').click();
      await operator.getByTestId('add-session-close').waitFor({ state: 'detached' });
      await operator.waitForFunction(
        `document.querySelectorAll('[data-testid="session-row"][data-status="connected"]').length === 2`,
      );
      await screenshot(operator, 'sessions');

      // Bob writes to Carol from the Sandbox page; the conversation opens on the Chats page.
      const sendAsBob = async (text: string) => {
        await others.getByTestId('sandbox-send-text').fill(text);
        await others.getByTestId('sandbox-send-submit').click();
        await others.getByTestId('sandbox-send-result').waitFor();
      };
      await pickOption(others, 'sandbox-send-from', /Bob/);
      await others.getByTestId('sandbox-send-to').fill(CAROL);
      await sendAsBob('hello Carol');
      const [carol] = (await h.api('GET', '/api/v1/sessions')).filter(
        (s: { phone: string }) => s.phone === CAROL,
      );
      await operator.goto(`${h.origin}/dashboard/#/chats?session=${carol.id}`);
      await operator.getByTestId('dialog').filter({ hasText: 'Bob' }).first().click();
      const conversation = operator.getByTestId('conversation');
      await conversation
        .getByTestId('message')
        .filter({ hasText: 'hello Carol' })
        .waitFor({ timeout: 15_000 });

      // Carol answers from the dashboard: the message shows in the conversation, Bob's app has it.
      await operator.getByTestId('composer-input').fill('hi Bob, from the dashboard');
      await operator.getByTestId('composer-send').click();
      await conversation
        .locator('[data-testid="message"][data-out="true"]', { hasText: 'hi Bob, from the dashboard' })
        .waitFor({ timeout: 15_000 });

      // Bob writes again: it appears live, without a reload.
      await sendAsBob('second from Bob');
      await conversation
        .getByTestId('message')
        .filter({ hasText: 'second from Bob' })
        .waitFor({ timeout: 15_000 });
      await screenshot(operator, 'chats');
      assert.deepEqual(operator.problems, []);
      assert.deepEqual(others.problems, []);
    } finally {
      await h.close();
    }
  },
);
