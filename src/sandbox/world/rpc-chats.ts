/** Basic groups, channels, members, admins and invite links. */
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { HandlerTable } from './rpc.js';
import { resolveChannel, resolvePeer, resolveUser } from './rpc-peers.js';
import { UNSUPPORTED_METHOD_ERROR, adminRightsFromApi, long, now, num, parsePeerKey } from './tl.js';

/** help.getConfig's chat_size_max (rpc-account.ts): members a basic group holds at most. */
const CHAT_SIZE_MAX = 200;

/**
 * messages.invitedUsers: the updates of the invitation and the users left out because their
 * privacy settings forbid it (privacy.ts; core.telegram.org/constructor/missingInvitee).
 */
function invitedUsers(
  updates: Api.TypeUpdates,
  missingInvitees: Api.TypeMissingInvitee[] = [],
): Api.messages.InvitedUsers {
  return new Api.messages.InvitedUsers({ updates, missingInvitees });
}

const noUpdates = (): Api.Updates => new Api.Updates({ updates: [], users: [], chats: [], date: 0, seq: 0 });

export const chatHandlers: HandlerTable = {
  authorized: {
    'messages.GetChats': ({ world, userId }, req: Api.messages.GetChats) => {
      const chats = req.id.map((id) => {
        world.chat(num(id));
        return world.apiChat(userId, num(id));
      });
      return new Api.messages.Chats({ chats });
    },
    'messages.GetFullChat': ({ world, userId }, req: Api.messages.GetFullChat) => {
      const chat = world.chat(num(req.chatId));
      const entities = world.entities(userId).addChat(chat.id);
      for (const p of chat.participants) entities.addUser(p.userId);
      const member = chat.participants.some((p) => p.userId === userId);
      return new Api.messages.ChatFull({
        fullChat: new Api.ChatFull({
          id: long(chat.id),
          about: '',
          participants: member
            ? world.apiChatParticipants(chat)
            : new Api.ChatParticipantsForbidden({ chatId: long(chat.id) }),
          notifySettings: new Api.PeerNotifySettings({}),
        }),
        ...entities.build(),
      });
    },
    'messages.CreateChat': (call, req: Api.messages.CreateChat) => {
      const members = req.users.map((u) => resolveUser(call.world, call.userId, u));
      const { allowed, missing } = call.world.checkInvitees(call.userId, members);
      return invitedUsers(
        call.world.createChat(call.userId, req.title, allowed, { keyId: call.ctx.authKeyId }).result,
        missing,
      );
    },
    'messages.AddChatUser': (call, req: Api.messages.AddChatUser) => {
      const chatId = num(req.chatId);
      const user = resolveUser(call.world, call.userId, req.userId);
      const chat = call.world.chat(chatId);
      const inChat = (id: number) => chat.participants.some((p) => p.userId === id);
      // Telegram's checks come before the invitee's privacy: the adder must be in the group
      // (else 403 CHAT_WRITE_FORBIDDEN, as for writing there), the invitee not yet, and the
      // group not full (help.getConfig's chat_size_max; core.telegram.org/method/messages.addChatUser).
      if (!inChat(call.userId)) throw new RpcError(403, 'CHAT_WRITE_FORBIDDEN');
      if (inChat(user)) throw new RpcError(400, 'USER_ALREADY_PARTICIPANT');
      if (chat.participants.length >= CHAT_SIZE_MAX) throw new RpcError(400, 'USERS_TOO_MUCH');
      const { missing } = call.world.checkInvitees(call.userId, [user]);
      if (missing.length) return invitedUsers(noUpdates(), missing);
      return invitedUsers(call.world.addChatUser(call.userId, chatId, user, { keyId: call.ctx.authKeyId }));
    },
    'messages.DeleteChatUser': (call, req: Api.messages.DeleteChatUser) =>
      call.world.deleteChatUser(
        call.userId,
        num(req.chatId),
        resolveUser(call.world, call.userId, req.userId),
        { keyId: call.ctx.authKeyId },
      ),
    'messages.EditChatAdmin': ({ world, userId }, req: Api.messages.EditChatAdmin) =>
      world.editChatAdmin(
        userId,
        num(req.chatId),
        resolveUser(world, userId, req.userId),
        Boolean(req.isAdmin),
      ),
    'messages.ExportChatInvite': ({ world, userId }, req: Api.messages.ExportChatInvite) =>
      world.exportInvite(userId, resolvePeer(world, userId, req.peer)),
    'messages.CheckChatInvite': ({ world, userId }, req: Api.messages.CheckChatInvite) =>
      world.checkInvite(userId, req.hash),
    'messages.ImportChatInvite': (call, req: Api.messages.ImportChatInvite) =>
      call.world.importInvite(call.userId, req.hash, { keyId: call.ctx.authKeyId }),
    'channels.CreateChannel': (call, req: Api.channels.CreateChannel) =>
      call.world.createChannel(
        call.userId,
        { title: req.title, about: req.about, megagroup: Boolean(req.megagroup) },
        { keyId: call.ctx.authKeyId },
      ).result,
    'channels.JoinChannel': (call, req: Api.channels.JoinChannel) => {
      const channelId = resolveChannel(call.world, call.userId, req.channel);
      if (!call.world.channel(channelId).username) throw new RpcError(400, 'CHANNEL_PRIVATE');
      return call.world.joinChannel(call.userId, channelId, call.userId, { keyId: call.ctx.authKeyId });
    },
    'channels.LeaveChannel': (call, req: Api.channels.LeaveChannel) =>
      call.world.leaveChannel(call.userId, resolveChannel(call.world, call.userId, req.channel), {
        keyId: call.ctx.authKeyId,
      }),
    'channels.InviteToChannel': (call, req: Api.channels.InviteToChannel) => {
      const channelId = resolveChannel(call.world, call.userId, req.channel);
      const channel = call.world.channel(channelId);
      if (!call.world.channelRights(channel, call.userId)?.inviteUsers)
        throw new RpcError(403, 'CHAT_ADMIN_REQUIRED');
      const users = req.users.map((user) => resolveUser(call.world, call.userId, user));
      // core.telegram.org/method/channels.inviteToChannel: a removed (banned) user is refused
      // with USER_KICKED until unbanned; one already in, USER_ALREADY_PARTICIPANT.
      for (const id of users) {
        const participant = channel.participants[id];
        if (participant?.banned) throw new RpcError(400, 'USER_KICKED');
        if (participant && !participant.left) throw new RpcError(400, 'USER_ALREADY_PARTICIPANT');
      }
      const { allowed, missing } = call.world.checkInvitees(call.userId, users);
      for (const id of allowed) call.world.joinChannel(id, channelId, call.userId);
      // The answer is the inviter's view (access hashes are per viewer), not the invitees'.
      const entities = call.world.entities(call.userId).addChannel(channelId);
      for (const id of allowed) entities.addUser(id);
      const updates = new Api.Updates({
        updates: allowed.length ? [new Api.UpdateChannel({ channelId: long(channelId) })] : [],
        ...entities.build(),
        date: now(),
        seq: 0,
      });
      return invitedUsers(updates, missing);
    },
    'channels.EditAdmin': (call, req: Api.channels.EditAdmin) =>
      call.world.editChannelAdmin(
        call.userId,
        resolveChannel(call.world, call.userId, req.channel),
        resolveUser(call.world, call.userId, req.userId),
        adminRightsFromApi(req.adminRights),
        req.rank ?? '',
        { keyId: call.ctx.authKeyId },
      ),
    'channels.EditBanned': (call, req: Api.channels.EditBanned) => {
      const channelId = resolveChannel(call.world, call.userId, req.channel);
      const target = parsePeerKey(resolvePeer(call.world, call.userId, req.participant));
      if (target.kind !== 'u') throw new RpcError(400, 'PARTICIPANT_ID_INVALID');
      const rights = req.bannedRights as Api.ChatBannedRights;
      const restrictions = Object.entries(rights.originalArgs ?? {}).filter(
        ([name, value]) => !['flags', 'untilDate', 'viewMessages'].includes(name) && value === true,
      );
      // Partial restrictions (mute, no media...) are not modelled: refuse rather than pretend.
      if (restrictions.length) throw new RpcError(400, UNSUPPORTED_METHOD_ERROR);
      if (rights.viewMessages) call.world.kickFromChannel(call.userId, channelId, target.id);
      else call.world.unbanFromChannel(call.userId, channelId, target.id);
      return new Api.Updates({
        updates: [new Api.UpdateChannel({ channelId: long(channelId) })],
        ...call.world.entities(call.userId).addChannel(channelId).build(),
        date: 0,
        seq: 0,
      });
    },
    'messages.EditChatTitle': (call, req: Api.messages.EditChatTitle) =>
      call.world.editChatTitle(call.userId, num(req.chatId), req.title, { keyId: call.ctx.authKeyId }),
    'messages.DeleteChat': ({ world, userId }, req: Api.messages.DeleteChat) =>
      world.deleteChat(userId, num(req.chatId)),
    'messages.MigrateChat': ({ world, userId }, req: Api.messages.MigrateChat) =>
      world.migrateChat(userId, num(req.chatId)).result,
    'channels.EditTitle': (call, req: Api.channels.EditTitle) =>
      call.world.editChannelTitle(
        call.userId,
        resolveChannel(call.world, call.userId, req.channel),
        req.title,
        { keyId: call.ctx.authKeyId },
      ),
    'channels.DeleteChannel': (call, req: Api.channels.DeleteChannel) =>
      call.world.deleteChannel(call.userId, resolveChannel(call.world, call.userId, req.channel), {
        keyId: call.ctx.authKeyId,
      }),
    'channels.GetChannels': ({ world, userId }, req: Api.channels.GetChannels) =>
      new Api.messages.Chats({
        chats: req.id.map((input) => world.apiChannel(userId, resolveChannel(world, userId, input))),
      }),
    'channels.GetFullChannel': ({ world, userId }, req: Api.channels.GetFullChannel) => {
      const channelId = resolveChannel(world, userId, req.channel);
      const channel = world.readableChannel(userId, channelId);
      const members = world.channelMembers(channel);
      const admins = members.filter((id) => world.channelRights(channel, id));
      const pinned = Object.values(channel.messages)
        .filter((m) => m.pinned)
        .map((m) => m.id);
      return new Api.messages.ChatFull({
        fullChat: new Api.ChannelFull({
          id: long(channelId),
          about: channel.about,
          participantsCount: members.length,
          adminsCount: admins.length,
          readInboxMaxId: channel.readInbox[userId] ?? 0,
          readOutboxMaxId: 0,
          unreadCount: world.channelUnreadCount(channel, userId),
          chatPhoto: new Api.PhotoEmpty({ id: long(0) }),
          notifySettings: new Api.PeerNotifySettings({}),
          botInfo: [],
          pts: channel.pts,
          canViewParticipants: true,
          ...(pinned.length ? { pinnedMsgId: Math.max(...pinned) } : {}),
        }),
        ...world.entities(userId).addChannel(channelId).build(),
      });
    },
    'channels.GetParticipants': ({ world, userId }, req: Api.channels.GetParticipants) => {
      const channelId = resolveChannel(world, userId, req.channel);
      const channel = world.readableChannel(userId, channelId);
      let records = Object.values(channel.participants);
      const filter = req.filter;
      if (filter instanceof Api.ChannelParticipantsAdmins)
        records = records.filter((p) => !p.left && (p.adminRights || p.userId === channel.creatorId));
      else if (
        filter instanceof Api.ChannelParticipantsKicked ||
        filter instanceof Api.ChannelParticipantsBanned
      )
        records = records.filter((p) => p.banned);
      else records = records.filter((p) => !p.left && !p.banned);
      if (filter instanceof Api.ChannelParticipantsSearch && filter.q) {
        const q = filter.q.toLowerCase();
        records = records.filter((p) => {
          const user = world.findUser(p.userId);
          return (
            user && `${user.firstName} ${user.lastName} ${user.username ?? ''}`.toLowerCase().includes(q)
          );
        });
      }
      records.sort((a, b) => a.date - b.date || a.userId - b.userId);
      const taken = records.slice(
        Math.max(0, req.offset),
        Math.max(0, req.offset) + (req.limit > 0 ? Math.min(req.limit, 200) : 200),
      );
      const entities = world.entities(userId);
      for (const p of taken) entities.addUser(p.userId);
      return new Api.channels.ChannelParticipants({
        count: records.length,
        participants: taken.map((p) => world.apiChannelParticipant(channel, p.userId, userId)),
        ...entities.build(),
      });
    },
    'channels.GetParticipant': ({ world, userId }, req: Api.channels.GetParticipant) => {
      const channelId = resolveChannel(world, userId, req.channel);
      const channel = world.readableChannel(userId, channelId);
      const target = parsePeerKey(resolvePeer(world, userId, req.participant));
      if (target.kind !== 'u') throw new RpcError(400, 'PARTICIPANT_ID_INVALID');
      return new Api.channels.ChannelParticipant({
        participant: world.apiChannelParticipant(channel, target.id, userId),
        ...world.entities(userId).addUser(target.id).addChannel(channelId).build(),
      });
    },
    'channels.UpdateUsername': ({ world, userId }, req: Api.channels.UpdateUsername) => {
      const channelId = resolveChannel(world, userId, req.channel);
      world.setChannelUsername(userId, channelId, req.username || null);
      return true;
    },
    'channels.GetAdminedPublicChannels': ({ world, userId }) =>
      new Api.messages.Chats({
        chats: Object.values(world.state.channels)
          .filter((c) => c.username && c.creatorId === userId)
          .map((c) => world.apiChannel(userId, c.id)),
      }),
    'channels.GetInactiveChannels': () => new Api.messages.InactiveChats({ dates: [], chats: [], users: [] }),
    'messages.GetCommonChats': ({ world, userId }, req: Api.messages.GetCommonChats) => {
      const other = resolveUser(world, userId, req.userId);
      const chats = Object.values(world.state.chats)
        .filter(
          (c) =>
            c.participants.some((p) => p.userId === other) && c.participants.some((p) => p.userId === userId),
        )
        .map((c) => world.apiChat(userId, c.id));
      return new Api.messages.Chats({ chats });
    },
  },
};
