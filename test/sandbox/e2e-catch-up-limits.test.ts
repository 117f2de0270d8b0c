/**
 * The sandbox limits catching up as Telegram does, seen with the real client: a channel gap
 * beyond the client's limit answers channelDifferenceTooLong, `updates` pushes and answers are
 * numbered with the account's seq, and resolving usernames is flood-limited.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Api } from 'teleproto';
import type { TelegramClient } from 'teleproto';
import { closeClient, control, signedInClient, startTestSandbox, testPhone } from '../helpers/sandbox.js';
import type { Sandbox } from '../helpers/sandbox.js';
import { RateLimiter } from '../../src/sandbox/world/rate-limits.js';

let sandbox: Sandbox;
let reader: TelegramClient;
const ownerPhone = testPhone(4);
const readerPhone = testPhone(5);

before(async () => {
  sandbox = await startTestSandbox({ world: { shortMessageUpdates: false } });
  await control(sandbox, 'POST', '/users', { phone: ownerPhone, firstName: 'Owner' });
  await control(sandbox, 'POST', '/users', { phone: readerPhone, firstName: 'Reader' });
  reader = await signedInClient(sandbox, readerPhone);
  await reader.getMe();
});

after(async () => {
  await closeClient(reader);
  await sandbox.close();
});

test('a channel gap beyond the limit asked for answers channelDifferenceTooLong with the dialog and latest messages', async () => {
  const created = await control(sandbox, 'POST', '/chats', {
    type: 'supergroup',
    title: 'Long gap',
    owner: ownerPhone,
    members: [readerPhone],
    username: `gap${ownerPhone.slice(-4)}`,
  });
  const channel = (await reader.getEntity(`@gap${ownerPhone.slice(-4)}`)) as Api.Channel;
  const full = (await reader.invoke(new Api.channels.GetFullChannel({ channel })))
    .fullChat as Api.ChannelFull;
  for (let i = 1; i <= 30; i++)
    await control(sandbox, 'POST', '/messages', { from: ownerPhone, to: created.body.id, text: `m${i}` });
  const ask = (limit: number) =>
    reader.invoke(
      new Api.updates.GetChannelDifference({
        channel,
        filter: new Api.ChannelMessagesFilterEmpty(),
        pts: full.pts,
        limit,
      }),
    );
  const fits = await ask(30);
  assert.ok(fits instanceof Api.updates.ChannelDifference, fits.className);
  assert.equal(fits.newMessages.length, 30);
  const tooLong = await ask(20);
  assert.ok(tooLong instanceof Api.updates.ChannelDifferenceTooLong, tooLong.className);
  const dialog = tooLong.dialog as Api.Dialog;
  assert.equal(dialog.pts, full.pts + 30);
  const texts = tooLong.messages.map((m) => (m as Api.Message).message);
  assert.equal(texts.length, 20, 'the latest messages, as many as the limit');
  assert.equal(texts[0], 'm30');
  assert.equal(dialog.topMessage, tooLong.messages[0]!.id);
});

test('updates outside channels carry the account seq, one more per push; channel pushes carry none', async () => {
  const readerId = Number((await reader.getMe()).id.toString());
  const before = sandbox.world.box(readerId).seq;
  const world = sandbox.world;
  const sink = world.updateSink!;
  const pushed: Api.TypeUpdates[] = [];
  const readerKeys = new Set(world.keysOf(readerId));
  world.attachSink({
    drop: (...args) => sink.drop(...args),
    refuseConnections: (...args) => sink.refuseConnections(...args),
    push(keys, updates) {
      if ([...keys].some((k) => readerKeys.has(k))) pushed.push(updates);
      sink.push(keys, updates);
    },
  });
  try {
    const channel = await control(sandbox, 'POST', '/chats', {
      type: 'channel',
      title: 'Unnumbered',
      owner: ownerPhone,
      members: [readerPhone],
    });
    await control(sandbox, 'POST', '/messages', { from: ownerPhone, to: channel.body.id, text: 'post' });
    await control(sandbox, 'POST', '/messages', { from: ownerPhone, to: readerPhone, text: 'numbered' });
    await control(sandbox, 'PATCH', `/users/${ownerPhone}`, { firstName: 'Renamed' });
  } finally {
    world.attachSink(sink);
  }
  const containers = pushed.filter((u): u is Api.Updates => u instanceof Api.Updates);
  const channelPosts = containers.filter((u) =>
    u.updates.some((x) => x instanceof Api.UpdateNewChannelMessage),
  );
  assert.ok(channelPosts.length > 0);
  assert.ok(
    channelPosts.every((u) => u.seq === 0),
    'channel updates are ordered by their pts, not seq',
  );
  const numbered = containers.filter((u) => u.seq !== 0).map((u) => u.seq);
  assert.deepEqual(numbered.slice(-2), [before + numbered.length - 1, before + numbered.length]);
  assert.deepEqual(
    numbered,
    numbered.map((_, i) => before + i + 1),
    'one more per push, none skipped',
  );
  const state = await reader.invoke(new Api.updates.GetState());
  assert.equal(state.seq, before + numbered.length, 'getState tells the same seq');
});

test('resolving usernames is flood-limited per account; other methods are not', async () => {
  const limiter = new RateLimiter({ 'contacts.resolveUsername': { calls: 2, perSeconds: 60 } }, () => 1000);
  limiter.check('contacts.resolveUsername', 1);
  limiter.check('contacts.resolveUsername', 1);
  assert.throws(() => limiter.check('contacts.resolveUsername', 1), /FLOOD_WAIT_60/);
  limiter.check('contacts.resolveUsername', 2);
  limiter.check('messages.getHistory', 1);
  assert.equal(limiter.calls('contacts.resolveUsername'), 4);
  assert.equal(limiter.calls('contacts.resolveUsername', 1), 3);

  reader.floodSleepThreshold = 0; // the library would sleep through short flood waits
  const readerId = (await reader.getMe()).id.toString();
  const used = sandbox.rateLimits.calls('contacts.resolveUsername', readerId); // earlier tests
  const statuses: string[] = [];
  for (let i = used; i < 11; i++) {
    try {
      await reader.invoke(new Api.contacts.ResolveUsername({ username: `nobody${i}x` }));
    } catch (err) {
      statuses.push((err as { errorMessage: string }).errorMessage);
    }
  }
  assert.deepEqual(statuses.slice(0, 10 - used), Array(10 - used).fill('USERNAME_NOT_OCCUPIED'));
  assert.equal(statuses.length, 11 - used);
  assert.match(statuses[10 - used]!, /^FLOOD/, 'the 11th resolve within a minute is limited');
});
