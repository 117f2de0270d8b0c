/**
 * MTProto service messages that the server answers itself, never the world: ping/pong,
 * ping_delay_disconnect, get_future_salts, destroy_session, msgs_state_req, msg_resend_req and
 * rpc_drop_answer (core.telegram.org/mtproto/service_messages).
 */
import type { Logger } from 'pino';
import { Api } from 'teleproto';
import type { ClientConnection } from './connection.js';
import type { RpcInvoker } from './rpc-invocation.js';
import { SALT_PERIOD_SECONDS } from './salts.js';
import type { ServerSalts } from './salts.js';
import type { SessionLayer, SessionState } from './session-layer.js';
import { CONSTRUCTORS, TlWriter, toBigInt } from './tl.js';

export class ServiceMessages {
  constructor(
    private readonly deps: {
      salts: ServerSalts;
      sessions: SessionLayer;
      rpc: RpcInvoker;
      /** Milliseconds added to a ping_delay_disconnect's disconnect_delay before the connection is closed. */
      pingDisconnectGrace?: number;
    },
  ) {}

  /** Answers `object` when it is a service message; false when it is not one. */
  handle(
    connection: ClientConnection,
    session: SessionState,
    msgId: bigint,
    object: unknown,
    log: Logger,
  ): boolean {
    if (object instanceof Api.Ping || object instanceof Api.PingDelayDisconnect) {
      const pong = new TlWriter()
        .uint(CONSTRUCTORS.pong)
        .long(msgId)
        .long(toBigInt(object.pingId))
        .getBytes();
      connection.queue(session, { body: pong, contentRelated: true, kind: 1 });
      if (object instanceof Api.PingDelayDisconnect)
        this.armDisconnectTimer(connection, object.disconnectDelay, log);
      return true;
    }
    if (object instanceof Api.GetFutureSalts) {
      connection.queue(session, {
        body: this.futureSalts(session.authKeyId, msgId, object.num),
        contentRelated: true,
        kind: 1,
      });
      return true;
    }
    if (object instanceof Api.DestroySession) {
      const target = toBigInt(object.sessionId);
      const existed = target !== session.sessionId && this.deps.sessions.forget(session.authKeyId, target);
      const result = new TlWriter()
        .uint(existed ? CONSTRUCTORS.destroySessionOk : CONSTRUCTORS.destroySessionNone)
        .long(target)
        .getBytes();
      this.deps.rpc.sendRpcResult(connection, session, msgId, result);
      return true;
    }
    if (object instanceof Api.MsgsStateReq) {
      this.sendStateInfo(connection, session, msgId, object.msgIds.map(toBigInt));
      return true;
    }
    if (object instanceof Api.MsgResendReq) {
      // Answers are not kept, so resending is impossible; report what is known instead.
      this.sendStateInfo(connection, session, msgId, object.msgIds.map(toBigInt));
      return true;
    }
    if (object instanceof Api.RpcDropAnswer) {
      const result = new TlWriter().uint(CONSTRUCTORS.rpcAnswerUnknown).getBytes();
      this.deps.rpc.sendRpcResult(connection, session, msgId, result);
      return true;
    }
    return false;
  }

  private sendStateInfo(
    connection: ClientConnection,
    session: SessionState,
    reqMsgId: bigint,
    msgIds: bigint[],
  ): void {
    // 1: nothing known, 4: received (core.telegram.org/mtproto/service_messages_about_messages).
    const info = Buffer.from(msgIds.map((id) => (session.recentMsgIds.has(id) ? 4 : 1)));
    const body = new TlWriter().uint(CONSTRUCTORS.msgsStateInfo).long(reqMsgId).bytes(info).getBytes();
    connection.queue(session, { body, contentRelated: true, kind: 1 });
  }

  private futureSalts(authKeyId: bigint, reqMsgId: bigint, requested: number): Buffer {
    const count = Math.max(1, Math.min(64, requested));
    const now = Math.floor(Date.now() / 1000);
    const period = Math.floor(now / SALT_PERIOD_SECONDS);
    const writer = new TlWriter().uint(CONSTRUCTORS.futureSalts).long(reqMsgId).int(now).int(count);
    for (let i = 0; i < count; i++) {
      const since = (period + i) * SALT_PERIOD_SECONDS;
      // Bare vector<future_salt>: no constructor id on the elements.
      writer
        .int(since)
        .int(since + 2 * SALT_PERIOD_SECONDS)
        .raw(this.deps.salts.saltFor(authKeyId, period + i));
    }
    return writer.getBytes();
  }

  private armDisconnectTimer(connection: ClientConnection, delaySeconds: number, log: Logger): void {
    clearTimeout(connection.disconnectTimer);
    const ms = delaySeconds * 1000 + (this.deps.pingDisconnectGrace ?? 0);
    // Timers cap at 2^31-1 ms; a longer delay simply never fires.
    if (ms > 2 ** 31 - 1) return;
    connection.disconnectTimer = setTimeout(() => {
      log.debug({ delaySeconds }, 'no ping within disconnect_delay, closing');
      connection.close();
    }, ms);
    connection.disconnectTimer.unref();
  }
}
