import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses, ok, okPaged } from '../../lib/schemas.js';
import { assertSessionAccess } from '../../plugins/auth.js';
import {
  deleteBody,
  deleteResult,
  editBody,
  forwardBody,
  historyQuery,
  idempotencyHeaders,
  messageObject,
  pinBody,
  pinResult,
  reactBody,
  readBody,
  readResult,
  replyBody,
  sendBody,
  unpinBody,
} from './messages.schema.js';
import type { MessagesService } from './messages.service.js';

const tags = ['messages'];
/** What a route that talks to Telegram can answer besides success. */
const telegramErrors = errorResponses(404, 409, 502, 503);
const IDEMPOTENCY_NOTE =
  'With an `Idempotency-Key` header, a retry within 24 hours returns the first result and sends nothing; ' +
  'a retry while the first request is still running waits for it (409 CONFLICT after 10 s). ' +
  'Sends are paced per session and per chat (SEND_RATE_PER_SESSION, SEND_RATE_PER_CHAT and their bursts), ' +
  'so a burst waits its turn instead of collecting flood waits; Telegram flood waits up to ' +
  'FLOOD_SLEEP_THRESHOLD_SECONDS are waited out, longer ones answer 429 FLOOD_WAIT with Retry-After.';

export const messagesRoutes: FastifyPluginAsyncZod<{ messages: MessagesService }> = async (
  app,
  { messages },
) => {
  app.post(
    '/send',
    {
      schema: {
        tags,
        summary: 'Send a text message',
        description: IDEMPOTENCY_NOTE,
        headers: idempotencyHeaders,
        body: sendBody,
        response: { 200: ok(messageObject), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      const data = await messages.send(request.body, request.headers['idempotency-key']);
      return { success: true as const, data };
    },
  );

  app.post(
    '/reply',
    {
      schema: {
        tags,
        summary: 'Reply to a message',
        description: IDEMPOTENCY_NOTE,
        headers: idempotencyHeaders,
        body: replyBody,
        response: { 200: ok(messageObject), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      const data = await messages.reply(request.body, request.headers['idempotency-key']);
      return { success: true as const, data };
    },
  );

  app.post(
    '/edit',
    {
      schema: {
        tags,
        summary: 'Edit the text of a message',
        body: editBody,
        response: { 200: ok(messageObject), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      return { success: true as const, data: await messages.edit(request.body) };
    },
  );

  app.post(
    '/delete',
    {
      schema: {
        tags,
        summary: 'Delete messages (for everyone unless revoke is false)',
        body: deleteBody,
        response: { 200: ok(deleteResult), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      return { success: true as const, data: await messages.delete(request.body) };
    },
  );

  app.post(
    '/forward',
    {
      schema: {
        tags,
        summary: 'Forward messages to another chat',
        description: IDEMPOTENCY_NOTE,
        headers: idempotencyHeaders,
        body: forwardBody,
        response: { 200: ok(z.array(messageObject)), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      const data = await messages.forward(request.body, request.headers['idempotency-key']);
      return { success: true as const, data };
    },
  );

  app.post(
    '/react',
    {
      schema: {
        tags,
        summary: "Set (or with null remove) this account's reaction to a message",
        body: reactBody,
        response: { 200: ok(messageObject), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      return { success: true as const, data: await messages.react(request.body) };
    },
  );

  app.post(
    '/pin',
    {
      schema: {
        tags,
        summary: 'Pin a message',
        body: pinBody,
        response: { 200: ok(pinResult), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      return { success: true as const, data: await messages.pin(request.body) };
    },
  );

  app.post(
    '/unpin',
    {
      schema: {
        tags,
        summary: 'Unpin a message, or every pinned message when messageId is omitted',
        body: unpinBody,
        response: { 200: ok(pinResult), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      return { success: true as const, data: await messages.unpin(request.body) };
    },
  );

  app.post(
    '/read',
    {
      schema: {
        tags,
        summary: 'Mark a chat read up to maxId (default: everything)',
        body: readBody,
        response: { 200: ok(readResult), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      return { success: true as const, data: await messages.read(request.body) };
    },
  );

  app.get(
    '/history',
    {
      schema: {
        tags,
        summary: 'Message history of a chat, newest first',
        description:
          'Page with offsetId: pass meta.nextCursor of the previous page (messages older than it).',
        querystring: historyQuery,
        response: { 200: okPaged(messageObject), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.query.sessionId);
      const data = await messages.history(request.query);
      const last = data.at(-1);
      return {
        success: true as const,
        data,
        meta: { nextCursor: data.length === request.query.limit && last ? String(last.id) : null },
      };
    },
  );
};
