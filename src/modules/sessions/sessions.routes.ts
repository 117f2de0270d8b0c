import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../lib/errors.js';
import { errorResponses, ok } from '../../lib/schemas.js';
import { assertSessionAccess, requirePrincipal, sessionScope } from '../../plugins/auth.js';
import type { Principal } from '../auth/auth.service.js';
import {
  createSessionBody,
  exportedSession,
  importSessionBody,
  qrCode,
  qrLogin,
  qrLoginBody,
  sessionObject,
  sessionParams,
  verifyCodeBody,
  verifyPasswordBody,
} from './sessions.schema.js';
import type { SessionsService } from './sessions.service.js';

const tags = ['sessions'];

/** A key limited to some sessions manages those only: it cannot add accounts it could not see. */
function assertMayCreate(principal: Principal): void {
  if (principal.sessionIds !== null) {
    throw new AppError('FORBIDDEN', 'A key limited to some sessions cannot create sessions');
  }
}

export const sessionsRoutes: FastifyPluginAsyncZod<{ sessions: SessionsService }> = async (
  app,
  { sessions },
) => {
  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'List sessions (those the key may see)',
        response: { 200: ok(z.array(sessionObject)), ...errorResponses() },
      },
    },
    async (request) => ({
      success: true as const,
      data: await sessions.list(sessionScope(request.principal)),
    }),
  );

  app.post(
    '/',
    {
      schema: {
        tags,
        summary: 'Start a login by phone: Telegram sends a code (status code_sent)',
        body: createSessionBody,
        response: { 201: ok(sessionObject), ...errorResponses(409, 502, 503) },
      },
    },
    async (request, reply) => {
      assertMayCreate(requirePrincipal(request));
      return reply.status(201).send({ success: true as const, data: await sessions.create(request.body) });
    },
  );

  app.post(
    '/verify-code',
    {
      schema: {
        tags,
        summary: 'Send the login code: status becomes connected, or password_required with 2FA',
        body: verifyCodeBody,
        response: { 200: ok(sessionObject), ...errorResponses(404, 409, 502, 503) },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      return {
        success: true as const,
        data: await sessions.verifyCode(request.body.sessionId, request.body.code),
      };
    },
  );

  app.post(
    '/verify-password',
    {
      schema: {
        tags,
        summary: 'Send the two-step verification password: status becomes connected',
        body: verifyPasswordBody,
        response: { 200: ok(sessionObject), ...errorResponses(404, 409, 502, 503) },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      return {
        success: true as const,
        data: await sessions.verifyPassword(request.body.sessionId, request.body.password),
      };
    },
  );

  app.post(
    '/qr',
    {
      schema: {
        tags,
        summary: 'Start a QR login: scan the tg://login URL with a signed-in app (status qr_pending)',
        description:
          'The session becomes connected (or password_required) once another signed-in client accepts the ' +
          'token. The token expires after about 30 s and is refreshed automatically; GET the session for its ' +
          'status, or POST /sessions/qr again for a fresh token.',
        body: qrLoginBody,
        response: { 201: ok(qrLogin), ...errorResponses(502, 503) },
      },
    },
    async (request, reply) => {
      assertMayCreate(requirePrincipal(request));
      return reply
        .status(201)
        .send({ success: true as const, data: await sessions.startQrLogin(request.body ?? {}) });
    },
  );

  app.get(
    '/:id/qr',
    {
      schema: {
        tags,
        summary: 'The current QR of a pending QR login (its token is refreshed as it expires)',
        params: sessionParams,
        response: { 200: ok(qrCode), ...errorResponses(404, 409) },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.params.id);
      return { success: true as const, data: await sessions.currentQr(request.params.id) };
    },
  );

  app.post(
    '/import',
    {
      schema: {
        tags,
        summary: 'Import a GramJS StringSession of a signed-in account (status connected)',
        body: importSessionBody,
        response: { 201: ok(sessionObject), ...errorResponses(409, 502, 503) },
      },
    },
    async (request, reply) => {
      assertMayCreate(requirePrincipal(request));
      return reply
        .status(201)
        .send({ success: true as const, data: await sessions.importSession(request.body) });
    },
  );

  app.get(
    '/:id',
    {
      schema: {
        tags,
        summary: 'One session',
        params: sessionParams,
        response: { 200: ok(sessionObject), ...errorResponses(404) },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.params.id);
      return { success: true as const, data: await sessions.get(request.params.id) };
    },
  );

  app.delete(
    '/:id',
    {
      schema: {
        tags,
        summary: 'Log the account out of Telegram and forget the session',
        params: sessionParams,
        response: { 200: ok(z.object({ deleted: z.literal(true) })), ...errorResponses(404) },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.params.id);
      await sessions.remove(request.params.id);
      return { success: true as const, data: { deleted: true as const } };
    },
  );

  app.post(
    '/:id/connect',
    {
      schema: {
        tags,
        summary: 'Connect (or reconnect) a signed-in session',
        params: sessionParams,
        response: { 200: ok(sessionObject), ...errorResponses(404, 409, 502, 503) },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.params.id);
      return { success: true as const, data: await sessions.connect(request.params.id) };
    },
  );

  app.post(
    '/:id/disconnect',
    {
      schema: {
        tags,
        summary: 'Disconnect a session; it stays signed in and does not come back after a restart',
        params: sessionParams,
        response: { 200: ok(sessionObject), ...errorResponses(404) },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.params.id);
      return { success: true as const, data: await sessions.disconnect(request.params.id) };
    },
  );

  app.post(
    '/:id/export',
    {
      config: { minRole: 'admin' },
      schema: {
        tags,
        summary: 'Export the session as a GramJS StringSession (admin)',
        params: sessionParams,
        response: { 200: ok(exportedSession), ...errorResponses(404, 409) },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.params.id);
      return { success: true as const, data: await sessions.exportSession(request.params.id) };
    },
  );
};
