/** The control API's routes: a table of method, path, body schema, description and handler. */
import { Api } from 'teleproto';
import { z } from 'zod';
import type { World } from '../world/world.js';
import type { FaultInjector } from '../world/faults.js';
import type { PeerKey } from '../world/state.js';
import { ADMIN_RIGHT_NAMES, FULL_ADMIN_RIGHTS, parsePeerKey, peerKey } from '../world/tl.js';

export class ControlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RouteInput {
  params: Record<string, string>;
  query: URLSearchParams;
  body: any;
}

export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | string;
  path: string;
  description: string;
  /** A human-readable sketch of the body for `GET /`. */
  bodyDoc?: string;
  body?: z.ZodType;
  handler(
    input: RouteInput,
  ): { status?: number; body: unknown } | Promise<{ status?: number; body: unknown }>;
}

const phone = z.string().regex(/^\+?[\d\s()-]{5,20}$/, 'a phone number (digits)');
const target = z.union([z.string().min(1), z.number().int()]);
const emoji = z.string().min(1).max(16);

export function toBotApiId(key: PeerKey): string {
  const { kind, id } = parsePeerKey(key);
  return kind === 'u' ? String(id) : kind === 'c' ? `-${id}` : `-100${id}`;
}

export function buildRoutes({
  world,
  faults,
  methods,
}: {
  world: World;
  faults: FaultInjector;
  methods: string[];
}): Route[] {
  const userOf = (value: string) => {
    const user = world.userByPhone(value);
    if (!user) throw new ControlError(404, 'USER_NOT_FOUND', `No user with phone ${value}`);
    return user;
  };

  /** A chat as API.md names it (phone, @username, Bot-API id, "me"), seen by `viewerId`. */
  const resolveTarget = (viewerId: number, value: string | number): PeerKey => {
    const text = String(value).trim();
    if (text === 'me' || text === 'self') return peerKey('u', viewerId);
    if (text.startsWith('@') || /^[a-zA-Z]/.test(text)) {
      const name = text.replace(/^@/, '');
      const user = world.userByUsername(name);
      if (user) return peerKey('u', user.id);
      const channel = world.channelByUsername(name);
      if (channel) return peerKey('h', channel.id);
      throw new ControlError(404, 'CHAT_NOT_FOUND', `No user or channel @${name}`);
    }
    if (/^-100\d+$/.test(text) && world.state.channels[text.slice(4)])
      return peerKey('h', Number(text.slice(4)));
    if (/^-\d+$/.test(text) && world.state.chats[text.slice(1)]) return peerKey('c', Number(text.slice(1)));
    if (/^\+?\d+$/.test(text)) {
      const byPhone = world.userByPhone(text);
      if (byPhone) return peerKey('u', byPhone.id);
      if (world.findUser(Number(text))) return peerKey('u', Number(text));
    }
    throw new ControlError(404, 'CHAT_NOT_FOUND', `No chat ${text}`);
  };

  const chatOf = (id: string): PeerKey => {
    const key = /^-100\d+$/.test(id)
      ? peerKey('h', Number(id.slice(4)))
      : /^-\d+$/.test(id)
        ? peerKey('c', Number(id.slice(1)))
        : undefined;
    if (!key)
      throw new ControlError(
        400,
        'BAD_CHAT_ID',
        'Chat ids are -<id> (group) or -100<id> (channel/supergroup)',
      );
    const { kind, id: numeric } = parsePeerKey(key);
    if ((kind === 'c' && !world.state.chats[numeric]) || (kind === 'h' && !world.state.channels[numeric])) {
      throw new ControlError(404, 'CHAT_NOT_FOUND', `No chat ${id}`);
    }
    return key;
  };

  const ownerOf = (key: PeerKey): number => {
    const { kind, id } = parsePeerKey(key);
    return kind === 'c' ? world.chat(id).creatorId : world.channel(id).creatorId;
  };

  const describeUser = (id: number) => {
    const user = world.user(id);
    return {
      id: String(user.id),
      phone: user.phone,
      firstName: user.firstName,
      lastName: user.lastName,
      username: user.username ?? null,
      online: user.onlineUntil > Date.now() / 1000,
      lastSeen: user.lastSeen,
      twoFactor: user.password !== undefined,
      authorizations: world.keysOf(id).length,
      pts: world.box(id).pts,
    };
  };

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

  const routes: Route[] = [
    {
      method: 'GET',
      path: '/',
      description: 'This list of routes.',
      handler: () => ({
        body: {
          name: 'TeleFlow sandbox control API',
          notes: [
            'JSON in and out; users are named by phone; chats by Bot-API-style id (-<id> group, -100<id> supergroup/channel).',
            'Message ids are those of the acting user ("by"/"from"): each account numbers its own copies in private chats and groups; channels share one numbering.',
            'Errors: {"error": {"code", "message"}} with a 4xx status.',
            'Phones 99966XYYYY receive the login code XXXXX; every code is readable at GET /codes?phone=.',
          ],
          routes: routes.map((r) => ({
            method: r.method,
            path: r.path,
            description: r.description,
            ...(r.bodyDoc ? { body: r.bodyDoc } : {}),
          })),
          rpcMethods: methods,
        },
      }),
    },
    {
      method: 'POST',
      path: '/users',
      description: 'Create a user (a password turns on 2FA).',
      bodyDoc: '{"phone", "firstName"?, "lastName"?, "username"?, "password"?}',
      body: z.object({
        phone,
        firstName: z.string().min(1).max(64).optional(),
        lastName: z.string().max(64).optional(),
        username: z.string().min(1).max(32).optional(),
        password: z.string().min(1).optional(),
      }),
      handler: ({ body }) => {
        const user = world.createUser(body);
        return {
          status: 201,
          body: { id: String(user.id), phone: user.phone, username: user.username ?? null },
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
      path: '/users/:phone/logout',
      description: 'Revoke every authorization of the user (their clients get AUTH_KEY_UNREGISTERED / -404).',
      handler: ({ params }) => ({ body: { revoked: world.revokeUser(userOf(params.phone).id) } }),
    },
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
    {
      method: 'POST',
      path: '/messages',
      description: 'A user sends a message, exactly as from their own app.',
      bodyDoc: '{"from": phone, "to": phone | "@username" | chat id, "text", "replyToMessageId"?, "silent"?}',
      body: z.object({
        from: phone,
        to: target,
        text: z.string().min(1).max(4096),
        replyToMessageId: z.number().int().positive().optional(),
        silent: z.boolean().optional(),
      }),
      handler: ({ body }) => {
        const from = userOf(body.from);
        const key = resolveTarget(from.id, body.to);
        const sent = world.sendMessage(from.id, key, {
          text: body.text,
          ...(body.replyToMessageId ? { replyToId: body.replyToMessageId } : {}),
          ...(body.silent ? { silent: true } : {}),
        });
        return {
          status: 201,
          body: { id: sent.id, chatId: toBotApiId(key), ...copiesOf(world, from.id, key, sent.id) },
        };
      },
    },
    {
      method: 'POST',
      path: '/messages/edit',
      description: 'Edit a message as its author ("by").',
      bodyDoc: '{"by": phone, "chat": target as "by" sees it, "messageId", "text"}',
      body: z.object({
        by: phone,
        chat: target,
        messageId: z.number().int().positive(),
        text: z.string().min(1).max(4096),
      }),
      handler: ({ body }) => {
        const by = userOf(body.by);
        world.editMessage(by.id, resolveTarget(by.id, body.chat), body.messageId, body.text, undefined);
        return { body: { ok: true } };
      },
    },
    {
      method: 'POST',
      path: '/messages/delete',
      description: 'Delete messages as a user (revoke: for everyone; channels: always for everyone).',
      bodyDoc: '{"by": phone, "chat", "messageIds": [..], "revoke"?: true}',
      body: z.object({
        by: phone,
        chat: target,
        messageIds: z.array(z.number().int().positive()).min(1),
        revoke: z.boolean().optional(),
      }),
      handler: ({ body }) => {
        const by = userOf(body.by);
        const key = resolveTarget(by.id, body.chat);
        const { kind, id } = parsePeerKey(key);
        const affected =
          kind === 'h'
            ? world.deleteChannelMessages(by.id, id, body.messageIds)
            : world.deleteMessages(by.id, body.messageIds, body.revoke ?? true);
        return { body: { pts: affected.pts, ptsCount: affected.ptsCount } };
      },
    },
    {
      method: 'POST',
      path: '/messages/react',
      description: "Set (or with null remove) a user's reaction.",
      bodyDoc: '{"by": phone, "chat", "messageId", "emoji": string|null}',
      body: z.object({
        by: phone,
        chat: target,
        messageId: z.number().int().positive(),
        emoji: emoji.nullable(),
      }),
      handler: ({ body }) => {
        const by = userOf(body.by);
        world.react(by.id, resolveTarget(by.id, body.chat), body.messageId, body.emoji);
        return { body: { ok: true } };
      },
    },
    {
      method: 'POST',
      path: '/messages/pin',
      description: 'Pin or unpin a message as a user.',
      bodyDoc: '{"by": phone, "chat", "messageId", "unpin"?: true}',
      body: z.object({
        by: phone,
        chat: target,
        messageId: z.number().int().positive(),
        unpin: z.boolean().optional(),
      }),
      handler: ({ body }) => {
        const by = userOf(body.by);
        world.pin(by.id, resolveTarget(by.id, body.chat), body.messageId, !body.unpin);
        return { body: { ok: true } };
      },
    },
    {
      method: 'POST',
      path: '/messages/read',
      description: 'A user reads a chat up to maxId (default: everything).',
      bodyDoc: '{"by": phone, "chat", "maxId"?}',
      body: z.object({ by: phone, chat: target, maxId: z.number().int().nonnegative().optional() }),
      handler: ({ body }) => {
        const by = userOf(body.by);
        const key = resolveTarget(by.id, body.chat);
        const { kind, id } = parsePeerKey(key);
        if (kind === 'h') world.readChannelHistory(by.id, id, body.maxId ?? 0);
        else world.readHistory(by.id, key, body.maxId ?? 0);
        return { body: { ok: true } };
      },
    },
    {
      method: 'POST',
      path: '/typing',
      description: 'A user is typing (or another action) in a chat.',
      bodyDoc: '{"from": phone, "to", "action"?: "typing"|"cancel"|"record_audio"|"upload_photo"}',
      body: z.object({
        from: phone,
        to: target,
        action: z.enum(['typing', 'cancel', 'record_audio', 'upload_photo']).optional(),
      }),
      handler: ({ body }) => {
        const from = userOf(body.from);
        const action =
          body.action === 'cancel'
            ? new Api.SendMessageCancelAction()
            : body.action === 'record_audio'
              ? new Api.SendMessageRecordAudioAction()
              : body.action === 'upload_photo'
                ? new Api.SendMessageUploadPhotoAction({ progress: 0 })
                : new Api.SendMessageTypingAction();
        world.setTyping(from.id, resolveTarget(from.id, body.to), action);
        return { body: { ok: true } };
      },
    },
    {
      method: 'POST',
      path: '/faults',
      description:
        'The next matching RPC calls fail with this error (420 for FLOOD_WAIT_X, 500 INTERNAL, 401 AUTH_KEY_UNREGISTERED, else 400).',
      bodyDoc:
        '{"error": "FLOOD_WAIT_30", "count"?: 1, "method"?: "messages.sendMessage", "phone"?, "code"?}',
      body: z.object({
        error: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'an RPC error name such as FLOOD_WAIT_30'),
        count: z.number().int().positive().max(100000).optional(),
        method: z
          .string()
          .regex(/^[a-zA-Z.]+$/)
          .optional(),
        phone: phone.optional(),
        code: z.number().int().min(300).max(599).optional(),
      }),
      handler: ({ body }) => ({ status: 201, body: faults.add(body) }),
    },
    {
      method: 'GET',
      path: '/faults',
      description: 'Pending fault rules.',
      handler: () => ({ body: { faults: faults.list() } }),
    },
    {
      method: 'DELETE',
      path: '/faults',
      description: 'Clear every pending fault rule.',
      handler: () => {
        faults.clear();
        return { body: { ok: true } };
      },
    },
    {
      method: 'POST',
      path: '/connections/drop',
      description: "Close an account's connections (all connections without phone).",
      bodyDoc: '{"phone"?}',
      body: z.object({ phone: phone.optional() }),
      handler: ({ body }) => {
        const sink = world.updateSink;
        if (!sink) return { body: { dropped: 0 } };
        const dropped = body.phone ? sink.drop(world.keysOf(userOf(body.phone).id)) : sink.drop();
        return { body: { dropped } };
      },
    },
    {
      method: 'POST',
      path: '/connections/refuse',
      description: 'Refuse new TCP connections for a while (0 lifts it).',
      bodyDoc: '{"ms": number}',
      body: z.object({ ms: z.number().int().min(0).max(3600000) }),
      handler: ({ body }) => {
        world.updateSink?.refuseConnections(body.ms);
        return { body: { refusingForMs: body.ms } };
      },
    },
  ];
  return routes;
}

/** For private chats and groups: each member's own id of the message just sent, by phone. */
function copiesOf(
  world: World,
  fromId: number,
  key: PeerKey,
  msgId: number,
): { copies?: Record<string, number> } {
  if (parsePeerKey(key).kind === 'h') return {};
  const copy = world.box(fromId).messages[msgId];
  const post = copy ? world.state.posts[copy.postId] : undefined;
  if (!post) return {};
  return { copies: Object.fromEntries(post.copies.map(([uid, mid]) => [world.user(uid).phone, mid])) };
}
