/**
 * Signing in: login codes, sign-up, the SRP 2FA check and QR login tokens.
 */
import { Api } from 'teleproto';
import { randomBytes, randomInt } from 'node:crypto';
import { RpcError } from '../contract.js';
import { SRP_PRIME, createChallenge, verifyProof } from './srp.js';
import type { UserRecord } from './state.js';
import { long, now } from './tl.js';
import type { WorldContext } from './context.js';
import { getUser, normalizePhone, userByPhone } from './lookups.js';
import { authorize } from './authorizations.js';
import { createUser } from './accounts.js';
import { apiUser } from './views.js';
import { homeDcOf } from './data-centres.js';

/** auth.sendCode: phones 99966XYYYY get XXXXX (Telegram's test-DC rule), others a random code. */
export function sendCode(
  ctx: WorldContext,
  phoneInput: string,
): { hash: string; code: string; registered: boolean } {
  const phone = normalizePhone(phoneInput);
  if (!/^\d{5,15}$/.test(phone)) throw new RpcError(400, 'PHONE_NUMBER_INVALID');
  const code = /^99966\d{5}$/.test(phone) ? phone[5].repeat(5) : String(randomInt(10000, 100000));
  const hash = randomBytes(9).toString('hex');
  ctx.codes.set(phone, { code, hash, expiresAt: Date.now() + ctx.options.codeTtlSeconds * 1000 });
  ctx.options.logger?.info({ phone }, 'sandbox: login code sent');
  return { hash, code, registered: userByPhone(ctx, phone) !== undefined };
}

export function lastCode(ctx: WorldContext, phone: string): string | undefined {
  return ctx.codes.get(normalizePhone(phone))?.code;
}

function checkCode(ctx: WorldContext, phoneInput: string, hash: string, code?: string): string {
  const phone = normalizePhone(phoneInput);
  const sent = ctx.codes.get(phone);
  if (!sent || sent.hash !== hash) throw new RpcError(400, 'PHONE_CODE_EXPIRED');
  if (Date.now() > sent.expiresAt) throw new RpcError(400, 'PHONE_CODE_EXPIRED');
  if (code === undefined || code === null || code === '') throw new RpcError(400, 'PHONE_CODE_EMPTY');
  if (code !== sent.code) throw new RpcError(400, 'PHONE_CODE_INVALID');
  return phone;
}

export function signIn(
  ctx: WorldContext,
  keyId: bigint,
  phoneInput: string,
  hash: string,
  code?: string,
): Api.auth.TypeAuthorization {
  const phone = checkCode(ctx, phoneInput, hash, code);
  const user = userByPhone(ctx, phone);
  if (!user) return new Api.auth.AuthorizationSignUpRequired({});
  ctx.codes.delete(phone);
  return completeSignIn(ctx, keyId, user);
}

export function signUp(
  ctx: WorldContext,
  keyId: bigint,
  phoneInput: string,
  hash: string,
  firstName: string,
  lastName: string,
): Api.auth.TypeAuthorization {
  const phone = normalizePhone(phoneInput);
  const sent = ctx.codes.get(phone);
  if (!sent || sent.hash !== hash || Date.now() > sent.expiresAt)
    throw new RpcError(400, 'PHONE_CODE_EXPIRED');
  if (userByPhone(ctx, phone)) throw new RpcError(400, 'PHONE_NUMBER_OCCUPIED');
  if (!firstName.trim()) throw new RpcError(400, 'FIRSTNAME_INVALID');
  ctx.codes.delete(phone);
  const user = createUser(ctx, { phone, firstName, lastName });
  return completeSignIn(ctx, keyId, user);
}

function completeSignIn(ctx: WorldContext, keyId: bigint, user: UserRecord): Api.auth.Authorization {
  if (user.password) {
    const id = keyId.toString();
    ctx.state.authorizations[id] = {
      ...(ctx.state.authorizations[id] ?? { keyId: id, createdAt: now(), hash: '0' }),
      pendingUserId: user.id,
    };
    ctx.changed();
    throw new RpcError(401, 'SESSION_PASSWORD_NEEDED');
  }
  authorize(ctx, keyId, user.id);
  return new Api.auth.Authorization({ user: apiUser(ctx, user.id, user.id) });
}

export function getPassword(ctx: WorldContext, keyId: bigint): Api.account.Password {
  const auth = ctx.state.authorizations[keyId.toString()];
  const userId = auth?.userId ?? auth?.pendingUserId;
  const user = userId ? getUser(ctx, userId) : undefined;
  const newAlgo = new Api.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow({
    salt1: randomBytes(8),
    salt2: randomBytes(16),
    g: 3,
    p: SRP_PRIME,
  });
  const common = {
    newAlgo,
    newSecureAlgo: new Api.SecurePasswordKdfAlgoSHA512({ salt: randomBytes(8) }),
    secureRandom: randomBytes(32),
  };
  if (!user?.password) return new Api.account.Password({ hasPassword: false, ...common });
  const challenge = createChallenge(user.password);
  ctx.challenges.set(challenge.srpId.toString(), { userId: user.id, challenge });
  return new Api.account.Password({
    hasPassword: true,
    currentAlgo: new Api.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow({
      salt1: Buffer.from(user.password.salt1, 'hex'),
      salt2: Buffer.from(user.password.salt2, 'hex'),
      g: 3,
      p: SRP_PRIME,
    }),
    srp_B: challenge.B,
    srpId: long(challenge.srpId),
    ...(user.password.hint ? { hint: user.password.hint } : {}),
    ...common,
  });
}

export function checkPassword(
  ctx: WorldContext,
  keyId: bigint,
  srpId: bigint,
  A: Buffer,
  M1: Buffer,
): Api.auth.Authorization {
  const pending = ctx.challenges.get(srpId.toString());
  if (!pending) throw new RpcError(400, 'SRP_ID_INVALID');
  const auth = ctx.state.authorizations[keyId.toString()];
  if (auth?.pendingUserId !== pending.userId && auth?.userId !== pending.userId)
    throw new RpcError(400, 'SRP_ID_INVALID');
  const user = getUser(ctx, pending.userId);
  if (!user.password) throw new RpcError(400, 'PASSWORD_HASH_INVALID');
  if (!verifyProof(user.password, pending.challenge, A, M1)) throw new RpcError(400, 'PASSWORD_HASH_INVALID');
  ctx.challenges.delete(srpId.toString());
  authorize(ctx, keyId, user.id);
  return new Api.auth.Authorization({ user: apiUser(ctx, user.id, user.id) });
}

/**
 * auth.exportLoginToken (https://core.telegram.org/api/qr-login): a new token, or, once another
 * app accepted the last one, the authorization; when the accepting account lives on another DC
 * than the one asked (`dcId`), auth.loginTokenMigrateTo: the client must call
 * auth.importLoginToken with that token on that DC.
 */
export function exportLoginToken(ctx: WorldContext, keyId: bigint, dcId?: number): Api.auth.TypeLoginToken {
  const id = keyId.toString();
  for (const [token, entry] of ctx.loginTokens) {
    if (entry.keyId === id && entry.acceptedBy !== undefined) {
      const home = homeDcOf(ctx, entry.acceptedBy);
      if (dcId !== undefined && home !== dcId)
        return new Api.auth.LoginTokenMigrateTo({ dcId: home, token: Buffer.from(token, 'hex') });
      ctx.loginTokens.delete(token);
      return new Api.auth.LoginTokenSuccess({
        authorization: completeSignIn(ctx, keyId, getUser(ctx, entry.acceptedBy)),
      });
    }
  }
  for (const [token, entry] of ctx.loginTokens) {
    if (entry.keyId === id || entry.expiresAt < Date.now()) ctx.loginTokens.delete(token);
  }
  const token = randomBytes(32);
  const expiresAt = Date.now() + ctx.options.loginTokenTtlSeconds * 1000;
  ctx.loginTokens.set(token.toString('hex'), { keyId: id, expiresAt });
  return new Api.auth.LoginToken({ token, expires: Math.floor(expiresAt / 1000) });
}

/** auth.importLoginToken: the redirected token of auth.loginTokenMigrateTo, on the account's DC. */
export function importLoginToken(
  ctx: WorldContext,
  keyId: bigint,
  token: Buffer,
  dcId?: number,
): Api.auth.TypeLoginToken {
  const entry = ctx.loginTokens.get(token.toString('hex'));
  if (!entry || entry.expiresAt < Date.now()) throw new RpcError(400, 'AUTH_TOKEN_EXPIRED');
  if (entry.acceptedBy === undefined)
    return new Api.auth.LoginToken({ token, expires: Math.floor(entry.expiresAt / 1000) });
  const home = homeDcOf(ctx, entry.acceptedBy);
  if (dcId !== undefined && home !== dcId) return new Api.auth.LoginTokenMigrateTo({ dcId: home, token });
  ctx.loginTokens.delete(token.toString('hex'));
  return new Api.auth.LoginTokenSuccess({
    authorization: completeSignIn(ctx, keyId, getUser(ctx, entry.acceptedBy)),
  });
}

export function acceptLoginToken(ctx: WorldContext, userId: number, token: Buffer): Api.Authorization {
  const entry = ctx.loginTokens.get(token.toString('hex'));
  if (!entry) throw new RpcError(400, 'AUTH_TOKEN_INVALID');
  if (entry.expiresAt < Date.now()) throw new RpcError(400, 'AUTH_TOKEN_EXPIRED');
  if (entry.acceptedBy !== undefined) throw new RpcError(400, 'AUTH_TOKEN_ALREADY_ACCEPTED');
  entry.acceptedBy = userId;
  ctx.sink?.push(
    [BigInt(entry.keyId)],
    new Api.UpdateShort({ update: new Api.UpdateLoginToken(), date: now() }),
  );
  return new Api.Authorization({
    hash: long(0),
    deviceModel: 'TeleFlow sandbox',
    platform: 'sandbox',
    systemVersion: '1',
    apiId: 0,
    appName: 'sandbox',
    appVersion: '1',
    dateCreated: now(),
    dateActive: now(),
    ip: '127.0.0.1',
    country: '',
    region: '',
  });
}
