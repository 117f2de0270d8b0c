import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EVENT_DATA_SCHEMAS } from '../../src/modules/events/events.schema.js';
import {
  createTelegramTestApp,
  eventsOf,
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
/** Carol lives only in the sandbox: the control API plays her. */
let carol: { phone: string; id: string };

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx);
  alice = await signIn(t, sbx, { username: 'alice_chats', firstName: 'Alice' });
  const phone = newPhone();
  const created = await sbx.control('POST', '/users', { phone, firstName: 'Carol', username: 'carol_chats' });
  carol = { phone, id: created.id };
});

after(async () => {
  await t?.close();
  await sbx?.close();
});

const members = async (chatId: string, query = '') =>
  t.call('GET', `/api/v1/chats/${encodeURIComponent(chatId)}/members?sessionId=${alice.sessionId}${query}`);

test('join a public supergroup by @username and by t.me link; members with roles; leave', async () => {
  const group = await sbx.control('POST', '/chats', {
    type: 'supergroup',
    title: 'Public Square',
    owner: carol.phone,
    username: 'public_square',
  });
  const joined = await t.call('POST', '/api/v1/chats/join', {
    sessionId: alice.sessionId,
    target: '@public_square',
  });
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
  assert.deepEqual(
    {
      id: joined.body.data.id,
      type: joined.body.data.type,
      title: joined.body.data.title,
      username: joined.body.data.username,
    },
    { id: group.id, type: 'supergroup', title: 'Public Square', username: 'public_square' },
  );
  assert.match(joined.body.data.id, /^-100\d+$/);
  const inSandbox = await sbx.control('GET', `/chats/${group.id}`);
  assert.ok(JSON.stringify(inSandbox).includes(alice.phone), 'Telegram lists Alice as a member');

  const list = await members(group.id);
  assert.equal(list.status, 200, JSON.stringify(list.body));
  const roles = Object.fromEntries(list.body.data.map((m: any) => [m.id, m.role]));
  assert.equal(roles[carol.id], 'creator');
  assert.equal(roles[alice.userId], 'member');
  const filtered = await members(group.id, '&query=carol');
  assert.deepEqual(
    filtered.body.data.map((m: any) => m.id),
    [carol.id],
  );

  const info = await t.call('GET', `/api/v1/chats/${group.id}?sessionId=${alice.sessionId}`);
  assert.equal(info.status, 200, JSON.stringify(info.body));
  assert.equal(info.body.data.membersCount, 2);

  const left = await t.call('POST', '/api/v1/chats/leave', { sessionId: alice.sessionId, chatId: group.id });
  assert.equal(left.status, 200, JSON.stringify(left.body));
  assert.deepEqual(left.body.data, { chatId: group.id, left: true });
  assert.ok(!JSON.stringify(await sbx.control('GET', `/chats/${group.id}`)).includes(alice.phone));
  await waitFor(
    async () => (await eventsOf(t, alice.sessionId, 'chat.member_left')).length > 0,
    3000,
    'left event',
  );
  assert.ok((await eventsOf(t, alice.sessionId, 'chat.member_joined')).length > 0);

  const again = await t.call('POST', '/api/v1/chats/join', {
    sessionId: alice.sessionId,
    target: 'https://t.me/public_square',
  });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body.data.id, group.id);
});

test('join a private channel by invite link; channel posts arrive and are searchable', async () => {
  const channel = await sbx.control('POST', '/chats', {
    type: 'channel',
    title: 'Secret News',
    owner: carol.phone,
  });
  const invite = await sbx.control('POST', `/chats/${channel.id}/invites`, {});
  assert.match(invite.link, /t\.me\/\+/);
  const joined = await t.call('POST', '/api/v1/chats/join', {
    sessionId: alice.sessionId,
    target: invite.link,
  });
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
  assert.equal(joined.body.data.id, channel.id);
  assert.equal(joined.body.data.type, 'channel');

  const post = await sbx.control('POST', '/messages', {
    from: carol.phone,
    to: channel.id,
    text: 'breaking: tests pass',
  });
  const received = await waitFor(
    async () =>
      (await eventsOf(t, alice.sessionId, 'message.received')).find((e) => e.message.chatId === channel.id),
    5000,
    'channel post received',
  );
  assert.equal(received.message.text, 'breaking: tests pass');
  assert.equal(received.message.id, post.id);

  const history = await t.call(
    'GET',
    `/api/v1/messages/history?sessionId=${alice.sessionId}&chatId=${channel.id}`,
  );
  assert.equal(history.status, 200, JSON.stringify(history.body));
  assert.equal(history.body.data[0].text, 'breaking: tests pass');

  const inChat = await t.call('POST', '/api/v1/chats/search', {
    sessionId: alice.sessionId,
    chatId: channel.id,
    query: 'breaking',
  });
  assert.equal(inChat.status, 200, JSON.stringify(inChat.body));
  assert.deepEqual(
    inChat.body.data.map((m: any) => m.text),
    ['breaking: tests pass'],
  );
  const global = await t.call('POST', '/api/v1/chats/search', {
    sessionId: alice.sessionId,
    query: 'breaking',
    limit: 5,
  });
  assert.equal(global.status, 200, JSON.stringify(global.body));
  assert.ok(global.body.data.some((m: any) => m.chatId === channel.id));
  const none = await t.call('POST', '/api/v1/chats/search', {
    sessionId: alice.sessionId,
    chatId: channel.id,
    query: 'nothing-like-this',
  });
  assert.deepEqual(none.body.data, []);

  const reused = await t.call('POST', '/api/v1/chats/join', {
    sessionId: alice.sessionId,
    target: invite.link,
  });
  assert.equal(reused.status, 200, 'joining again answers the chat');
});

test('basic groups: listed among dialogs with -<id>, members, messages seen by the others, leave', async () => {
  const group = await sbx.control('POST', '/chats', {
    type: 'group',
    title: 'Family',
    owner: carol.phone,
    members: [alice.phone],
  });
  assert.match(group.id, /^-\d+$/);
  await sbx.control('POST', '/messages', { from: carol.phone, to: group.id, text: 'dinner at 8' });
  const dialogs = await waitFor(
    async () => {
      const res = await t.call('GET', `/api/v1/chats?sessionId=${alice.sessionId}&limit=50`);
      return res.body.data.find((c: any) => c.id === group.id) ? res.body.data : undefined;
    },
    5000,
    'group among dialogs',
  );
  const family = dialogs.find((c: any) => c.id === group.id);
  assert.equal(family.type, 'group');
  assert.equal(family.title, 'Family');
  assert.ok(family.unreadCount >= 1);
  assert.ok(dialogs.some((c: any) => c.id === carol.id || c.id === group.id));

  const list = await members(group.id);
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.deepEqual(Object.fromEntries(list.body.data.map((m: any) => [m.id, m.role])), {
    [carol.id]: 'creator',
    [alice.userId]: 'member',
  });
  const sent = await t.call('POST', '/api/v1/messages/send', {
    sessionId: alice.sessionId,
    chatId: group.id,
    text: 'coming!',
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  assert.equal(sent.body.data.chatId, group.id);
  const info = await t.call('GET', `/api/v1/chats/${group.id}?sessionId=${alice.sessionId}`);
  assert.equal(info.body.data.membersCount, 2);
  const left = await t.call('POST', '/api/v1/chats/leave', { sessionId: alice.sessionId, chatId: group.id });
  assert.equal(left.status, 200, JSON.stringify(left.body));
});

test('chat info for users and "me"; unknown chats are 404', async () => {
  const me = await t.call('GET', `/api/v1/chats/me?sessionId=${alice.sessionId}`);
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.data.id, alice.userId);
  assert.equal(me.body.data.type, 'private');
  const byName = await t.call(
    'GET',
    `/api/v1/chats/${encodeURIComponent('@carol_chats')}?sessionId=${alice.sessionId}`,
  );
  assert.equal(byName.status, 200, JSON.stringify(byName.body));
  assert.deepEqual(byName.body.data, {
    id: carol.id,
    type: 'private',
    title: 'Carol',
    username: 'carol_chats',
  });
  for (const id of ['987654321', '-1009999999', '@no_such_user_here']) {
    const res = await t.call('GET', `/api/v1/chats/${encodeURIComponent(id)}?sessionId=${alice.sessionId}`);
    assert.equal(res.status, 404, `${id}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'CHAT_NOT_FOUND');
  }
  const unknownJoin = await t.call('POST', '/api/v1/chats/join', {
    sessionId: alice.sessionId,
    target: '@no_such_group_here',
  });
  assert.equal(unknownJoin.status, 404);
  const badInvite = await t.call('POST', '/api/v1/chats/join', {
    sessionId: alice.sessionId,
    target: 'https://t.me/+AAAAbogus',
  });
  assert.ok([400, 404].includes(badInvite.status), JSON.stringify(badInvite.body));
});

test('bad input on every chat route -> 4xx envelope', async () => {
  const s = alice.sessionId;
  const gets: [string, number][] = [
    ['/api/v1/chats', 400],
    ['/api/v1/chats?sessionId=ses_unknown', 404],
    [`/api/v1/chats?sessionId=${s}&limit=0`, 400],
    [`/api/v1/chats?sessionId=${s}&limit=x`, 400],
    ['/api/v1/chats/me', 400],
    ['/api/v1/chats/me?sessionId=ses_unknown', 404],
    [`/api/v1/chats/not%20a%20chat?sessionId=${s}`, 400],
    ['/api/v1/chats/me/members', 400],
    [`/api/v1/chats/me/members?sessionId=${s}&limit=1000`, 400],
    ['/api/v1/chats/me/members?sessionId=ses_unknown', 404],
  ];
  for (const [url, status] of gets) {
    const res = await t.call('GET', url);
    assert.equal(res.status, status, `${url}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.success, false);
  }
  const posts: [string, unknown, number][] = [
    ['join', {}, 400],
    ['join', { sessionId: s, target: 5 }, 400],
    ['join', { sessionId: s, target: 'not a link at all!' }, 400],
    ['join', { sessionId: 'ses_unknown', target: '@x_group' }, 404],
    ['leave', { sessionId: s }, 400],
    ['leave', { sessionId: 'ses_unknown', chatId: '-100123' }, 404],
    ['leave', { sessionId: s, chatId: 'me' }, 400],
    ['search', { sessionId: s }, 400],
    ['search', { sessionId: s, query: 'x'.repeat(100_000) }, 400],
    ['search', { sessionId: s, query: 'x', limit: 'ten' }, 400],
    ['search', { sessionId: 'ses_unknown', query: 'x' }, 404],
  ];
  for (const [path, body, status] of posts) {
    const res = await t.call('POST', `/api/v1/chats/${path}`, body);
    assert.equal(
      res.status,
      status,
      `${path} ${JSON.stringify(body).slice(0, 60)}: ${JSON.stringify(res.body).slice(0, 200)}`,
    );
    assert.equal(res.body.success, false);
  }
  const dm = await members('me');
  assert.equal(dm.status, 400);
});

test('every event these routes published matches its documented data schema', async () => {
  const events = await t.app.services.events.readAfter(0, { types: null, sessionIds: null }, 10_000);
  assert.ok(events.length > 5);
  for (const e of events) {
    const result = EVENT_DATA_SCHEMAS[e.type].safeParse(e.envelope.data);
    assert.ok(result.success, `${e.type}: ${JSON.stringify(result.error?.issues)}`);
  }
});
