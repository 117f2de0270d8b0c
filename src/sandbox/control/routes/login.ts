/** Control routes for signing in: accepting a QR login token as a user, reading login codes. */
import { z } from 'zod';
import type { World } from '../../world/world.js';
import { lookupsFor } from './lookups.js';
import { ControlError, phone } from './route.js';
import type { Route } from './route.js';

export function loginRoutes(world: World): Route[] {
  const { userOf } = lookupsFor(world);

  return [
    {
      method: 'POST',
      path: '/login-tokens/accept',
      description:
        'The user accepts a QR login, as when scanning the code with a signed-in app (the waiting client then signs in as this user).',
      bodyDoc: '{"phone", "token": the base64url value of the tg://login?token= URL (or that whole URL)}',
      body: z.object({
        phone,
        token: z
          .string()
          .max(1024)
          .transform((value) => value.trim().replace(/^tg:\/\/login\?token=/, ''))
          .pipe(z.string().regex(/^[A-Za-z0-9_-]+={0,2}$/, 'a base64url token')),
      }),
      handler: ({ body }) => {
        const user = userOf(body.phone);
        world.acceptLoginToken(user.id, Buffer.from(body.token, 'base64url'));
        return { body: { accepted: true, phone: user.phone, userId: String(user.id) } };
      },
    },
    {
      method: 'GET',
      path: '/codes',
      description: 'The last login code sent to a phone.',
      bodyDoc: 'query: ?phone=',
      handler: ({ query }) => {
        const wanted = query.get('phone');
        if (!wanted) throw new ControlError(400, 'VALIDATION_FAILED', 'query parameter phone is required');
        const code = world.lastCode(wanted);
        if (!code) throw new ControlError(404, 'CODE_NOT_FOUND', `No login code was sent to ${wanted}`);
        return { body: { phone: wanted.replace(/[^\d]/g, ''), code } };
      },
    },
  ];
}
