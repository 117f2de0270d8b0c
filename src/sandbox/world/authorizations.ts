/**
 * Auth keys and authorizations: which key is signed in as whom, listing them, and signing
 * them out (auth.logOut, revocations, account.resetAuthorization).
 */
import { Api } from 'teleproto';
import { randomBytes } from 'node:crypto';
import { RpcError } from '../contract.js';
import type { AuthKeyStore } from '../contract.js';
import type { AuthorizationRecord } from './state.js';
import { long, now } from './tl.js';
import type { WorldContext } from './context.js';
import { dcOfKey } from './data-centres.js';

export function bindKey(ctx: WorldContext, userId: number, keyId: string): void {
  let keys = ctx.userKeys.get(userId);
  if (!keys) ctx.userKeys.set(userId, (keys = new Set()));
  keys.add(keyId);
}

/** The signed-in user of an auth key, if any. */
export function userIdForKey(ctx: WorldContext, keyId: bigint): number | undefined {
  return ctx.state.authorizations[keyId.toString()]?.userId;
}

export function keysOf(ctx: WorldContext, userId: number): bigint[] {
  return [...(ctx.userKeys.get(userId) ?? [])].map((key) => BigInt(key));
}

export function authorize(
  ctx: WorldContext,
  keyId: bigint,
  userId: number,
  extra: Partial<AuthorizationRecord> = {},
): void {
  const id = keyId.toString();
  const previous = ctx.state.authorizations[id];
  if (previous?.userId && previous.userId !== userId) ctx.userKeys.get(previous.userId)?.delete(id);
  ctx.state.authorizations[id] = {
    keyId: id,
    userId,
    createdAt: now(),
    hash: randomBytes(8).readBigInt64LE().toString(),
    ...extra,
  };
  bindKey(ctx, userId, id);
  ctx.changed();
}

/** auth.logOut or a revoke: the key loses its user now and is forgotten shortly after, so the
 * answer to the logOut call itself can still be encrypted with it. */
export function revokeKey(ctx: WorldContext, keyId: bigint, delayMs = 200): void {
  const id = keyId.toString();
  const auth = ctx.state.authorizations[id];
  if (auth?.userId) ctx.userKeys.get(auth.userId)?.delete(id);
  delete ctx.state.authorizations[id];
  ctx.changed();
  const forget = (): void => {
    deleteAuthKey(ctx, keyId);
    ctx.sink?.drop([keyId]);
  };
  if (delayMs <= 0) forget();
  else setTimeout(forget, delayMs).unref();
}

/**
 * A session terminated from elsewhere (another device, "terminate all sessions"): Telegram keeps
 * the key but answers its next call with 401 SESSION_REVOKED (core.telegram.org/api/errors,
 * 401 UNAUTHORIZED); the connection stays open.
 */
export function terminateKey(ctx: WorldContext, keyId: bigint): void {
  const id = keyId.toString();
  const auth = ctx.state.authorizations[id];
  if (!auth) return;
  if (auth.userId) ctx.userKeys.get(auth.userId)?.delete(id);
  ctx.state.authorizations[id] = { keyId: id, createdAt: auth.createdAt, hash: auth.hash, revoked: true };
  ctx.changed();
}

/** Whether a key's authorization was terminated from elsewhere (its calls: SESSION_REVOKED). */
export function keyRevoked(ctx: WorldContext, keyId: bigint): boolean {
  return ctx.state.authorizations[keyId.toString()]?.revoked === true;
}

/**
 * AUTH_KEY_DUPLICATED: Telegram invalidates an auth key used concurrently from two different IP
 * addresses (core.telegram.org/api/errors, 406 NOT_ACCEPTABLE; Telethon: "The authorization key
 * (session file) was used under two different IP addresses simultaneously, and can no longer be
 * used"). The call that finds the key in use elsewhere and every later call on the key, from any
 * address, answer 406 AUTH_KEY_DUPLICATED; the account is unbound and must sign in again.
 */
export function checkKeyDuplicated(ctx: WorldContext, keyId: bigint, inUseElsewhere: boolean): void {
  if (!ctx.options.authKeyDuplicated) return;
  const id = keyId.toString();
  const auth = ctx.state.authorizations[id];
  if (!auth?.duplicated) {
    if (!inUseElsewhere) return;
    if (auth?.userId) ctx.userKeys.get(auth.userId)?.delete(id);
    ctx.state.authorizations[id] = {
      keyId: id,
      createdAt: auth?.createdAt ?? now(),
      hash: auth?.hash ?? randomBytes(8).readBigInt64LE().toString(),
      duplicated: true,
    };
    ctx.changed();
  }
  throw new RpcError(406, 'AUTH_KEY_DUPLICATED');
}

/** Terminates every authorization of a user (control API: as if from another device). */
export function revokeUser(ctx: WorldContext, userId: number): number {
  const keys = keysOf(ctx, userId);
  for (const key of keys) terminateKey(ctx, key);
  return keys.length;
}

export function authorizationsOf(
  ctx: WorldContext,
  userId: number,
  currentKey?: bigint,
): Api.Authorization[] {
  return keysOf(ctx, userId).map((key) => {
    const auth = ctx.state.authorizations[key.toString()];
    return new Api.Authorization({
      current: key === currentKey,
      hash: long(key === currentKey ? 0 : auth.hash),
      deviceModel: auth.deviceModel ?? 'unknown',
      platform: 'sandbox',
      systemVersion: '1',
      apiId: auth.apiId ?? 0,
      appName: 'sandbox',
      appVersion: '1',
      dateCreated: auth.createdAt,
      dateActive: auth.createdAt,
      ip: '127.0.0.1',
      country: '',
      region: '',
    });
  });
}

/** account.resetAuthorization by hash (0 is never another session's hash). */
export function resetAuthorization(ctx: WorldContext, userId: number, hash: string): boolean {
  const key = keysOf(ctx, userId).find((k) => ctx.state.authorizations[k.toString()]?.hash === hash);
  if (!key || hash === '0') throw new RpcError(400, 'HASH_INVALID');
  terminateKey(ctx, key);
  return true;
}

/**
 * The AuthKeyStore of one DC's listener; keys persist with the world. A key belongs to the DC
 * it was created on: another DC does not know it and answers -404
 * (https://core.telegram.org/api/datacenter: "authorization keys are per DC").
 */
export function createAuthKeyStore(ctx: WorldContext, dcId: number): AuthKeyStore {
  return {
    get: (id) => {
      const hex = ctx.state.authKeys[id.toString()];
      if (hex === undefined || dcOfKey(ctx, id) !== dcId) return undefined;
      return Buffer.from(hex, 'hex');
    },
    put: (id, key) => {
      ctx.state.authKeys[id.toString()] = key.toString('hex');
      (ctx.state.authKeyDcs ??= {})[id.toString()] = dcId;
      ctx.changed();
    },
    delete: (id) => {
      if (dcOfKey(ctx, id) === dcId) deleteAuthKey(ctx, id);
    },
  };
}

export function deleteAuthKey(ctx: WorldContext, id: bigint): void {
  delete ctx.state.authKeys[id.toString()];
  if (ctx.state.authKeyDcs) delete ctx.state.authKeyDcs[id.toString()];
  ctx.changed();
}
