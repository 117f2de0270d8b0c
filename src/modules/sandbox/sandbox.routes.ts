import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../lib/errors.js';
import { errorResponses, ok } from '../../lib/schemas.js';
import type { EmbeddedSandbox, TelegramEndpoint } from '../../telegram/endpoint.js';
import { SandboxControl } from './sandbox-control.js';
import {
  sandboxAcceptLoginBody,
  sandboxAcceptedLogin,
  sandboxChat,
  sandboxChatBody,
  sandboxCode,
  sandboxCodeQuery,
  sandboxCreatedUser,
  sandboxCreateUserBody,
  sandboxInfo,
  sandboxSendBody,
  sandboxSent,
  sandboxUser,
} from './sandbox.schema.js';

const admin = { minRole: 'admin' as const };
const tags = ['sandbox'];

export const sandboxRoutes: FastifyPluginAsyncZod<{ telegram: TelegramEndpoint }> = async (
  app,
  { telegram },
) => {
  const running = (): EmbeddedSandbox => {
    if (!telegram.sandbox)
      throw new AppError(
        'ROUTE_NOT_FOUND',
        'No sandbox runs in this process (TELEGRAM_SANDBOX=true starts one)',
      );
    return telegram.sandbox;
  };
  const control = telegram.sandbox ? new SandboxControl(telegram.sandbox.controlUrl) : undefined;
  const controlOf = (): SandboxControl => {
    running();
    return control!;
  };

  app.get(
    '/sandbox',
    {
      config: admin,
      schema: {
        tags,
        summary:
          'The embedded sandbox (TELEGRAM_SANDBOX=true): its DCs, control API and RSA key; 404 without one',
        response: { 200: ok(sandboxInfo), ...errorResponses(404) },
      },
    },
    async () => {
      const sandbox = running();
      return {
        success: true as const,
        data: { dcs: sandbox.dcs, controlUrl: sandbox.controlUrl, publicKeyPem: sandbox.publicKeyPem },
      };
    },
  );

  app.get(
    '/sandbox/users',
    {
      config: admin,
      schema: {
        tags,
        summary: "The sandbox's users with the last login code sent to each (404 without a sandbox)",
        response: { 200: ok(z.array(sandboxUser)), ...errorResponses(404) },
      },
    },
    async () => ({
      success: true as const,
      data: await controlOf().call<z.infer<typeof sandboxUser>[]>('GET', '/users'),
    }),
  );

  app.post(
    '/sandbox/users',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Creates a sandbox user (a password turns on 2FA)',
        body: sandboxCreateUserBody,
        response: { 201: ok(sandboxCreatedUser), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const user = await controlOf().call<z.infer<typeof sandboxCreatedUser>>('POST', '/users', request.body);
      return reply.code(201).send({ success: true as const, data: user });
    },
  );

  app.get(
    '/sandbox/codes',
    {
      config: admin,
      schema: {
        tags,
        summary: 'The last login code the sandbox sent to a phone (also one that is not a user yet)',
        querystring: sandboxCodeQuery,
        response: { 200: ok(sandboxCode), ...errorResponses(404) },
      },
    },
    async (request) => {
      const path = `/codes?phone=${encodeURIComponent(request.query.phone)}`;
      return {
        success: true as const,
        data: await controlOf().call<z.infer<typeof sandboxCode>>('GET', path),
      };
    },
  );

  app.post(
    '/sandbox/messages',
    {
      config: admin,
      schema: {
        tags,
        summary: 'A sandbox user sends a text message, as from their own app',
        body: sandboxSendBody,
        response: { 201: ok(sandboxSent), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const sent = await controlOf().call<z.infer<typeof sandboxSent>>('POST', '/messages', request.body);
      return reply.code(201).send({ success: true as const, data: { id: sent.id, chatId: sent.chatId } });
    },
  );

  app.post(
    '/sandbox/chats',
    {
      config: admin,
      schema: {
        tags,
        summary: 'A sandbox user creates a group, supergroup or channel with members',
        body: sandboxChatBody,
        response: { 201: ok(sandboxChat), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const chat = await controlOf().call<z.infer<typeof sandboxChat>>('POST', '/chats', request.body);
      return reply.code(201).send({ success: true as const, data: chat });
    },
  );

  app.post(
    '/sandbox/login-tokens/accept',
    {
      config: admin,
      schema: {
        tags,
        summary: 'A sandbox user accepts a QR login, as when scanning the code with a signed-in app',
        body: sandboxAcceptLoginBody,
        response: { 200: ok(sandboxAcceptedLogin), ...errorResponses(404) },
      },
    },
    async (request) => {
      const accepted = await controlOf().call<z.infer<typeof sandboxAcceptedLogin>>(
        'POST',
        '/login-tokens/accept',
        request.body,
      );
      return { success: true as const, data: accepted };
    },
  );
};
