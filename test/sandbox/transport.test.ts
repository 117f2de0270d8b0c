import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Api } from 'teleproto';
import { createSandboxClient } from '../helpers/sandbox-client.js';
import { startTestServer } from './transport-fixtures.js';
import type { TestServer } from './transport-fixtures.js';

describe('MTProto server with the real client (full transport)', () => {
  let sandbox: TestServer;
  before(async () => {
    sandbox = await startTestServer();
  });
  after(async () => {
    await sandbox.close();
  });

  it('creates an auth key and answers help.getConfig', async () => {
    const client = createSandboxClient(sandbox);
    try {
      await client.connect();
      const config = await client.invoke(new Api.help.GetConfig());
      assert.ok(config instanceof Api.Config);
      assert.equal(config.thisDc, 2);
      assert.equal(config.dcOptions[0].port, sandbox.port);
      assert.equal(sandbox.authKeys.keys.size, 1);
      const methods = sandbox.dispatcher.calls.map((call) => call.request.className);
      assert.deepEqual(methods, ['help.GetConfig', 'help.GetConfig']);
      assert.equal(sandbox.dispatcher.calls[0].ctx.layer, 214);
      assert.equal(sandbox.dispatcher.calls[0].ctx.client?.deviceModel, 'TeleFlow tests');
    } finally {
      await client.destroy();
    }
  });
});
