/**
 * Auth keys are built exactly as the client builds them: the rare 255-byte key (g^ab with a
 * leading zero byte) and key ids at or above 2^63 are where a server drifts from the client.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { helpers } from 'teleproto';
import { AuthKey } from 'teleproto/crypto/AuthKey.js';
import { TELEGRAM_DH_PRIME, authKeyIdOf, stripLeadingZeros } from '../../src/sandbox/mtproto/crypto.js';
import { bufferToBigInt, dhSharedSecret, generateDhKeyPair } from '../../src/sandbox/mtproto/handshake.js';
import { startTestServer } from './transport-fixtures.js';
import type { TestServer } from './transport-fixtures.js';
import type { HandshakeReport } from './transport-handshake-worker.js';

describe('auth key construction', () => {
  it('drops leading zero bytes of g^ab like the client, and computes the same key id', async () => {
    let highIds = 0;
    for (let i = 0; i < 512; i++) {
      const raw = randomBytes(256);
      raw[0] = 0;
      if (i % 2 === 0) raw[1] = 0;
      const serverKey = stripLeadingZeros(raw);
      const clientKey = helpers.getByteArray(helpers.returnBigInt(bufferToBigInt(raw)));
      assert.ok(serverKey.equals(clientKey), 'same bytes as getByteArray');
      assert.ok(serverKey.length <= 255);
      const authKey = new AuthKey();
      await authKey.setKey(clientKey);
      const id = authKeyIdOf(serverKey);
      assert.equal(id, BigInt(authKey.keyId!.toString()));
      if (id >= 2n ** 63n) highIds++;
    }
    assert.ok(highIds > 0, 'key ids with the top bit set were covered');
  });
});

describe('DH exchange through OpenSSL', () => {
  function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
    let result = 1n;
    for (base %= modulus; exponent > 0n; exponent >>= 1n, base = (base * base) % modulus) {
      if (exponent & 1n) result = (result * base) % modulus;
    }
    return result;
  }

  it('agrees with textbook modular exponentiation on both sides', () => {
    const prime = bufferToBigInt(TELEGRAM_DH_PRIME);
    for (let i = 0; i < 5; i++) {
      const server = generateDhKeyPair();
      assert.equal(server.publicValue.length, 256);
      const b = bufferToBigInt(randomBytes(256));
      const gB = modPow(3n, b, prime);
      const expected = modPow(bufferToBigInt(server.publicValue), b, prime);
      const gBBytes = Buffer.from(gB.toString(16).padStart(512, '0'), 'hex');
      assert.equal(bufferToBigInt(dhSharedSecret(server.privateKey, gBBytes)), expected);
    }
  });
});

describe('many handshakes with the real client code', () => {
  let sandbox: TestServer;
  before(async () => {
    sandbox = await startTestServer();
  });
  after(async () => {
    await sandbox.close();
  });

  it('300 handshakes in a row all give working keys', async (t) => {
    // Two workers use both cores for the client's 2048-bit exponentiations.
    const perWorker = 150;
    const reports = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<HandshakeReport>((resolve, reject) => {
            const worker = new Worker(new URL('./transport-handshake-worker.ts', import.meta.url), {
              workerData: {
                host: sandbox.host,
                port: sandbox.port,
                publicKeyPem: sandbox.publicKeyPem,
                count: perWorker,
              },
            });
            worker.once('message', (report: HandshakeReport) => resolve(report));
            worker.once('error', reject);
          }),
      ),
    );
    const failures = reports.flatMap((report) => report.failures);
    assert.deepEqual(failures, []);
    assert.equal(
      reports.reduce((sum, report) => sum + report.done, 0),
      300,
    );
    assert.equal(sandbox.authKeys.keys.size, 300);
    const shortKeys = reports.reduce((sum, report) => sum + report.shortKeys, 0);
    const highKeyIds = reports.reduce((sum, report) => sum + report.highKeyIds, 0);
    t.diagnostic(`keys shorter than 256 bytes: ${shortKeys}; key ids >= 2^63: ${highKeyIds}`);
    assert.ok(highKeyIds > 0);
  });
});
