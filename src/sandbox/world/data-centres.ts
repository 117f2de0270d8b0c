/**
 * Five data centres, as on Telegram (https://core.telegram.org/api/datacenter): every account
 * has a home DC, every auth key belongs to the DC it was created on, and calls made on the
 * wrong DC are answered with the migrate errors the client library follows:
 * - `auth.sendCode` (and the rest of a code sign-in) for a phone homed elsewhere:
 *   303 PHONE_MIGRATE_X;
 * - a call of a signed-in account on a DC other than its home (a key authorized there through
 *   auth.importAuthorization) that must run at home: 303 USER_MIGRATE_X;
 * - `auth.exportAuthorization(dc_id)` at home and `auth.importAuthorization(id, bytes)` on
 *   `dc_id` sign a key of another DC in as the same account (for files, which may live there).
 * QR logins accepted by an account of another DC end in `auth.loginTokenMigrateTo` (sign-in.ts).
 */
import { Api } from 'teleproto';
import { randomBytes } from 'node:crypto';
import { RpcError } from '../contract.js';
import type { WorldContext } from './context.js';
import { normalizePhone, userByPhone } from './lookups.js';
import { authorize } from './authorizations.js';
import { long } from './tl.js';
import { apiUser } from './views.js';

export const DC_IDS = [1, 2, 3, 4, 5] as const;

/**
 * Home of accounts created without a `dc` (control API, sign-up) and of keys and users saved by
 * a sandbox that had one DC: DC 2, where Telegram homes most accounts.
 */
export const DEFAULT_HOME_DC = 2;

export function isDcId(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= DC_IDS.length;
}

export function homeDcOf(ctx: WorldContext, userId: number): number {
  return ctx.state.users[userId]?.dc ?? DEFAULT_HOME_DC;
}

/** Where a phone signs in: its account's home, or DC 2 for a phone with no account yet. */
export function homeDcForPhone(ctx: WorldContext, phone: string): number {
  return userByPhone(ctx, normalizePhone(phone))?.dc ?? DEFAULT_HOME_DC;
}

/** The DC an auth key was created on. */
export function dcOfKey(ctx: WorldContext, keyId: bigint | string): number {
  return ctx.state.authKeyDcs?.[keyId.toString()] ?? DEFAULT_HOME_DC;
}

/** Methods of a code sign-in: answered PHONE_MIGRATE_X away from the phone's home. */
const PHONE_METHODS = new Set(['auth.SendCode', 'auth.ResendCode', 'auth.SignIn', 'auth.SignUp']);

/** Methods a signed-in key may call on any DC; everything else needs the home DC. */
const ANYWHERE_PREFIXES = ['help.', 'upload.', 'auth.'];

/**
 * Throws the migrate error Telegram answers a call made on `dcId` with, if any. Calls that do
 * not come through a DC's port (tests calling the world directly) are never redirected.
 */
export function checkDataCentre(
  ctx: WorldContext,
  dcId: number | undefined,
  className: string,
  request: unknown,
  userId: number | undefined,
): void {
  if (dcId === undefined) return;
  if (PHONE_METHODS.has(className)) {
    const phone = (request as { phoneNumber?: unknown }).phoneNumber;
    if (typeof phone !== 'string') return;
    const home = homeDcForPhone(ctx, phone);
    if (home !== dcId) throw new RpcError(303, `PHONE_MIGRATE_${home}`);
    return;
  }
  if (userId === undefined || ANYWHERE_PREFIXES.some((prefix) => className.startsWith(prefix))) return;
  const home = homeDcOf(ctx, userId);
  if (home !== dcId) throw new RpcError(303, `USER_MIGRATE_${home}`);
}

interface ExportedAuthorization {
  userId: number;
  dcId: number;
  bytes: Buffer;
  expiresAt: number;
}

const exported = new WeakMap<WorldContext, Map<string, ExportedAuthorization>>();

function exportsOf(ctx: WorldContext): Map<string, ExportedAuthorization> {
  let map = exported.get(ctx);
  if (!map) exported.set(ctx, (map = new Map()));
  return map;
}

/** auth.exportAuthorization, called on the account's home DC for another DC. */
export function exportAuthorization(
  ctx: WorldContext,
  userId: number,
  fromDc: number | undefined,
  toDc: number,
): Api.auth.ExportedAuthorization {
  if (!isDcId(toDc) || toDc === fromDc) throw new RpcError(400, 'DC_ID_INVALID');
  const bytes = randomBytes(32);
  const map = exportsOf(ctx);
  for (const [key, entry] of map) if (entry.expiresAt < Date.now()) map.delete(key);
  map.set(bytes.toString('hex'), { userId, dcId: toDc, bytes, expiresAt: Date.now() + 300_000 });
  return new Api.auth.ExportedAuthorization({ id: long(userId), bytes });
}

/** auth.importAuthorization on the DC the authorization was exported for. */
export function importAuthorization(
  ctx: WorldContext,
  keyId: bigint,
  dcId: number | undefined,
  userId: bigint,
  bytes: Buffer,
): Api.auth.Authorization {
  const map = exportsOf(ctx);
  const entry = map.get(bytes.toString('hex'));
  if (
    !entry ||
    entry.expiresAt < Date.now() ||
    BigInt(entry.userId) !== userId ||
    (dcId !== undefined && entry.dcId !== dcId)
  )
    throw new RpcError(400, 'AUTH_BYTES_INVALID');
  map.delete(bytes.toString('hex'));
  authorize(ctx, keyId, entry.userId);
  return new Api.auth.Authorization({ user: apiUser(ctx, entry.userId, entry.userId) });
}
