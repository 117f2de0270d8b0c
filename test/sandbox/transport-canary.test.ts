/**
 * Canary on the teleproto internals the sandbox's wire layer imports. Server and client share
 * these TL classes, so a serializer bug would not show in the other tests: this file pins the
 * version and checks the pieces against bytes known from the MTProto schema.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Api, helpers, version } from 'teleproto';
import { _serverKeys } from 'teleproto/crypto/RSA.js';
import { BinaryReader } from 'teleproto/extensions/index.js';
import {
  ConnectionTCPAbridged,
  ConnectionTCPFull,
  ConnectionTCPObfuscated,
} from 'teleproto/network/connection/index.js';
import { generateServerKey, rsaFingerprint } from '../../src/sandbox/mtproto/rsa.js';
import { CONSTRUCTORS, readTlObject, vectorResultKind } from '../../src/sandbox/mtproto/tl.js';
import { createDcConnectionClass, trustServerPublicKey } from '../../src/telegram/dc.js';
import { sandboxConfig } from './transport-fixtures.js';

const big = helpers.returnBigInt;

describe('teleproto internals used by the sandbox', () => {
  it('is exactly version 214.1.7 (layer 214)', () => {
    assert.equal(version, '214.1.7');
    const require = createRequire(import.meta.url);
    const pkg = JSON.parse(readFileSync(require.resolve('teleproto/package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(pkg.version, '214.1.7');
    const projectPkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    assert.equal(projectPkg.dependencies.teleproto, '214.1.7', 'pinned exactly in package.json');
  });

  it('has the service and handshake constructors with the schema ids', () => {
    const expected: Array<[{ CONSTRUCTOR_ID: number }, number]> = [
      [Api.Pong, CONSTRUCTORS.pong],
      [Api.NewSessionCreated, CONSTRUCTORS.newSessionCreated],
      [Api.BadMsgNotification, CONSTRUCTORS.badMsgNotification],
      [Api.BadServerSalt, CONSTRUCTORS.badServerSalt],
      [Api.MsgsAck, CONSTRUCTORS.msgsAck],
      [Api.FutureSalts, CONSTRUCTORS.futureSalts],
      [Api.FutureSalt, CONSTRUCTORS.futureSalt],
      [Api.MsgsStateInfo, CONSTRUCTORS.msgsStateInfo],
      [Api.DestroySessionOk, CONSTRUCTORS.destroySessionOk],
      [Api.DestroySessionNone, CONSTRUCTORS.destroySessionNone],
      [Api.RpcError, CONSTRUCTORS.rpcError],
      [Api.RpcAnswerUnknown, CONSTRUCTORS.rpcAnswerUnknown],
      [Api.ReqPq, CONSTRUCTORS.reqPq],
      [Api.ReqPqMulti, CONSTRUCTORS.reqPqMulti],
      [Api.ResPQ, CONSTRUCTORS.resPQ],
      [Api.ReqDHParams, CONSTRUCTORS.reqDhParams],
      [Api.PQInnerData, CONSTRUCTORS.pqInnerData],
      [Api.PQInnerDataDc, CONSTRUCTORS.pqInnerDataDc],
      [Api.ServerDHParamsOk, CONSTRUCTORS.serverDhParamsOk],
      [Api.ServerDHInnerData, CONSTRUCTORS.serverDhInnerData],
      [Api.SetClientDHParams, CONSTRUCTORS.setClientDhParams],
      [Api.ClientDHInnerData, CONSTRUCTORS.clientDhInnerData],
      [Api.DhGenOk, CONSTRUCTORS.dhGenOk],
    ];
    for (const [cls, id] of expected) assert.equal(cls.CONSTRUCTOR_ID, id, (cls as { name?: string }).name);
  });

  it('serializes and parses known bytes', () => {
    const ping = new Api.Ping({ pingId: big(0x0102030405060708n) });
    assert.equal(ping.getBytes().toString('hex'), 'ec77be7a0807060504030201');
    const parsed = readTlObject(Buffer.from('ec77be7a0807060504030201', 'hex'));
    assert.ok(parsed instanceof Api.Ping);
    assert.equal(parsed.pingId.toString(), String(0x0102030405060708n));
    assert.equal(parsed.classType, 'request');
    assert.equal(parsed.className, 'Ping');
    assert.equal(new Api.help.GetConfig().getBytes().toString('hex'), '6b18f9c4');
    assert.equal(new Api.help.GetConfig().className, 'help.GetConfig');
  });

  it('parses nested invokeWithLayer(initConnection(invokeAfterMsg(query))) with the fields the server reads', () => {
    const request = new Api.InvokeWithLayer({
      layer: 214,
      query: new Api.InitConnection({
        apiId: 5,
        deviceModel: 'dev',
        systemVersion: 'sys',
        appVersion: 'app',
        systemLangCode: 'en',
        langPack: '',
        langCode: 'de',
        query: new Api.InvokeAfterMsg({
          msgId: big(99),
          query: new Api.InvokeWithoutUpdates({ query: new Api.help.GetNearestDc() }),
        }),
      }),
    });
    const parsed = readTlObject(request.getBytes()) as Api.InvokeWithLayer;
    assert.ok(parsed instanceof Api.InvokeWithLayer);
    assert.equal(parsed.layer, 214);
    const init = parsed.query as unknown as Api.InitConnection;
    assert.ok(init instanceof Api.InitConnection);
    assert.deepEqual(
      [
        init.apiId,
        init.deviceModel,
        init.systemVersion,
        init.appVersion,
        init.systemLangCode,
        init.langPack,
        init.langCode,
      ],
      [5, 'dev', 'sys', 'app', 'en', '', 'de'],
    );
    const after = init.query as unknown as Api.InvokeAfterMsg;
    assert.ok(after instanceof Api.InvokeAfterMsg);
    const without = after.query as unknown as Api.InvokeWithoutUpdates;
    assert.ok(without instanceof Api.InvokeWithoutUpdates);
    assert.ok(without.query instanceof Api.help.GetNearestDc);
  });

  it('round-trips a Config and reads vectors and booleans with BinaryReader', () => {
    const config = sandboxConfig('127.0.0.1', 4444);
    const parsed = new BinaryReader(config.getBytes()).tgReadObject() as Api.Config;
    assert.ok(parsed instanceof Api.Config);
    assert.equal(parsed.dcOptions.length, 5);
    assert.equal(parsed.dcOptions[1].ipAddress, '127.0.0.1');
    assert.equal(parsed.dcOptions[1].port, 4444);
    assert.deepEqual(readTlObject(Buffer.from('15c4b51c02000000b5757299379779bc', 'hex')), [true, false]);
  });

  it('declares Vector<int> and Vector<long> results in the schema text', () => {
    assert.equal(vectorResultKind(Api.contacts.GetContactIDs.CONSTRUCTOR_ID), 'int');
    assert.equal(vectorResultKind(Api.messages.ReceivedQueue.CONSTRUCTOR_ID), 'long');
    assert.equal(vectorResultKind(Api.users.GetUsers.CONSTRUCTOR_ID), undefined);
  });

  it('keeps server keys in the exported _serverKeys map, keyed by signed decimal fingerprint', () => {
    const key = generateServerKey();
    const fingerprint = trustServerPublicKey(key.publicKeyPem);
    assert.equal(fingerprint, key.fingerprint.toString());
    const entry = _serverKeys.get(fingerprint);
    assert.ok(entry);
    assert.equal(typeof entry.e, 'number');
    assert.equal(entry.e, 65537);
    assert.equal(entry.n.bitLength().toJSNumber(), 2048);
    // Telegram's own key and its published fingerprint pin the fingerprint formula.
    const telegram = _serverKeys.get('-3414540481677951611');
    assert.ok(telegram);
    const n = Buffer.from(telegram.n.toString(16), 'hex').toString('base64url');
    const telegramKey = createPublicKey({ key: { kty: 'RSA', n, e: 'AQAB' }, format: 'jwk' });
    assert.equal(rsaFingerprint(telegramKey), -3414540481677951611n);
  });

  it('lets a connection subclass choose the address the client dials', () => {
    for (const base of [ConnectionTCPFull, ConnectionTCPAbridged, ConnectionTCPObfuscated]) {
      const Connection = createDcConnectionClass('127.0.0.9', 4321, base);
      const instance = new Connection({
        ip: '149.154.167.91',
        port: 443,
        dcId: 2,
        loggers: undefined as never,
        socket: class {} as never,
        testServers: false,
      });
      assert.equal(instance._ip, '127.0.0.9');
      assert.equal(instance._port, 4321);
      assert.ok(instance instanceof base);
    }
  });
});
