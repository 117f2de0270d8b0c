/** Control routes for users: create, read, profile, 2FA password, online status, contacts, logout. */
import { z } from 'zod';
import type { World } from '../../world/world.js';
import { lookupsFor } from './lookups.js';
import { phone } from './route.js';
import type { Route } from './route.js';

/** Who may add a user to groups and channels, as the apps offer it (privacy.ts). */
const privacyBody = z.strictObject({ invites: z.enum(['everybody', 'contacts', 'nobody']) });

/** What every listing of a user shows: names, username, online, 2FA, home DC, authorizations. */
export function userSummary(world: World, id: number) {
  const user = world.user(id);
  return {
    id: String(user.id),
    phone: user.phone,
    firstName: user.firstName,
    lastName: user.lastName,
    username: user.username ?? null,
    online: user.onlineUntil > Date.now() / 1000,
    twoFactor: user.password !== undefined,
    dc: world.homeDcOf(user.id),
    authorizations: world.keysOf(id).length,
  };
}

export function userRoutes(world: World): Route[] {
  const { userOf } = lookupsFor(world);

  const describeUser = (id: number) => ({
    ...userSummary(world, id),
    lastSeen: world.user(id).lastSeen,
    privacy: { invites: world.invitePrivacyChoice(id) },
    pts: world.box(id).pts,
  });

  return [
    {
      method: 'POST',
      path: '/users',
      description:
        'Create a user (a password turns on 2FA; dc: its home data centre 1-5, DC 2 when omitted; privacy.invites: who may add them to groups and channels, everybody by default).',
      bodyDoc:
        '{"phone", "firstName"?, "lastName"?, "username"?, "password"?, "dc"?, "privacy"?: {"invites": "everybody"|"contacts"|"nobody"}}',
      body: z.object({
        phone,
        firstName: z.string().min(1).max(64).optional(),
        lastName: z.string().max(64).optional(),
        username: z.string().min(1).max(32).optional(),
        password: z.string().min(1).optional(),
        dc: z.number().int().min(1).max(5).optional(),
        privacy: privacyBody.optional(),
      }),
      handler: ({ body }) => {
        const { privacy, ...input } = body;
        const user = world.createUser(input);
        if (privacy) world.setInvitePrivacy(user.id, privacy.invites);
        return {
          status: 201,
          body: {
            id: String(user.id),
            phone: user.phone,
            username: user.username ?? null,
            dc: world.homeDcOf(user.id),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/users/:phone',
      description: 'A user: names, username, online status, 2FA, authorizations, pts.',
      handler: ({ params }) => ({ body: describeUser(userOf(params.phone).id) }),
    },
    {
      method: 'PATCH',
      path: '/users/:phone',
      description: 'Profile change (pushes updateUserName).',
      bodyDoc: '{"firstName"?, "lastName"?, "username"?: string|null}',
      body: z.object({
        firstName: z.string().min(1).max(64).optional(),
        lastName: z.string().max(64).optional(),
        username: z.string().max(32).nullable().optional(),
      }),
      handler: ({ params, body }) => {
        const user = userOf(params.phone);
        world.updateProfile(user.id, body);
        return { body: describeUser(user.id) };
      },
    },
    {
      method: 'POST',
      path: '/users/:phone/password',
      description: 'Set (or with null remove) the 2FA password.',
      bodyDoc: '{"password": string|null, "hint"?}',
      body: z.object({ password: z.string().min(1).nullable(), hint: z.string().optional() }),
      handler: ({ params, body }) => {
        const user = userOf(params.phone);
        world.setPassword(user.id, body.password, body.hint);
        return { body: { phone: user.phone, twoFactor: body.password !== null } };
      },
    },
    {
      method: 'POST',
      path: '/users/:phone/status',
      description: 'Online or offline (pushes updateUserStatus to contacts and chat partners).',
      bodyDoc: '{"online": boolean}',
      body: z.object({ online: z.boolean() }),
      handler: ({ params, body }) => {
        const user = userOf(params.phone);
        world.setOnline(user.id, body.online);
        return { body: describeUser(user.id) };
      },
    },
    {
      method: 'POST',
      path: '/users/:phone/contacts',
      description: 'Add a contact to this user.',
      bodyDoc: '{"phone"}',
      body: z.object({ phone }),
      handler: ({ params, body }) => {
        const user = userOf(params.phone);
        world.addContact(user.id, userOf(body.phone).id);
        return { body: { ok: true } };
      },
    },
    {
      method: 'POST',
      path: '/users/:phone/restrictions',
      description:
        'Spam restriction: with peerFlood the user cannot write to people who do not have them as a contact (PEER_FLOOD).',
      bodyDoc: '{"peerFlood": boolean}',
      body: z.object({ peerFlood: z.boolean() }),
      handler: ({ params, body }) => {
        const user = userOf(params.phone);
        world.setPeerFlood(user.id, body.peerFlood);
        return { body: { phone: user.phone, peerFlood: body.peerFlood } };
      },
    },
    {
      method: 'POST',
      path: '/users/:phone/privacy',
      description:
        'Privacy settings: who may add the user to groups and channels (inputPrivacyKeyChatInvite); the others are left out of invitations as missing_invitees.',
      bodyDoc: '{"invites": "everybody"|"contacts"|"nobody"}',
      body: privacyBody,
      handler: ({ params, body }) => {
        const user = userOf(params.phone);
        world.setInvitePrivacy(user.id, body.invites);
        return { body: { phone: user.phone, privacy: { invites: world.invitePrivacyChoice(user.id) } } };
      },
    },
    {
      method: 'POST',
      path: '/users/:phone/logout',
      description:
        'Terminate every authorization of the user, as from another device (their next call answers 401 SESSION_REVOKED).',
      handler: ({ params }) => ({ body: { revoked: world.revokeUser(userOf(params.phone).id) } }),
    },
  ];
}
