import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/** OpenAPI 3.1 generated from the routes' Zod schemas; Swagger UI served from local assets. */
export const openapiPlugin = fp<{ version: string }>(
  async (app: FastifyInstance, { version }) => {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'TeleFlow',
          version,
          description:
            'HTTP gateway to Telegram user accounts. Every `/api/v1` route takes `X-API-Key: <key>` or ' +
            '`Authorization: Bearer <jwt-or-api-key>`. Success answers are `{"success": true, "data": ...}`, ' +
            'errors `{"success": false, "error": {"code", "message", "requestId", "details"?}}`.',
        },
        tags: [
          { name: 'auth', description: 'API keys, JWT, roles' },
          { name: 'sessions', description: 'Telegram accounts: login, import, export' },
          { name: 'messages', description: 'Send, edit, delete, react, pin, read, history' },
          { name: 'chats', description: 'Dialogs, chat info, join, leave, members, search' },
          { name: 'webhooks', description: 'Signed, retried event delivery' },
          { name: 'events', description: 'Server-Sent Events and WebSocket streams' },
          { name: 'operations', description: 'Health and version' },
          { name: 'sandbox', description: 'The embedded sandbox: its users, login codes, acting as them (admin)' },
        ],
        components: {
          securitySchemes: {
            apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
            bearer: {
              type: 'http',
              scheme: 'bearer',
              description: 'A JWT from /api/v1/auth/login, or an API key',
            },
          },
        },
        security: [{ apiKey: [] }, { bearer: [] }],
      },
      transform: jsonSchemaTransform,
      transformObject: jsonSchemaTransformObject,
    });
    await app.register(fastifySwaggerUi, {
      routePrefix: '/docs',
      uiConfig: { persistAuthorization: true, deepLinking: true },
      staticCSP: true,
      // Swagger UI's policy asks browsers to fetch every asset over https, which leaves /docs blank
      // when TeleFlow is reached over plain http at any host but localhost.
      transformStaticCSP: (header: string) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
    });
  },
  { name: 'openapi' },
);
