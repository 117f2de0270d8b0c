import { z } from 'zod';
import { isoDate } from '../../lib/schemas.js';

export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const roleSchema = z.enum(ROLES).meta({
  description:
    'admin: everything; operator: sessions, messages, chats, events; viewer: GET routes and event streams',
});

export const apiKeyInfo = z
  .object({
    id: z.string(),
    name: z.string(),
    role: roleSchema,
    prefix: z.string().meta({ description: 'The first characters of the key, to tell keys apart' }),
    sessionIds: z
      .array(z.string())
      .nullable()
      .meta({ description: 'Sessions this key may use; null for all' }),
    createdAt: isoDate.optional(),
    lastUsedAt: isoDate.nullable().optional(),
  })
  .meta({ id: 'ApiKey' });

export const loginBody = z.strictObject({ apiKey: z.string().min(1).max(512) });
export const loginResult = z
  .object({
    token: z.string(),
    tokenType: z.literal('Bearer'),
    expiresAt: isoDate,
    apiKey: apiKeyInfo,
  })
  .meta({ id: 'LoginResult' });

export const meResult = z
  .object({
    apiKey: apiKeyInfo,
    role: roleSchema,
    authenticatedBy: z.enum(['api_key', 'jwt']),
    tokenExpiresAt: isoDate.nullable(),
  })
  .meta({ id: 'Me' });

export const createKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  role: roleSchema,
  sessionIds: z
    .array(z.string().min(1).max(100))
    .min(1)
    .max(1000)
    .optional()
    .meta({ description: 'Existing sessions the key is limited to; omit for all (within your own)' }),
});

export const createdKey = apiKeyInfo
  .extend({ key: z.string().meta({ description: 'The key itself: shown once, store it now' }) })
  .meta({ id: 'CreatedApiKey' });

export const keyIdParams = z.strictObject({ id: z.string().min(1).max(100) });

export type ApiKeyInfo = z.infer<typeof apiKeyInfo>;
