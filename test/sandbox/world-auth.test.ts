/**
 * Sign-in rules of the world through its dispatcher: codes (test-DC rule, wrong, expired),
 * sign-up, 2FA with the client's own SRP code, QR tokens (expiry, 2FA), logOut.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Api } from 'teleproto';
import { computeCheck } from 'teleproto/Password.js';
import type { RpcError, UpdateSink } from '../../src/sandbox/contract.js';
import { World } from '../../src/sandbox/world/world.js';
import { createRpcDispatcher } from '../../src/sandbox/world/rpc.js';

function setup(options: { codeTtlSeconds?: number; loginTokenTtlSeconds?: number } = {}) {
  const world = new World({ host: '127.0.0.1', port: 1, ...options });
  const pushed: Array<{ keys: bigint[]; updates: Api.TypeUpdates }> = [];
  const sink: UpdateSink = {
    push: (keys, updates) => void pushed.push({ keys: [...keys], updates }),
    drop: () => 0,
    refuseConnections: () => {},
  };
  world.attachSink(sink);
  const dispatcher = createRpcDispatcher({ world });
  const call = (key: bigint, request: unknown) =>
    dispatcher.invoke({ authKeyId: key, sessionId: 1n, connectionId: 1 }, request as Api.AnyRequest);
  const sendCode = async (key: bigint, phoneNumber: string) =>
    (await call(
      key,
      new Api.auth.SendCode({ phoneNumber, apiId: 1, apiHash: 'x', settings: new Api.CodeSettings({}) }),
    )) as Api.auth.SentCode;
  return { world, pushed, call, sendCode };
}

const rpcError = (name: string, code?: number) => (error: RpcError) =>
  error.errorMessage === name && (code === undefined || error.errorCode === code);

test('codes: 99966XYYYY gets XXXXX, wrong and expired codes are refused, new numbers sign up', async () => {
  const { call, sendCode, world } = setup({ codeTtlSeconds: 1 });
  const sent = await sendCode(1n, '9996670001');
  assert.ok(sent.type instanceof Api.auth.SentCodeTypeSms, 'unregistered numbers get an SMS-type code');
  assert.equal(world.lastCode('9996670001'), '77777');
  const signIn = (code: string) =>
    call(
      1n,
      new Api.auth.SignIn({ phoneNumber: '9996670001', phoneCodeHash: sent.phoneCodeHash, phoneCode: code }),
    );
  await assert.rejects(signIn('12345'), rpcError('PHONE_CODE_INVALID', 400));
  await assert.rejects(
    call(1n, new Api.auth.SignIn({ phoneNumber: '9996670001', phoneCodeHash: 'other', phoneCode: '77777' })),
    rpcError('PHONE_CODE_EXPIRED'),
  );
  const result = await signIn('77777');
  assert.ok(result instanceof Api.auth.AuthorizationSignUpRequired);
  await assert.rejects(call(1n, new Api.updates.GetState()), rpcError('AUTH_KEY_UNREGISTERED', 401));
  const signedUp = (await call(
    1n,
    new Api.auth.SignUp({
      phoneNumber: '9996670001',
      phoneCodeHash: sent.phoneCodeHash,
      firstName: 'Neo',
      lastName: '',
    }),
  )) as Api.auth.Authorization;
  assert.equal((signedUp.user as Api.User).firstName, 'Neo');
  assert.ok(await call(1n, new Api.updates.GetState()));

  const again = await sendCode(2n, '9996670001');
  assert.ok(again.type instanceof Api.auth.SentCodeTypeApp, 'registered numbers get the code in the app');
  await sleep(1100);
  await assert.rejects(
    call(
      2n,
      new Api.auth.SignIn({
        phoneNumber: '9996670001',
        phoneCodeHash: again.phoneCodeHash,
        phoneCode: '77777',
      }),
    ),
    rpcError('PHONE_CODE_EXPIRED'),
  );

  const random = await sendCode(3n, '15550100000');
  assert.match(world.lastCode('15550100000') ?? '', /^\d{5}$/);
  assert.ok(random.phoneCodeHash);
});

test('2FA: signIn answers SESSION_PASSWORD_NEEDED; SRP proofs from the client library are verified', async () => {
  const { call, sendCode, world } = setup();
  world.createUser({ phone: '9996680001', firstName: 'Trin', password: 'matrix' });
  const sent = await sendCode(5n, '9996680001');
  await assert.rejects(
    call(
      5n,
      new Api.auth.SignIn({
        phoneNumber: '9996680001',
        phoneCodeHash: sent.phoneCodeHash,
        phoneCode: '88888',
      }),
    ),
    rpcError('SESSION_PASSWORD_NEEDED', 401),
  );
  await assert.rejects(call(5n, new Api.updates.GetState()), rpcError('AUTH_KEY_UNREGISTERED'));
  const password = (await call(5n, new Api.account.GetPassword())) as Api.account.Password;
  assert.equal(password.hasPassword, true);
  await assert.rejects(
    call(5n, new Api.auth.CheckPassword({ password: await computeCheck(password, 'neo') })),
    rpcError('PASSWORD_HASH_INVALID', 400),
  );
  const fresh = (await call(5n, new Api.account.GetPassword())) as Api.account.Password;
  const auth = (await call(
    5n,
    new Api.auth.CheckPassword({ password: await computeCheck(fresh, 'matrix') }),
  )) as Api.auth.Authorization;
  assert.equal((auth.user as Api.User).phone, '9996680001');
  // A proof is single-use.
  await assert.rejects(
    call(5n, new Api.auth.CheckPassword({ password: await computeCheck(fresh, 'matrix') })),
    rpcError('SRP_ID_INVALID'),
  );
});

test('QR: tokens expire, acceptance pushes updateLoginToken, 2FA accounts still need the password', async () => {
  const { call, sendCode, world, pushed } = setup({ loginTokenTtlSeconds: 1 });
  world.createUser({ phone: '9996690001', firstName: 'Owner', password: 'pw' });
  world.createUser({ phone: '9996690002', firstName: 'Plain' });
  // The plain account signs in on key 10 by code.
  const sent = await sendCode(10n, '9996690002');
  await call(
    10n,
    new Api.auth.SignIn({ phoneNumber: '9996690002', phoneCodeHash: sent.phoneCodeHash, phoneCode: '99999' }),
  );

  const expiring = (await call(
    11n,
    new Api.auth.ExportLoginToken({ apiId: 1, apiHash: 'x', exceptIds: [] }),
  )) as Api.auth.LoginToken;
  await sleep(1100);
  await assert.rejects(
    call(10n, new Api.auth.AcceptLoginToken({ token: expiring.token })),
    rpcError('AUTH_TOKEN_EXPIRED'),
  );

  const token = (await call(
    11n,
    new Api.auth.ExportLoginToken({ apiId: 1, apiHash: 'x', exceptIds: [] }),
  )) as Api.auth.LoginToken;
  await assert.rejects(
    call(12n, new Api.auth.AcceptLoginToken({ token: token.token })),
    rpcError('AUTH_KEY_UNREGISTERED', 401),
  );
  assert.ok(
    (await call(10n, new Api.auth.AcceptLoginToken({ token: token.token }))) instanceof Api.Authorization,
  );
  const push = pushed.find((p) => p.keys.includes(11n));
  assert.ok(
    push && push.updates instanceof Api.UpdateShort && push.updates.update instanceof Api.UpdateLoginToken,
  );
  const success = await call(11n, new Api.auth.ExportLoginToken({ apiId: 1, apiHash: 'x', exceptIds: [] }));
  assert.ok(success instanceof Api.auth.LoginTokenSuccess);
  assert.equal(world.userIdForKey(11n), world.userByPhone('9996690002')!.id);

  // The 2FA owner accepts nothing here; a client of the 2FA account (signed in by password) does.
  const ownerSent = await sendCode(20n, '9996690001');
  await assert.rejects(
    call(
      20n,
      new Api.auth.SignIn({
        phoneNumber: '9996690001',
        phoneCodeHash: ownerSent.phoneCodeHash,
        phoneCode: '99999',
      }),
    ),
  );
  const pw = (await call(20n, new Api.account.GetPassword())) as Api.account.Password;
  await call(20n, new Api.auth.CheckPassword({ password: await computeCheck(pw, 'pw') }));
  const waiting = (await call(
    21n,
    new Api.auth.ExportLoginToken({ apiId: 1, apiHash: 'x', exceptIds: [] }),
  )) as Api.auth.LoginToken;
  await call(20n, new Api.auth.AcceptLoginToken({ token: waiting.token }));
  await assert.rejects(
    call(21n, new Api.auth.ExportLoginToken({ apiId: 1, apiHash: 'x', exceptIds: [] })),
    rpcError('SESSION_PASSWORD_NEEDED'),
  );
  const pw2 = (await call(21n, new Api.account.GetPassword())) as Api.account.Password;
  await call(21n, new Api.auth.CheckPassword({ password: await computeCheck(pw2, 'pw') }));
  assert.equal(world.userIdForKey(21n), world.userByPhone('9996690001')!.id);
});

test('auth.logOut unbinds the key at once and forgets it shortly after', async () => {
  const { call, sendCode, world } = setup();
  world.authKeyStore.put(30n, Buffer.alloc(256, 1));
  const sent = await sendCode(30n, '9996600001');
  await call(
    30n,
    new Api.auth.SignIn({ phoneNumber: '9996600001', phoneCodeHash: sent.phoneCodeHash, phoneCode: '00000' }),
  );
  await call(
    30n,
    new Api.auth.SignUp({
      phoneNumber: '9996600001',
      phoneCodeHash: sent.phoneCodeHash,
      firstName: 'Z',
      lastName: '',
    }),
  );
  assert.ok(await call(30n, new Api.updates.GetState()));
  assert.ok((await call(30n, new Api.auth.LogOut())) instanceof Api.auth.LoggedOut);
  await assert.rejects(call(30n, new Api.updates.GetState()), rpcError('AUTH_KEY_UNREGISTERED', 401));
  assert.ok(world.authKeyStore.get(30n), 'the key survives long enough to answer the logOut call');
  await sleep(300);
  assert.equal(world.authKeyStore.get(30n), undefined);
});
