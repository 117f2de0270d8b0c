/**
 * The MTProto server against the real, unmodified teleproto client: every transport the client
 * offers, pushes, dropped and refused connections, and RPC errors as the client surfaces them.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Api, errors, helpers } from 'teleproto';
import type { TelegramClient } from 'teleproto';
import { Raw } from 'teleproto/events/index.js';
import {
  ConnectionTCPAbridged,
  ConnectionTCPFull,
  ConnectionTCPObfuscated,
} from 'teleproto/network/connection/index.js';
import { RpcError } from '../../src/sandbox/contract.js';
import type { ConnectionClass } from '../../src/telegram/dc.js';
import { createSandboxClient } from '../helpers/sandbox-client.js';
import { RawMtprotoClient, startTestServer } from './transport-fixtures.js';
import type { TestServer } from './transport-fixtures.js';

const big = helpers.returnBigInt;

function keyIdOf(client: TelegramClient): bigint {
  return BigInt(client.session.getAuthKey()!.keyId!.toString());
}

function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (condition()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(check, 20);
    };
    check();
  });
}

describe('MTProto server with the real client', () => {
  let sandbox: TestServer;
  const clients: TelegramClient[] = [];
  before(async () => {
    sandbox = await startTestServer();
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.destroy()));
    await sandbox.close();
  });
  function newClient(connection?: ConnectionClass, session?: string): TelegramClient {
    const client = createSandboxClient({ ...sandbox, connection, session });
    clients.push(client);
    return client;
  }

  const transports: Array<[string, ConnectionClass]> = [
    ['full', ConnectionTCPFull],
    ['abridged', ConnectionTCPAbridged],
    ['obfuscated', ConnectionTCPObfuscated],
  ];
  for (const [name, connection] of transports) {
    it(`creates an auth key and answers help.getConfig over the ${name} transport`, async () => {
      const keysBefore = sandbox.authKeys.keys.size;
      const callsBefore = sandbox.dispatcher.calls.length;
      const client = newClient(connection);
      assert.equal(await client.connect(), true);
      const config = await client.invoke(new Api.help.GetConfig());
      assert.ok(config instanceof Api.Config);
      assert.equal(config.dcOptions[0].port, sandbox.port);
      assert.equal(sandbox.authKeys.keys.size, keysBefore + 1);
      assert.ok(
        sandbox.authKeys.keys.has(keyIdOf(client)),
        'the server stored the key under the id the client computes',
      );
      const calls = sandbox.dispatcher.calls.slice(callsBefore);
      // connect() sends invokeWithLayer(initConnection(help.getConfig)): the world sees only the inner call.
      assert.deepEqual(
        calls.map((call) => call.request.className),
        ['help.GetConfig', 'help.GetConfig'],
      );
      assert.equal(calls[0].ctx.layer, 214);
      assert.equal(calls[0].ctx.client?.deviceModel, 'TeleFlow tests');
      assert.equal(calls[0].ctx.authKeyId, keyIdOf(client));
      const described = sandbox.server.listConnections().find((c) => c.authKeyId === keyIdOf(client));
      assert.equal(described?.transport, name === 'obfuscated' ? 'obfuscated/abridged' : name);
    });
  }

  it('reconnects with a saved session without a new handshake', async () => {
    const first = newClient();
    await first.connect();
    const saved = first.session.save() as unknown as string;
    await first.destroy();
    const keysBefore = sandbox.authKeys.keys.size;
    const second = newClient(undefined, saved);
    await second.connect();
    assert.ok((await second.invoke(new Api.help.GetNearestDc())) instanceof Api.NearestDc);
    assert.equal(sandbox.authKeys.keys.size, keysBefore);
    assert.equal(keyIdOf(second), keyIdOf(first));
  });

  it('serializes vectors of objects, of ints, of longs, and booleans', async () => {
    const client = newClient();
    await client.connect();
    sandbox.dispatcher.handlers.set('users.GetUsers', () => [
      new Api.UserEmpty({ id: big(7) }),
      new Api.UserEmpty({ id: big(8) }),
    ]);
    sandbox.dispatcher.handlers.set('contacts.GetContactIDs', () => [1, 2, 3]);
    sandbox.dispatcher.handlers.set('messages.ReceivedQueue', () => [5n, 2n ** 40n]);
    sandbox.dispatcher.handlers.set('account.UpdateStatus', () => true);
    sandbox.dispatcher.handlers.set('account.ResetNotifySettings', () => false);
    try {
      const users = await client.invoke(new Api.users.GetUsers({ id: [new Api.InputUserSelf()] }));
      assert.deepEqual(
        users.map((user) => user.id.toString()),
        ['7', '8'],
      );
      const ids = await client.invoke(new Api.contacts.GetContactIDs({ hash: big(0) }));
      assert.deepEqual(ids, [1, 2, 3]);
      const queue = await client.invoke(new Api.messages.ReceivedQueue({ maxQts: 1 }));
      assert.deepEqual(queue.map(String), ['5', String(2n ** 40n)]);
      assert.equal(await client.invoke(new Api.account.UpdateStatus({ offline: false })), true);
      assert.equal(await client.invoke(new Api.account.ResetNotifySettings()), false);
    } finally {
      for (const method of [
        'users.GetUsers',
        'contacts.GetContactIDs',
        'messages.ReceivedQueue',
        'account.UpdateStatus',
        'account.ResetNotifySettings',
      ]) {
        sandbox.dispatcher.handlers.delete(method);
      }
    }
  });

  it('surfaces RPC errors as the client maps them', async () => {
    const client = newClient();
    await client.connect();
    client.floodSleepThreshold = 0;
    sandbox.dispatcher.handlers.set('help.GetNearestDc', () => {
      throw new RpcError(420, 'FLOOD_WAIT_7');
    });
    try {
      await assert.rejects(client.invoke(new Api.help.GetNearestDc()), (error: unknown) => {
        assert.ok(error instanceof errors.FloodWaitError);
        assert.equal(error.seconds, 7);
        return true;
      });
      await assert.rejects(client.invoke(new Api.help.GetAppConfig({ hash: 0 })), (error: unknown) => {
        assert.ok(error instanceof errors.RPCError);
        assert.equal(error.code, 400);
        assert.equal(error.errorMessage, 'METHOD_NOT_IMPLEMENTED_SANDBOX');
        return true;
      });
    } finally {
      sandbox.dispatcher.handlers.delete('help.GetNearestDc');
    }
  });

  it('push() delivers Updates to the event handlers of the right auth key only', async () => {
    sandbox.dispatcher.handlers.set('users.GetUsers', () => [
      new Api.User({ id: big(42), self: true, firstName: 'Me', accessHash: big(1) }),
    ]);
    try {
      const receiver = newClient();
      const bystander = newClient();
      await Promise.all([receiver.connect(), bystander.connect()]);
      const received: Api.TypeUpdate[] = [];
      const bystanderReceived: Api.TypeUpdate[] = [];
      receiver.addEventHandler((update: Api.TypeUpdate) => void received.push(update), new Raw({}));
      bystander.addEventHandler((update: Api.TypeUpdate) => void bystanderReceived.push(update), new Raw({}));
      const typing = new Api.UpdateUserTyping({ userId: big(99), action: new Api.SendMessageTypingAction() });
      sandbox.server.push(
        [keyIdOf(receiver)],
        new Api.UpdateShort({ update: typing, date: Math.floor(Date.now() / 1000) }),
      );
      await waitUntil(
        () => received.some((u) => u instanceof Api.UpdateUserTyping),
        3000,
        'the pushed update',
      );
      const got = received.find((u) => u instanceof Api.UpdateUserTyping) as Api.UpdateUserTyping;
      assert.equal(got.userId.toString(), '99');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(bystanderReceived.filter((u) => u instanceof Api.UpdateUserTyping).length, 0);
    } finally {
      sandbox.dispatcher.handlers.delete('users.GetUsers');
    }
  });

  it('drop() closes the connections of a key; the client reconnects and later calls work', async () => {
    const client = newClient();
    await client.connect();
    const other = newClient();
    await other.connect();
    const sessionsBefore = sandbox.dispatcher.sessions.filter((s) => s.authKeyId === keyIdOf(client)).length;
    assert.equal(sandbox.server.drop([keyIdOf(client)]), 1);
    await waitUntil(
      () =>
        sandbox.dispatcher.sessions.filter((s) => s.authKeyId === keyIdOf(client)).length > sessionsBefore,
      5000,
      'the client to reconnect',
    );
    assert.ok((await client.invoke(new Api.help.GetNearestDc())) instanceof Api.NearestDc);
    assert.ok((await other.invoke(new Api.help.GetNearestDc())) instanceof Api.NearestDc);
  });

  it('refuseConnections() closes new connections until the time is up', async () => {
    sandbox.server.refuseConnections(60_000);
    try {
      const socket = connect({ host: sandbox.host, port: sandbox.port });
      socket.on('error', () => {});
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    } finally {
      sandbox.server.refuseConnections(0);
    }
    const raw = await RawMtprotoClient.open(sandbox.host, sandbox.port);
    try {
      assert.notEqual(await raw.handshake(), 0n);
    } finally {
      raw.close();
    }
    sandbox.server.refuseConnections(150);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const later = await RawMtprotoClient.open(sandbox.host, sandbox.port);
    try {
      assert.notEqual(await later.handshake(), 0n);
    } finally {
      later.close();
    }
  });

  it('drop() without keys closes every connection and reports the count', async () => {
    const client = newClient();
    await client.connect();
    const open = sandbox.server.connectionCount;
    assert.ok(open >= 1);
    assert.equal(sandbox.server.drop(), open);
    await waitUntil(() => sandbox.dispatcher.disconnects.length > 0, 2000, 'onDisconnect');
  });
});
