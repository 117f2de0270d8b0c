/**
 * Telegram's refusals brought about the way they happen on Telegram (a spam-restricted account,
 * content protection, the 48-hour edit limit, a broadcast channel, a group one was removed
 * from, a session terminated from another device), not injected with POST /faults: each is a
 * 4xx through TeleFlow's API with Telegram's name in details.telegramError.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createTelegramTestApp,
  signIn,
  startTestSandbox,
  waitFor,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';

let sbx: TestSandbox;
let t: TelegramTestApp;
type Account = { sessionId: string; phone: string; userId: string };
let alice: Account;
let bob: Account;

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx);
  alice = await signIn(t, sbx, { username: 'alice_natural', firstName: 'Alice' });
  bob = await signIn(t, sbx, { username: 'bob_natural', firstName: 'Bob' });
});

after(async () => {
  await t?.close();
  await sbx?.close();
});

const post = (path: string, body: unknown) => t.call('POST', `/api/v1/${path}`, body);

function assertRefusal(res: { status: number; body: any }, telegramError: string): void {
  const seen = `${telegramError}: ${JSON.stringify(res.body)}`;
  assert.equal(res.status, 403, seen);
  assert.equal(res.body.success, false, seen);
  assert.equal(res.body.error.code, 'FORBIDDEN', seen);
  assert.equal(res.body.error.details?.telegramError, telegramError, seen);
}

/** A chat the sandbox's control API created, made known to the session by listing its chats. */
async function chatFor(session: Account, body: Record<string, unknown>): Promise<string> {
  const created = await sbx.control<{ id: string }>('POST', '/chats', body);
  await t.call('GET', `/api/v1/chats?sessionId=${session.sessionId}`);
  return created.id;
}

test('a spam-restricted account writing to a non-contact: 403 PEER_FLOOD; to a mutual contact it works', async () => {
  const carol = await signIn(t, sbx, { username: 'carol_natural', firstName: 'Carol' });
  await sbx.control('POST', `/users/${carol.phone}/restrictions`, { peerFlood: true });
  const refused = await post('messages/send', {
    sessionId: carol.sessionId,
    chatId: '@alice_natural',
    text: 'hi',
  });
  assertRefusal(refused, 'PEER_FLOOD');
  await sbx.control('POST', `/users/${alice.phone}/contacts`, { phone: carol.phone });
  const allowed = await post('messages/send', {
    sessionId: carol.sessionId,
    chatId: '@alice_natural',
    text: 'hi',
  });
  assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
});

test('editing an own private message older than 48 hours: 403 MESSAGE_EDIT_TIME_EXPIRED', async () => {
  const sent = await post('messages/send', {
    sessionId: alice.sessionId,
    chatId: '@bob_natural',
    text: 'old',
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  const edit = (text: string) =>
    post('messages/edit', {
      sessionId: alice.sessionId,
      chatId: bob.userId,
      messageId: sent.body.data.id,
      text,
    });
  assert.equal((await edit('still fresh')).status, 200);
  await sbx.control('POST', '/messages/age', {
    by: alice.phone,
    chat: bob.phone,
    messageId: sent.body.data.id,
    seconds: 48 * 3600,
  });
  assertRefusal(await edit('too late'), 'MESSAGE_EDIT_TIME_EXPIRED');
});

test('forwarding out of a group with content protection: 403 CHAT_FORWARDS_RESTRICTED', async () => {
  const groupId = await chatFor(alice, {
    type: 'group',
    title: 'Protected',
    owner: bob.phone,
    members: [alice.phone],
  });
  const sent = await post('messages/send', { sessionId: alice.sessionId, chatId: groupId, text: 'secret' });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  const forward = () =>
    post('messages/forward', {
      sessionId: alice.sessionId,
      fromChatId: groupId,
      toChatId: 'me',
      messageIds: [sent.body.data.id],
    });
  assert.equal((await forward()).status, 200, 'forwarding works before protection is on');
  await sbx.control('POST', `/chats/${groupId}/protection`, { noforwards: true });
  assertRefusal(await forward(), 'CHAT_FORWARDS_RESTRICTED');
});

test("a broadcast channel's member who is not an admin posting: 403 CHAT_ADMIN_REQUIRED", async () => {
  const channelId = await chatFor(alice, {
    type: 'channel',
    title: 'News',
    owner: bob.phone,
    members: [alice.phone],
  });
  const res = await post('messages/send', { sessionId: alice.sessionId, chatId: channelId, text: 'may I?' });
  assertRefusal(res, 'CHAT_ADMIN_REQUIRED');
});

test('writing in a group one was removed from: 403 CHAT_WRITE_FORBIDDEN', async () => {
  const groupId = await chatFor(alice, {
    type: 'group',
    title: 'Left',
    owner: bob.phone,
    members: [alice.phone],
  });
  await sbx.control('DELETE', `/chats/${groupId}/members/${alice.phone}`);
  const res = await post('messages/send', {
    sessionId: alice.sessionId,
    chatId: groupId,
    text: 'still here?',
  });
  assertRefusal(res, 'CHAT_WRITE_FORBIDDEN');
});

test('a session terminated from another device: the next call answers SESSION_REVOKED and the session is logged_out', async () => {
  const dave = await signIn(t, sbx, { firstName: 'Dave' });
  await sbx.control('POST', `/users/${dave.phone}/logout`);
  const res = await post('messages/send', { sessionId: dave.sessionId, chatId: 'me', text: 'x' });
  assert.equal(res.status, 409, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 'SESSION_NOT_AUTHORIZED');
  assert.equal(res.body.error.details?.telegramError, 'SESSION_REVOKED');
  const session = await waitFor(
    async () => {
      const r = await t.call('GET', `/api/v1/sessions/${dave.sessionId}`);
      return r.body.data.status === 'logged_out' ? r.body.data : undefined;
    },
    5000,
    'logged_out',
  );
  assert.equal(session.lastError.code, 'SESSION_REVOKED');
});
