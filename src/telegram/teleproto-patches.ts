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
 */
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
  proto._teleflowPatched = true;
}
