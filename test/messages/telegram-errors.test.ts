/**
 * Telegram's refusals through TeleFlow's public API: a refusal of the request is a 4xx with
 * Telegram's name in details.telegramError; only Telegram's own failures are 502. Errors the
 * sandbox produces for real are provoked for real; the rest are injected with POST /faults.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Api, errors } from 'teleproto';
import { toAppErrorFromTelegram } from '../../src/telegram/errors.js';
import {
  createTelegramTestApp,
  signIn,
  startTestSandbox,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';

let sbx: TestSandbox;
let t: TelegramTestApp;
let alice: { sessionId: string; phone: string; userId: string };
let bob: { sessionId: string; phone: string; userId: string };

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx);
  alice = await signIn(t, sbx, { username: 'alice_tgerr', firstName: 'Alice' });
  bob = await signIn(t, sbx, { username: 'bob_tgerr', firstName: 'Bob' });
  // Alice meets Bob once, so his numeric id is known to her session.
  const hello = await t.call('POST', '/api/v1/messages/send', {
    sessionId: alice.sessionId,
    chatId: '@bob_tgerr',
    text: 'hello',
  });
  assert.equal(hello.status, 200, JSON.stringify(hello.body));
});

after(async () => {
  await t?.close();
  await sbx?.close();
});

const post = (path: string, body: unknown) => t.call('POST', `/api/v1/${path}`, body);

function assertRefusal(
  res: { status: number; body: any },
  status: number,
  code: string,
  telegramError: string,
  what: string,
): void {
  const seen = `${what}: ${JSON.stringify(res.body)}`;
  assert.equal(res.status, status, seen);
  assert.equal(res.body.success, false, seen);
  assert.equal(res.body.error.code, code, seen);
  assert.equal(res.body.error.details?.telegramError, telegramError, seen);
  assert.equal(typeof res.body.error.requestId, 'string', seen);
}

test('2,049 emoji (4,098 UTF-16 units) -> 400 VALIDATION_ERROR before Telegram is called, on send and edit', async () => {
  const emoji = '😀'.repeat(2049);
  const send = await post('messages/send', { sessionId: alice.sessionId, chatId: bob.userId, text: emoji });
  assert.equal(send.status, 400, JSON.stringify(send.body).slice(0, 300));
  assert.equal(send.body.error.code, 'VALIDATION_ERROR');
  assert.equal(send.body.error.details[0].field, 'body.text');
  assert.match(send.body.error.details[0].message, /4096 UTF-16 code units.*4098/);

  const sent = await post('messages/send', { sessionId: alice.sessionId, chatId: bob.userId, text: 'short' });
  const edit = await post('messages/edit', {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    messageId: sent.body.data.id,
    text: emoji,
  });
  assert.equal(edit.status, 400, JSON.stringify(edit.body).slice(0, 300));
  assert.equal(edit.body.error.details[0].field, 'body.text');

  // 2,048 emoji are exactly 4,096 units: accepted.
  const fits = await post('messages/send', {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    text: '😀'.repeat(2048),
  });
  assert.equal(fits.status, 200, JSON.stringify(fits.body).slice(0, 300));
});

test('the limit counts the text once markup is removed', async () => {
  // 4,096 characters of text inside bold markup: 4,100 characters sent, 4,096 counted.
  const md = await post('messages/send', {
    sessionId: alice.sessionId,
    chatId: 'me',
    text: `**${'a'.repeat(4096)}**`,
    parseMode: 'markdown',
  });
  assert.equal(md.status, 200, JSON.stringify(md.body).slice(0, 300));
  assert.equal(md.body.data.text.length, 4096);
  const html = await post('messages/send', {
    sessionId: alice.sessionId,
    chatId: 'me',
    text: `<b>${'a'.repeat(4097)}</b>`,
    parseMode: 'html',
  });
  assert.equal(html.status, 400);
  assert.match(html.body.error.details[0].message, /once formatting is removed; this text has 4097/);
  const empty = await post('messages/send', {
    sessionId: alice.sessionId,
    chatId: 'me',
    text: '<b></b>',
    parseMode: 'html',
  });
  assert.equal(empty.status, 400);
  assert.equal(empty.body.error.code, 'VALIDATION_ERROR');
});

test('the sandbox refuses 2,049 emoji like Telegram: MESSAGE_TOO_LONG', async () => {
  await assert.rejects(
    sbx.control('POST', '/messages', { from: bob.phone, to: alice.phone, text: '😀'.repeat(2049) }),
    /400[\s\S]*MESSAGE_TOO_LONG/,
  );
});

test('a reply to a message that does not exist -> 404 MESSAGE_NOT_FOUND (REPLY_MESSAGE_ID_INVALID)', async () => {
  const send = await post('messages/send', {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    text: 'answer',
    replyToMessageId: 999_999,
  });
  assertRefusal(send, 404, 'MESSAGE_NOT_FOUND', 'REPLY_MESSAGE_ID_INVALID', 'send');
  const reply = await post('messages/reply', {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    messageId: 999_999,
    text: 'answer',
  });
  assertRefusal(reply, 404, 'MESSAGE_NOT_FOUND', 'REPLY_MESSAGE_ID_INVALID', 'reply');
});

test("Telegram's real refusals: unchanged edit, unknown username, unknown invite", async () => {
  const sent = await post('messages/send', { sessionId: alice.sessionId, chatId: bob.userId, text: 'same' });
  const unchanged = await post('messages/edit', {
    sessionId: alice.sessionId,
    chatId: bob.userId,
    messageId: sent.body.data.id,
    text: 'same',
  });
  assertRefusal(unchanged, 400, 'BAD_REQUEST', 'MESSAGE_NOT_MODIFIED', 'edit');
  const nobody = await post('messages/send', {
    sessionId: alice.sessionId,
    chatId: '@nobody_tgerr_here',
    text: 'x',
  });
  assertRefusal(nobody, 404, 'CHAT_NOT_FOUND', 'USERNAME_NOT_OCCUPIED', 'unknown username');
  const invite = await post('chats/join', {
    sessionId: alice.sessionId,
    target: 'https://t.me/+NoSuchHash1',
  });
  assertRefusal(invite, 404, 'CHAT_NOT_FOUND', 'INVITE_HASH_INVALID', 'unknown invite');
});

type Case = {
  error: string;
  code?: number;
  method: string;
  call: () => Promise<{ status: number; body: any }>;
  status: number;
  expect: string;
};

const sendToBob = () => post('messages/send', { sessionId: alice.sessionId, chatId: bob.userId, text: 'x' });
const editMine = () =>
  post('messages/edit', { sessionId: alice.sessionId, chatId: bob.userId, messageId: 1, text: 'y' });

/** Telegram's numeric class for each name is the one Telegram itself sends. */
const cases: Case[] = [
  {
    error: 'MESSAGE_TOO_LONG',
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 400,
    expect: 'BAD_REQUEST',
  },
  {
    error: 'MESSAGE_EMPTY',
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 400,
    expect: 'BAD_REQUEST',
  },
  {
    error: 'ENTITY_BOUNDS_INVALID',
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 400,
    expect: 'BAD_REQUEST',
  },
  {
    error: 'MESSAGE_NOT_MODIFIED',
    method: 'messages.editMessage',
    call: editMine,
    status: 400,
    expect: 'BAD_REQUEST',
  },
  {
    error: 'MESSAGE_ID_INVALID',
    method: 'messages.editMessage',
    call: editMine,
    status: 404,
    expect: 'MESSAGE_NOT_FOUND',
  },
  {
    error: 'MESSAGE_EDIT_TIME_EXPIRED',
    method: 'messages.editMessage',
    call: editMine,
    status: 403,
    expect: 'FORBIDDEN',
  },
  {
    error: 'REACTION_INVALID',
    method: 'messages.sendReaction',
    call: () =>
      post('messages/react', { sessionId: alice.sessionId, chatId: bob.userId, messageId: 1, emoji: '🦄' }),
    status: 400,
    expect: 'BAD_REQUEST',
  },
  {
    error: 'PEER_ID_INVALID',
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 404,
    expect: 'CHAT_NOT_FOUND',
  },
  {
    error: 'CHANNEL_INVALID',
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 404,
    expect: 'CHAT_NOT_FOUND',
  },
  {
    error: 'USER_ID_INVALID',
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 404,
    expect: 'CHAT_NOT_FOUND',
  },
  {
    error: 'USERNAME_INVALID',
    method: 'contacts.resolveUsername',
    call: () => post('messages/send', { sessionId: alice.sessionId, chatId: '@someone_tgerr', text: 'x' }),
    status: 404,
    expect: 'CHAT_NOT_FOUND',
  },
  {
    error: 'INVITE_HASH_EXPIRED',
    method: 'messages.importChatInvite',
    call: () => post('chats/join', { sessionId: alice.sessionId, target: 'https://t.me/+Expired123' }),
    status: 404,
    expect: 'CHAT_NOT_FOUND',
  },
  {
    error: 'CHAT_ADMIN_REQUIRED',
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 403,
    expect: 'FORBIDDEN',
  },
  {
    error: 'CHAT_WRITE_FORBIDDEN',
    code: 403,
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 403,
    expect: 'FORBIDDEN',
  },
  {
    error: 'USER_PRIVACY_RESTRICTED',
    code: 403,
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 403,
    expect: 'FORBIDDEN',
  },
  { error: 'PEER_FLOOD', method: 'messages.sendMessage', call: sendToBob, status: 403, expect: 'FORBIDDEN' },
  {
    error: 'USER_BANNED_IN_CHANNEL',
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 403,
    expect: 'FORBIDDEN',
  },
  {
    error: 'CHAT_FORWARDS_RESTRICTED',
    method: 'messages.forwardMessages',
    call: () =>
      post('messages/forward', {
        sessionId: alice.sessionId,
        fromChatId: bob.userId,
        toChatId: 'me',
        messageIds: [1],
      }),
    status: 403,
    expect: 'FORBIDDEN',
  },
  // The fallback by Telegram's numeric class, for names no rule knows.
  {
    error: 'SOMETHING_NEW_INVALID',
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 400,
    expect: 'BAD_REQUEST',
  },
  {
    error: 'SOMETHING_NEW_DENIED',
    code: 403,
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 403,
    expect: 'FORBIDDEN',
  },
  {
    error: 'SOMETHING_NOT_ACCEPTABLE',
    code: 406,
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 400,
    expect: 'BAD_REQUEST',
  },
  // Telegram's own failures, and requests Telegram could not read, stay 502.
  {
    error: 'INTERNAL',
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 502,
    expect: 'TELEGRAM_ERROR',
  },
  {
    error: 'TIMEOUT',
    code: 503,
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 502,
    expect: 'TELEGRAM_ERROR',
  },
  {
    error: 'INPUT_METHOD_INVALID_1234',
    method: 'messages.sendMessage',
    call: sendToBob,
    status: 502,
    expect: 'TELEGRAM_ERROR',
  },
];

for (const c of cases) {
  test(`${c.error}${c.code ? ` (${c.code})` : ''} on ${c.method} -> ${c.status} ${c.expect}`, async () => {
    await sbx.control('POST', '/faults', {
      error: c.error,
      method: c.method,
      phone: alice.phone,
      count: 1,
      ...(c.code ? { code: c.code } : {}),
    });
    const res = await c.call();
    assert.deepEqual((await sbx.control('GET', '/faults')).faults, [], 'the fault was hit');
    assertRefusal(res, c.status, c.expect, c.error, c.error);
  });
}

test('a flood error without a known class but with a wait -> 429 FLOOD_WAIT with Retry-After', async () => {
  await sbx.control('POST', '/faults', {
    error: 'CALL_LIMIT_WAIT_45',
    code: 420,
    method: 'messages.sendMessage',
    phone: alice.phone,
  });
  const res = await sendToBob();
  assertRefusal(res, 429, 'FLOOD_WAIT', 'CALL_LIMIT_WAIT_45', 'flood');
  assert.equal(res.headers['retry-after'], '45');
});

test('SESSION_REVOKED and AUTH_KEY_UNREGISTERED (401) -> 409 SESSION_NOT_AUTHORIZED', async () => {
  for (const error of ['SESSION_REVOKED', 'AUTH_KEY_UNREGISTERED']) {
    const carol = await signIn(t, sbx, { firstName: 'Carol' });
    await sbx.control('POST', '/faults', { error, method: 'messages.sendMessage', phone: carol.phone });
    const res = await post('messages/send', { sessionId: carol.sessionId, chatId: 'me', text: 'x' });
    assertRefusal(res, 409, 'SESSION_NOT_AUTHORIZED', error, error);
  }
});

test('failures the sandbox cannot send: negative codes and the library giving up after RPC_CALL_FAIL -> 502', () => {
  const request = new Api.messages.SendMessage({ peer: new Api.InputPeerSelf(), message: 'x' });
  for (const code of [-500, -503]) {
    const mapped = toAppErrorFromTelegram(new errors.RPCError('SOMETHING_FAILED', request, code));
    assert.equal(mapped.code, 'TELEGRAM_ERROR', String(code));
    assert.equal((mapped.details as { telegramError: string }).telegramError, 'SOMETHING_FAILED');
  }
  // teleproto retries RPC_CALL_FAIL itself, then throws this plain Error.
  assert.equal(
    toAppErrorFromTelegram(new Error('Request was unsuccessful 3 time(s)')).code,
    'TELEGRAM_ERROR',
  );
});
