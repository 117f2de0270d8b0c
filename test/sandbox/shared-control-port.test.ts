/**
 * The standalone defaults put the control API on 9444, which is also DC 2's MTProto port
 * (DCs on 9443-9447): that DC's listener tells HTTP from MTProto by the first bytes and hands
 * HTTP connections to the control API. Checked on free ports with the same layout.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Api } from 'teleproto';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { closeClient, control, signedInClient, testPhone } from '../helpers/sandbox.js';
import { freePort } from '../helpers/server-process.js';

let sandbox: Sandbox;

before(async () => {
  // Five consecutive free ports: try a few bases.
  let lastError: unknown;
  for (let attempt = 0; attempt < 10 && !sandbox; attempt++) {
    const base = await freePort();
    if (base + 4 > 65535) continue;
    try {
      sandbox = await startSandbox({ port: base, controlPort: base + 1 });
    } catch (error) {
      lastError = error;
    }
  }
  if (!sandbox) throw lastError;
});
after(() => sandbox?.close());

test('the control API answers on DC 2 port and a client signs in through the same port', async () => {
  const dc2 = sandbox.dcs.find((dc) => dc.id === 2)!;
  assert.equal(sandbox.controlUrl, `http://127.0.0.1:${dc2.port}`);
  const index = await control(sandbox, 'GET', '/');
  assert.equal(index.status, 200);
  const phone = testPhone();
  const created = await control(sandbox, 'POST', '/users', { phone, firstName: 'Shared' });
  assert.equal(created.status, 201, JSON.stringify(created.body));

  // A new account lives on DC 2: the client's MTProto traffic goes to the port the control API shares.
  const client = await signedInClient(sandbox, phone);
  try {
    assert.equal(client.session.dcId, 2);
    const [me] = (await client.invoke(
      new Api.users.GetUsers({ id: [new Api.InputUserSelf()] }),
    )) as Api.User[];
    assert.equal(me.firstName, 'Shared');
    // HTTP keeps working next to the open MTProto connection.
    const user = await control(sandbox, 'GET', `/users/${phone}`);
    assert.equal(user.status, 200);
  } finally {
    await closeClient(client);
  }
});

test('bytes that are neither HTTP nor MTProto cost only their connection', async () => {
  const { createConnection } = await import('node:net');
  const dc2 = sandbox.dcs.find((dc) => dc.id === 2)!;
  await new Promise<void>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: dc2.port }, () => socket.write('GE'));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    setTimeout(() => socket.destroy(), 500);
  });
  assert.equal((await control(sandbox, 'GET', '/')).status, 200);
});
