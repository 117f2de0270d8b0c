/**
 * Accounts: creating users, passwords, profiles (names, usernames), online status and
 * contacts, and pushing name/status changes to the users who see them.
 */
import { Api } from 'teleproto';
import { randomBytes } from 'node:crypto';
import { RpcError } from '../contract.js';
import { createPasswordRecord } from './srp.js';
import type { PeerKey, UserRecord } from './state.js';
import { long, now, peerKey } from './tl.js';
import type { WorldContext } from './context.js';
import { channelByUsername, getUser, normalizePhone, userByPhone, userByUsername } from './lookups.js';
import { apiStatus, apiUser } from './views.js';
import { pushTo } from './updates.js';
import { DEFAULT_HOME_DC, isDcId } from './data-centres.js';

export function checkUsernameFree(ctx: WorldContext, username: string, self?: PeerKey): void {
  if (!/^[a-zA-Z][a-zA-Z0-9_]{3,31}$/.test(username)) throw new RpcError(400, 'USERNAME_INVALID');
  const user = userByUsername(ctx, username);
  const channel = channelByUsername(ctx, username);
  if ((user && self !== peerKey('u', user.id)) || (channel && self !== peerKey('h', channel.id))) {
    throw new RpcError(400, 'USERNAME_OCCUPIED');
  }
}

export function createUser(
  ctx: WorldContext,
  input: {
    phone: string;
    firstName?: string;
    lastName?: string;
    username?: string;
    password?: string;
    /** Home data centre; DC 2 when omitted (see data-centres.ts). */
    dc?: number;
  },
): UserRecord {
  const phone = normalizePhone(input.phone);
  if (input.dc !== undefined && !isDcId(input.dc)) throw new RpcError(400, 'DC_ID_INVALID');
  if (!/^\d{5,15}$/.test(phone)) throw new RpcError(400, 'PHONE_NUMBER_INVALID');
  if (userByPhone(ctx, phone)) throw new RpcError(400, 'PHONE_NUMBER_OCCUPIED');
  if (input.username) checkUsernameFree(ctx, input.username);
  const id = ctx.state.nextUserId++;
  const user: UserRecord = {
    id,
    accessHash: (randomBytes(8).readBigUInt64LE() >> 1n).toString(),
    phone,
    firstName: input.firstName ?? 'User',
    lastName: input.lastName ?? '',
    ...(input.username ? { username: input.username } : {}),
    onlineUntil: 0,
    lastSeen: now(),
    contacts: [],
    createdAt: now(),
    dc: input.dc ?? DEFAULT_HOME_DC,
  };
  if (input.password) user.password = createPasswordRecord(input.password);
  ctx.state.users[id] = user;
  ctx.state.boxes[id] = {
    userId: id,
    pts: 1,
    seq: 0,
    date: now(),
    nextMessageId: 1,
    logStartPts: 1,
    log: [],
    messages: {},
    dialogs: {},
  };
  ctx.changed();
  return user;
}

export function setPassword(ctx: WorldContext, userId: number, password: string | null, hint?: string): void {
  const user = getUser(ctx, userId);
  if (password) user.password = createPasswordRecord(password, hint);
  else delete user.password;
  ctx.changed();
}

export function updateProfile(
  ctx: WorldContext,
  userId: number,
  input: { firstName?: string; lastName?: string; username?: string | null },
): UserRecord {
  const user = getUser(ctx, userId);
  if (input.username !== undefined) {
    if (input.username === null || input.username === '') delete user.username;
    else {
      checkUsernameFree(ctx, input.username, peerKey('u', userId));
      user.username = input.username;
    }
  }
  if (input.firstName !== undefined) {
    if (!input.firstName.trim()) throw new RpcError(400, 'FIRSTNAME_INVALID');
    user.firstName = input.firstName;
  }
  if (input.lastName !== undefined) user.lastName = input.lastName;
  ctx.changed();
  const update = new Api.UpdateUserName({
    userId: long(userId),
    firstName: user.firstName,
    lastName: user.lastName,
    usernames: user.username
      ? [new Api.Username({ username: user.username, active: true, editable: true })]
      : [],
  });
  for (const viewer of [userId, ...relatedUsers(ctx, userId)]) {
    pushTo(
      ctx,
      viewer,
      new Api.Updates({
        updates: [update],
        users: [apiUser(ctx, viewer, userId)],
        chats: [],
        date: now(),
        seq: 0,
      }),
    );
  }
  return user;
}

export function setOnline(ctx: WorldContext, userId: number, online: boolean): void {
  const user = getUser(ctx, userId);
  const t = now();
  user.onlineUntil = online ? t + 300 : 0;
  user.lastSeen = t;
  ctx.changed();
  const update = new Api.UpdateUserStatus({ userId: long(userId), status: apiStatus(user) });
  for (const viewer of relatedUsers(ctx, userId))
    pushTo(ctx, viewer, new Api.UpdateShort({ update, date: t }));
}

/** Users who see this one's status and name changes: contacts and private-chat partners. */
function relatedUsers(ctx: WorldContext, userId: number): number[] {
  const related = new Set<number>();
  const key = peerKey('u', userId);
  for (const box of Object.values(ctx.state.boxes)) {
    if (box.userId !== userId && box.dialogs[key]) related.add(box.userId);
  }
  for (const user of Object.values(ctx.state.users)) if (user.contacts.includes(userId)) related.add(user.id);
  related.delete(userId);
  return [...related];
}

export function addContact(ctx: WorldContext, userId: number, contactId: number): void {
  const user = getUser(ctx, userId);
  getUser(ctx, contactId);
  if (!user.contacts.includes(contactId)) user.contacts.push(contactId);
  ctx.changed();
}
