import { z } from 'zod';

/** GET /api/v1/sandbox: where the sandbox started by TELEGRAM_SANDBOX=true listens. */
export const sandboxInfo = z
  .object({
    dcs: z
      .array(
        z.object({
          id: z.number().int().meta({ description: 'Data centre id' }),
          host: z.string(),
          port: z.number().int(),
        }),
      )
      .meta({ description: "The sandbox's data centres and their MTProto addresses" }),
    controlUrl: z
      .string()
      .meta({ description: 'Base URL of its control API (GET / there lists the routes)' }),
    publicKeyPem: z.string().meta({ description: 'Its RSA public key, to trust in an MTProto client' }),
  })
  .meta({ id: 'SandboxInfo' });

/*
 * The sandbox's control API, passed through for the dashboard (admin only). The browser cannot
 * call it itself: it listens on the server's loopback only, on another origin, and the
 * dashboard's CSP allows connections to its own origin only.
 */

const phone = z
  .string()
  .trim()
  .regex(/^\+?[0-9 ()-]{5,20}$/, 'a phone number, e.g. 99966 1 2345')
  .meta({ description: 'A sandbox user, named by phone' });

export const sandboxUser = z
  .object({
    id: z.string(),
    phone: z.string(),
    firstName: z.string(),
    lastName: z.string(),
    username: z.string().nullable(),
    online: z.boolean(),
    twoFactor: z.boolean().meta({ description: 'Whether a 2FA password is set' }),
    dc: z.number().int().meta({ description: 'Home data centre' }),
    authorizations: z.number().int().meta({ description: 'Signed-in apps (auth keys)' }),
    lastCode: z.string().nullable().meta({ description: 'The last login code sent to this phone' }),
  })
  .meta({ id: 'SandboxUser' });

export const sandboxCreateUserBody = z.strictObject({
  phone,
  firstName: z.string().min(1).max(64).optional(),
  lastName: z.string().max(64).optional(),
  username: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{3,31}$/, 'a username: 4-32 letters, digits or _')
    .optional(),
  password: z.string().min(1).max(256).optional().meta({ description: 'Turns on 2FA' }),
});

export const sandboxCreatedUser = z.object({
  id: z.string(),
  phone: z.string(),
  username: z.string().nullable(),
  dc: z.number().int(),
});

export const sandboxCodeQuery = z.strictObject({ phone });
export const sandboxCode = z
  .object({ phone: z.string(), code: z.string() })
  .meta({ id: 'SandboxCode', description: 'The last login code sent to a phone (any phone, user or not)' });

export const sandboxSendBody = z.strictObject({
  from: phone,
  to: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .meta({ description: 'A phone, "@username" or a Bot-API-style chat id, as the sender sees it' }),
  text: z.string().min(1).max(4096),
});
export const sandboxSent = z.object({ id: z.number().int(), chatId: z.string() });

export const sandboxChatBody = z.strictObject({
  type: z.enum(['group', 'supergroup', 'channel']),
  title: z.string().trim().min(1).max(128),
  owner: phone,
  members: z.array(phone).max(200).optional(),
});
export const sandboxChat = z.object({ id: z.string().meta({ description: 'Bot-API-style chat id' }) });

export const sandboxAcceptLoginBody = z.strictObject({
  phone,
  token: z
    .string()
    .trim()
    .max(1024)
    .meta({ description: 'The tg://login?token=... URL of a QR login, or its base64url token' }),
});
export const sandboxAcceptedLogin = z.object({ accepted: z.boolean(), userId: z.string() });
