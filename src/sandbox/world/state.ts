/**
 * The world's data, kept as plain JSON-friendly records so a snapshot is one JSON.stringify
 * (bigints travel as decimal strings). All logic lives in world.ts; this file only has shapes.
 */
import type { PasswordRecord } from './srp.js';

/** A peer as the world names it: `u<id>` user, `c<id>` basic group, `h<id>` channel/supergroup. */
export type PeerKey = `u${number}` | `c${number}` | `h${number}`;

export interface UserRecord {
  id: number;
  accessHash: string;
  phone: string;
  firstName: string;
  lastName: string;
  username?: string;
  password?: PasswordRecord;
  /** Unix seconds until which the user counts as online (0: offline). */
  onlineUntil: number;
  lastSeen: number;
  contacts: number[];
  createdAt: number;
  /** Spam-restricted: messages to users who are not mutual contacts fail with PEER_FLOOD. */
  peerFlood?: boolean;
  /** Home data centre (1-5); absent in snapshots from before there were five: DC 2. */
  dc?: number;
  /** Privacy rules per key (privacy.ts); absent: Telegram's defaults. */
  privacy?: { chatInvite?: PrivacyRuleRecord[] };
}

/** One privacy rule (core.telegram.org/api/privacy); `ids`: users, or chats and channels. */
export interface PrivacyRuleRecord {
  kind:
    | 'allowAll'
    | 'allowContacts'
    | 'disallowAll'
    | 'disallowContacts'
    | 'allowUsers'
    | 'disallowUsers'
    | 'allowChatParticipants'
    | 'disallowChatParticipants';
  ids?: number[];
}

export interface AuthorizationRecord {
  /** auth_key_id as a decimal string. */
  keyId: string;
  userId?: number;
  /** Set between a signIn that needs 2FA and a successful checkPassword. */
  pendingUserId?: number;
  createdAt: number;
  hash: string;
  apiId?: number;
  deviceModel?: string;
  /** Terminated from elsewhere: the key stays, its calls answer 401 SESSION_REVOKED. */
  revoked?: boolean;
  /** Used from two IP addresses at once: every call on the key answers 406 AUTH_KEY_DUPLICATED. */
  duplicated?: boolean;
}

/** A message's photo or document (ids into WorldState.photos / documents). */
export interface MessageMediaRecord {
  photo?: string;
  document?: string;
  spoiler?: boolean;
}

/** One stored size of a photo or thumbnail: a JPEG in the file store. */
export interface PhotoSizeRecord {
  type: string;
  w: number;
  h: number;
  size: number;
  sha256: string;
}

/** What photos and documents share: ids and hashes as decimal strings, the DC they live on
 * (the uploader's home DC) and the secret their file references are made with. */
interface FileObjectRecord {
  id: string;
  accessHash: string;
  /** Keys the file references handed out for this file (hex). */
  secret: string;
  dc: number;
  date: number;
  ownerId: number;
}

export interface PhotoRecord extends FileObjectRecord {
  sizes: PhotoSizeRecord[];
  /** The photoStrippedSize "i" bytes (base64). */
  stripped: string;
}

export interface DocumentRecord extends FileObjectRecord {
  mimeType: string;
  size: number;
  sha256: string;
  /** DocumentAttribute objects as base64 TL bytes. */
  attributes: string[];
  thumbs?: PhotoSizeRecord[];
  /** Stripped thumbnail (base64) when the document has thumbs. */
  stripped?: string;
}

/** A file an account uploaded (upload.saveFilePart / saveBigFilePart, or the control API). */
export interface UploadedFileRecord {
  id: string;
  dc: number;
  size: number;
  sha256: string;
  parts: number;
  big: boolean;
  date: number;
}

/** Content shared by every account's copy of one message (private chats, basic groups). */
export interface PostRecord {
  id: number;
  fromId: number;
  date: number;
  text: string;
  /** Message entities as base64 TL bytes (the client's own serialization). */
  entities: string[];
  editDate?: number;
  fwdFrom?: { fromUserId?: number; fromChannelId?: number; channelPost?: number; date: number };
  /** userId -> emoji. */
  reactions: Record<string, string>;
  pinned: boolean;
  silent: boolean;
  /** Service message action as base64 TL bytes. */
  action?: string;
  replyToPostId?: number;
  media?: MessageMediaRecord;
  /** Album id (decimal): the messages of one album share it. */
  groupedId?: string;
  /** [userId, that account's message id] for every copy. */
  copies: Array<[number, number]>;
}

export interface MessageCopy {
  id: number;
  peer: PeerKey;
  postId: number;
  out: boolean;
}

export interface DialogState {
  topId: number;
  readInboxMaxId: number;
  readOutboxMaxId: number;
}

/** One pts-advancing event of an account, replayed by updates.getDifference. */
export type AccountLogEntry = { pts: number; ptsCount: number; date: number } & (
  | { kind: 'new'; msgId: number }
  | { kind: 'edit'; msgId: number }
  | { kind: 'delete'; ids: number[] }
  | { kind: 'readInbox'; peer: PeerKey; maxId: number; stillUnread: number }
  | { kind: 'readOutbox'; peer: PeerKey; maxId: number }
  | { kind: 'pin'; peer: PeerKey; ids: number[]; pinned: boolean }
);

export interface AccountBox {
  userId: number;
  pts: number;
  seq: number;
  date: number;
  nextMessageId: number;
  /** pts before the oldest entry kept in `log`; older gaps answer differenceTooLong. */
  logStartPts: number;
  log: AccountLogEntry[];
  messages: Record<string, MessageCopy>;
  dialogs: Record<string, DialogState>;
  /** [random_id (decimal), message id] of the latest sends: a repeat is RANDOM_ID_DUPLICATE. */
  randomIds?: Array<[string, number]>;
}

export interface ChatParticipantRecord {
  userId: number;
  inviterId: number;
  date: number;
  admin: boolean;
}

export interface ChatRecord {
  id: number;
  title: string;
  date: number;
  creatorId: number;
  version: number;
  participants: ChatParticipantRecord[];
  deactivated: boolean;
  /** The supergroup this group was migrated to (messages.migrateChat); the group is deactivated. */
  migratedTo?: number;
  /** Content protection: messages cannot be forwarded out (CHAT_FORWARDS_RESTRICTED). */
  noforwards?: boolean;
}

/** The ChatAdminRights flags, by their teleproto names (changeInfo, postMessages, ...). */
export type AdminRights = Record<string, boolean>;

export interface ChannelParticipantRecord {
  userId: number;
  inviterId: number;
  date: number;
  adminRights?: AdminRights;
  promotedBy?: number;
  rank?: string;
  banned?: { kickedBy: number; date: number; untilDate: number; viewMessages: boolean };
  left?: boolean;
}

export interface ChannelMessage {
  id: number;
  fromId?: number;
  date: number;
  text: string;
  entities: string[];
  editDate?: number;
  fwdFrom?: PostRecord['fwdFrom'];
  reactions: Record<string, string>;
  pinned: boolean;
  silent: boolean;
  post: boolean;
  action?: string;
  replyToId?: number;
  media?: MessageMediaRecord;
  groupedId?: string;
}

export type ChannelLogEntry = { pts: number; ptsCount: number; date: number } & (
  | { kind: 'new'; msgId: number }
  | { kind: 'edit'; msgId: number }
  | { kind: 'delete'; ids: number[] }
  | { kind: 'pin'; ids: number[]; pinned: boolean }
);

export interface ChannelRecord {
  id: number;
  accessHash: string;
  title: string;
  about: string;
  megagroup: boolean;
  username?: string;
  date: number;
  creatorId: number;
  pts: number;
  nextMessageId: number;
  logStartPts: number;
  log: ChannelLogEntry[];
  messages: Record<string, ChannelMessage>;
  participants: Record<string, ChannelParticipantRecord>;
  /** userId -> read inbox max id. */
  readInbox: Record<string, number>;
  /** Deleted by its creator: members see channelForbidden. */
  deleted?: boolean;
  /** Content protection: messages cannot be forwarded out (CHAT_FORWARDS_RESTRICTED). */
  noforwards?: boolean;
}

export interface InviteRecord {
  hash: string;
  peer: PeerKey;
  adminId: number;
  date: number;
  revoked: boolean;
  usage: number;
}

export interface WorldState {
  version: 1;
  nextUserId: number;
  nextChatId: number;
  nextChannelId: number;
  nextPostId: number;
  users: Record<string, UserRecord>;
  authorizations: Record<string, AuthorizationRecord>;
  /** auth_key_id (decimal) -> key bytes (hex). */
  authKeys: Record<string, string>;
  /** The DC each auth key was created on (keys missing here predate the five DCs: DC 2). */
  authKeyDcs?: Record<string, number>;
  boxes: Record<string, AccountBox>;
  posts: Record<string, PostRecord>;
  chats: Record<string, ChatRecord>;
  channels: Record<string, ChannelRecord>;
  invites: Record<string, InviteRecord>;
  /** Photos and documents by id (absent in snapshots from before media). */
  photos?: Record<string, PhotoRecord>;
  documents?: Record<string, DocumentRecord>;
  /** userId -> the files that account uploaded, oldest first. */
  uploadedFiles?: Record<string, UploadedFileRecord[]>;
}

export function emptyState(): WorldState {
  return {
    version: 1,
    nextUserId: 100000001,
    nextChatId: 4000001,
    nextChannelId: 1000000001,
    nextPostId: 1,
    users: {},
    authorizations: {},
    authKeys: {},
    boxes: {},
    posts: {},
    chats: {},
    channels: {},
    invites: {},
    photos: {},
    documents: {},
    uploadedFiles: {},
  };
}
