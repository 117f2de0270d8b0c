import { z } from 'zod';
import { ERROR_CODES } from './errors.js';

/** Shared response shapes: the envelope of API.md. */
export const errorBody = z
  .object({
    success: z.literal(false),
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      requestId: z.string().optional(),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'Error', description: 'Every error answer: a code from one closed list and a human message.' });

export function ok<T extends z.ZodTypeAny>(data: T) {
  return z.object({ success: z.literal(true), data });
}

export function okPaged<T extends z.ZodTypeAny>(item: T) {
  return z.object({
    success: z.literal(true),
    data: z.array(item),
    meta: z.object({ nextCursor: z.string().nullable() }),
  });
}

/** The error answers a protected route can give, for the OpenAPI description. */
export function errorResponses(...statuses: number[]) {
  const out: Record<number, typeof errorBody> = {};
  for (const s of [400, 401, 403, 429, 500, ...statuses]) out[s] = errorBody;
  return out;
}

export const isoDate = z.string().meta({ format: 'date-time' });
