/**
 * Control routes for groups, supergroups and channels: create, read, rename, delete, members,
 * admins and invite links.
 */
import { z } from 'zod';
import type { World } from '../../world/world.js';
import type { PeerKey } from '../../world/state.js';
import { ADMIN_RIGHT_NAMES, FULL_ADMIN_RIGHTS, parsePeerKey, peerKey } from '../../world/tl.js';
import { lookupsFor } from './lookups.js';
import { ControlError, phone, toBotApiId } from './route.js';
import type { Route } from './route.js';

export function chatRoutes(world: World): Route[] {
  const { userOf, chatOf, ownerOf } = lookupsFor(world);

  const describeChat = (key: PeerKey) => {
    const { kind, id } = parsePeerKey(key);
    if (kind === 'c') {
      const chat = world.chat(id);
      return {
        id: toBotApiId(key),
        type: 'group',
        title: chat.title,
        owner: world.user(chat.creatorId).phone,
        members: chat.participants.map((p) => ({
          phone: world.user(p.userId).phone,
          id: String(p.userId),
          admin: p.admin || p.userId === chat.creatorId,
        })),
      };
    }
    const channel = world.channel(id);
    return {
      id: toBotApiId(key),
      type: channel.megagroup ? 'supergroup' : 'channel',
      title: channel.title,
      username: channel.username ?? null,
      deleted: channel.deleted ?? false,
      owner: world.user(channel.creatorId).phone,
      pts: channel.pts,
      members: world.channelMembers(channel).map((uid) => ({
        phone: world.user(uid).phone,
        id: String(uid),
        admin: world.channelRights(channel, uid) !== undefined,
        rights: world.channelRights(channel, uid) ?? null,
      })),
    };
  };

  const rightsSchema = z.partialRecord(z.enum(ADMIN_RIGHT_NAMES), z.boolean());

  return [
    {
      method: 'POST',
      path: '/chats',
      description: 'Create a group, supergroup or channel owned by a user.',
      bodyDoc:
        '{"type": "group"|"supergroup"|"channel", "title", "owner": phone, "members"?: [phones], "username"?}',
      body: z.object({
        type: z.enum(['group', 'supergroup', 'channel']),
        title: z.string().min(1).max(128),
        owner: phone,
        members: z.array(phone).optional(),
        username: z.string().min(1).max(32).optional(),
        about: z.string().max(255).optional(),
      }),
      handler: ({ body }) => {
        const owner = userOf(body.owner);
        const members = [...new Set<number>((body.members ?? []).map((p: string) => userOf(p).id))];
        if (body.type === 'group') {
          if (body.username)
            throw new ControlError(
              400,
              'VALIDATION_FAILED',
              'basic groups have no username; use a supergroup',
            );
          const { chatId } = world.createChat(owner.id, body.title, members);
          return { status: 201, body: { id: toBotApiId(peerKey('c', chatId)) } };
        }
        const { channelId } = world.createChannel(owner.id, {
          title: body.title,
          megagroup: body.type === 'supergroup',
          ...(body.username ? { username: body.username } : {}),
          ...(body.about ? { about: body.about } : {}),
        });
        for (const member of members) if (member !== owner.id) world.joinChannel(member, channelId, owner.id);
        return { status: 201, body: { id: toBotApiId(peerKey('h', channelId)) } };
      },
    },
    {
      method: 'GET',
      path: '/chats/:id',
      description: 'A group or channel with its members and admins.',
      handler: ({ params }) => ({ body: describeChat(chatOf(params.id)) }),
    },
    {
      method: 'PATCH',
      path: '/chats/:id',
      description: 'Rename a group or channel (by the owner unless "by" is given).',
      bodyDoc: '{"title", "by"?: phone}',
      body: z.object({ title: z.string().min(1).max(128), by: phone.optional() }),
      handler: ({ params, body }) => {
        const key = chatOf(params.id);
        const by = body.by ? userOf(body.by).id : ownerOf(key);
        const { kind, id } = parsePeerKey(key);
        if (kind === 'c') world.editChatTitle(by, id, body.title);
        else world.editChannelTitle(by, id, body.title);
        return { body: describeChat(key) };
      },
    },
    {
      method: 'POST',
      path: '/chats/:id/protection',
      description: 'Content protection: messages cannot be forwarded out (CHAT_FORWARDS_RESTRICTED).',
      bodyDoc: '{"noforwards": boolean}',
      body: z.object({ noforwards: z.boolean() }),
      handler: ({ params, body }) => {
        const key = chatOf(params.id);
        world.setNoforwards(key, body.noforwards);
        return { body: { id: params.id, noforwards: body.noforwards } };
      },
    },
    {
      method: 'DELETE',
      path: '/chats/:id',
      description: 'Delete a group or channel for everyone (as its owner).',
      handler: ({ params }) => {
        const key = chatOf(params.id);
        const { kind, id } = parsePeerKey(key);
        if (kind === 'c') world.deleteChat(ownerOf(key), id);
        else world.deleteChannel(ownerOf(key), id);
        return { body: { deleted: true, id: params.id } };
      },
    },
    {
      method: 'POST',
      path: '/chats/:id/migrate',
      description:
        'Migrate a basic group to a supergroup (messages.migrateChat, by the owner): answers the new -100 id.',
      handler: ({ params }) => {
        const key = chatOf(params.id);
        const { kind, id } = parsePeerKey(key);
        if (kind !== 'c') throw new ControlError(400, 'VALIDATION_FAILED', 'only basic groups migrate');
        const { channelId } = world.migrateChat(ownerOf(key), id);
        return { body: { id: toBotApiId(peerKey('h', channelId)), migratedFrom: params.id } };
      },
    },
    {
      method: 'POST',
      path: '/chats/:id/members',
      description: 'Add a member (by the owner unless "by" is given).',
      bodyDoc: '{"phone", "by"?: phone}',
      body: z.object({ phone, by: phone.optional() }),
      handler: ({ params, body }) => {
        const key = chatOf(params.id);
        const by = body.by ? userOf(body.by).id : ownerOf(key);
        const user = userOf(body.phone);
        const { kind, id } = parsePeerKey(key);
        if (kind === 'c') world.addChatUser(by, id, user.id);
        else world.joinChannel(user.id, id, by);
        return { body: describeChat(key) };
      },
    },
    {
      method: 'DELETE',
      path: '/chats/:id/members/:phone',
      description: 'Remove a member (by the owner unless ?by= is given; by the member itself = leave).',
      handler: ({ params, query }) => {
        const key = chatOf(params.id);
        const user = userOf(params.phone);
        const byPhone = query.get('by');
        const by = byPhone ? userOf(byPhone).id : ownerOf(key);
        const { kind, id } = parsePeerKey(key);
        if (kind === 'c') world.deleteChatUser(by, id, user.id);
        else if (by === user.id) world.leaveChannel(user.id, id);
        else world.kickFromChannel(by, id, user.id);
        return { body: describeChat(key) };
      },
    },
    {
      method: 'POST',
      path: '/chats/:id/admins',
      description:
        'Change admin rights (groups: admin on/off; channels: rights flags, {} or admin:false demotes).',
      bodyDoc: `{"phone", "admin"?: boolean, "rights"?: {${ADMIN_RIGHT_NAMES.join(', ')}: boolean}, "rank"?, "by"?: phone}`,
      body: z.object({
        phone,
        admin: z.boolean().optional(),
        rights: rightsSchema.optional(),
        rank: z.string().max(16).optional(),
        by: phone.optional(),
      }),
      handler: ({ params, body }) => {
        const key = chatOf(params.id);
        const by = body.by ? userOf(body.by).id : ownerOf(key);
        const user = userOf(body.phone);
        const { kind, id } = parsePeerKey(key);
        const admin = body.admin ?? true;
        if (kind === 'c') world.editChatAdmin(by, id, user.id, admin);
        else
          world.editChannelAdmin(
            by,
            id,
            user.id,
            admin ? (body.rights ?? { ...FULL_ADMIN_RIGHTS, addAdmins: false }) : {},
            body.rank ?? '',
          );
        return { body: describeChat(key) };
      },
    },
    {
      method: 'POST',
      path: '/chats/:id/invites',
      description: 'Export an invite link (by the owner unless "by" is given).',
      bodyDoc: '{"by"?: phone}',
      body: z.object({ by: phone.optional() }),
      handler: ({ params, body }) => {
        const key = chatOf(params.id);
        const by = body.by ? userOf(body.by).id : ownerOf(key);
        const invite = world.exportInvite(by, key);
        return { status: 201, body: { link: invite.link, hash: invite.link.split('+')[1] } };
      },
    },
  ];
}
