import type { Logger } from 'pino';
import { Api, helpers } from 'teleproto';
import type { z } from 'zod';
import { AppError } from '../../lib/errors.js';
import type { TelegramAccount } from '../../telegram/account.js';
import { chatView, memberRole, memberView, messageView, participantUserId } from '../../telegram/convert.js';
import { entityBotApiId, parseBotApiId, peerToBotApiId } from '../../telegram/ids.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { ChatView, MemberView, MessageView } from '../../lib/telegram-views.js';
import type { AddMembersResult, membersQuery, searchBody } from './chats.schema.js';
import { addMembers, removeMember } from './chat-members.js';

export interface ChatsServiceDeps {
  sessions: SessionManager;
  log: Logger;
}

const INVITE_LINK = /^(?:https?:\/\/)?(?:t\.me|telegram\.me|telegram\.dog)\/(?:\+|joinchat\/)([\w-]+)\/?$/i;
const PUBLIC_LINK = /^(?:https?:\/\/)?(?:t\.me|telegram\.me|telegram\.dog)\/([A-Za-z0-9_]{3,64})\/?$/i;
const USERNAME = /^@?([A-Za-z0-9_]{3,64})$/;

function entitiesOf(res: {
  users?: Api.TypeUser[];
  chats?: Api.TypeChat[];
}): (Api.TypeUser | Api.TypeChat)[] {
  return [...(res.users ?? []), ...(res.chats ?? [])];
}

function findEntity(
  list: (Api.TypeUser | Api.TypeChat)[],
  id: string,
): Api.TypeUser | Api.TypeChat | undefined {
  return list.find((e) => entityBotApiId(e) === id);
}

/** Dialogs, chat info, join and leave, members, and message search. */
export class ChatsService {
  constructor(private readonly deps: ChatsServiceDeps) {}

  async list(sessionId: string, limit: number): Promise<ChatView[]> {
    const account = await this.deps.sessions.account(sessionId);
    const res = await account.invoke(
      new Api.messages.GetDialogs({
        offsetDate: 0,
        offsetId: 0,
        offsetPeer: new Api.InputPeerEmpty(),
        limit,
        hash: helpers.returnBigInt(0),
      }),
    );
    if (res instanceof Api.messages.DialogsNotModified) return [];
    const entities = entitiesOf(res);
    const out: ChatView[] = [];
    for (const dialog of res.dialogs) {
      if (!(dialog instanceof Api.Dialog)) continue;
      const entity = findEntity(entities, peerToBotApiId(dialog.peer));
      if (entity) out.push(chatView(entity, dialog));
    }
    return out;
  }

  async get(sessionId: string, chatId: string): Promise<ChatView> {
    const account = await this.deps.sessions.account(sessionId);
    const { peer, id } = await account.resolvePeer(chatId);
    return this.describe(account, peer, id);
  }

  private async describe(account: TelegramAccount, peer: Api.TypeInputPeer, id: string): Promise<ChatView> {
    const kind = parseBotApiId(id)?.kind;
    if (kind === 'user') {
      const user = peer instanceof Api.InputPeerSelf ? new Api.InputUserSelf() : account.inputUser(id);
      if (!user) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
      const [u] = await account.invoke(new Api.users.GetUsers({ id: [user] }));
      if (!u || u instanceof Api.UserEmpty) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
      return chatView(u);
    }
    if (kind === 'chat') {
      const full = await account.invoke(
        new Api.messages.GetFullChat({ chatId: (peer as Api.InputPeerChat).chatId }),
      );
      const chat = findEntity(full.chats, id);
      if (!chat) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
      const view = chatView(chat);
      const participants = full.fullChat instanceof Api.ChatFull ? full.fullChat.participants : undefined;
      if (participants instanceof Api.ChatParticipants) view.membersCount = participants.participants.length;
      return view;
    }
    const channel = account.inputChannel(id);
    if (!channel) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
    const full = await account.invoke(new Api.channels.GetFullChannel({ channel }));
    const chat = findEntity(full.chats, id);
    if (!chat) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
    const view = chatView(chat);
    if (full.fullChat instanceof Api.ChannelFull && full.fullChat.participantsCount !== undefined)
      view.membersCount = full.fullChat.participantsCount;
    return view;
  }

  async join(sessionId: string, target: string): Promise<ChatView> {
    const account = await this.deps.sessions.account(sessionId);
    const invite = INVITE_LINK.exec(target);
    if (invite) return this.joinByInvite(account, invite[1]!);
    const name = PUBLIC_LINK.exec(target)?.[1] ?? USERNAME.exec(target)?.[1];
    let id: string;
    if (name) id = (await account.resolvePeer(`@${name}`)).id;
    else if (parseBotApiId(target)) id = target;
    else
      throw new AppError('VALIDATION_ERROR', 'target must be @name, https://t.me/name or https://t.me/+hash');
    const kind = parseBotApiId(id)?.kind;
    if (kind !== 'channel')
      throw new AppError(
        'BAD_REQUEST',
        'Only public groups and channels can be joined by name; use an invite link',
      );
    const channel = account.inputChannel(id);
    if (!channel) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
    const res = await account.invoke(new Api.channels.JoinChannel({ channel }));
    const entity = 'chats' in res ? findEntity(entitiesOf(res), id) : undefined;
    const view = entity
      ? chatView(entity)
      : await this.describe(account, (await account.resolvePeer(id)).peer, id);
    await this.deps.sessions.publish('chat.member_joined', sessionId, {
      chatId: view.id,
      userId: account.selfId,
      actorId: null,
      chat: view,
    });
    return view;
  }

  private async joinByInvite(account: TelegramAccount, hash: string): Promise<ChatView> {
    let chat: Api.TypeChat | undefined;
    try {
      const res = await account.invoke(new Api.messages.ImportChatInvite({ hash }));
      chat = 'chats' in res ? res.chats[0] : undefined;
    } catch (err) {
      if (!(
        err instanceof AppError &&
        (err.details as { telegramError?: string })?.telegramError === 'USER_ALREADY_PARTICIPANT'
      ))
        throw err;
      const check = await account.invoke(new Api.messages.CheckChatInvite({ hash }));
      if (check instanceof Api.ChatInviteAlready || check instanceof Api.ChatInvitePeek) chat = check.chat;
      if (chat) account.remember([], [chat]);
    }
    if (!chat) throw new AppError('TELEGRAM_ERROR', 'Telegram did not return the joined chat');
    const view = chatView(chat);
    await this.deps.sessions.publish('chat.member_joined', account.sessionId, {
      chatId: view.id,
      userId: account.selfId,
      actorId: null,
      chat: view,
    });
    return view;
  }

  async leave(sessionId: string, chatId: string): Promise<{ chatId: string; left: true }> {
    const account = await this.deps.sessions.account(sessionId);
    const { peer, id } = await account.resolvePeer(chatId);
    const kind = parseBotApiId(id)?.kind;
    if (kind === 'channel') {
      const channel = account.inputChannel(id);
      if (!channel) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
      await account.invoke(new Api.channels.LeaveChannel({ channel }));
    } else if (kind === 'chat') {
      await account.invoke(
        new Api.messages.DeleteChatUser({
          chatId: (peer as Api.InputPeerChat).chatId,
          userId: new Api.InputUserSelf(),
        }),
      );
    } else {
      throw new AppError('BAD_REQUEST', 'A private chat cannot be left');
    }
    await this.deps.sessions.publish('chat.member_left', sessionId, {
      chatId: id,
      userId: account.selfId,
      actorId: null,
    });
    return { chatId: id, left: true };
  }

  async members(chatId: string, query: z.infer<typeof membersQuery>): Promise<MemberView[]> {
    const account = await this.deps.sessions.account(query.sessionId);
    const { peer, id } = await account.resolvePeer(chatId);
    const kind = parseBotApiId(id)?.kind;
    if (kind === 'channel') {
      const channel = account.inputChannel(id);
      if (!channel) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
      const res = await account.invoke(
        new Api.channels.GetParticipants({
          channel,
          filter: query.query
            ? new Api.ChannelParticipantsSearch({ q: query.query })
            : new Api.ChannelParticipantsRecent(),
          offset: query.offset,
          limit: query.limit,
          hash: helpers.returnBigInt(0),
        }),
      );
      if (!(res instanceof Api.channels.ChannelParticipants)) return [];
      return this.toMembers(res.participants, res.users);
    }
    if (kind === 'chat') {
      const full = await account.invoke(
        new Api.messages.GetFullChat({ chatId: (peer as Api.InputPeerChat).chatId }),
      );
      const participants = full.fullChat instanceof Api.ChatFull ? full.fullChat.participants : undefined;
      if (!(participants instanceof Api.ChatParticipants)) return [];
      let members = this.toMembers(participants.participants, full.users);
      if (query.query) {
        const q = query.query.toLowerCase();
        members = members.filter((m) =>
          [m.firstName, m.lastName, m.username].some((v) => v?.toLowerCase().includes(q)),
        );
      }
      return members.slice(query.offset, query.offset + query.limit);
    }
    throw new AppError('BAD_REQUEST', 'A private chat has no member list');
  }

  /** Adds users to a group or channel: who was added, who was refused and why (chat-members.ts). */
  async addMembers(
    chatId: string,
    input: { sessionId: string; userIds: string[] },
  ): Promise<AddMembersResult> {
    const account = await this.deps.sessions.account(input.sessionId);
    return addMembers(account, chatId, input.userIds);
  }

  async removeMember(
    chatId: string,
    userId: string,
    sessionId: string,
  ): Promise<{ chatId: string; userId: string; removed: true }> {
    return removeMember(await this.deps.sessions.account(sessionId), chatId, userId);
  }

  private toMembers(
    participants: (Api.TypeChatParticipant | Api.TypeChannelParticipant)[],
    users: Api.TypeUser[],
  ): MemberView[] {
    const byId = new Map(
      users.filter((u): u is Api.User => u instanceof Api.User).map((u) => [u.id.toString(), u]),
    );
    const out: MemberView[] = [];
    for (const p of participants) {
      const user = byId.get(participantUserId(p) ?? '');
      if (user) out.push(memberView(user, memberRole(p)));
    }
    return out;
  }

  async search(input: z.infer<typeof searchBody>): Promise<MessageView[]> {
    const account = await this.deps.sessions.account(input.sessionId);
    const limit = input.limit ?? 20;
    let res: Api.messages.TypeMessages;
    if (input.chatId) {
      const { peer } = await account.resolvePeer(input.chatId);
      res = await account.invoke(
        new Api.messages.Search({
          peer,
          q: input.query,
          filter: new Api.InputMessagesFilterEmpty(),
          minDate: 0,
          maxDate: 0,
          offsetId: 0,
          addOffset: 0,
          limit,
          maxId: 0,
          minId: 0,
          hash: helpers.returnBigInt(0),
        }),
      );
    } else {
      res = await account.invoke(
        new Api.messages.SearchGlobal({
          q: input.query,
          filter: new Api.InputMessagesFilterEmpty(),
          minDate: 0,
          maxDate: 0,
          offsetRate: 0,
          offsetPeer: new Api.InputPeerEmpty(),
          offsetId: 0,
          limit,
        }),
      );
    }
    if (res instanceof Api.messages.MessagesNotModified) return [];
    return res.messages
      .filter((m) => !(m instanceof Api.MessageEmpty))
      .map((m) => messageView(m, account.selfId));
  }
}
