/**
 * Adding members through TeleFlow (POST /api/v1/chats/:id/members) to basic groups and
 * supergroups, against a sandbox that keeps Telegram's invitation privacy setting
 * (inputPrivacyKeyChatInvite, core.telegram.org/api/privacy): users who do not let the account
 * add them are left out (missing_invitees) and reported as USER_PRIVACY_RESTRICTED; Telegram's
 * other refusals keep their names; removing a member (DELETE .../members/:userId).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Api } from 'teleproto';
import { closeClient, signedInClient, testPhone } from '../helpers/sandbox.js';
import {
  createTelegramTestApp,
  newPhone,
  signIn,
  startTestSandbox,
  waitFor,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';

let sbx: TestSandbox;
let t: TelegramTestApp;
let alice: { sessionId: string; phone: string; userId: string };
type Person = { phone: string; id: string; username: string };
/** Bob lets everybody add him; Dave nobody; Erin only her contacts. */
let bob: Person;
let dave: Person;
let erin: Person;

async function person(name: string, privacy?: 'everybody' | 'contacts' | 'nobody'): Promise<Person> {
  const phone = newPhone();
  const username = `${name}_members`;
  const created = await sbx.control<{ id: string }>('POST', '/users', {
    phone,
    firstName: name,
    username,
    ...(privacy ? { privacy: { invites: privacy } } : {}),
  });
  return { phone, id: created.id, username };
}

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx);
  alice = await signIn(t, sbx, { firstName: 'Alice' });
  bob = await person('bob');
  dave = await person('dave', 'nobody');
  erin = await person('erin', 'contacts');
});

after(async () => {
  await t?.close();
  await sbx?.close();
});

/** A chat Alice owns, created in the sandbox; waits until her session has met it. */
async function aliceChat(type: 'group' | 'supergroup', title: string): Promise<string> {
  const { id } = await sbx.control<{ id: string }>('POST', '/chats', { type, title, owner: alice.phone });
  await waitFor(
    async () => (await t.call('GET', `/api/v1/chats/${id}?sessionId=${alice.sessionId}`)).status === 200,
    8000,
    `Alice's session knows ${title}`,
  );
  return id;
}

const add = (chatId: string, userIds: unknown) =>
  t.call('POST', `/api/v1/chats/${chatId}/members`, { sessionId: alice.sessionId, userIds });

async function memberIds(chatId: string): Promise<string[]> {
  const chat = await sbx.control<{ members: { id: string }[] }>('GET', `/chats/${chatId}`);
  return chat.members.map((m) => m.id).sort();
}

test('basic group: who allows it is added, who does not is refused with USER_PRIVACY_RESTRICTED', async () => {
  const group = await aliceChat('group', 'Book club');
  const res = await add(group, [`@${bob.username}`, `@${dave.username}`]);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.data.chatId, group);
  assert.deepEqual(res.body.data.added, [bob.id]);
  assert.deepEqual(res.body.data.refused, [
    {
      userId: dave.id,
      code: 'FORBIDDEN',
      telegramError: 'USER_PRIVACY_RESTRICTED',
      message: res.body.data.refused[0].message,
    },
  ]);
  assert.deepEqual(await memberIds(group), [alice.userId, bob.id].sort(), 'Dave was not added');

  // Alone, the refusal is the answer: 403 with Telegram's name.
  const alone = await add(group, [dave.id]);
  assert.equal(alone.status, 403, JSON.stringify(alone.body));
  assert.equal(alone.body.error.code, 'FORBIDDEN');
  assert.equal(alone.body.error.details.telegramError, 'USER_PRIVACY_RESTRICTED');
  assert.deepEqual(
    alone.body.error.details.refused.map((r: { userId: string }) => r.userId),
    [dave.id],
  );

  const again = await add(group, [bob.id]);
  assert.equal(again.status, 409, JSON.stringify(again.body));
  assert.equal(again.body.error.details.telegramError, 'USER_ALREADY_PARTICIPANT');

  // "My contacts": Erin refuses Alice until Alice is in her contacts.
  const before = await add(group, [`@${erin.username}`]);
  assert.equal(before.status, 403, JSON.stringify(before.body));
  assert.equal(before.body.error.details.telegramError, 'USER_PRIVACY_RESTRICTED');
  await sbx.control('POST', `/users/${erin.phone}/contacts`, { phone: alice.phone });
  const after = await add(group, [erin.id]);
  assert.equal(after.status, 200, JSON.stringify(after.body));
  assert.deepEqual(after.body.data, { chatId: group, added: [erin.id], refused: [] });

  const listed = await t.call('GET', `/api/v1/chats/${group}/members?sessionId=${alice.sessionId}`);
  assert.deepEqual(
    listed.body.data.map((m: { id: string }) => m.id).sort(),
    [alice.userId, bob.id, erin.id].sort(),
  );

  const removed = await t.call(
    'DELETE',
    `/api/v1/chats/${group}/members/${erin.id}?sessionId=${alice.sessionId}`,
  );
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  assert.deepEqual(removed.body.data, { chatId: group, userId: erin.id, removed: true });
  assert.deepEqual(await memberIds(group), [alice.userId, bob.id].sort());
});

test('supergroup: privacy, removal (USER_KICKED until unbanned) and a non-admin (CHAT_ADMIN_REQUIRED)', async () => {
  const group = await aliceChat('supergroup', 'Town hall');
  const res = await add(group, [`@${bob.username}`, `@${dave.username}`, '@nobody_has_this_name']);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.data.added, [bob.id]);
  assert.deepEqual(
    res.body.data.refused.map((r: { userId: string; code: string; telegramError: string | null }) => [
      r.userId,
      r.code,
      r.telegramError,
    ]),
    [
      [dave.id, 'FORBIDDEN', 'USER_PRIVACY_RESTRICTED'],
      ['@nobody_has_this_name', 'CHAT_NOT_FOUND', 'USERNAME_NOT_OCCUPIED'],
    ],
  );
  assert.deepEqual(await memberIds(group), [alice.userId, bob.id].sort());

  const removed = await t.call(
    'DELETE',
    `/api/v1/chats/${group}/members/${bob.id}?sessionId=${alice.sessionId}`,
  );
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  assert.deepEqual(await memberIds(group), [alice.userId]);
  const back = await add(group, [bob.id]);
  assert.equal(back.status, 403, JSON.stringify(back.body));
  assert.equal(back.body.error.details.telegramError, 'USER_KICKED');

  // A supergroup where Alice is a plain member: only admins with invite rights add people.
  const owner = await person('owner');
  const { id: theirs } = await sbx.control<{ id: string }>('POST', '/chats', {
    type: 'supergroup',
    title: 'Not mine',
    owner: owner.phone,
    members: [alice.phone],
  });
  await waitFor(
    async () => (await t.call('GET', `/api/v1/chats/${theirs}?sessionId=${alice.sessionId}`)).status === 200,
    8000,
    'Alice knows the supergroup she was added to',
  );
  const refused = await add(theirs, [bob.id]);
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.equal(refused.body.error.details.telegramError, 'CHAT_ADMIN_REQUIRED');
});

test('bad input: no users, a chat id that is not a user, a private chat', async () => {
  const group = await aliceChat('group', 'Validation');
  for (const userIds of [[], ['-100123'], ['me'], 'x', Array.from({ length: 51 }, (_, i) => String(i + 1))]) {
    const res = await add(group, userIds);
    assert.equal(res.status, 400, `${JSON.stringify(userIds)}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'VALIDATION_ERROR');
  }
  const dm = await add(bob.id, [dave.id]);
  assert.equal(dm.status, 400, JSON.stringify(dm.body));
  assert.equal(dm.body.error.code, 'BAD_REQUEST');
});

test('the sandbox keeps the setting as Telegram does: account.setPrivacy / getPrivacy (chat invites)', async () => {
  const phone = testPhone();
  const client = await signedInClient(sbx.sandbox, phone, { firstName: 'Gina' });
  try {
    const me = (await client.getMe()) as Api.User;
    const set = await client.invoke(
      new Api.account.SetPrivacy({
        key: new Api.InputPrivacyKeyChatInvite(),
        rules: [new Api.InputPrivacyValueDisallowAll()],
      }),
    );
    assert.ok(set.rules[0] instanceof Api.PrivacyValueDisallowAll);
    const got = await client.invoke(new Api.account.GetPrivacy({ key: new Api.InputPrivacyKeyChatInvite() }));
    assert.deepEqual(
      got.rules.map((r) => r.className),
      ['PrivacyValueDisallowAll'],
    );
    const described = await sbx.control<{ privacy: { invites: string } }>('GET', `/users/${phone}`);
    assert.equal(described.privacy.invites, 'nobody');

    const group = await aliceChat('group', 'Set by the app');
    const res = await add(group, [me.id.toString()]);
    // Alice never met Gina: her id alone names no one TeleFlow can address.
    assert.equal(res.status, 404, JSON.stringify(res.body));
    await sbx.control('PATCH', `/users/${phone}`, { username: 'gina_members' });
    const byName = await add(group, ['@gina_members']);
    assert.equal(byName.status, 403, JSON.stringify(byName.body));
    assert.equal(byName.body.error.details.telegramError, 'USER_PRIVACY_RESTRICTED');

    // Everybody again (an empty "never" list excepts no one): Alice may add her now.
    await client.invoke(
      new Api.account.SetPrivacy({
        key: new Api.InputPrivacyKeyChatInvite(),
        rules: [new Api.InputPrivacyValueAllowAll(), new Api.InputPrivacyValueDisallowUsers({ users: [] })],
      }),
    );
    const allowed = await add(group, ['@gina_members']);
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    assert.deepEqual(allowed.body.data.added, [me.id.toString()]);
  } finally {
    await closeClient(client);
  }
});
