/**
 * Telegram's errors mapped onto the closed list of src/lib/errors.ts, in one place.
 */
import { errors } from 'teleproto';
import { AppError } from '../lib/errors.js';

/** Errors after which the account is signed out: the session moves to logged_out. */
export const SIGNED_OUT_ERRORS = new Set([
  'AUTH_KEY_UNREGISTERED',
  'AUTH_KEY_INVALID',
  'AUTH_KEY_PERM_EMPTY',
  'SESSION_REVOKED',
  'SESSION_EXPIRED',
  'USER_DEACTIVATED',
  'USER_DEACTIVATED_BAN',
]);

const CHAT_NOT_FOUND = new Set([
  'PEER_ID_INVALID',
  'CHAT_ID_INVALID',
  'CHANNEL_INVALID',
  'CHANNEL_PRIVATE',
  'USERNAME_NOT_OCCUPIED',
  'USERNAME_INVALID',
  'USER_ID_INVALID',
  'INPUT_USER_DEACTIVATED',
  'INVITE_HASH_INVALID',
  'INVITE_HASH_EXPIRED',
  'CHAT_NOT_FOUND',
  'USER_NOT_PARTICIPANT',
]);

const MESSAGE_NOT_FOUND = new Set([
  'MESSAGE_ID_INVALID',
  'MESSAGE_IDS_EMPTY',
  'MSG_ID_INVALID',
  'MESSAGE_NOT_FOUND',
]);

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
    const details = { telegramError: telegramErrorName(err) };
    if (name === 'PHONE_CODE_INVALID' || name === 'PHONE_CODE_EMPTY')
      return new AppError('PHONE_CODE_INVALID', 'The login code is wrong', details);
    if (name === 'PHONE_CODE_EXPIRED')
      return new AppError('PHONE_CODE_EXPIRED', 'The login code has expired; start a new login', details);
    if (name === 'PASSWORD_HASH_INVALID' || name === 'SRP_PASSWORD_CHANGED')
      return new AppError('PASSWORD_INVALID', 'The two-step verification password is wrong', details);
    if (name === 'PHONE_NUMBER_INVALID' || name === 'PHONE_NUMBER_BANNED')
      return new AppError('PHONE_NUMBER_INVALID', 'Telegram rejects this phone number', details);
    if (SIGNED_OUT_ERRORS.has(name))
      return new AppError(
        'SESSION_NOT_AUTHORIZED',
        'The account is not signed in (logged out or revoked)',
        details,
      );
    if (CHAT_NOT_FOUND.has(name)) return new AppError('CHAT_NOT_FOUND', 'Chat not found', details);
    if (MESSAGE_NOT_FOUND.has(name)) return new AppError('MESSAGE_NOT_FOUND', 'Message not found', details);
    return new AppError('TELEGRAM_ERROR', `Telegram answered ${name}`, details);
  }
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
