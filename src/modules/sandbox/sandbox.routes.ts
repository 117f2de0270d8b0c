import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AppError } from '../../lib/errors.js';
import { errorResponses, ok } from '../../lib/schemas.js';
import type { TelegramEndpoint } from '../../telegram/endpoint.js';
import { sandboxInfo } from './sandbox.schema.js';

export const sandboxRoutes: FastifyPluginAsyncZod<{ telegram: TelegramEndpoint }> = async (
  app,
  { telegram },
) => {
  app.get(
    '/sandbox',
    {
      config: { minRole: 'admin' },
      schema: {
        tags: ['operations'],
        summary:
          'The embedded sandbox (TELEGRAM_SANDBOX=true): its DCs, control API and RSA key; 404 without one',
        response: { 200: ok(sandboxInfo), ...errorResponses(404) },
      },
    },
    async () => {
      const sandbox = telegram.sandbox;
      if (!sandbox)
        throw new AppError(
          'ROUTE_NOT_FOUND',
          'No sandbox runs in this process (TELEGRAM_SANDBOX=true starts one)',
        );
      return {
        success: true as const,
        data: { dcs: sandbox.dcs, controlUrl: sandbox.controlUrl, publicKeyPem: sandbox.publicKeyPem },
      };
    },
  );
};
