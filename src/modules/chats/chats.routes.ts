import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses, ok } from '../../lib/schemas.js';
import { assertSessionAccess } from '../../plugins/auth.js';
import { messageObject } from '../../lib/telegram-views.js';
import {
  addMembersBody,
  addMembersResult,
  chatObject,
  chatParams,
  chatQuery,
  joinBody,
  leaveBody,
  leaveResult,
  listChatsQuery,
  memberObject,
  memberParams,
  membersQuery,
  removeMemberResult,
  searchBody,
} from './chats.schema.js';
import type { ChatsService } from './chats.service.js';

const tags = ['chats'];
const telegramErrors = errorResponses(404, 409, 502, 503);

export const chatsRoutes: FastifyPluginAsyncZod<{ chats: ChatsService }> = async (app, { chats }) => {
  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'The dialogs of a session, most recent first',
        querystring: listChatsQuery,
        response: { 200: ok(z.array(chatObject)), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.query.sessionId);
      return { success: true as const, data: await chats.list(request.query.sessionId, request.query.limit) };
    },
  );

  app.get(
    '/:id',
    {
      schema: {
        tags,
        summary: 'One chat',
        params: chatParams,
        querystring: chatQuery,
        response: { 200: ok(chatObject), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.query.sessionId);
      return { success: true as const, data: await chats.get(request.query.sessionId, request.params.id) };
    },
  );

  app.post(
    '/join',
    {
      schema: {
        tags,
        summary: 'Join a public group or channel, or accept an invite link',
        body: joinBody,
        response: { 200: ok(chatObject), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      return { success: true as const, data: await chats.join(request.body.sessionId, request.body.target) };
    },
  );

  app.post(
    '/leave',
    {
      schema: {
        tags,
        summary: 'Leave a group or channel',
        body: leaveBody,
        response: { 200: ok(leaveResult), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      return { success: true as const, data: await chats.leave(request.body.sessionId, request.body.chatId) };
    },
  );

  app.get(
    '/:id/members',
    {
      schema: {
        tags,
        summary: 'Members of a group or channel, each with its role',
        params: chatParams,
        querystring: membersQuery,
        response: { 200: ok(z.array(memberObject)), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.query.sessionId);
      return { success: true as const, data: await chats.members(request.params.id, request.query) };
    },
  );

  app.post(
    '/:id/members',
    {
      schema: {
        tags,
        summary: 'Add users to a group, supergroup or channel',
        description:
          'Each user is added on its own; the answer lists who was added and who Telegram refused, with ' +
          "the reason under Telegram's name (USER_PRIVACY_RESTRICTED: their privacy settings forbid it; " +
          'USER_ALREADY_PARTICIPANT, USER_KICKED, USER_NOT_MUTUAL_CONTACT, USER_CHANNELS_TOO_MUCH, ...). ' +
          'When no one was added, the answer is the error of the first refusal, with every refusal in ' +
          'details.refused. Errors about the chat (CHAT_ADMIN_REQUIRED, USERS_TOO_MUCH, FLOOD_WAIT) stop the request.',
        params: chatParams,
        body: addMembersBody,
        response: { 200: ok(addMembersResult), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      return { success: true as const, data: await chats.addMembers(request.params.id, request.body) };
    },
  );

  app.delete(
    '/:id/members/:userId',
    {
      schema: {
        tags,
        summary: 'Remove a member from a group, supergroup or channel',
        description:
          'In a supergroup or channel the user is banned (channels.editBanned), as Telegram removes members there.',
        params: memberParams,
        querystring: chatQuery,
        response: { 200: ok(removeMemberResult), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.query.sessionId);
      const { id, userId } = request.params;
      return { success: true as const, data: await chats.removeMember(id, userId, request.query.sessionId) };
    },
  );

  app.post(
    '/search',
    {
      schema: {
        tags,
        summary: 'Search messages in one chat, or in all chats without chatId',
        body: searchBody,
        response: { 200: ok(z.array(messageObject)), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      return { success: true as const, data: await chats.search(request.body) };
    },
  );
};
