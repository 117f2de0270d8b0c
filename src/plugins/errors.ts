import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { AppError, ERROR_STATUS, type ErrorCode } from '../lib/errors.js';

function send(reply: FastifyReply, request: FastifyRequest, err: AppError): FastifyReply {
  // Set here too: framework errors answer before the app's onRequest hook runs.
  reply.header('X-Request-Id', request.id);
  if (err.retryAfter !== undefined)
    reply.header('Retry-After', String(Math.max(1, Math.ceil(err.retryAfter))));
  return reply
    .status(err.statusCode)
    .type('application/json; charset=utf-8')
    .send({
      success: false,
      error: {
        code: err.code,
        message: err.message,
        requestId: request.id,
        ...(err.details === undefined ? {} : { details: err.details }),
      },
    });
}

/** Fastify's own errors that are the client's fault, mapped onto the closed list. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_ERROR',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_ERROR',
  FST_ERR_VALIDATION: 'VALIDATION_ERROR',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
};

export function toAppError(error: FastifyError | Error): AppError | undefined {
  if (error instanceof AppError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const context = (error as FastifyError).validationContext ?? 'body';
    const details = error.validation.flatMap((v) => {
      const path = String(v.instancePath ?? '')
        .split('/')
        .filter(Boolean)
        .join('.');
      const field = [context, path].filter(Boolean).join('.');
      // Zod reports all unknown keys of an object in one issue; clients want one entry per field.
      const keys = (v.params as { keys?: unknown } | undefined)?.keys;
      if (v.keyword === 'unrecognized_keys' && Array.isArray(keys) && keys.length > 0) {
        return keys.map((key) => ({ field: `${field}.${String(key)}`, message: 'Unknown field' }));
      }
      return [{ field, message: v.message ?? 'invalid' }];
    });
    return new AppError('VALIDATION_ERROR', 'Request validation failed', details);
  }
  const fe = error as FastifyError;
  if (fe.code && FASTIFY_CODES[fe.code]) {
    const code = FASTIFY_CODES[fe.code]!;
    const message =
      code === 'PAYLOAD_TOO_LARGE'
        ? 'Request body is too large'
        : fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
          ? 'Body is not valid JSON'
          : fe.message;
    return new AppError(code, message);
  }
  if (error instanceof SyntaxError && fe.statusCode === 400) {
    return new AppError('VALIDATION_ERROR', 'Body is not valid JSON');
  }
  if (fe.statusCode === 429) {
    return new AppError(
      'RATE_LIMITED',
      'Too many requests',
      undefined,
      (fe as { retryAfter?: number }).retryAfter,
    );
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    const byStatus = (Object.entries(ERROR_STATUS) as [ErrorCode, number][]).find(
      ([, s]) => s === fe.statusCode,
    );
    return new AppError(byStatus?.[0] ?? 'BAD_REQUEST', fe.message);
  }
  return undefined;
}

/**
 * Errors Fastify raises while routing, before any hook (an undecodable URL, a path parameter
 * over the router's length limit): rendered in the envelope too. A Fastify constructor option.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
  void send(
    reply,
    request,
    new AppError(
      tooLong ? 'VALIDATION_ERROR' : 'BAD_REQUEST',
      tooLong ? 'A path parameter is too long' : 'The URL is malformed',
    ),
  );
}

/** Methods the API's routes use (HEAD comes with GET; OPTIONS is every path's CORS preflight). */
const ROUTE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** One handler renders every error in the envelope of API.md; 5xx details stay in the log. */
export const errorsPlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const known = toAppError(error);
      if (known && known.statusCode < 500) {
        request.log.info({ code: known.code }, known.message);
        return send(reply, request, known);
      }
      if (known) {
        request.log.warn({ code: known.code, details: known.details }, known.message);
        return send(reply, request, known);
      }
      if (isResponseSerializationError(error)) {
        request.log.error({ err: error, issues: error.cause.issues }, 'response did not match its schema');
      } else {
        request.log.error({ err: error }, 'unhandled error');
      }
      return send(reply, request, new AppError('INTERNAL_ERROR', 'Internal server error'));
    });

    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0]!;
      // A known path asked with a method it does not have is a 405 that says which ones it has.
      const allowed = ROUTE_METHODS.filter((method) => app.findRoute({ method, url: path }) !== null);
      if (allowed.length > 0) {
        if (allowed.includes('GET')) allowed.push('HEAD');
        reply.header('Allow', allowed.join(', '));
        return send(
          reply,
          request,
          new AppError('METHOD_NOT_ALLOWED', `Method ${request.method} is not allowed on ${path}`),
        );
      }
      return send(
        reply,
        request,
        new AppError('ROUTE_NOT_FOUND', `Route ${request.method} ${path} not found`),
      );
    });
  },
  { name: 'errors' },
);
