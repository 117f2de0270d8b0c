import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../../plugins/auth.js';
import { errorResponses, ok } from '../../lib/schemas.js';
import {
  apiKeyInfo,
  createdKey,
  createKeyBody,
  keyIdParams,
  loginBody,
  loginResult,
  meResult,
} from './auth.schema.js';
import type { AuthService } from './auth.service.js';

/** A token's expiry as text, made once per token: principals are cached and answer many requests. */
const isoTexts = new WeakMap<Date, string>();
function isoOf(date: Date): string {
  let text = isoTexts.get(date);
  if (text === undefined) isoTexts.set(date, (text = date.toISOString()));
  return text;
}

export const authRoutes: FastifyPluginAsyncZod<{ auth: AuthService }> = async (app, { auth }) => {
  app.post(
    '/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Exchange an API key for a JWT',
        security: [],
        body: loginBody,
        response: { 200: ok(loginResult), ...errorResponses() },
      },
    },
    async (request) => ({ success: true as const, data: await auth.login(request.body.apiKey) }),
  );

  app.post(
    '/logout',
    {
      config: { minRole: 'viewer' },
      schema: {
        tags: ['auth'],
        summary: 'Revoke the JWT this request carries (survives restarts)',
        response: { 200: ok(z.object({ revoked: z.literal(true) })), ...errorResponses() },
      },
    },
    async (request) => {
      await auth.logout(requirePrincipal(request));
      return { success: true as const, data: { revoked: true as const } };
    },
  );

  app.get(
    '/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'The calling key and its role',
        response: { 200: ok(meResult), ...errorResponses() },
      },
    },
    async (request) => {
      const p = requirePrincipal(request);
      return {
        success: true as const,
        data: {
          apiKey: auth.info(p),
          role: p.role,
          authenticatedBy: p.via,
          tokenExpiresAt: p.tokenExpiresAt ? isoOf(p.tokenExpiresAt) : null,
        },
      };
    },
  );

  app.get(
    '/keys',
    {
      config: { minRole: 'admin' },
      schema: {
        tags: ['auth'],
        summary: 'List API keys (admin)',
        description: 'A key limited to sessions lists only the keys limited to a subset of its own sessions.',
        response: { 200: ok(z.array(apiKeyInfo)), ...errorResponses() },
      },
    },
    async (request) => ({
      success: true as const,
      data: await auth.listKeys(requirePrincipal(request)),
    }),
  );

  app.post(
    '/keys',
    {
      config: { minRole: 'admin' },
      schema: {
        tags: ['auth'],
        summary: 'Create an API key (admin); the key is returned once, only its hash is stored',
        description:
          '`sessionIds`, when given, is a non-empty list of existing sessions (an unknown one is a 404 ' +
          "SESSION_NOT_FOUND). The new key has a role no higher than the caller's; a caller limited to " +
          'sessions may name only its own sessions and, without `sessionIds`, gets a key limited to all of them.',
        body: createKeyBody,
        response: { 201: ok(createdKey), ...errorResponses(404) },
      },
    },
    async (request, reply) =>
      reply.status(201).send({
        success: true as const,
        data: await auth.createKey(requirePrincipal(request), request.body),
      }),
  );

  app.delete(
    '/keys/:id',
    {
      config: { minRole: 'admin' },
      schema: {
        tags: ['auth'],
        summary: 'Revoke an API key (admin); tokens issued for it and streams opened with it stop working',
        description:
          'A key limited to sessions may delete only the keys it can list; others answer 404 API_KEY_NOT_FOUND.',
        params: keyIdParams,
        response: { 200: ok(z.object({ deleted: z.literal(true) })), ...errorResponses(404) },
      },
    },
    async (request) => {
      await auth.deleteKey(requirePrincipal(request), request.params.id);
      return { success: true as const, data: { deleted: true as const } };
    },
  );
};
