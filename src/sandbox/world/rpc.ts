/**
 * The world's RpcDispatcher: one handler per TL method in a table (rpc-*.ts), faults checked
 * first, authorization checked for every method that needs a signed-in account, and unknown
 * methods refused loudly with METHOD_NOT_SUPPORTED_BY_SANDBOX.
 */
import { Api } from 'teleproto';
import type { Logger } from 'pino';
import { RpcError } from '../contract.js';
import type { CallContext, RpcDispatcher, RpcResult } from '../contract.js';
import type { FaultInjector } from './faults.js';
import type { RateLimiter } from './rate-limits.js';
import type { World } from './world.js';
import { UNSUPPORTED_METHOD_ERROR, methodName } from './tl.js';
import { accountHandlers } from './rpc-account.js';
import { messageHandlers } from './rpc-messages.js';
import { chatHandlers } from './rpc-chats.js';
import { mediaHandlers } from './rpc-media.js';

export interface Call {
  ctx: CallContext;
  world: World;
  logger?: Logger;
  /** The signed-in user; handlers in `anonymous` tables may see undefined. */
  userId: number;
}

export type Handler = (call: Call, request: any) => RpcResult | Promise<RpcResult>;

export interface HandlerTable {
  /** Methods that work before sign-in (auth.*, help.getConfig, ...). */
  anonymous?: Record<string, Handler>;
  authorized: Record<string, Handler>;
}

export interface DispatcherOptions {
  world: World;
  faults?: FaultInjector;
  rateLimits?: RateLimiter;
  logger?: Logger;
}

export function createRpcDispatcher({
  world,
  faults,
  rateLimits,
  logger,
}: DispatcherOptions): RpcDispatcher & { methods(): string[] } {
  const anonymous: Record<string, Handler> = {};
  const authorized: Record<string, Handler> = {};
  for (const table of [accountHandlers, messageHandlers, chatHandlers, mediaHandlers]) {
    Object.assign(anonymous, table.anonymous ?? {});
    Object.assign(authorized, table.authorized);
  }
  return {
    methods: () => [...Object.keys(anonymous), ...Object.keys(authorized)].sort(),
    async invoke(ctx, request) {
      const className = (request as { className?: string }).className ?? 'unknown';
      const method = methodName(request);
      world.checkKeyDuplicated(ctx.authKeyId, ctx.keyInUseElsewhere === true);
      const userId = world.userIdForKey(ctx.authKeyId);
      const phone = userId !== undefined ? world.findUser(userId)?.phone : phoneOf(request);
      rateLimits?.check(method, userId);
      faults?.check(method, phone);
      const anonymousHandler = anonymous[className];
      const handler = anonymousHandler ?? authorized[className];
      if (!handler) {
        logger?.warn({ method }, 'sandbox: method not supported');
        throw new RpcError(400, UNSUPPORTED_METHOD_ERROR);
      }
      if (!anonymousHandler && userId === undefined)
        throw new RpcError(
          401,
          world.keyRevoked(ctx.authKeyId) ? 'SESSION_REVOKED' : 'AUTH_KEY_UNREGISTERED',
        );
      world.checkDataCentre(ctx.dcId, className, request, userId);
      return handler({ ctx, world, logger, userId: userId ?? 0 }, request);
    },
  };
}

function phoneOf(request: unknown): string | undefined {
  const phone = (request as { phoneNumber?: unknown }).phoneNumber;
  return typeof phone === 'string' ? phone.replace(/[^\d]/g, '') : undefined;
}

export { Api, UNSUPPORTED_METHOD_ERROR };
