import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Api } from 'teleproto';
import { MTProtoSender } from 'teleproto/network/index.js';
import { applyTeleprotoPatches } from '../../src/telegram/teleproto-patches.js';
import { closeClient, control, signedInClient, startTestSandbox, testPhone } from '../helpers/sandbox.js';

test('an RPC error inside a container of answers does not swallow the other answers', async () => {
  applyTeleprotoPatches();
  const sandbox = await startTestSandbox();
  const client = await signedInClient(sandbox, testPhone());
  try {
    for (let round = 0; round < 5; round++) {
      const fault = await control(sandbox, 'POST', '/faults', {
        error: 'CHANNEL_PRIVATE',
        method: 'help.getNearestDc',
        count: 1,
      });
      assert.equal(fault.status < 300, true, JSON.stringify(fault.body));
      // Sent together, answered together: the sandbox packs ready answers into one container.
      const started = Date.now();
      const [failed, ok] = await Promise.allSettled([
        client.invoke(new Api.help.GetNearestDc()),
        Promise.race([
          client.invoke(new Api.help.GetConfig()),
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error('no answer within 3 s')), 3000).unref(),
          ),
        ]),
      ]);
      assert.equal(failed.status, 'rejected');
      assert.match(String((failed as PromiseRejectedResult).reason?.errorMessage ?? ''), /CHANNEL_PRIVATE/);
      assert.equal(
        ok.status,
        'fulfilled',
        `the answer next to the error arrived: ${String((ok as PromiseRejectedResult).reason)}`,
      );
      assert.ok(Date.now() - started < 3000, `answered in ${Date.now() - started} ms`);
    }
  } finally {
    await closeClient(client);
    await sandbox.close();
  }
});

test('the patch targets the pinned client internals it replaces', () => {
  assert.equal(typeof MTProtoSender.prototype._handleContainer, 'function');
  assert.equal(typeof (MTProtoSender.prototype as any)._processMessage, 'function');
});
