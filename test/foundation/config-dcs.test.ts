/**
 * TELEGRAM_DC's two forms: `host:port` (DC 1 there, DCs 2-5 on the next four ports) and
 * `1=host:port,2=host:port,...`; the endpoint's connection class dials the DC it is built for.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { ConfigError, loadConfig } from '../../src/config.js';
import { resolveTelegramEndpoint } from '../../src/telegram/endpoint.js';
import { TEST_SECRETS } from '../helpers/app.js';

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-dcs-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const env = (dir: string, dc: string) => ({
  ...TEST_SECRETS,
  DATA_DIR: dir,
  TELEGRAM_DC: dc,
  TELEGRAM_DC_PUBLIC_KEY_FILE: '/dev/null',
});

test('TELEGRAM_DC=host:port names DC 1; DCs 2-5 are on the next four ports', () =>
  withDir((dir) => {
    const c = loadConfig(env(dir, '127.0.0.1:9443'));
    assert.deepEqual(c.telegram.dc, { host: '127.0.0.1', port: 9443 });
    assert.deepEqual(
      c.telegram.dcs,
      [1, 2, 3, 4, 5].map((id) => ({ id, host: '127.0.0.1', port: 9442 + id })),
    );
  }));

test('TELEGRAM_DC=1=host:port,2=host:port,... names each DC', () =>
  withDir((dir) => {
    const c = loadConfig(env(dir, '2=10.0.0.2:443, 1=10.0.0.1:443,4=dc4.example:8443'));
    assert.deepEqual(c.telegram.dcs, [
      { id: 1, host: '10.0.0.1', port: 443 },
      { id: 2, host: '10.0.0.2', port: 443 },
      { id: 4, host: 'dc4.example', port: 8443 },
    ]);
    assert.deepEqual(c.telegram.dc, { host: '10.0.0.1', port: 443 });
  }));

test('bad TELEGRAM_DC values are refused at start-up', () =>
  withDir((dir) => {
    for (const bad of ['no-port', '6=h:1', '1=h:1,1=h:2', '1=h', 'h:65533', '0=h:1', 'h:0']) {
      assert.throws(
        () => loadConfig(env(dir, bad)),
        (error: unknown) => error instanceof ConfigError && /TELEGRAM_DC/.test(error.message),
        bad,
      );
    }
  }));

test('the endpoint starts new sessions on DC 2 and dials each DC at its own address', async () => {
  await withDir(async (dir) => {
    const keyFile = join(dir, 'server.pem');
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(keyFile, publicKey.export({ type: 'pkcs1', format: 'pem' }));
    const c = loadConfig({
      ...env(dir, '1=10.0.0.1:1001,2=10.0.0.2:1002,5=10.0.0.5:1005'),
      TELEGRAM_DC_PUBLIC_KEY_FILE: keyFile,
    });
    const endpoint = await resolveTelegramEndpoint(c.telegram, dir, pino({ level: 'silent' }));
    assert.equal(endpoint.dcId, 2);
    assert.equal(endpoint.host, '10.0.0.2');
    const Connection = endpoint.connection as unknown as new (params: object) => {
      _ip: string;
      _port: number;
    };
    const base = {
      ip: '149.154.167.50',
      port: 443,
      loggers: undefined,
      socket: class {},
      testServers: false,
    };
    for (const [dcId, port] of [
      [1, 1001],
      [2, 1002],
      [5, 1005],
    ]) {
      const connection = new Connection({ ...base, dcId });
      assert.equal(connection._ip, `10.0.0.${dcId}`);
      assert.equal(connection._port, port);
    }
    assert.throws(() => new Connection({ ...base, dcId: 3 }), /No address is configured for DC 3/);
    await endpoint.close();
  });
});
