/**
 * Fixes applied to the pinned client library (teleproto 214.1.7) before any client is made.
 *
 * Container answers: the library handles an rpc_result carrying an error by rejecting the call
 * and then rethrowing, which aborts `_handleContainer` halfway: every other answer packed in the
 * same msg_container is dropped and those calls hang until their timeout. Telegram packs answers
 * that are ready together, so concurrent calls where one fails lose the others. Each inner
 * message is handled on its own here; the first error is rethrown afterwards so the receive
 * loop still sees it (it reacts to AUTH_KEY_UNREGISTERED).
 */
import { MTProtoSender } from 'teleproto/network/index.js';

type InnerMessage = unknown;
interface SenderInternals {
  _processMessage(message: InnerMessage): Promise<void>;
  _handleContainer(message: { obj: { messages: InnerMessage[] } }): Promise<void>;
  _teleflowPatched?: boolean;
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
  proto._teleflowPatched = true;
}
