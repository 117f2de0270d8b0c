/**
 * Service messages of the encrypted layer, checked on the wire with a raw client: salts,
 * sessions, msg_id and seqno rules, acks, containers, gzip, pings, future salts, state requests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Api, helpers } from 'teleproto';
import { BinaryReader } from 'teleproto/extensions/index.js';
import { RpcError } from '../../src/sandbox/contract.js';
import { CONSTRUCTORS, TlReader } from '../../src/sandbox/mtproto/tl.js';
import { RawMtprotoClient, TransportErrorReceived, startTestServer } from './transport-fixtures.js';
import type { RawTransport, TestServer } from './transport-fixtures.js';

const big = helpers.returnBigInt;

/** Opens a raw client with a fresh auth key and the right salt (learnt from bad_server_salt). */
async function readyClient(sandbox: TestServer, transport: RawTransport = 'full'): Promise<RawMtprotoClient> {
  const client = await RawMtprotoClient.open(sandbox.host, sandbox.port, transport);
  await client.handshake();
  const msgId = await client.send(new Api.Ping({ pingId: big(1) }));
  const bad = await client.waitFor(CONSTRUCTORS.badServerSalt);
  const reader = new TlReader(bad.body);
  reader.uint();
  assert.equal(reader.long(), msgId);
  reader.int();
  assert.equal(reader.int(), 48);
  client.salt = reader.long();
  return client;
}

function readObject(body: Buffer): any {
  return new BinaryReader(body).tgReadObject();
}

describe('MTProto service messages', () => {
  let sandbox: TestServer;
  const clients: RawMtprotoClient[] = [];
  before(async () => {
    sandbox = await startTestServer();
  });
  after(async () => {
    for (const client of clients) client.close();
    await sandbox.close();
  });
  async function open(transport: RawTransport = 'full') {
    const client = await readyClient(sandbox, transport);
    clients.push(client);
    return client;
  }

  it('answers salt 0 with bad_server_salt, then new_session_created, pong and ack', async () => {
    const client = await open();
    const pingId = await client.send(new Api.Ping({ pingId: big(77) }));
    const created = await client.nextMessage();
    assert.equal(created.constructorId, CONSTRUCTORS.newSessionCreated);
    const session = readObject(created.body) as Api.NewSessionCreated;
    assert.equal(BigInt(session.firstMsgId.toString()), pingId);
    assert.equal(created.msgId % 4n, 3n, 'new_session_created is not an answer: msg_id = 3 mod 4');
    const pong = await client.waitFor(CONSTRUCTORS.pong);
    const decoded = readObject(pong.body) as Api.Pong;
    assert.equal(BigInt(decoded.msgId.toString()), pingId);
    assert.equal(decoded.pingId.toString(), '77');
    assert.equal(pong.msgId % 4n, 1n, 'pong answers: msg_id = 1 mod 4');
    assert.equal(pong.seqNo % 2, 1, 'pong is content-related: odd seqno');
    assert.ok(
      pong.msgId >> 32n >= BigInt(Math.floor(Date.now() / 1000) - 2),
      'msg_id carries the server time',
    );
    const ack = await client.waitFor(CONSTRUCTORS.msgsAck);
    assert.equal(ack.seqNo % 2, 0, 'msgs_ack is not content-related: even seqno');
    assert.deepEqual((readObject(ack.body) as Api.MsgsAck).msgIds.map(String), [String(pingId)]);
  });

  it('sends several messages in one msg_container, with increasing msg_ids', async () => {
    const client = await open();
    await client.send(new Api.Ping({ pingId: big(1) }));
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push(await client.nextMessage());
    assert.ok(
      seen.every((m) => m.inContainer),
      'new_session_created, pong and ack travel together',
    );
    const ids = seen.map((m) => m.msgId);
    assert.deepEqual(
      [...ids].sort((a, b) => (a < b ? -1 : 1)),
      ids,
    );
  });

  it('accepts a msg_container from the client and answers each message', async () => {
    const client = await open();
    const [first, second] = await client.sendContainer([
      new Api.help.GetNearestDc(),
      new Api.Ping({ pingId: big(5) }),
    ]);
    const result = readObject(await client.waitForResult(first));
    assert.ok(result instanceof Api.NearestDc);
    const pong = readObject((await client.waitFor(CONSTRUCTORS.pong)).body) as Api.Pong;
    assert.equal(BigInt(pong.msgId.toString()), second);
  });

  it('rejects msg_ids with wrong parity or time with bad_msg_notification', async () => {
    const client = await open();
    const now = client.newMsgId();
    const cases: Array<[bigint, number]> = [
      [now + 1n, 18],
      [now - (400n << 32n), 16],
      [now + (60n << 32n), 17],
    ];
    for (const [msgId, code] of cases) {
      await client.send(new Api.Ping({ pingId: big(9) }), { msgId });
      const bad = await client.waitFor(CONSTRUCTORS.badMsgNotification);
      const decoded = readObject(bad.body) as Api.BadMsgNotification;
      assert.equal(BigInt(decoded.badMsgId.toString()), msgId);
      assert.equal(decoded.errorCode, code);
    }
  });

  it('checks seqno parity: queries odd (35), acks and containers even (34)', async () => {
    const client = await open();
    const query = await client.send(new Api.help.GetNearestDc(), { seqNo: 2 });
    let bad = readObject(
      (await client.waitFor(CONSTRUCTORS.badMsgNotification)).body,
    ) as Api.BadMsgNotification;
    assert.equal(BigInt(bad.badMsgId.toString()), query);
    assert.equal(bad.errorCode, 35);
    const ack = await client.send(new Api.MsgsAck({ msgIds: [big(1)] }), { seqNo: 3 });
    bad = readObject((await client.waitFor(CONSTRUCTORS.badMsgNotification)).body) as Api.BadMsgNotification;
    assert.equal(BigInt(bad.badMsgId.toString()), ack);
    assert.equal(bad.errorCode, 34);
  });

  it('answers -404 as soon as the world deletes a key, on the same connection', async () => {
    const client = await open();
    const msgId = await client.send(new Api.help.GetNearestDc());
    await client.waitForResult(msgId);
    sandbox.authKeys.delete(BigInt(client.authKey!.keyId!.toString()));
    await client.send(new Api.help.GetNearestDc());
    await assert.rejects(
      client.waitFor(CONSTRUCTORS.rpcResult),
      (error: unknown) => error instanceof TransportErrorReceived && error.code === -404,
    );
  });

  it('gzips large results and leaves small ones plain', async () => {
    const client = await open();
    sandbox.dispatcher.handlers.set('users.GetUsers', () =>
      Array.from({ length: 30 }, (_, i) => new Api.UserEmpty({ id: big(1000 + i) })).concat(
        Array.from({ length: 30 }, (_, i) => new Api.UserEmpty({ id: big(2000 + i) })),
      ),
    );
    try {
      const big1 = await client.send(new Api.users.GetUsers({ id: [new Api.InputUserSelf()] }));
      const bigResult = await client.waitForResult(big1);
      assert.equal(bigResult.readUInt32LE(0), CONSTRUCTORS.gzipPacked);
      const unpacked = gunzipSync(new TlReader(bigResult.subarray(4)).bytes());
      const users = readObject(unpacked) as Api.UserEmpty[];
      assert.equal(users.length, 60);
      const small = await client.send(new Api.help.GetNearestDc());
      const smallResult = await client.waitForResult(small);
      assert.ok(readObject(smallResult) instanceof Api.NearestDc);
    } finally {
      sandbox.dispatcher.handlers.delete('users.GetUsers');
    }
  });

  it('accepts gzip_packed messages from the client', async () => {
    const client = await open();
    const inner = new Api.help.GetNearestDc().getBytes();
    const { gzipSync } = await import('node:zlib');
    const packed = Buffer.concat([Buffer.from([0xa1, 0xcf, 0x72, 0x30]), serializeTlBytes(gzipSync(inner))]);
    const msgId = await client.send(packed);
    assert.ok(readObject(await client.waitForResult(msgId)) instanceof Api.NearestDc);
  });

  it('answers get_future_salts with salts that the server accepts', async () => {
    const client = await open();
    const msgId = await client.send(new Api.GetFutureSalts({ num: 3 }));
    const message = await client.waitFor(CONSTRUCTORS.futureSalts);
    const reader = new TlReader(message.body);
    reader.uint();
    assert.equal(reader.long(), msgId);
    const now = reader.int();
    assert.ok(Math.abs(now - Date.now() / 1000) < 5);
    assert.equal(reader.int(), 3);
    const since = reader.int();
    const until = reader.int();
    const salt = reader.long();
    assert.ok(since <= now && until > now);
    client.salt = salt;
    const ping = await client.send(new Api.Ping({ pingId: big(3) }));
    const pong = readObject((await client.waitFor(CONSTRUCTORS.pong)).body) as Api.Pong;
    assert.equal(BigInt(pong.msgId.toString()), ping);
  });

  it('answers destroy_session and msgs_state_req', async () => {
    const client = await open();
    const destroy = await client.send(new Api.DestroySession({ sessionId: big(123456789n) }));
    const none = readObject(await client.waitForResult(destroy));
    assert.ok(none instanceof Api.DestroySessionNone);
    const known = await client.send(new Api.Ping({ pingId: big(4) }));
    await client.waitFor(CONSTRUCTORS.pong);
    await client.send(new Api.MsgsStateReq({ msgIds: [big(known), big(known - 4000n)] }));
    const info = await client.waitFor(CONSTRUCTORS.msgsStateInfo);
    const reader = new TlReader(info.body);
    reader.uint();
    reader.long();
    assert.deepEqual([...reader.bytes()], [4, 1]);
  });

  it('answers a ping while a slow call is still running, and results keep request order', async () => {
    const client = await open();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    sandbox.dispatcher.handlers.set('help.GetNearestDc', async () => {
      await gate;
      return new Api.NearestDc({ country: 'SLOW', thisDc: 2, nearestDc: 2 });
    });
    try {
      const slow = await client.send(new Api.help.GetNearestDc());
      const fast = await client.send(new Api.help.GetConfig());
      const ping = await client.send(new Api.Ping({ pingId: big(8) }));
      const pong = readObject((await client.waitFor(CONSTRUCTORS.pong)).body) as Api.Pong;
      assert.equal(BigInt(pong.msgId.toString()), ping);
      release();
      const first = await client.waitFor(CONSTRUCTORS.rpcResult);
      assert.equal(first.body.readBigInt64LE(4), slow, 'the slow call answers first');
      const second = await client.waitFor(CONSTRUCTORS.rpcResult);
      assert.equal(second.body.readBigInt64LE(4), fast);
    } finally {
      sandbox.dispatcher.handlers.delete('help.GetNearestDc');
    }
  });

  it('closes the connection when no ping_delay_disconnect follows within disconnect_delay', async () => {
    const client = await open();
    const started = Date.now();
    await client.send(new Api.PingDelayDisconnect({ pingId: big(1), disconnectDelay: 1 }));
    await client.waitFor(CONSTRUCTORS.pong);
    await new Promise((resolve) => setTimeout(resolve, 600));
    // A new ping within the delay pushes the deadline back.
    await client.send(new Api.PingDelayDisconnect({ pingId: big(2), disconnectDelay: 1 }));
    await client.waitFor(CONSTRUCTORS.pong);
    await client.closedPromise;
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1500 && elapsed < 3000, `closed after ${elapsed} ms`);
  });

  it('answers an unknown auth key with transport error -404', async () => {
    for (const transport of ['full', 'abridged', 'intermediate'] as const) {
      const client = await RawMtprotoClient.open(sandbox.host, sandbox.port, transport);
      clients.push(client);
      const packet = Buffer.alloc(8 + 16 + 48);
      packet.writeBigUInt64LE(0xfedcba9876543210n, 0);
      client.sendPacket(packet);
      await assert.rejects(client.nextMessage(), (error: unknown) => {
        assert.ok(error instanceof TransportErrorReceived);
        assert.equal(error.code, -404);
        return true;
      });
    }
  });

  it('maps thrown errors to rpc_error: RpcError as given, anything else INTERNAL 500', async () => {
    const client = await open();
    sandbox.dispatcher.handlers.set('help.GetNearestDc', () => {
      throw new RpcError(420, 'FLOOD_WAIT_7');
    });
    sandbox.dispatcher.handlers.set('help.GetConfig', () => {
      throw new Error('boom');
    });
    try {
      const flood = readObject(await client.waitForResult(await client.send(new Api.help.GetNearestDc())));
      assert.ok(flood instanceof Api.RpcError);
      assert.equal(flood.errorCode, 420);
      assert.equal(flood.errorMessage, 'FLOOD_WAIT_7');
      const internal = readObject(await client.waitForResult(await client.send(new Api.help.GetConfig())));
      assert.equal(internal.errorCode, 500);
      assert.equal(internal.errorMessage, 'INTERNAL');
      const unknown = readObject(
        await client.waitForResult(await client.send(new Api.help.GetAppConfig({ hash: 0 }))),
      );
      assert.equal(unknown.errorMessage, 'METHOD_NOT_IMPLEMENTED_SANDBOX');
    } finally {
      sandbox.dispatcher.handlers.delete('help.GetNearestDc');
      sandbox.dispatcher.handlers.delete('help.GetConfig');
    }
  });

  for (const transport of ['intermediate', 'padded-intermediate', 'abridged'] as const) {
    it(`speaks the ${transport} transport: handshake and an encrypted call`, async () => {
      const client = await open(transport);
      const msgId = await client.send(new Api.help.GetNearestDc());
      assert.ok(readObject(await client.waitForResult(msgId)) instanceof Api.NearestDc);
    });
  }

  for (const inner of ['abridged', 'intermediate', 'padded-intermediate'] as const) {
    it(`speaks the obfuscated transport around ${inner}, both directions`, async () => {
      const client = await RawMtprotoClient.open(sandbox.host, sandbox.port, 'full', inner);
      clients.push(client);
      await client.handshake();
      await client.send(new Api.Ping({ pingId: big(1) }));
      const bad = readObject((await client.waitFor(CONSTRUCTORS.badServerSalt)).body) as Api.BadServerSalt;
      client.salt = BigInt(bad.newServerSalt.toString());
      const msgId = await client.send(new Api.help.GetNearestDc());
      assert.ok(readObject(await client.waitForResult(msgId)) instanceof Api.NearestDc);
    });
  }

  it('sends pushed Updates at the top level with a msg_id of 3 mod 4 and an odd seqno', async () => {
    const client = await open();
    const ping = await client.send(new Api.Ping({ pingId: big(1) }));
    await client.waitFor(CONSTRUCTORS.pong);
    assert.ok(ping);
    const updates = new Api.UpdateShort({
      update: new Api.UpdateUserTyping({ userId: big(5), action: new Api.SendMessageTypingAction() }),
      date: Math.floor(Date.now() / 1000),
    });
    sandbox.server.push([BigInt(client.authKey!.keyId!.toString())], updates);
    const pushed = await client.waitFor(Api.UpdateShort.CONSTRUCTOR_ID);
    assert.equal(pushed.msgId % 4n, 3n);
    assert.equal(pushed.seqNo % 2, 1);
    assert.ok(readObject(pushed.body) instanceof Api.UpdateShort);
  });

  for (const Request of [Api.ReqPqMulti, Api.ReqPq]) {
    it(`answers ${Request.name} with resPQ: the nonce, a pq below 2^63 and the server key`, async () => {
      const client = await RawMtprotoClient.open(sandbox.host, sandbox.port);
      clients.push(client);
      const nonce = big(0x1234567890abcdefn);
      const resPQ = (await client.sendPlain(new Request({ nonce }))) as Api.ResPQ;
      assert.ok(resPQ instanceof Api.ResPQ);
      assert.equal(resPQ.nonce.toString(), nonce.toString());
      assert.equal(resPQ.pq.length, 8);
      assert.ok(resPQ.pq[0] < 0x80, 'the client reads pq as signed');
      assert.deepEqual(resPQ.serverPublicKeyFingerprints.map(String), [String(sandbox.server.fingerprint)]);
    });
  }

  it('closes a full-transport connection on a bad crc32', async () => {
    const client = await RawMtprotoClient.open(sandbox.host, sandbox.port, 'full');
    clients.push(client);
    const body = new Api.ReqPqMulti({ nonce: big(1) }).getBytes();
    const frame = Buffer.alloc(12 + 20 + body.length);
    frame.writeInt32LE(frame.length, 0);
    body.copy(frame, 28);
    frame.writeInt32LE(body.length, 24);
    frame.writeUInt32LE(0xdeadbeef, frame.length - 4);
    client.socket.write(frame);
    await client.closedPromise;
  });
});

function serializeTlBytes(data: Buffer): Buffer {
  const header =
    data.length < 254
      ? Buffer.from([data.length])
      : Buffer.from([254, data.length & 0xff, (data.length >> 8) & 0xff, data.length >> 16]);
  const padding = (4 - ((header.length + data.length) % 4)) % 4;
  return Buffer.concat([header, data, Buffer.alloc(padding)]);
}
