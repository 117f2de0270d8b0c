/**
 * The JSON shapes of Telegram objects (users, messages with their entities, chats, members)
 * that both the HTTP modules and the Telegram adapter speak: the modules put them in their
 * responses and events, the adapter (telegram/convert.ts) builds them from Telegram's objects.
 */
import { z } from 'zod';
import { isoDate } from './schemas.js';

export const telegramUser = z
  .object({
    id: z.string().meta({ description: '64-bit Telegram user id, as a string' }),
    firstName: z.string().nullable(),
    lastName: z.string().nullable(),
    username: z.string().nullable(),
    phone: z.string().nullable(),
  })
  .meta({ id: 'TelegramUser' });
export type TelegramUserView = z.infer<typeof telegramUser>;

const ENTITY_TYPES = [
  'mention',
  'hashtag',
  'cashtag',
  'bot_command',
  'url',
  'email',
  'phone_number',
  'bank_card',
  'bold',
  'italic',
  'underline',
  'strikethrough',
  'spoiler',
  'code',
  'pre',
  'text_link',
  'text_mention',
  'custom_emoji',
  'blockquote',
  'expandable_blockquote',
  'unknown',
] as const;

/** A formatting entity as the Bot API names it; offset and length count UTF-16 code units. */
export const messageEntityObject = z
  .object({
    type: z.enum(ENTITY_TYPES),
    offset: z.number().int().meta({ description: 'Start in UTF-16 code units of text' }),
    length: z.number().int().meta({ description: 'Length in UTF-16 code units' }),
    url: z.string().optional().meta({ description: 'text_link: the link target' }),
    language: z.string().optional().meta({ description: 'pre: the code language, when given' }),
    userId: z.string().optional().meta({ description: 'text_mention: the mentioned user' }),
    customEmojiId: z.string().optional().meta({ description: 'custom_emoji: the emoji document id' }),
  })
  .meta({ id: 'MessageEntity' });
export type MessageEntityView = z.infer<typeof messageEntityObject>;

/**
 * The kinds of media a message carries: what received media is reported as and what
 * /messages/send-media and /send-album send (one list for both sides).
 */
export const MEDIA_KINDS = [
  'photo',
  'video',
  'document',
  'audio',
  'voice',
  'video_note',
  'animation',
  'sticker',
] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

/** A file attached to a message; nothing is downloaded until GET /api/v1/media/:mediaId asks. */
export const mediaObject = z
  .object({
    mediaId: z.string().meta({
      description: 'Opaque, stable id of the file (chat, message and file): GET /api/v1/media/{mediaId}',
    }),
    kind: z.enum(MEDIA_KINDS),
    mimeType: z.string(),
    fileName: z.string().optional(),
    size: z.number().int().meta({ description: 'Bytes of the file (for a photo: of its largest size)' }),
    width: z.number().int().optional(),
    height: z.number().int().optional(),
    duration: z.number().optional().meta({ description: 'Seconds (video, audio, voice, video notes)' }),
    thumbnails: z
      .array(
        z.object({
          size: z.string().meta({ description: "Telegram's size type letter: GET ...?thumb=<size>" }),
          width: z.number().int(),
          height: z.number().int(),
        }),
      )
      .meta({ description: 'Smaller images of the file, downloadable with thumb=<size>' }),
  })
  .meta({ id: 'Media' });
export type MediaView = z.infer<typeof mediaObject>;

export const messageObject = z
  .object({
    id: z.number().int(),
    chatId: z.string(),
    senderId: z.string().nullable(),
    date: isoDate,
    text: z.string(),
    entities: z.array(messageEntityObject).optional().meta({
      description: 'Formatting of text (what parseMode produced, or links Telegram detected)',
    }),
    out: z.boolean(),
    editDate: isoDate.optional(),
    replyToMessageId: z.number().int().optional(),
    forwardedFrom: z
      .object({ senderId: z.string().nullable(), name: z.string().nullable(), date: isoDate })
      .optional(),
    reactions: z.array(z.object({ emoji: z.string(), count: z.number().int() })).optional(),
    pinned: z.boolean().optional(),
    media: mediaObject.nullable().meta({ description: 'The attached file; null for text messages' }),
  })
  .meta({ id: 'Message' });
export type MessageView = z.infer<typeof messageObject>;

export const CHAT_TYPES = ['private', 'bot', 'group', 'supergroup', 'channel'] as const;
export type ChatType = (typeof CHAT_TYPES)[number];

export const chatObject = z
  .object({
    id: z.string().meta({ description: 'Bot-API-style id: user id, -<id> basic group, -100<id> channel' }),
    type: z.enum(CHAT_TYPES),
    title: z.string(),
    username: z.string().optional(),
    unreadCount: z.number().int().optional(),
    membersCount: z.number().int().optional(),
  })
  .meta({ id: 'Chat' });
export type ChatView = z.infer<typeof chatObject>;

export const MEMBER_ROLES = ['creator', 'admin', 'member', 'restricted', 'banned'] as const;
export const memberObject = z
  .object({
    id: z.string(),
    firstName: z.string().nullable(),
    lastName: z.string().nullable(),
    username: z.string().nullable(),
    bot: z.boolean(),
    role: z.enum(MEMBER_ROLES),
  })
  .meta({ id: 'ChatMember' });
export type MemberView = z.infer<typeof memberObject>;
