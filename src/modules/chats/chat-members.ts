/**
 * Adding and removing members of basic groups (messages.addChatUser / messages.deleteChatUser)
 * and supergroups and channels (channels.inviteToChannel / channels.editBanned).
 *
 * Each user is added with a call of its own, so one refusal does not cost the others. Telegram
 * refuses one invitee with an error of that user (USER_ALREADY_PARTICIPANT, USER_KICKED,
 * USER_NOT_MUTUAL_CONTACT, ...), or, on current layers, leaves out a user whose privacy
 * settings forbid being added and names them in `messages.invitedUsers.missing_invitees`
 * (core.telegram.org/constructor/missingInvitee, /api/privacy): TeleFlow reports that one as
 * refused with USER_PRIVACY_RESTRICTED, the name older layers answered it with. Errors about the
 * chat or the account (CHAT_ADMIN_REQUIRED, USERS_TOO_MUCH, FLOOD_WAIT, ...) stop the request.
 */
import { Api } from 'teleproto';
import { AppError } from '../../lib/errors.js';
import type { TelegramAccount } from '../../telegram/account.js';
import { toAppErrorFromTelegram } from '../../telegram/errors.js';
import { parseBotApiId } from '../../telegram/ids.js';
import type { AddMembersResult, MemberRefusal } from './chats.schema.js';

/** Telegram's refusals that concern one invitee: the others are still tried. */
const REFUSALS_OF_ONE_USER = new Set([
  'USER_PRIVACY_RESTRICTED',
  'USER_NOT_MUTUAL_CONTACT',
  'USER_ALREADY_PARTICIPANT',
  'USER_KICKED',
  'USER_CHANNELS_TOO_MUCH',
  'USER_BLOCKED',
  'USER_BOT',
  'BOT_GROUPS_BLOCKED',
  'USER_ID_INVALID',
  'PEER_ID_INVALID',
  'INPUT_USER_DEACTIVATED',
  'CHAT_MEMBER_ADD_FAILED',
]);

const PRIVACY_REFUSAL = new AppError(
  'FORBIDDEN',
  "The user's privacy settings do not allow adding them to groups and channels (send them an invite link instead)",
  { telegramError: 'USER_PRIVACY_RESTRICTED' },
);

interface Target {
  id: string;
  peer: Api.TypeInputPeer;
  channel?: Api.TypeInputChannel;
}

/** The group or channel named by `chatId`, as an input peer (and input channel). */
async function resolveGroup(account: TelegramAccount, chatId: string): Promise<Target> {
  const { peer, id } = await account.resolvePeer(chatId);
  const kind = parseBotApiId(id)?.kind;
  if (kind === 'chat') return { id, peer };
  if (kind === 'channel') {
    const channel = account.inputChannel(id);
    if (!channel) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
    return { id, peer, channel };
  }
  throw new AppError('BAD_REQUEST', 'A private chat has no members: use a group or channel id');
}

/** A user named by id or @username, as an input user and its Bot-API id. */
async function resolveMember(
  account: TelegramAccount,
  userId: string,
): Promise<{ id: string; user: Api.TypeInputUser }> {
  const { peer, id } = await account.resolvePeer(userId);
  if (peer instanceof Api.InputPeerSelf) return { id, user: new Api.InputUserSelf() };
  const user = parseBotApiId(id)?.kind === 'user' ? account.inputUser(id) : undefined;
  if (!user) throw new AppError('BAD_REQUEST', `${userId} is not a user`);
  return { id, user };
}

function refusal(userId: string, error: AppError): MemberRefusal {
  const telegramError = (error.details as { telegramError?: string } | undefined)?.telegramError ?? null;
  return { userId, code: error.code, telegramError, message: error.message };
}

/** Whether an error refuses only this user (then the next ones are tried). */
function concernsOneUser(error: AppError): boolean {
  const name = (error.details as { telegramError?: string } | undefined)?.telegramError;
  return name
    ? REFUSALS_OF_ONE_USER.has(name)
    : error.code === 'CHAT_NOT_FOUND' || error.code === 'BAD_REQUEST';
}

export async function addMembers(
  account: TelegramAccount,
  chatId: string,
  userIds: readonly string[],
): Promise<AddMembersResult> {
  const target = await resolveGroup(account, chatId);
  const added: string[] = [];
  const refused: MemberRefusal[] = [];
  const pending = [...new Set(userIds)];
  for (let i = 0; i < pending.length; i++) {
    let userId = pending[i]!;
    try {
      const member = await resolveMember(account, userId);
      userId = member.id;
      const res = await account.invoke(
        target.channel
          ? new Api.channels.InviteToChannel({ channel: target.channel, users: [member.user] })
          : new Api.messages.AddChatUser({
              chatId: (target.peer as Api.InputPeerChat).chatId,
              userId: member.user,
              fwdLimit: 100,
            }),
      );
      if (res.missingInvitees.length > 0) refused.push(refusal(userId, PRIVACY_REFUSAL));
      else added.push(userId);
    } catch (err) {
      const error = toAppErrorFromTelegram(err);
      if (!concernsOneUser(error)) {
        if (added.length === 0) throw error;
        // Some are in already: say so, and that the rest were not tried for this reason.
        for (const rest of [userId, ...pending.slice(i + 1)]) refused.push(refusal(rest, error));
        break;
      }
      refused.push(refusal(userId, error));
    }
  }
  if (added.length === 0) {
    const first = refused[0]!;
    throw new AppError(first.code, first.message, {
      telegramError: first.telegramError ?? undefined,
      refused,
    });
  }
  return { chatId: target.id, added, refused };
}

/**
 * Removes a member: messages.deleteChatUser in a basic group; in a supergroup or channel
 * channels.editBanned with view_messages, which is how Telegram removes someone there (they
 * land in the chat's removed list and cannot come back until unbanned).
 */
export async function removeMember(
  account: TelegramAccount,
  chatId: string,
  userId: string,
): Promise<{ chatId: string; userId: string; removed: true }> {
  const target = await resolveGroup(account, chatId);
  const member = await resolveMember(account, userId);
  if (target.channel) {
    await account.invoke(
      new Api.channels.EditBanned({
        channel: target.channel,
        participant:
          member.user instanceof Api.InputUserSelf
            ? new Api.InputPeerSelf()
            : (await account.resolvePeer(member.id)).peer,
        bannedRights: new Api.ChatBannedRights({ viewMessages: true, untilDate: 0 }),
      }),
    );
  } else {
    await account.invoke(
      new Api.messages.DeleteChatUser({
        chatId: (target.peer as Api.InputPeerChat).chatId,
        userId: member.user,
      }),
    );
  }
  return { chatId: target.id, userId: member.id, removed: true };
}
