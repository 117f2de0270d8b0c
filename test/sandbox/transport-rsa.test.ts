import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  PRIVATE_KEY_FILE,
  PUBLIC_KEY_FILE,
  loadOrCreateServerKey,
  rsaFingerprint,
} from '../../src/sandbox/mtproto/rsa.js';

describe('sandbox RSA key', () => {
  it('is generated once in the data dir and loaded again on the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'teleflow-rsa-'));
    try {
      const first = await loadOrCreateServerKey(join(dir, 'nested'));
      const publicPem = await readFile(join(dir, 'nested', PUBLIC_KEY_FILE), 'utf8');
      assert.equal(publicPem, first.publicKeyPem);
      assert.match(publicPem, /^-----BEGIN RSA PUBLIC KEY-----/);
      assert.equal((await stat(join(dir, 'nested', PRIVATE_KEY_FILE))).mode & 0o777, 0o600);
      assert.equal(first.privateKey.asymmetricKeyDetails?.modulusLength, 2048);
      const second = await loadOrCreateServerKey(join(dir, 'nested'));
      assert.equal(second.fingerprint, first.fingerprint);
      assert.equal(second.publicKeyPem, first.publicKeyPem);
      assert.equal(rsaFingerprint(publicPem), first.fingerprint);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lives in memory without a data dir, a new key each time', async () => {
    const a = await loadOrCreateServerKey(undefined);
    const b = await loadOrCreateServerKey(undefined);
    assert.notEqual(a.fingerprint, b.fingerprint);
  });
});
