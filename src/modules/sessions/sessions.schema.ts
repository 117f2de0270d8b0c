import { z } from 'zod';
import { isoDate } from '../../lib/schemas.js';
import { telegramUser } from '../../lib/telegram-views.js';

export { telegramUser };

export const SESSION_STATUSES = [
  'code_sent',
  'password_required',
  'qr_pending',
  'connecting',
  'connected',
  'disconnected',
  'logged_out',
  'failed',
] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export const sessionIdSchema = z
  .string()
  .min(1)
  .max(100)
  .meta({ description: 'A TeleFlow session id, as returned by POST /sessions' });

export const sessionObject = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    phone: z.string().nullable(),
    status: z.enum(SESSION_STATUSES),
    user: telegramUser.nullable(),
    createdAt: isoDate,
    updatedAt: isoDate,
    lastError: z.object({ code: z.string(), message: z.string() }).nullable(),
  })
  .meta({
    id: 'Session',
    description: 'A Telegram account known to TeleFlow and the state of its connection',
  });
export type SessionView = z.infer<typeof sessionObject>;

const phone = z
  .string()
  .trim()
  .regex(/^\+?[0-9 ()-]{5,24}$/, 'an international phone number, e.g. +15551234567')
  .meta({ example: '+15551234567' });
const name = z.string().trim().min(1).max(100);

export const createSessionBody = z.strictObject({ phone, name: name.optional() });
export const verifyCodeBody = z.strictObject({
  sessionId: sessionIdSchema,
  code: z.string().trim().min(1).max(16).meta({ description: 'The login code Telegram sent' }),
});
export const verifyPasswordBody = z.strictObject({
  sessionId: sessionIdSchema,
  password: z.string().min(1).max(256).meta({ description: 'The account two-step verification password' }),
});
export const importSessionBody = z.strictObject({
  sessionString: z
    .string()
    .trim()
    .min(10)
    .max(4096)
    .meta({ description: 'A GramJS/teleproto StringSession of a signed-in account' }),
  name: name.optional(),
});
export const qrLoginBody = z.strictObject({ name: name.optional() }).optional();
export const sessionParams = z.strictObject({ id: sessionIdSchema });

export const exportedSession = z
  .object({
    sessionString: z
      .string()
      .meta({ description: 'GramJS StringSession: keep it secret, it is the account' }),
  })
  .meta({ id: 'ExportedSession' });

export const qrCode = z
  .object({
    url: z.string().meta({ description: 'tg://login?token=...: scan it with a signed-in Telegram app' }),
    dataUrl: z.string().meta({ description: 'The same URL as a PNG QR code (data:image/png;base64,...)' }),
    expiresAt: isoDate,
  })
  .meta({ id: 'QrCode' });

export const qrLogin = z.object({ session: sessionObject, qr: qrCode }).meta({ id: 'QrLogin' });
