/**
 * random_id deduplication as Telegram does it: a random id an account already sent with is
 * refused with RANDOM_ID_DUPLICATE (400) by messages.sendMessage and messages.forwardMessages,
 * nothing is sent again, other accounts may use the same number, and the world remembers it
 * across a restart of the sandbox.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Api, helpers } from 'teleproto';
import type { TelegramClient } from 'teleproto';
import { RPCError } from 'teleproto/errors/index.js';
import { World } from '../../src/sandbox/index.js';
import {
  closeClient,
  control,
  signedInClient,
  startTestSandbox,
  testPhone,
  type Sandbox,
} from '../helpers/sandbox.js';

let sandbox: Sandbox;
let alice: TelegramClient;
let bob: TelegramClient;
const alicePhone = testPhone(3);
const bobPhone = testPhone(4);
const bobName = `bobrid${bobPhone.slice(-4)}`;
const aliceName = `alicerid${alicePhone.slice(-4)}`;

before(async () => {
  sandbox = await startTestSandbox();
  await control(sandbox, 'POST', '/users', { phone: alicePhone, firstName: 'Alice', username: aliceName });
  await control(sandbox, 'POST', '/users', { phone: bobPhone, firstName: 'Bob', username: bobName });
  alice = await signedInClient(sandbox, alicePhone);
  bob = await signedInClient(sandbox, bobPhone);
});

after(async () => {
  await closeClient(alice);
  await closeClient(bob);
  await sandbox.close();
});

let next = 7_000_000_000_000n;
const freshId = () => (next += 1n);

async function rpcErrorOf(call: Promise<unknown>): Promise<{ code: number; name: string }> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof RPCError, String(err));
    return { code: err.code ?? 0, name: err.errorMessage };
  }
  assert.fail('the call succeeded');
}

function send(client: TelegramClient, peer: Api.TypeInputPeer, message: string, randomId: bigint) {
  return client.invoke(
    new Api.messages.SendMessage({ peer, message, randomId: helpers.returnBigInt(randomId) }),
  );
}

async function texts(client: TelegramClient, peer: Api.TypeInputPeer): Promise<string[]> {
  const history = await client.getMessages(peer, { limit: 100 });
  return [...history].map((m) => m.message).reverse();
}

test('sendMessage: a random id the account used before is RANDOM_ID_DUPLICATE and sends nothing', async () => {
  const toBob = await alice.getInputEntity(`@${bobName}`);
  const rid = freshId();
  await send(alice, toBob, 'once only', rid);
  assert.deepEqual(await rpcErrorOf(send(alice, toBob, 'once only', rid)), {
    code: 400,
    name: 'RANDOM_ID_DUPLICATE',
  });
  // Another text or another chat does not help: the id is the account's.
  assert.equal(
    (await rpcErrorOf(send(alice, new Api.InputPeerSelf(), 'elsewhere', rid))).name,
    'RANDOM_ID_DUPLICATE',
  );
  assert.deepEqual(
    (await texts(alice, toBob)).filter((t) => t === 'once only'),
    ['once only'],
  );
  assert.ok(!(await texts(alice, new Api.InputPeerSelf())).includes('elsewhere'));
  // Random ids are per account: Bob may use the same number.
  const toAlice = await bob.getInputEntity(`@${aliceName}`);
  await send(bob, toAlice, 'same number, other account', rid);
  assert.equal((await texts(bob, toAlice)).filter((t) => t === 'once only').length, 1);
  assert.ok((await texts(bob, toAlice)).includes('same number, other account'));
});

test('a refused send does not use up its random id', async () => {
  const toBob = await alice.getInputEntity(`@${bobName}`);
  const rid = freshId();
  assert.equal((await rpcErrorOf(send(alice, toBob, '   ', rid))).name, 'MESSAGE_EMPTY');
  await send(alice, toBob, 'after a refusal', rid);
  assert.ok((await texts(alice, toBob)).includes('after a refusal'));
});

test('forwardMessages: a used random id, or one repeated in the call, forwards nothing', async () => {
  const toBob = await alice.getInputEntity(`@${bobName}`);
  const self = new Api.InputPeerSelf();
  const first = freshId();
  await send(alice, self, 'fwd source', first);
  const [source] = await alice.getMessages(self, { limit: 1 });
  assert.equal(source.message, 'fwd source');
  const forward = (randomIds: bigint[], ids = randomIds.map(() => source.id)) =>
    alice.invoke(
      new Api.messages.ForwardMessages({
        fromPeer: self,
        toPeer: toBob,
        id: ids,
        randomId: randomIds.map((r) => helpers.returnBigInt(r)),
      }),
    );
  const before = (await texts(alice, toBob)).length;
  assert.equal((await rpcErrorOf(forward([freshId(), first]))).name, 'RANDOM_ID_DUPLICATE');
  const twice = freshId();
  assert.equal((await rpcErrorOf(forward([twice, twice]))).name, 'RANDOM_ID_DUPLICATE');
  assert.equal((await texts(alice, toBob)).length, before, 'nothing was forwarded');
  const ok = freshId();
  await forward([ok]);
  assert.equal((await rpcErrorOf(forward([ok]))).name, 'RANDOM_ID_DUPLICATE');
  assert.equal((await texts(alice, toBob)).length, before + 1, 'forwarded exactly once');
});

test('supergroup sends are deduplicated too', async () => {
  const created = await control(sandbox, 'POST', '/chats', {
    type: 'supergroup',
    title: 'Random ids',
    owner: alicePhone,
  });
  assert.equal(created.status, 201);
  await alice.getDialogs({});
  const group = await alice.getInputEntity(created.body.id);
  const rid = freshId();
  await send(alice, group, 'group once', rid);
  assert.equal((await rpcErrorOf(send(alice, group, 'group once', rid))).name, 'RANDOM_ID_DUPLICATE');
  assert.deepEqual(
    (await texts(alice, group)).filter((t) => t === 'group once'),
    ['group once'],
  );
});

test('the world remembers used random ids in its saved state', async () => {
  const rid = freshId();
  const toBob = await alice.getInputEntity(`@${bobName}`);
  await send(alice, toBob, 'remembered', rid);
  const restored = new World({ host: '127.0.0.1', port: 1 }, JSON.parse(JSON.stringify(sandbox.world.state)));
  const aliceId = Number((await alice.getMe()).id);
  assert.throws(
    () => restored.sendMessage(aliceId, `u${aliceId}`, { text: 'again' }, { randomId: rid }),
    /RANDOM_ID_DUPLICATE/,
  );
});
