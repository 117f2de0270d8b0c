/**
 * Privacy settings (https://core.telegram.org/api/privacy): `account.setPrivacy` /
 * `account.getPrivacy` with rules per key. The sandbox keeps the key that decides who may add
 * the user to groups and channels, `inputPrivacyKeyChatInvite`, and enforces it where Telegram
 * does: `messages.createChat`, `messages.addChatUser` and `channels.inviteToChannel`. Current
 * layers do not fail such an invitation: the user is left out and named in the answer's
 * `messages.invitedUsers.missing_invitees` (core.telegram.org/constructor/missingInvitee: with
 * neither flag set, "we could not add the user because of their privacy settings").
 * Changing a setting pushes `updatePrivacy` to the account's other sessions.
 */
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { PrivacyRuleRecord } from './state.js';
import { UNSUPPORTED_METHOD_ERROR, long, now } from './tl.js';
import type { WorldContext } from './context.js';
import { getUser } from './lookups.js';
import { pushTo } from './updates.js';
import { collectEntities } from './entities.js';

/** The privacy keys the sandbox keeps; any other answers METHOD_NOT_SUPPORTED_BY_SANDBOX. */
export type PrivacyKeyName = 'chatInvite';

/** The control API's shorthand for the usual choices of the apps ("Everybody", ...). */
export type PrivacyChoice = 'everybody' | 'contacts' | 'nobody';

export function privacyKeyName(key: Api.TypeInputPrivacyKey): PrivacyKeyName {
  if (key instanceof Api.InputPrivacyKeyChatInvite) return 'chatInvite';
  throw new RpcError(400, UNSUPPORTED_METHOD_ERROR);
}

function ruleFromInput(
  rule: Api.TypeInputPrivacyRule,
  resolve: (u: Api.TypeInputUser) => number,
): PrivacyRuleRecord {
  if (rule instanceof Api.InputPrivacyValueAllowAll) return { kind: 'allowAll' };
  if (rule instanceof Api.InputPrivacyValueAllowContacts) return { kind: 'allowContacts' };
  if (rule instanceof Api.InputPrivacyValueDisallowAll) return { kind: 'disallowAll' };
  if (rule instanceof Api.InputPrivacyValueDisallowContacts) return { kind: 'disallowContacts' };
  if (rule instanceof Api.InputPrivacyValueAllowUsers)
    return { kind: 'allowUsers', ids: rule.users.map(resolve) };
  if (rule instanceof Api.InputPrivacyValueDisallowUsers)
    return { kind: 'disallowUsers', ids: rule.users.map(resolve) };
  if (rule instanceof Api.InputPrivacyValueAllowChatParticipants)
    return { kind: 'allowChatParticipants', ids: rule.chats.map((id) => Number(id.toString())) };
  if (rule instanceof Api.InputPrivacyValueDisallowChatParticipants)
    return { kind: 'disallowChatParticipants', ids: rule.chats.map((id) => Number(id.toString())) };
  throw new RpcError(400, UNSUPPORTED_METHOD_ERROR);
}

function apiRule(rule: PrivacyRuleRecord): Api.TypePrivacyRule {
  const ids = (rule.ids ?? []).map((id) => long(id));
  switch (rule.kind) {
    case 'allowAll':
      return new Api.PrivacyValueAllowAll();
    case 'allowContacts':
      return new Api.PrivacyValueAllowContacts();
    case 'disallowAll':
      return new Api.PrivacyValueDisallowAll();
    case 'disallowContacts':
      return new Api.PrivacyValueDisallowContacts();
    case 'allowUsers':
      return new Api.PrivacyValueAllowUsers({ users: ids });
    case 'disallowUsers':
      return new Api.PrivacyValueDisallowUsers({ users: ids });
    case 'allowChatParticipants':
      return new Api.PrivacyValueAllowChatParticipants({ chats: ids });
    case 'disallowChatParticipants':
      return new Api.PrivacyValueDisallowChatParticipants({ chats: ids });
  }
}

/** Telegram's default for invitations is "Everybody". */
function rulesOf(ctx: WorldContext, userId: number, key: PrivacyKeyName): PrivacyRuleRecord[] {
  return getUser(ctx, userId).privacy?.[key] ?? [{ kind: 'allowAll' }];
}

function privacyRules(ctx: WorldContext, userId: number, key: PrivacyKeyName): Api.account.PrivacyRules {
  const rules = rulesOf(ctx, userId, key);
  const entities = collectEntities(ctx, userId);
  for (const rule of rules)
    if (rule.kind.endsWith('Users')) for (const id of rule.ids ?? []) entities.addUser(id);
  const { users, chats } = entities.build();
  return new Api.account.PrivacyRules({ rules: rules.map(apiRule), users, chats });
}

export function getPrivacy(
  ctx: WorldContext,
  userId: number,
  key: Api.TypeInputPrivacyKey,
): Api.account.PrivacyRules {
  return privacyRules(ctx, userId, privacyKeyName(key));
}

/** account.setPrivacy: stores the rules and tells the account's other sessions (updatePrivacy). */
export function setPrivacy(
  ctx: WorldContext,
  userId: number,
  key: Api.TypeInputPrivacyKey,
  rules: Api.TypeInputPrivacyRule[],
  resolveUser: (input: Api.TypeInputUser) => number,
  originKey?: bigint,
): Api.account.PrivacyRules {
  const name = privacyKeyName(key);
  storeRules(
    ctx,
    userId,
    name,
    rules.map((rule) => ruleFromInput(rule, resolveUser)),
  );
  const answer = privacyRules(ctx, userId, name);
  pushTo(
    ctx,
    userId,
    new Api.Updates({
      updates: [new Api.UpdatePrivacy({ key: new Api.PrivacyKeyChatInvite(), rules: answer.rules })],
      users: answer.users,
      chats: answer.chats,
      date: now(),
      seq: 0,
    }),
    originKey,
  );
  return answer;
}

/** The control API's shorthand: who may add this user to groups and channels. */
export function setInvitePrivacy(ctx: WorldContext, userId: number, choice: PrivacyChoice): void {
  const kind = choice === 'everybody' ? 'allowAll' : choice === 'contacts' ? 'allowContacts' : 'disallowAll';
  storeRules(ctx, userId, 'chatInvite', [{ kind }]);
}

export function invitePrivacyChoice(ctx: WorldContext, userId: number): PrivacyChoice | 'custom' {
  const rules = rulesOf(ctx, userId, 'chatInvite');
  if (rules.length !== 1) return 'custom';
  const kind = rules[0]!.kind;
  return kind === 'allowAll'
    ? 'everybody'
    : kind === 'allowContacts'
      ? 'contacts'
      : kind === 'disallowAll'
        ? 'nobody'
        : 'custom';
}

function storeRules(
  ctx: WorldContext,
  userId: number,
  key: PrivacyKeyName,
  rules: PrivacyRuleRecord[],
): void {
  const user = getUser(ctx, userId);
  user.privacy = { ...user.privacy, [key]: rules };
  ctx.changed();
}

/**
 * Whether `inviterId` may add `inviteeId` to a group or channel. Exceptions for named users
 * and chats' members decide first (a "never" exception before an "always" one), then the base
 * rule: everybody, the invitee's contacts, or nobody.
 */
export function mayInvite(ctx: WorldContext, inviterId: number, inviteeId: number): boolean {
  if (inviterId === inviteeId) return true;
  const rules = rulesOf(ctx, inviteeId, 'chatInvite');
  const inChats = (ids: number[] = []) =>
    ids.some(
      (id) =>
        ctx.state.chats[id]?.participants.some((p) => p.userId === inviterId) ||
        (ctx.state.channels[id]?.participants[inviterId] &&
          !ctx.state.channels[id]!.participants[inviterId]!.left &&
          !ctx.state.channels[id]!.participants[inviterId]!.banned),
    );
  const matches = (rule: PrivacyRuleRecord): boolean =>
    rule.kind.endsWith('Users') ? (rule.ids ?? []).includes(inviterId) : inChats(rule.ids);
  const exceptions = rules.filter((r) => r.kind.endsWith('Users') || r.kind.endsWith('ChatParticipants'));
  if (exceptions.some((r) => r.kind.startsWith('disallow') && matches(r))) return false;
  if (exceptions.some((r) => r.kind.startsWith('allow') && matches(r))) return true;
  const isContact = getUser(ctx, inviteeId).contacts.includes(inviterId);
  for (const rule of rules) {
    if (rule.kind === 'allowAll') return true;
    if (rule.kind === 'disallowAll') return false;
    if (rule.kind === 'allowContacts' && isContact) return true;
    if (rule.kind === 'disallowContacts' && isContact) return false;
  }
  return false;
}

/** Splits invitees into those the inviter may add and Telegram's missing_invitees for the rest. */
export function checkInvitees(
  ctx: WorldContext,
  inviterId: number,
  inviteeIds: number[],
): { allowed: number[]; missing: Api.MissingInvitee[] } {
  const allowed: number[] = [];
  const missing: Api.MissingInvitee[] = [];
  for (const id of inviteeIds) {
    if (mayInvite(ctx, inviterId, id)) allowed.push(id);
    else missing.push(new Api.MissingInvitee({ userId: long(id) }));
  }
  return { allowed, missing };
}
