/** Control routes for what a user does in a chat: send, edit, delete, react, pin, read, typing. */
import { randomBytes } from 'node:crypto';
import { Api } from 'teleproto';
import { z } from 'zod';
import type { World } from '../../world/world.js';
import type { PeerKey } from '../../world/state.js';
import { parsePeerKey } from '../../world/tl.js';
import { lookupsFor } from './lookups.js';
import { emoji, phone, target, toBotApiId } from './route.js';
import type { Route } from './route.js';
import { MEDIA_BODY_DOC, MEDIA_MAX_BODY, mediaItem, sendControlMedia } from './media.js';

export function messageRoutes(world: World): Route[] {
  const { userOf, resolveTarget } = lookupsFor(world);

  return [
    {
      method: 'POST',
      path: '/messages',
      description:
        'A user sends a message, a photo or file, or an album, exactly as from their own app (files are stored on their home DC).',
      bodyDoc: `{"from": phone, "to": phone | "@username" | chat id, "text"?, "replyToMessageId"?, "silent"?, ${MEDIA_BODY_DOC}}; "text" or media is required`,
      maxBody: MEDIA_MAX_BODY,
      body: z
        .object({
          from: phone,
          to: target,
          text: z.string().min(1).max(4096).optional(),
          replyToMessageId: z.number().int().positive().optional(),
          silent: z.boolean().optional(),
          media: mediaItem.optional(),
          album: z.array(mediaItem).optional(),
        })
        .refine((b) => !(b.media && b.album), { message: 'either "media" or "album", not both' })
        .refine((b) => b.text !== undefined || b.media || b.album, {
          message: '"text", "media" or "album" is required',
        }),
      handler: async ({ body }) => {
        const from = userOf(body.from);
        const key = resolveTarget(from.id, body.to);
        if (body.media || body.album) {
          const sent = await sendControlMedia(world, from.id, key, body);
          return {
            status: 201,
            body: {
              id: sent.ids[0],
              ...(body.album ? { ids: sent.ids, groupedId: sent.groupedId } : {}),
              chatId: toBotApiId(key),
              ...copiesOf(world, from.id, key, sent.ids[0]),
            },
          };
        }
        const sent = world.sendMessage(from.id, key, {
          text: body.text ?? '',
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
      path: '/messages/forward',
      description: 'A user forwards messages of a chat they can read to another chat, as from their app.',
      bodyDoc: '{"from": phone, "fromChat": target as "from" sees it, "messageIds": [id], "to": target}',
      body: z.object({
        from: phone,
        fromChat: target,
        messageIds: z.array(z.number().int().positive()).min(1).max(100),
        to: target,
      }),
      handler: ({ body }) => {
        const from = userOf(body.from);
        const key = resolveTarget(from.id, body.to);
        const randomIds = body.messageIds.map(() => randomBytes(8).readBigInt64LE());
        world.forwardMessages(
          from.id,
          resolveTarget(from.id, body.fromChat),
          body.messageIds,
          key,
          randomIds,
        );
        return { status: 201, body: { chatId: toBotApiId(key) } };
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
      path: '/messages/age',
      description:
        'Date a message back by "seconds", as if sent that long ago (e.g. past the 48-hour edit limit).',
      bodyDoc: '{"by": phone, "chat": target as "by" sees it, "messageId", "seconds"}',
      body: z.object({
        by: phone,
        chat: target,
        messageId: z.number().int().positive(),
        seconds: z
          .number()
          .int()
          .positive()
          .max(10 * 365 * 86400),
      }),
      handler: ({ body }) => {
        const by = userOf(body.by);
        world.ageMessage(by.id, resolveTarget(by.id, body.chat), body.messageId, body.seconds);
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
  ];
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
