/**
 * Fixes applied to the pinned client library (teleproto 214.1.7) before any client is made.
 *
 * Container answers: the library handles an rpc_result carrying an error by rejecting the call
 * and then rethrowing, which aborts `_handleContainer` halfway: every other answer packed in the
 * same msg_container is dropped and those calls hang until their timeout. Telegram packs answers
 * that are ready together, so concurrent calls where one fails lose the others. Each inner
 * message is handled on its own here; the first error is rethrown afterwards so the receive
 * loop still sees it (it reacts to AUTH_KEY_UNREGISTERED).
 *
 * Calls made while the library re-establishes a lost connection: its reconnect empties the send
 * queue and re-sends only the calls that already had a message id, i.e. that the send loop had
 * picked up. Once the send loop has stopped for the reconnect (after the first new call), every
 * further call waits in the queue without one and was dropped: it hung until TeleFlow's call
 * timeout (30 s), and an update catch-up waiting on it kept the session from recovering. The
 * queue's clear (called only by that reconnect) now keeps the calls that were never sent; the
 * ones with a message id are re-queued by the reconnect itself.
 *
 * Moving a session to another DC (`_switchDC`, after PHONE_MIGRATE_X / USER_MIGRATE_X or a QR
 * login moved home): two faults made a signed-in session that meets USER_MIGRATE_X hang or end
 * signed out.
 * - The switch drops the auth key (keys are per DC, https://core.telegram.org/api/datacenter)
 *   and reconnects, but `connect()` reloads a StringSession, and StringSession.load puts back
 *   the key the session string was made with: the new DC was dialled with the old DC's key,
 *   answered -404, and the call waited forever. The key read from the string is now forgotten
 *   once it has been replaced.
 * - The new key starts unauthorized. Telegram's way to carry a signed-in account to another DC
 *   is an authorization transfer (same page, "Authorization Transfer"):
 *   auth.exportAuthorization(dc_id) on the current DC, auth.importAuthorization(id, bytes) on
 *   the new one, after which "queries requiring authorization can be executed in the new DC".
 *   The switch now does this when the current key is signed in; a key that is not (a sign-in
 *   moved by PHONE_MIGRATE_X, a QR login) is refused the export and switches as before.
 */
import { Api, TelegramClient } from 'teleproto';
import { MessagePacker } from 'teleproto/extensions/index.js';
import { MTProtoSender } from 'teleproto/network/index.js';

type InnerMessage = unknown;
interface SenderInternals {
  _processMessage(message: InnerMessage): Promise<void>;
  _handleContainer(message: { obj: { messages: InnerMessage[] } }): Promise<void>;
  _teleflowPatched?: boolean;
}

interface QueueInternals {
  _queue: ({ msgId?: unknown } | undefined)[];
  append(state: undefined): void;
  clear(): void;
}

interface ClientInternals {
  _switchDC(dcId: number): Promise<boolean>;
  _sender?: { send(request: Api.AnyRequest): Promise<unknown> };
  session: { _key?: Buffer };
  invoke<R extends Api.AnyRequest>(request: R): Promise<R['__response']>;
}

/** How long the export before a DC switch may take before the switch goes on without it. */
const EXPORT_TIMEOUT_MS = 10_000;

export function applyTeleprotoPatches(): void {
  const proto = MTProtoSender.prototype as unknown as SenderInternals;
  if (proto._teleflowPatched) return;
  proto._handleContainer = async function handleContainer(this: SenderInternals, message) {
    let first: unknown;
    for (const inner of message.obj.messages) {
      try {
        await this._processMessage(inner);
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  };
  (MessagePacker.prototype as unknown as QueueInternals).clear = function clear(this: QueueInternals) {
    this._queue = this._queue.filter((state) => state !== undefined && state.msgId === undefined);
    // What the original does: an empty entry wakes the send loop.
    this.append(undefined);
  };
  const client = TelegramClient.prototype as unknown as ClientInternals;
  const switchDC = client._switchDC;
  client._switchDC = async function switchDCKeepingAuthorization(this: ClientInternals, dcId: number) {
    const handover = await exportAuthorization(this, dcId);
    // The reconnect below would reload this key from the session string (see above).
    this.session._key = undefined;
    const connected = await switchDC.call(this, dcId);
    if (connected && handover) await this.invoke(new Api.auth.ImportAuthorization(handover));
    return connected;
  };
  proto._teleflowPatched = true;
}

/**
 * The signed-in account's authorization for `dcId`, exported on the current DC; undefined when
 * the current key is not signed in (Telegram answers 401) or the DC does not answer in time.
 */
async function exportAuthorization(
  client: ClientInternals,
  dcId: number,
): Promise<{ id: Api.long; bytes: Buffer } | undefined> {
  const sender = client._sender;
  if (!sender) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const exported = (await Promise.race([
      sender.send(new Api.auth.ExportAuthorization({ dcId })),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('auth.exportAuthorization timed out')), EXPORT_TIMEOUT_MS);
      }),
    ])) as Api.auth.ExportedAuthorization;
    return { id: exported.id, bytes: exported.bytes };
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
