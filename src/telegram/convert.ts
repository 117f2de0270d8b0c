/** Telegram objects turned into the JSON shapes of API.md. */
import { Api } from 'teleproto';
import type {
  ChatView,
  MemberView,
  MessageEntityView,
  MessageView,
  TelegramUserView,
} from '../lib/telegram-views.js';
import { mediaView } from './convert-media.js';
import { entityBotApiId, peerToBotApiId } from './ids.js';

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

export function userView(user: Api.User): TelegramUserView {
  return {
    id: user.id.toString(),
    firstName: user.firstName ?? null,
    lastName: user.lastName ?? null,
    username: user.username ?? null,
    phone: user.phone ?? null,
  };
}

function reactionEmoji(reaction: Api.TypeReaction): string {
  if (reaction instanceof Api.ReactionEmoji) return reaction.emoticon;
  if (reaction instanceof Api.ReactionCustomEmoji) return `custom:${reaction.documentId.toString()}`;
  return 'paid';
}

/** Entity classes without extra fields, by their Bot API type name. */
const PLAIN_ENTITY_TYPES: Array<
  [new (...args: never[]) => Api.TypeMessageEntity, MessageEntityView['type']]
> = [
  [Api.MessageEntityMention, 'mention'],
  [Api.MessageEntityHashtag, 'hashtag'],
  [Api.MessageEntityCashtag, 'cashtag'],
  [Api.MessageEntityBotCommand, 'bot_command'],
  [Api.MessageEntityUrl, 'url'],
  [Api.MessageEntityEmail, 'email'],
  [Api.MessageEntityPhone, 'phone_number'],
  [Api.MessageEntityBankCard, 'bank_card'],
  [Api.MessageEntityBold, 'bold'],
  [Api.MessageEntityItalic, 'italic'],
  [Api.MessageEntityUnderline, 'underline'],
  [Api.MessageEntityStrike, 'strikethrough'],
  [Api.MessageEntitySpoiler, 'spoiler'],
  [Api.MessageEntityCode, 'code'],
];

export function entityView(entity: Api.TypeMessageEntity): MessageEntityView {
  const at = { offset: entity.offset, length: entity.length };
  if (entity instanceof Api.MessageEntityPre)
    return { type: 'pre', ...at, ...(entity.language ? { language: entity.language } : {}) };
  if (entity instanceof Api.MessageEntityTextUrl) return { type: 'text_link', ...at, url: entity.url };
  if (entity instanceof Api.MessageEntityMentionName)
    return { type: 'text_mention', ...at, userId: entity.userId.toString() };
  if (entity instanceof Api.InputMessageEntityMentionName) {
    const user = entity.userId;
    return { type: 'text_mention', ...at, ...('userId' in user ? { userId: user.userId.toString() } : {}) };
  }
  if (entity instanceof Api.MessageEntityCustomEmoji)
    return { type: 'custom_emoji', ...at, customEmojiId: entity.documentId.toString() };
  if (entity instanceof Api.MessageEntityBlockquote)
    return { type: entity.collapsed ? 'expandable_blockquote' : 'blockquote', ...at };
  const plain = PLAIN_ENTITY_TYPES.find(([cls]) => entity instanceof cls);
  return { type: plain ? plain[1] : 'unknown', ...at };
}

/** `{ entities }` to spread into a message view, or nothing when there are none. */
export function entityViews(
  entities: readonly Api.TypeMessageEntity[] | undefined,
): Pick<MessageView, 'entities'> {
  return entities?.length ? { entities: entities.map(entityView) } : {};
}

/** A message as API.md describes it; `selfId` fills senderId of outgoing private messages. */
export function messageView(msg: Api.TypeMessage, selfId: string): MessageView {
  if (msg instanceof Api.MessageEmpty) {
    return {
      id: msg.id,
      chatId: msg.peerId ? peerToBotApiId(msg.peerId) : '',
      senderId: null,
      date: iso(0),
      text: '',
      out: false,
      media: null,
    };
  }
  const chatId = peerToBotApiId(msg.peerId);
  let senderId: string | null = msg.fromId ? peerToBotApiId(msg.fromId) : null;
  if (!senderId && msg.peerId instanceof Api.PeerUser) senderId = msg.out ? selfId : chatId;
  if (!senderId && msg.peerId instanceof Api.PeerChannel && msg instanceof Api.Message && msg.post)
    senderId = chatId;
  if (!senderId && msg.out) senderId = selfId;
  const view: MessageView = {
    id: msg.id,
    chatId,
    senderId,
    date: iso(msg.date),
    text: msg instanceof Api.Message ? (msg.message ?? '') : '',
    ...(msg instanceof Api.Message ? entityViews(msg.entities) : {}),
    out: Boolean(msg.out),
    media: mediaView(msg),
  };
  if (msg.replyTo instanceof Api.MessageReplyHeader && msg.replyTo.replyToMsgId !== undefined)
    view.replyToMessageId = msg.replyTo.replyToMsgId;
  if (msg instanceof Api.Message) {
    if (msg.editDate) view.editDate = iso(msg.editDate);
    if (msg.fwdFrom) {
      view.forwardedFrom = {
        senderId: msg.fwdFrom.fromId ? peerToBotApiId(msg.fwdFrom.fromId) : null,
        name: msg.fwdFrom.fromName ?? null,
        date: iso(msg.fwdFrom.date),
      };
    }
    if (msg.reactions && msg.reactions.results.length > 0) {
      view.reactions = msg.reactions.results.map((r) => ({
        emoji: reactionEmoji(r.reaction),
        count: r.count,
      }));
    }
    if (msg.pinned) view.pinned = true;
  }
  return view;
}

export function chatView(entity: Api.TypeUser | Api.TypeChat, dialog?: Api.TypeDialog): ChatView {
  const id = entityBotApiId(entity);
  const view: ChatView = { id, type: 'private', title: '' };
  if (entity instanceof Api.User) {
    view.type = entity.bot ? 'bot' : 'private';
    view.title =
      [entity.firstName, entity.lastName].filter(Boolean).join(' ') || entity.username || entity.phone || id;
    if (entity.username) view.username = entity.username;
  } else if (entity instanceof Api.UserEmpty) {
    view.title = id;
  } else if (entity instanceof Api.Chat) {
    view.type = 'group';
    view.title = entity.title;
    view.membersCount = entity.participantsCount;
  } else if (entity instanceof Api.ChatForbidden) {
    view.type = 'group';
    view.title = entity.title;
  } else if (entity instanceof Api.Channel) {
    view.type = entity.megagroup || entity.gigagroup ? 'supergroup' : 'channel';
    view.title = entity.title;
    if (entity.username) view.username = entity.username;
    if (entity.participantsCount !== undefined) view.membersCount = entity.participantsCount;
  } else if (entity instanceof Api.ChannelForbidden) {
    view.type = entity.megagroup ? 'supergroup' : 'channel';
    view.title = entity.title;
  } else {
    view.type = 'group';
    view.title = id;
  }
  if (dialog instanceof Api.Dialog) view.unreadCount = dialog.unreadCount;
  return view;
}

type Participant = Api.TypeChatParticipant | Api.TypeChannelParticipant;

export function memberRole(p: Participant): MemberView['role'] {
  if (p instanceof Api.ChatParticipantCreator || p instanceof Api.ChannelParticipantCreator) return 'creator';
  if (p instanceof Api.ChatParticipantAdmin || p instanceof Api.ChannelParticipantAdmin) return 'admin';
  if (p instanceof Api.ChannelParticipantBanned) return p.left ? 'banned' : 'restricted';
  return 'member';
}

export function participantUserId(p: Participant): string | undefined {
  if ('userId' in p && p.userId !== undefined) return p.userId.toString();
  if ('peer' in p && p.peer instanceof Api.PeerUser) return p.peer.userId.toString();
  return undefined;
}

export function memberView(user: Api.User, role: MemberView['role']): MemberView {
  return {
    id: user.id.toString(),
    firstName: user.firstName ?? null,
    lastName: user.lastName ?? null,
    username: user.username ?? null,
    bot: Boolean(user.bot),
    role,
  };
}
