/**
 * AUTH_KEY_DUPLICATED as Telegram has it: an auth key used from two IP addresses at once is
 * invalidated (406 on that call and every later one; the account must sign in again). A second
 * client built from TeleFlow's exported session dials from 127.0.0.2 (any 127.x.y.z is a local
 * address on Linux) while TeleFlow's own connection comes from 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { Api, type TelegramClient } from 'teleproto';
import { ConnectionTCPFull } from 'teleproto/network/index.js';
import type { ConnectionClass } from '../../src/telegram/dc.js';
import { createSandboxClient } from '../helpers/sandbox-client.js';
import {
  createTelegramTestApp,
  signIn,
  startTestSandbox,
  waitFor,
  type TelegramTestApp,
  type TestSandbox,
} from '../helpers/telegram.js';

type ConnectionParams = ConstructorParameters<ConnectionClass>[0];
type SocketClass = NonNullable<ConnectionParams['socket']>;

/**
 * ConnectionTCPFull whose TCP socket is bound to `localAddress`: teleproto's socket wrapper
 * (PromisedNetSockets) calls `new net.Socket().connect(port, ip)` with no local address, so the
 * wrapper's `client` is intercepted to connect with `localAddress` instead.
 */
function connectionFrom(localAddress: string): ConnectionClass {
  const Base = ConnectionTCPFull as unknown as ConnectionClass;
  return class LocalAddressConnection extends Base {
    constructor(params: ConnectionParams) {
      const Wrapper = params.socket as unknown as new (...args: unknown[]) => object;
      class BoundWrapper extends Wrapper {
        constructor(...args: unknown[]) {
          super(...args);
          let client: unknown;
          Object.defineProperty(this, 'client', {
            configurable: true,
            get: () => client,
            set: (value: unknown) => {
              client = value;
              if (value instanceof Socket) {
                const socket = value;
                Object.assign(socket, {
                  connect: (port: number, host: string, onConnect: () => void) =>
                    Socket.prototype.connect.call<
                      Socket,
                      [{ port: number; host: string; localAddress: string }, () => void],
                      Socket
                    >(socket, { port, host, localAddress }, onConnect),
                });
              }
            },
          });
        }
      }
      super({ ...params, socket: BoundWrapper as unknown as SocketClass });
    }
  };
}

let sbx: TestSandbox;
let t: TelegramTestApp;

before(async () => {
  sbx = await startTestSandbox();
  t = await createTelegramTestApp(sbx);
});

after(async () => {
  await t?.close();
  await sbx?.close();
});

function clientFor(sessionString: string, localAddress?: string): TelegramClient {
  return createSandboxClient({
    host: sbx.sandbox.host,
    port: sbx.sandbox.port,
    dcs: sbx.sandbox.dcs,
    publicKeyPem: sbx.sandbox.publicKeyPem,
    session: sessionString,
    ...(localAddress ? { connection: connectionFrom(localAddress) } : {}),
    requestRetries: 1,
  });
}

async function exportSession(sessionId: string): Promise<string> {
  const exported = await t.call('POST', `/api/v1/sessions/${sessionId}/export`);
  assert.equal(exported.status, 200, JSON.stringify(exported.body));
  return exported.body.data.sessionString as string;
}

async function sendToSelf(sessionId: string, text: string) {
  return t.call('POST', '/api/v1/messages/send', { sessionId, chatId: 'me', text });
}

test('the same key on a second connection from the same address (a reconnect, a second process) keeps working', async () => {
  const a = await signIn(t, sbx);
  const twin = clientFor(await exportSession(a.sessionId));
  try {
    await twin.connect();
    const me = await twin.invoke(new Api.users.GetUsers({ id: [new Api.InputUserSelf()] }));
    assert.equal(me.length, 1);
    const res = await sendToSelf(a.sessionId, 'still fine');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((await t.call('GET', `/api/v1/sessions/${a.sessionId}`)).body.data.status, 'connected');
  } finally {
    await twin.destroy().catch(() => undefined);
  }
});

test('the key used from a second IP address while TeleFlow is connected: AUTH_KEY_DUPLICATED, the session is logged_out', async () => {
  const a = await signIn(t, sbx);
  const elsewhere = clientFor(await exportSession(a.sessionId), '127.0.0.2');
  try {
    // connect() already makes a call (invokeWithLayer(initConnection(help.getConfig))).
    await assert.rejects(
      elsewhere.connect(),
      (error: { errorMessage?: string; code?: number }) =>
        error.errorMessage === 'AUTH_KEY_DUPLICATED' && error.code === 406,
    );
  } finally {
    await elsewhere.destroy().catch(() => undefined);
  }
  // The key stays dead although the other address is gone: TeleFlow's next call on it fails.
  const res = await sendToSelf(a.sessionId, 'x');
  assert.equal(res.status, 409, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 'SESSION_NOT_AUTHORIZED');
  assert.equal(res.body.error.details?.telegramError, 'AUTH_KEY_DUPLICATED');
  const gone = await waitFor(
    async () => {
      const s = (await t.call('GET', `/api/v1/sessions/${a.sessionId}`)).body.data;
      return s.status === 'logged_out' ? s : undefined;
    },
    5000,
    'logged_out',
  );
  assert.equal(gone.lastError.code, 'AUTH_KEY_DUPLICATED');
});
