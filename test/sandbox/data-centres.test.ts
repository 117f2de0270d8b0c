/**
 * The sandbox's five data centres against the real client and raw MTProto
 * (https://core.telegram.org/api/datacenter, /api/qr-login): help.getConfig, auth keys per DC,
 * PHONE_MIGRATE_X, USER_MIGRATE_X, auth.exportAuthorization/importAuthorization and
 * auth.loginTokenMigrateTo.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Api, errors, type TelegramClient } from 'teleproto';
import { createSandboxClient, TEST_API_HASH, TEST_API_ID } from '../helpers/sandbox-client.js';
import {
  closeClient,
  codeFor,
  control,
  startTestSandbox,
  testPhone,
  type Sandbox,
} from '../helpers/sandbox.js';
import { RawMtprotoClient, TransportErrorReceived } from './transport-fixtures.js';

type RawSender = { _sender: { send(request: Api.AnyRequest): Promise<unknown> } };

describe('five data centres', () => {
  let sandbox: Sandbox;
  const clients: TelegramClient[] = [];
  const raws: RawMtprotoClient[] = [];

  before(async () => {
    sandbox = await startTestSandbox();
  });
  after(async () => {
    for (const raw of raws) raw.close();
    await Promise.all(clients.map((client) => closeClient(client)));
    await sandbox.close();
  });

  function clientOn(dcId: number, session?: string): TelegramClient {
    const client = createSandboxClient({
      host: sandbox.host,
      port: sandbox.port,
      dcs: sandbox.dcs,
      publicKeyPem: sandbox.publicKeyPem,
      dcId,
      ...(session ? { session } : {}),
    });
    clients.push(client);
    return client;
  }

  /** Sends one call on the client's current connection, without the library's DC switching. */
  function sendRaw<T>(client: TelegramClient, request: Api.AnyRequest): Promise<T> {
    return (client as unknown as RawSender)._sender.send(request) as Promise<T>;
  }

  function sendCode(phone: string): Api.auth.SendCode {
    return new Api.auth.SendCode({
      phoneNumber: phone,
      apiId: TEST_API_ID,
      apiHash: TEST_API_HASH,
      settings: new Api.CodeSettings({}),
    });
  }

  async function signedInOn(startDc: number, phone: string): Promise<TelegramClient> {
    const client = clientOn(startDc);
    await client.start({
      phoneNumber: phone,
      phoneCode: async () => codeFor(phone),
      password: async () => '',
      onError: async (error: Error) => {
        throw error;
      },
    });
    return client;
  }

  function keyDcOf(client: TelegramClient): number | undefined {
    const keyId = client.session.getAuthKey()!.keyId!.toString();
    const id = BigInt.asUintN(64, BigInt(keyId)).toString();
    return sandbox.world.state.authKeyDcs?.[id];
  }

  it('listens on five consecutive ports; help.getConfig lists them and names the DC asked', async () => {
    assert.deepEqual(
      sandbox.dcs.map((dc) => dc.id),
      [1, 2, 3, 4, 5],
    );
    for (const dc of sandbox.dcs) assert.equal(dc.port, sandbox.port + dc.id - 1);
    const client = clientOn(3);
    await client.connect();
    const config = await client.invoke(new Api.help.GetConfig());
    assert.equal(config.thisDc, 3);
    assert.deepEqual(
      config.dcOptions.map((option) => [option.id, option.ipAddress, option.port]),
      sandbox.dcs.map((dc) => [dc.id, dc.host, dc.port]),
    );
  });

  it("auth.sendCode away from the phone's home DC -> 303 PHONE_MIGRATE_X; at home it is sent", async () => {
    const phone = testPhone(1);
    assert.equal((await control(sandbox, 'POST', '/users', { phone, dc: 4 })).body.dc, 4);
    const client = clientOn(1);
    await client.connect();
    // teleproto turns PHONE_MIGRATE_X into PhoneMigrateError with newDc = X.
    await assert.rejects(sendRaw(client, sendCode(phone)), (error: unknown) => {
      assert.ok(error instanceof errors.PhoneMigrateError);
      assert.equal(error.code, 303);
      assert.equal(error.newDc, 4);
      return true;
    });
    // A phone without an account signs up on DC 2.
    await assert.rejects(
      sendRaw(client, sendCode(testPhone(2))),
      (error: unknown) => error instanceof errors.PhoneMigrateError && error.newDc === 2,
    );
    const home = clientOn(4);
    await home.connect();
    assert.ok((await sendRaw(home, sendCode(phone))) instanceof Api.auth.SentCode);
  });

  it('the client follows PHONE_MIGRATE to the home DC; its key belongs to that DC only (-404 elsewhere)', async () => {
    const phone = testPhone(3);
    await control(sandbox, 'POST', '/users', { phone, dc: 5 });
    const client = await signedInOn(1, phone);
    assert.equal(client.session.dcId, 5);
    assert.equal(keyDcOf(client), 5);
    const me = await client.getMe();
    assert.equal(me.phone, phone);

    const keyId = BigInt.asUintN(64, BigInt(client.session.getAuthKey()!.keyId!.toString()));
    const dc5 = sandbox.dcs[4];
    for (const dc of sandbox.dcs) {
      const raw = await RawMtprotoClient.open(dc.host, dc.port);
      raws.push(raw);
      const packet = Buffer.alloc(8 + 16 + 48);
      packet.writeBigUInt64LE(keyId, 0);
      raw.sendPacket(packet);
      if (dc === dc5) {
        // Known there: the junk fails decryption instead (the connection is closed), not -404.
        await assert.rejects(
          raw.nextMessage(500),
          (error: unknown) => !(error instanceof TransportErrorReceived),
        );
        continue;
      }
      await assert.rejects(raw.nextMessage(), (error: unknown) => {
        assert.ok(error instanceof TransportErrorReceived, `DC ${dc.id}`);
        assert.equal(error.code, -404);
        return true;
      });
    }
  });

  it('auth.exportAuthorization at home, importAuthorization on another DC; calls needing home -> USER_MIGRATE_X', async () => {
    const phone = testPhone(4);
    await control(sandbox, 'POST', '/users', { phone, dc: 4 });
    const home = await signedInOn(4, phone);
    await assert.rejects(home.invoke(new Api.auth.ExportAuthorization({ dcId: 4 })), {
      errorMessage: 'DC_ID_INVALID',
    });
    const exported = await home.invoke(new Api.auth.ExportAuthorization({ dcId: 2 }));
    const away = clientOn(2);
    await away.connect();
    const imported = await sendRaw<Api.auth.Authorization>(
      away,
      new Api.auth.ImportAuthorization({ id: exported.id, bytes: exported.bytes }),
    );
    assert.ok(imported.user instanceof Api.User);
    assert.equal(imported.user.phone, phone);
    // Used once only.
    const again = clientOn(2);
    await again.connect();
    await assert.rejects(
      sendRaw(again, new Api.auth.ImportAuthorization({ id: exported.id, bytes: exported.bytes })),
      { errorMessage: 'AUTH_BYTES_INVALID' },
    );
    assert.ok((await sendRaw(away, new Api.help.GetNearestDc())) instanceof Api.NearestDc);
    await assert.rejects(
      sendRaw(away, new Api.users.GetUsers({ id: [new Api.InputUserSelf()] })),
      (error: unknown) => error instanceof errors.UserMigrateError && error.code === 303 && error.newDc === 4,
    );
  });

  it('QR: accepted by an account of another DC -> auth.loginTokenMigrateTo; importLoginToken there signs in', async () => {
    const phone = testPhone(5);
    await control(sandbox, 'POST', '/users', { phone, dc: 3 });
    const waiting = clientOn(2);
    await waiting.connect();
    const exportToken = () =>
      sendRaw<Api.auth.TypeLoginToken>(
        waiting,
        new Api.auth.ExportLoginToken({ apiId: TEST_API_ID, apiHash: TEST_API_HASH, exceptIds: [] }),
      );
    const first = await exportToken();
    assert.ok(first instanceof Api.auth.LoginToken);
    await control(sandbox, 'POST', '/login-tokens/accept', {
      phone,
      token: Buffer.from(first.token).toString('base64url'),
    });
    const migrate = await exportToken();
    assert.ok(migrate instanceof Api.auth.LoginTokenMigrateTo, migrate.className);
    assert.equal(migrate.dcId, 3);
    // Imported on the wrong DC, the token is redirected again.
    const wrong = await sendRaw(waiting, new Api.auth.ImportLoginToken({ token: migrate.token }));
    assert.ok(wrong instanceof Api.auth.LoginTokenMigrateTo);
    await (waiting as unknown as { _switchDC(dc: number): Promise<boolean> })._switchDC(3);
    const success = await sendRaw(waiting, new Api.auth.ImportLoginToken({ token: migrate.token }));
    assert.ok(success instanceof Api.auth.LoginTokenSuccess, (success as { className: string }).className);
    assert.equal(waiting.session.dcId, 3);
    assert.equal(keyDcOf(waiting), 3);
    assert.equal((await waiting.getMe()).phone, phone);
  });
});
