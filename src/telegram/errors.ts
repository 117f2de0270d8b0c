/**
 * Telegram's errors mapped onto the closed list of src/lib/errors.ts, in one place.
 */
import { errors } from 'teleproto';
import { AppError, type ErrorCode } from '../lib/errors.js';

/** Errors after which the account is signed out: the session moves to logged_out. */
export const SIGNED_OUT_ERRORS = new Set([
  'AUTH_KEY_UNREGISTERED',
  'AUTH_KEY_INVALID',
  'AUTH_KEY_PERM_EMPTY',
  'SESSION_REVOKED',
  'SESSION_EXPIRED',
  'USER_DEACTIVATED',
  'USER_DEACTIVATED_BAN',
  // 406: the key was used from two places at once and Telegram invalidated the session; retrying
  // cannot help, the account must sign in again (core.telegram.org/api/errors#406-not-acceptable).
  'AUTH_KEY_DUPLICATED',
]);

/**
 * Telegram's errors by name, then by Telegram's numeric class; every one keeps Telegram's own
 * name in `details.telegramError`. The table (also in README, "Telegram errors"):
 *
 *   FLOOD_WAIT_X, SLOWMODE_WAIT_X, other 420s ending in seconds  -> 429 FLOOD_WAIT, Retry-After
 *   AUTH_KEY_UNREGISTERED, SESSION_REVOKED, AUTH_KEY_DUPLICATED,
 *     other 401s                                                   -> 409 SESSION_NOT_AUTHORIZED
 *   PEER_ID_INVALID, CHANNEL_INVALID, CHANNEL_PRIVATE, USER_ID_INVALID, USERNAME_INVALID,
 *     USERNAME_NOT_OCCUPIED, INVITE_HASH_INVALID, INVITE_HASH_EXPIRED -> 404 CHAT_NOT_FOUND
 *   MESSAGE_ID_INVALID, REPLY_MESSAGE_ID_INVALID                   -> 404 MESSAGE_NOT_FOUND
 *   CHAT_ADMIN_REQUIRED, CHAT_WRITE_FORBIDDEN, USER_PRIVACY_RESTRICTED, USER_BANNED_IN_CHANNEL,
 *     CHAT_FORWARDS_RESTRICTED, MESSAGE_EDIT_TIME_EXPIRED, PEER_FLOOD, USER_NOT_MUTUAL_CONTACT,
 *     USER_CHANNELS_TOO_MUCH, USER_KICKED, USER_BLOCKED, *_FORBIDDEN,
 *     other 403s                                                   -> 403 FORBIDDEN
 *   USER_ALREADY_PARTICIPANT                                       -> 409 CONFLICT
 *   USERS_TOO_MUCH, BOTS_TOO_MUCH, USER_BOT, CHAT_MEMBER_ADD_FAILED -> 400 BAD_REQUEST
 *   PHONE_CODE_INVALID and the other login errors                  -> 400, their own codes
 *   CHAT_SEND_MEDIA_FORBIDDEN, CHAT_SEND_*_FORBIDDEN (photos, videos, voices, stickers, ...),
 *     VOICE_MESSAGES_FORBIDDEN                                     -> 403 FORBIDDEN
 *   MESSAGE_TOO_LONG, MESSAGE_EMPTY, MESSAGE_NOT_MODIFIED, ENTITY_BOUNDS_INVALID,
 *     REACTION_INVALID, PHOTO_INVALID_DIMENSIONS and the other PHOTO_*, MEDIA_EMPTY,
 *     MEDIA_INVALID, FILE_REFERENCE_EXPIRED/INVALID, MEDIA_CAPTION_TOO_LONG,
 *     MEDIA_GROUPED_INVALID, other 400s and 406s                   -> 400 BAD_REQUEST
 *   500s, negative codes, INTERNAL, RPC_CALL_FAIL, TIMEOUT, and INPUT_*_INVALID (a request
 *     TeleFlow built that Telegram cannot read)                    -> 502 TELEGRAM_ERROR
 *
 * PEER_FLOOD is 403, not 429: it is an open-ended spam restriction on the account with no
 * wait time, so a client that backs off and retries only deepens it. MESSAGE_EDIT_TIME_EXPIRED
 * is 403: the request is well formed, the edit is just no longer allowed.
 */
const BY_NAME: Record<string, { code: ErrorCode; message: string }> = {};
function names(code: ErrorCode, message: string, list: string[]): void {
  for (const name of list) BY_NAME[name] = { code, message };
}
names('PHONE_CODE_INVALID', 'The login code is wrong', ['PHONE_CODE_INVALID', 'PHONE_CODE_EMPTY']);
names('PHONE_CODE_EXPIRED', 'The login code has expired; start a new login', ['PHONE_CODE_EXPIRED']);
names('PASSWORD_INVALID', 'The two-step verification password is wrong', [
  'PASSWORD_HASH_INVALID',
  'SRP_PASSWORD_CHANGED',
]);
names('PHONE_NUMBER_INVALID', 'Telegram rejects this phone number', [
  'PHONE_NUMBER_INVALID',
  'PHONE_NUMBER_BANNED',
]);
names('SESSION_NOT_AUTHORIZED', 'The account is not signed in (logged out or revoked)', [
  ...SIGNED_OUT_ERRORS,
]);
names('CHAT_NOT_FOUND', 'Chat not found', [
  'PEER_ID_INVALID',
  'CHAT_ID_INVALID',
  'CHANNEL_INVALID',
  'CHANNEL_PRIVATE',
  'USERNAME_NOT_OCCUPIED',
  'USERNAME_INVALID',
  // A chat id that is a user's id: TeleFlow addresses users only as chats.
  'USER_ID_INVALID',
  'INPUT_USER_DEACTIVATED',
  'INVITE_HASH_INVALID',
  'INVITE_HASH_EXPIRED',
  'INVITE_HASH_EMPTY',
  'CHAT_NOT_FOUND',
  'USER_NOT_PARTICIPANT',
]);
names('MESSAGE_NOT_FOUND', 'Message not found', [
  'MESSAGE_ID_INVALID',
  'MESSAGE_IDS_EMPTY',
  'MSG_ID_INVALID',
  'MESSAGE_NOT_FOUND',
]);
names('MESSAGE_NOT_FOUND', 'The message to reply to does not exist in this chat', [
  'REPLY_MESSAGE_ID_INVALID',
  'REPLY_TO_INVALID',
]);
names('FORBIDDEN', 'Telegram does not allow this account to do that here', [
  'CHAT_ADMIN_REQUIRED',
  'CHAT_WRITE_FORBIDDEN',
  'CHAT_RESTRICTED',
  'CHAT_FORWARDS_RESTRICTED',
  'USER_BANNED_IN_CHANNEL',
  'USER_IS_BLOCKED',
  'USER_IS_BOT',
  'YOU_BLOCKED_USER',
  'USER_RESTRICTED',
  'MESSAGE_AUTHOR_REQUIRED',
  'RIGHT_FORBIDDEN',
  'FROZEN_METHOD_INVALID',
]);
names('FORBIDDEN', 'This message can no longer be edited', ['MESSAGE_EDIT_TIME_EXPIRED']);
names('FORBIDDEN', 'Telegram restricts this account for spam; retrying does not lift it', ['PEER_FLOOD']);
// Adding members (core.telegram.org/method/channels.inviteToChannel, /method/messages.addChatUser).
names('FORBIDDEN', "The user's privacy settings do not allow this (e.g. adding them to chats)", [
  'USER_PRIVACY_RESTRICTED',
]);
names('FORBIDDEN', 'Only a mutual contact of the user can do this (e.g. add them back after they left)', [
  'USER_NOT_MUTUAL_CONTACT',
]);
names('FORBIDDEN', 'The user is already in too many channels and supergroups', ['USER_CHANNELS_TOO_MUCH']);
names('FORBIDDEN', 'The user was removed from this chat; unban them first', ['USER_KICKED']);
names('FORBIDDEN', 'The user has blocked this account', ['USER_BLOCKED']);
names('CONFLICT', 'The user is already a member of this chat', ['USER_ALREADY_PARTICIPANT']);
names('BAD_REQUEST', 'The chat has reached its member limit', ['USERS_TOO_MUCH']);
names('BAD_REQUEST', 'The chat has too many bots', ['BOTS_TOO_MUCH']);
names('BAD_REQUEST', 'Bots can only be admins in channels', ['USER_BOT']);
names('BAD_REQUEST', 'Telegram could not add this member', ['CHAT_MEMBER_ADD_FAILED']);
names('BAD_REQUEST', 'Telegram allows 4096 UTF-16 code units of text', ['MESSAGE_TOO_LONG']);
names('BAD_REQUEST', 'The text is empty', ['MESSAGE_EMPTY']);
names('BAD_REQUEST', 'The message already has this text and formatting', ['MESSAGE_NOT_MODIFIED']);
names('BAD_REQUEST', 'A formatting entity lies outside the text', ['ENTITY_BOUNDS_INVALID']);
names('BAD_REQUEST', 'Telegram does not accept this reaction here', ['REACTION_INVALID']);
names('BAD_REQUEST', 'Telegram cannot use this image as a photo (send it as a document)', [
  'PHOTO_INVALID',
  'PHOTO_INVALID_DIMENSIONS',
  'PHOTO_EXT_INVALID',
  'PHOTO_SAVE_FILE_INVALID',
  'PHOTO_CROP_SIZE_SMALL',
  'IMAGE_PROCESS_FAILED',
]);
names('BAD_REQUEST', 'Telegram cannot send this file as this kind of media', [
  'MEDIA_EMPTY',
  'MEDIA_INVALID',
  'MEDIA_TYPE_INVALID',
  'FILE_ID_INVALID',
  'FILE_REFERENCE_EXPIRED',
  'FILE_REFERENCE_INVALID',
  'STICKER_FILE_INVALID',
  'VIDEO_CONTENT_TYPE_INVALID',
]);
names('BAD_REQUEST', 'Telegram allows 1024 characters of caption (4096 with Telegram Premium)', [
  'MEDIA_CAPTION_TOO_LONG',
]);
names('BAD_REQUEST', 'Telegram refuses this album (2-10 photos and videos, or documents only)', [
  'MEDIA_GROUPED_INVALID',
  'MULTI_MEDIA_TOO_LONG',
]);
names('FORBIDDEN', 'This chat does not allow this kind of media', [
  'CHAT_SEND_MEDIA_FORBIDDEN',
  'CHAT_SEND_PHOTOS_FORBIDDEN',
  'CHAT_SEND_VIDEOS_FORBIDDEN',
  'CHAT_SEND_ROUNDVIDEOS_FORBIDDEN',
  'CHAT_SEND_AUDIOS_FORBIDDEN',
  'CHAT_SEND_VOICES_FORBIDDEN',
  'CHAT_SEND_DOCS_FORBIDDEN',
  'CHAT_SEND_STICKERS_FORBIDDEN',
  'CHAT_SEND_GIFS_FORBIDDEN',
  'VOICE_MESSAGES_FORBIDDEN',
]);
/** Names that say TeleFlow itself built a request Telegram cannot read: not the client's fault. */
const OWN_FAULT = /^(INPUT_[A-Z_]*INVALID(_\d+)?|INPUT_FETCH_[A-Z_]+|CONNECTION_[A-Z_]+)$/;
const TELEGRAM_FAILURE = /^(INTERNAL|[A-Z_]+_INTERNAL|RPC_CALL_FAIL|RPC_MCGET_FAIL|TIMEOUT|[A-Z_]+_TIMEOUT)$/;

/** An error no name rule knows, by Telegram's numeric class (`code` on teleproto's RPCError). */
function byClass(name: string, telegramCode: number | undefined): { code: ErrorCode; message: string } {
  const failed = { code: 'TELEGRAM_ERROR' as const, message: `Telegram answered ${name}` };
  if (OWN_FAULT.test(name) || TELEGRAM_FAILURE.test(name)) return failed;
  const refused = `Telegram refused the request: ${name}`;
  if (name.endsWith('_FORBIDDEN') || telegramCode === 403) return { code: 'FORBIDDEN', message: refused };
  if (telegramCode === 400 || telegramCode === 406) return { code: 'BAD_REQUEST', message: refused };
  if (telegramCode === 401) return BY_NAME['AUTH_KEY_UNREGISTERED']!;
  return failed;
}

/** Telegram's error name: FLOOD_WAIT_30 stays as Telegram sent it where the library keeps it. */
export function telegramErrorName(err: unknown): string | undefined {
  if (err instanceof errors.RPCError) {
    const seconds = (err as { seconds?: number }).seconds;
    const name = err.errorMessage;
    if (seconds !== undefined && !/\d$/.test(name)) return `${name}_${seconds}`;
    return name;
  }
  return undefined;
}

export function isSignedOutError(err: unknown): boolean {
  return err instanceof errors.RPCError && SIGNED_OUT_ERRORS.has(err.errorMessage);
}

/** Errors that say nothing about the request: the connection is down or the call timed out. */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof errors.RPCError) return false;
  const message = err instanceof Error ? err.message : String(err);
  return /disconnect|not connected|TIMEOUT|ECONNREFUSED|ECONNRESET|EPIPE|socket|closed|reconnect|Connection/i.test(
    message,
  );
}

/** Maps anything a Telegram call can throw to an AppError the envelope can render. */
export function toAppErrorFromTelegram(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof errors.FloodWaitError || err instanceof errors.SlowModeWaitError) {
    const seconds = err.seconds;
    return new AppError(
      'FLOOD_WAIT',
      `Telegram asks to wait ${seconds} s before this call`,
      { telegramError: telegramErrorName(err), seconds },
      seconds,
    );
  }
  if (err instanceof errors.RPCError) {
    const name = err.errorMessage;
    const telegramError = telegramErrorName(err);
    const known = BY_NAME[name];
    if (known) return new AppError(known.code, known.message, { telegramError });
    if (err.code === 420) {
      // Other flood errors (e.g. 2FA_CONFIRM_WAIT_X) carry their wait as a trailing number.
      const seconds = Number(/_(\d+)$/.exec(name)?.[1] ?? Number.NaN);
      return Number.isFinite(seconds)
        ? new AppError(
            'FLOOD_WAIT',
            `Telegram asks to wait ${seconds} s`,
            { telegramError, seconds },
            seconds,
          )
        : new AppError('FLOOD_WAIT', `Telegram limits this call: ${name}`, { telegramError });
    }
    const { code, message } = byClass(name, err.code);
    return new AppError(code, message, { telegramError });
  }
  // The library gives up after Telegram failed internally (RPC_CALL_FAIL) on every retry.
  if (err instanceof Error && /^Request was unsuccessful \d+ time/.test(err.message))
    return new AppError('TELEGRAM_ERROR', 'Telegram failed to answer; retry later');
  if (isConnectionError(err)) {
    return new AppError(
      'SESSION_NOT_CONNECTED',
      'The session is not connected to Telegram; retry shortly',
      undefined,
      5,
    );
  }
  return new AppError('INTERNAL_ERROR', 'Unexpected error talking to Telegram');
}
