/** MTProto message ids: the server's own, and the time window a client's must fall in. */

const MAX_MESSAGE_TIME_PAST = 300;
const MAX_MESSAGE_TIME_FUTURE = 30;

/** bad_msg_notification error codes (core.telegram.org/mtproto/service_messages_about_messages). */
export const BAD_MSG = {
  msgIdTooLow: 16,
  msgIdTooHigh: 17,
  msgIdParity: 18,
  evenSeqNoExpected: 34,
  oddSeqNoExpected: 35,
  badServerSalt: 48,
} as const;

/** The server's msg_ids, one sequence for every connection. */
export class ServerMsgIds {
  private lastMsgId = 0n;

  /** A server msg_id: unixtime << 32 plus a fraction, = kind (mod 4), strictly increasing. */
  nextMsgId(kind: 1 | 3): bigint {
    const now = Date.now();
    const seconds = BigInt(Math.floor(now / 1000));
    const fraction = BigInt(Math.floor(((now % 1000) / 1000) * 2 ** 32)) & ~3n;
    let id = (seconds << 32n) | fraction | BigInt(kind);
    if (id <= this.lastMsgId) id = ((this.lastMsgId >> 2n) + 1n) * 4n + BigInt(kind);
    this.lastMsgId = id;
    return id;
  }
}

/** The bad_msg_notification code for a client's msg_id, or undefined when it is acceptable. */
export function checkMsgId(msgId: bigint): number | undefined {
  if (msgId % 4n !== 0n) return BAD_MSG.msgIdParity;
  const seconds = Number(msgId >> 32n);
  const now = Date.now() / 1000;
  if (seconds < now - MAX_MESSAGE_TIME_PAST) return BAD_MSG.msgIdTooLow;
  if (seconds > now + MAX_MESSAGE_TIME_FUTURE) return BAD_MSG.msgIdTooHigh;
  return undefined;
}
