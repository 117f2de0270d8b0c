import type { FastifySchemaCompiler } from 'fastify';
import { validatorCompiler as zodValidatorCompiler } from 'fastify-type-provider-zod';
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

/**
 * Validation of a route's parts through its Zod schemas (fastify-type-provider-zod), with one
 * change for headers: they are checked, never replaced. A validated headers object is kept by
 * Fastify beside the raw headers and merged with them into a new object at every later read of
 * `request.headers` (each hook's, the handler's); header schemas here transform nothing, so the
 * raw headers are what passed. A request carrying none of a schema's headers, all optional, is
 * not parsed at all (the common case: no Idempotency-Key).
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) => {
  const validate = zodValidatorCompiler(route);
  if (route.httpPart !== 'headers') return validate;
  const shape =
    route.schema instanceof z.ZodObject ? (route.schema.shape as Record<string, z.ZodType>) : null;
  const names = shape ? Object.keys(shape) : [];
  const allOptional = shape !== null && names.every((name) => shape[name]!.safeParse(undefined).success);
  return (headers) => {
    const raw = headers as Record<string, unknown>;
    if (allOptional && names.every((name) => raw[name] === undefined)) return {};
    const result = validate(headers) as { error?: Error };
    return result.error ? { error: result.error } : {};
  };
};
