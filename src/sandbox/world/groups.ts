/**
 * Basic groups: creating, members and admins, title, deletion.
 */
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { ChatRecord } from './state.js';
import { long, now, peerKey } from './tl.js';
import type { WorldContext, Origin } from './context.js';
import { chatMember, getChat, getUser } from './lookups.js';
import { apiChatParticipants } from './views.js';
import { pushTo } from './updates.js';
import { sendMessage } from './messages-send.js';
import { collectEntities } from './entities.js';

export function createChat(
  ctx: WorldContext,
  creatorId: number,
  title: string,
  memberIds: number[],
  origin?: Origin,
): { chatId: number; result: Api.TypeUpdates } {
  if (!title.trim()) throw new RpcError(400, 'CHAT_TITLE_EMPTY');
  const members = [...new Set(memberIds.filter((id) => id !== creatorId))];
  for (const id of members) getUser(ctx, id);
  const date = now();
  const chat: ChatRecord = {
    id: ctx.state.nextChatId++,
    title,
    date,
    creatorId,
    version: 1,
    deactivated: false,
    participants: [creatorId, ...members].map((userId) => ({
      userId,
      inviterId: creatorId,
      date,
      admin: userId === creatorId,
    })),
  };
  ctx.state.chats[chat.id] = chat;
  const sent = sendMessage(
    ctx,
    creatorId,
    peerKey('c', chat.id),
    {
      text: '',
      action: new Api.MessageActionChatCreate({
        title,
        users: [creatorId, ...members].map((id) => long(id)),
      }),
    },
    origin,
  );
  pushChatParticipants(
    ctx,
    chat,
    new Api.UpdateChatParticipants({ participants: apiChatParticipants(chat) }),
  );
  return { chatId: chat.id, result: sent.result };
}

export function addChatUser(
  ctx: WorldContext,
  actorId: number,
  chatId: number,
  userId: number,
  origin?: Origin,
): Api.TypeUpdates {
  const chat = getChat(ctx, chatId);
  if (!chatMember(chat, actorId)) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
  getUser(ctx, userId);
  if (chatMember(chat, userId)) throw new RpcError(400, 'USER_ALREADY_PARTICIPANT');
  const date = now();
  chat.participants.push({ userId, inviterId: actorId, date, admin: false });
  chat.version++;
  pushChatParticipants(
    ctx,
    chat,
    new Api.UpdateChatParticipantAdd({
      chatId: long(chatId),
      userId: long(userId),
      inviterId: long(actorId),
      date,
      version: chat.version,
    }),
  );
  return sendMessage(
    ctx,
    actorId,
    peerKey('c', chatId),
    { text: '', action: new Api.MessageActionChatAddUser({ users: [long(userId)] }) },
    origin,
  ).result;
}

export function deleteChatUser(
  ctx: WorldContext,
  actorId: number,
  chatId: number,
  userId: number,
  origin?: Origin,
): Api.TypeUpdates {
  const chat = getChat(ctx, chatId);
  if (!chatMember(chat, userId)) throw new RpcError(400, 'USER_NOT_PARTICIPANT');
  const actor = chat.participants.find((p) => p.userId === actorId);
  if (actorId !== userId && !actor?.admin && chat.creatorId !== actorId)
    throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
  const result = sendMessage(
    ctx,
    actorId,
    peerKey('c', chatId),
    { text: '', action: new Api.MessageActionChatDeleteUser({ userId: long(userId) }) },
    origin,
  ).result;
  chat.participants = chat.participants.filter((p) => p.userId !== userId);
  chat.version++;
  pushChatParticipants(
    ctx,
    chat,
    new Api.UpdateChatParticipantDelete({
      chatId: long(chatId),
      userId: long(userId),
      version: chat.version,
    }),
    [userId],
  );
  ctx.changed();
  return result;
}

export function editChatAdmin(
  ctx: WorldContext,
  actorId: number,
  chatId: number,
  userId: number,
  isAdmin: boolean,
): boolean {
  const chat = getChat(ctx, chatId);
  if (chat.creatorId !== actorId) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
  const participant = chat.participants.find((p) => p.userId === userId);
  if (!participant) throw new RpcError(400, 'USER_NOT_PARTICIPANT');
  participant.admin = isAdmin;
  chat.version++;
  pushChatParticipants(
    ctx,
    chat,
    new Api.UpdateChatParticipantAdmin({
      chatId: long(chatId),
      userId: long(userId),
      isAdmin,
      version: chat.version,
    }),
  );
  ctx.changed();
  return true;
}

export function pushChatParticipants(
  ctx: WorldContext,
  chat: ChatRecord,
  update: Api.TypeUpdate,
  alsoTo: number[] = [],
): void {
  const date = now();
  for (const userId of [...chat.participants.map((p) => p.userId), ...alsoTo]) {
    const entities = collectEntities(ctx, userId).addChat(chat.id);
    for (const p of chat.participants) entities.addUser(p.userId);
    pushTo(ctx, userId, new Api.Updates({ updates: [update], ...entities.build(), date, seq: 0 }));
  }
}

export function editChatTitle(
  ctx: WorldContext,
  actorId: number,
  chatId: number,
  title: string,
  origin?: Origin,
): Api.TypeUpdates {
  const chat = getChat(ctx, chatId);
  if (!chatMember(chat, actorId)) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
  if (!title.trim()) throw new RpcError(400, 'CHAT_TITLE_EMPTY');
  if (title === chat.title) throw new RpcError(400, 'CHAT_NOT_MODIFIED');
  chat.title = title;
  chat.version++;
  return sendMessage(
    ctx,
    actorId,
    peerKey('c', chatId),
    { text: '', action: new Api.MessageActionChatEditTitle({ title }) },
    origin,
  ).result;
}

/** messages.deleteChat: the creator ends a basic group for everyone. */
export function deleteChat(ctx: WorldContext, actorId: number, chatId: number): boolean {
  const chat = getChat(ctx, chatId);
  if (chat.creatorId !== actorId) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
  const members = chat.participants.map((p) => p.userId);
  chat.deactivated = true;
  chat.participants = [];
  chat.version++;
  ctx.changed();
  for (const userId of members) {
    pushTo(
      ctx,
      userId,
      new Api.Updates({
        updates: [new Api.UpdateChat({ chatId: long(chatId) })],
        ...collectEntities(ctx, userId).addChat(chatId).build(),
        date: now(),
        seq: 0,
      }),
    );
  }
  return true;
}
