/**
 * The sandbox's Telegram: accounts, chats, channels, messages and the per-account update
 * streams (pts) that clients read live (pushed through the UpdateSink) or catch up on with
 * updates.getDifference / getChannelDifference. The RPC dispatcher and the control API both
 * act through the public methods here, so a message posted from either looks the same.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { Api } from 'teleproto';
import type { Logger } from 'pino';
import { RpcError } from '../contract.js';
import type { AuthKeyStore, UpdateSink } from '../contract.js';
import { SRP_PRIME, createChallenge, createPasswordRecord, verifyProof } from './srp.js';
import type { SrpChallenge } from './srp.js';
import type {
  AccountBox,
  AccountLogEntry,
  AdminRights,
  AuthorizationRecord,
  ChannelLogEntry,
  ChannelMessage,
  ChannelRecord,
  ChatRecord,
  MessageCopy,
  PeerKey,
  PostRecord,
  UserRecord,
  WorldState,
} from './state.js';
import { emptyState } from './state.js';
import {
  FULL_ADMIN_RIGHTS,
  adminRightsToApi,
  decodeTl,
  decodeTlList,
  long,
  now,
  parsePeerKey,
  peerKey,
  peerToApi,
} from './tl.js';

/** How many of an account's latest random ids are remembered for RANDOM_ID_DUPLICATE. */
const RANDOM_IDS_KEPT = 10_000;

export interface WorldOptions {
  /** Address the sandbox's MTProto listener is reachable at, for help.getConfig. */
  host: string;
  port: number;
  logger?: Logger;
  /** Called after every change (persistence debounces on it). */
  onChange?: () => void;
  /** Push updateShortMessage / updateShortChatMessage, as Telegram does, for plain messages in
   * chats the account already has (off by default: full Updates with users and chats). */
  shortMessageUpdates?: boolean;
  /** Max pts events per updates.getDifference answer before it becomes a differenceSlice. */
  differenceSliceSize?: number;
  /** Pts events kept per account/channel; older gaps answer ...TooLong. */
  logRetention?: number;
  codeTtlSeconds?: number;
  loginTokenTtlSeconds?: number;
}

export interface MessageContent {
  text: string;
  entities?: Api.TypeMessageEntity[];
  replyToId?: number;
  silent?: boolean;
  fwdFrom?: PostRecord['fwdFrom'];
  action?: Api.TypeMessageAction;
}

/** Where a change comes from: the caller's auth key is answered directly, not pushed to. */
export interface Origin {
  keyId?: bigint;
  randomId?: bigint;
}

interface LoginCode {
  code: string;
  hash: string;
  expiresAt: number;
}

interface LoginToken {
  keyId: string;
  expiresAt: number;
  acceptedBy?: number;
}

export class World {
  state: WorldState;
  readonly options: Required<Omit<WorldOptions, 'logger' | 'onChange'>> &
    Pick<WorldOptions, 'logger' | 'onChange'>;
  private sink?: UpdateSink;
  private readonly codes = new Map<string, LoginCode>();
  private readonly challenges = new Map<string, { userId: number; challenge: SrpChallenge }>();
  private readonly loginTokens = new Map<string, LoginToken>();
  private readonly userKeys = new Map<number, Set<string>>();

  constructor(options: WorldOptions, state?: WorldState) {
    this.options = {
      differenceSliceSize: 100,
      shortMessageUpdates: false,
      logRetention: 2000,
      codeTtlSeconds: 300,
      loginTokenTtlSeconds: 30,
      ...options,
    };
    this.state = state ?? emptyState();
    for (const auth of Object.values(this.state.authorizations))
      if (auth.userId) this.bindKey(auth.userId, auth.keyId);
  }

  attachSink(sink: UpdateSink): void {
    this.sink = sink;
  }

  get updateSink(): UpdateSink | undefined {
    return this.sink;
  }

  private changed(): void {
    this.options.onChange?.();
  }

  // ---------------------------------------------------------------- auth keys

  /** The AuthKeyStore the wire layer uses; keys persist with the world. */
  readonly authKeyStore: AuthKeyStore = {
    get: (id) => {
      const hex = this.state.authKeys[id.toString()];
      return hex === undefined ? undefined : Buffer.from(hex, 'hex');
    },
    put: (id, key) => {
      this.state.authKeys[id.toString()] = key.toString('hex');
      this.changed();
    },
    delete: (id) => {
      delete this.state.authKeys[id.toString()];
      this.changed();
    },
  };

  private bindKey(userId: number, keyId: string): void {
    let keys = this.userKeys.get(userId);
    if (!keys) this.userKeys.set(userId, (keys = new Set()));
    keys.add(keyId);
  }

  /** The signed-in user of an auth key, if any. */
  userIdForKey(keyId: bigint): number | undefined {
    return this.state.authorizations[keyId.toString()]?.userId;
  }

  keysOf(userId: number): bigint[] {
    return [...(this.userKeys.get(userId) ?? [])].map((key) => BigInt(key));
  }

  private authorize(keyId: bigint, userId: number, extra: Partial<AuthorizationRecord> = {}): void {
    const id = keyId.toString();
    const previous = this.state.authorizations[id];
    if (previous?.userId && previous.userId !== userId) this.userKeys.get(previous.userId)?.delete(id);
    this.state.authorizations[id] = {
      keyId: id,
      userId,
      createdAt: now(),
      hash: randomBytes(8).readBigInt64LE().toString(),
      ...extra,
    };
    this.bindKey(userId, id);
    this.changed();
  }

  /** auth.logOut or a revoke: the key loses its user now and is forgotten shortly after, so the
   * answer to the logOut call itself can still be encrypted with it. */
  revokeKey(keyId: bigint, delayMs = 200): void {
    const id = keyId.toString();
    const auth = this.state.authorizations[id];
    if (auth?.userId) this.userKeys.get(auth.userId)?.delete(id);
    delete this.state.authorizations[id];
    this.changed();
    const forget = (): void => {
      this.authKeyStore.delete(keyId);
      this.sink?.drop([keyId]);
    };
    if (delayMs <= 0) forget();
    else setTimeout(forget, delayMs).unref();
  }

  /** Signs every authorization of a user out (control API). */
  revokeUser(userId: number): number {
    const keys = this.keysOf(userId);
    for (const key of keys) this.revokeKey(key, 0);
    return keys.length;
  }

  // ---------------------------------------------------------------- users

  user(id: number): UserRecord {
    const user = this.state.users[id];
    if (!user) throw new RpcError(400, 'USER_ID_INVALID');
    return user;
  }

  findUser(id: number): UserRecord | undefined {
    return this.state.users[id];
  }

  userByPhone(phone: string): UserRecord | undefined {
    const normalized = normalizePhone(phone);
    return Object.values(this.state.users).find((user) => user.phone === normalized);
  }

  userByUsername(username: string): UserRecord | undefined {
    const wanted = username.replace(/^@/, '').toLowerCase();
    return Object.values(this.state.users).find((user) => user.username?.toLowerCase() === wanted);
  }

  channelByUsername(username: string): ChannelRecord | undefined {
    const wanted = username.replace(/^@/, '').toLowerCase();
    return Object.values(this.state.channels).find((channel) => channel.username?.toLowerCase() === wanted);
  }

  private checkUsernameFree(username: string, self?: PeerKey): void {
    if (!/^[a-zA-Z][a-zA-Z0-9_]{3,31}$/.test(username)) throw new RpcError(400, 'USERNAME_INVALID');
    const user = this.userByUsername(username);
    const channel = this.channelByUsername(username);
    if ((user && self !== peerKey('u', user.id)) || (channel && self !== peerKey('h', channel.id))) {
      throw new RpcError(400, 'USERNAME_OCCUPIED');
    }
  }

  createUser(input: {
    phone: string;
    firstName?: string;
    lastName?: string;
    username?: string;
    password?: string;
  }): UserRecord {
    const phone = normalizePhone(input.phone);
    if (!/^\d{5,15}$/.test(phone)) throw new RpcError(400, 'PHONE_NUMBER_INVALID');
    if (this.userByPhone(phone)) throw new RpcError(400, 'PHONE_NUMBER_OCCUPIED');
    if (input.username) this.checkUsernameFree(input.username);
    const id = this.state.nextUserId++;
    const user: UserRecord = {
      id,
      accessHash: (randomBytes(8).readBigUInt64LE() >> 1n).toString(),
      phone,
      firstName: input.firstName ?? 'User',
      lastName: input.lastName ?? '',
      ...(input.username ? { username: input.username } : {}),
      onlineUntil: 0,
      lastSeen: now(),
      contacts: [],
      createdAt: now(),
    };
    if (input.password) user.password = createPasswordRecord(input.password);
    this.state.users[id] = user;
    this.state.boxes[id] = {
      userId: id,
      pts: 1,
      seq: 0,
      date: now(),
      nextMessageId: 1,
      logStartPts: 1,
      log: [],
      messages: {},
      dialogs: {},
    };
    this.changed();
    return user;
  }

  setPassword(userId: number, password: string | null, hint?: string): void {
    const user = this.user(userId);
    if (password) user.password = createPasswordRecord(password, hint);
    else delete user.password;
    this.changed();
  }

  updateProfile(
    userId: number,
    input: { firstName?: string; lastName?: string; username?: string | null },
  ): UserRecord {
    const user = this.user(userId);
    if (input.username !== undefined) {
      if (input.username === null || input.username === '') delete user.username;
      else {
        this.checkUsernameFree(input.username, peerKey('u', userId));
        user.username = input.username;
      }
    }
    if (input.firstName !== undefined) {
      if (!input.firstName.trim()) throw new RpcError(400, 'FIRSTNAME_INVALID');
      user.firstName = input.firstName;
    }
    if (input.lastName !== undefined) user.lastName = input.lastName;
    this.changed();
    const update = new Api.UpdateUserName({
      userId: long(userId),
      firstName: user.firstName,
      lastName: user.lastName,
      usernames: user.username
        ? [new Api.Username({ username: user.username, active: true, editable: true })]
        : [],
    });
    for (const viewer of [userId, ...this.relatedUsers(userId)]) {
      this.pushTo(
        viewer,
        new Api.Updates({
          updates: [update],
          users: [this.apiUser(viewer, userId)],
          chats: [],
          date: now(),
          seq: 0,
        }),
      );
    }
    return user;
  }

  setOnline(userId: number, online: boolean): void {
    const user = this.user(userId);
    const t = now();
    user.onlineUntil = online ? t + 300 : 0;
    user.lastSeen = t;
    this.changed();
    const update = new Api.UpdateUserStatus({ userId: long(userId), status: this.apiStatus(user) });
    for (const viewer of this.relatedUsers(userId))
      this.pushTo(viewer, new Api.UpdateShort({ update, date: t }));
  }

  /** Users who see this one's status and name changes: contacts and private-chat partners. */
  private relatedUsers(userId: number): number[] {
    const related = new Set<number>();
    const key = peerKey('u', userId);
    for (const box of Object.values(this.state.boxes)) {
      if (box.userId !== userId && box.dialogs[key]) related.add(box.userId);
    }
    for (const user of Object.values(this.state.users))
      if (user.contacts.includes(userId)) related.add(user.id);
    related.delete(userId);
    return [...related];
  }

  addContact(userId: number, contactId: number): void {
    const user = this.user(userId);
    this.user(contactId);
    if (!user.contacts.includes(contactId)) user.contacts.push(contactId);
    this.changed();
  }

  // ---------------------------------------------------------------- sign-in

  /** auth.sendCode: phones 99966XYYYY get XXXXX (Telegram's test-DC rule), others a random code. */
  sendCode(phoneInput: string): { hash: string; code: string; registered: boolean } {
    const phone = normalizePhone(phoneInput);
    if (!/^\d{5,15}$/.test(phone)) throw new RpcError(400, 'PHONE_NUMBER_INVALID');
    const code = /^99966\d{5}$/.test(phone) ? phone[5].repeat(5) : String(randomInt(10000, 100000));
    const hash = randomBytes(9).toString('hex');
    this.codes.set(phone, { code, hash, expiresAt: Date.now() + this.options.codeTtlSeconds * 1000 });
    this.options.logger?.info({ phone }, 'sandbox: login code sent');
    return { hash, code, registered: this.userByPhone(phone) !== undefined };
  }

  lastCode(phone: string): string | undefined {
    return this.codes.get(normalizePhone(phone))?.code;
  }

  private checkCode(phoneInput: string, hash: string, code?: string): string {
    const phone = normalizePhone(phoneInput);
    const sent = this.codes.get(phone);
    if (!sent || sent.hash !== hash) throw new RpcError(400, 'PHONE_CODE_EXPIRED');
    if (Date.now() > sent.expiresAt) throw new RpcError(400, 'PHONE_CODE_EXPIRED');
    if (code === undefined || code === null || code === '') throw new RpcError(400, 'PHONE_CODE_EMPTY');
    if (code !== sent.code) throw new RpcError(400, 'PHONE_CODE_INVALID');
    return phone;
  }

  signIn(keyId: bigint, phoneInput: string, hash: string, code?: string): Api.auth.TypeAuthorization {
    const phone = this.checkCode(phoneInput, hash, code);
    const user = this.userByPhone(phone);
    if (!user) return new Api.auth.AuthorizationSignUpRequired({});
    this.codes.delete(phone);
    return this.completeSignIn(keyId, user);
  }

  signUp(
    keyId: bigint,
    phoneInput: string,
    hash: string,
    firstName: string,
    lastName: string,
  ): Api.auth.TypeAuthorization {
    const phone = normalizePhone(phoneInput);
    const sent = this.codes.get(phone);
    if (!sent || sent.hash !== hash || Date.now() > sent.expiresAt)
      throw new RpcError(400, 'PHONE_CODE_EXPIRED');
    if (this.userByPhone(phone)) throw new RpcError(400, 'PHONE_NUMBER_OCCUPIED');
    if (!firstName.trim()) throw new RpcError(400, 'FIRSTNAME_INVALID');
    this.codes.delete(phone);
    const user = this.createUser({ phone, firstName, lastName });
    return this.completeSignIn(keyId, user);
  }

  private completeSignIn(keyId: bigint, user: UserRecord): Api.auth.Authorization {
    if (user.password) {
      const id = keyId.toString();
      this.state.authorizations[id] = {
        ...(this.state.authorizations[id] ?? { keyId: id, createdAt: now(), hash: '0' }),
        pendingUserId: user.id,
      };
      this.changed();
      throw new RpcError(401, 'SESSION_PASSWORD_NEEDED');
    }
    this.authorize(keyId, user.id);
    return new Api.auth.Authorization({ user: this.apiUser(user.id, user.id) });
  }

  getPassword(keyId: bigint): Api.account.Password {
    const auth = this.state.authorizations[keyId.toString()];
    const userId = auth?.userId ?? auth?.pendingUserId;
    const user = userId ? this.user(userId) : undefined;
    const newAlgo = new Api.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow({
      salt1: randomBytes(8),
      salt2: randomBytes(16),
      g: 3,
      p: SRP_PRIME,
    });
    const common = {
      newAlgo,
      newSecureAlgo: new Api.SecurePasswordKdfAlgoSHA512({ salt: randomBytes(8) }),
      secureRandom: randomBytes(32),
    };
    if (!user?.password) return new Api.account.Password({ hasPassword: false, ...common });
    const challenge = createChallenge(user.password);
    this.challenges.set(challenge.srpId.toString(), { userId: user.id, challenge });
    return new Api.account.Password({
      hasPassword: true,
      currentAlgo: new Api.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow({
        salt1: Buffer.from(user.password.salt1, 'hex'),
        salt2: Buffer.from(user.password.salt2, 'hex'),
        g: 3,
        p: SRP_PRIME,
      }),
      srp_B: challenge.B,
      srpId: long(challenge.srpId),
      ...(user.password.hint ? { hint: user.password.hint } : {}),
      ...common,
    });
  }

  checkPassword(keyId: bigint, srpId: bigint, A: Buffer, M1: Buffer): Api.auth.Authorization {
    const pending = this.challenges.get(srpId.toString());
    if (!pending) throw new RpcError(400, 'SRP_ID_INVALID');
    const auth = this.state.authorizations[keyId.toString()];
    if (auth?.pendingUserId !== pending.userId && auth?.userId !== pending.userId)
      throw new RpcError(400, 'SRP_ID_INVALID');
    const user = this.user(pending.userId);
    if (!user.password) throw new RpcError(400, 'PASSWORD_HASH_INVALID');
    if (!verifyProof(user.password, pending.challenge, A, M1))
      throw new RpcError(400, 'PASSWORD_HASH_INVALID');
    this.challenges.delete(srpId.toString());
    this.authorize(keyId, user.id);
    return new Api.auth.Authorization({ user: this.apiUser(user.id, user.id) });
  }

  // ---------------------------------------------------------------- QR login

  exportLoginToken(keyId: bigint): Api.auth.TypeLoginToken {
    const id = keyId.toString();
    for (const [token, entry] of this.loginTokens) {
      if (entry.keyId === id && entry.acceptedBy !== undefined) {
        this.loginTokens.delete(token);
        return new Api.auth.LoginTokenSuccess({
          authorization: this.completeSignIn(keyId, this.user(entry.acceptedBy)),
        });
      }
    }
    for (const [token, entry] of this.loginTokens) {
      if (entry.keyId === id || entry.expiresAt < Date.now()) this.loginTokens.delete(token);
    }
    const token = randomBytes(32);
    const expiresAt = Date.now() + this.options.loginTokenTtlSeconds * 1000;
    this.loginTokens.set(token.toString('hex'), { keyId: id, expiresAt });
    return new Api.auth.LoginToken({ token, expires: Math.floor(expiresAt / 1000) });
  }

  importLoginToken(keyId: bigint, token: Buffer): Api.auth.TypeLoginToken {
    const entry = this.loginTokens.get(token.toString('hex'));
    if (!entry || entry.expiresAt < Date.now()) throw new RpcError(400, 'AUTH_TOKEN_EXPIRED');
    if (entry.acceptedBy === undefined)
      return new Api.auth.LoginToken({ token, expires: Math.floor(entry.expiresAt / 1000) });
    this.loginTokens.delete(token.toString('hex'));
    return new Api.auth.LoginTokenSuccess({
      authorization: this.completeSignIn(keyId, this.user(entry.acceptedBy)),
    });
  }

  acceptLoginToken(userId: number, token: Buffer): Api.Authorization {
    const entry = this.loginTokens.get(token.toString('hex'));
    if (!entry) throw new RpcError(400, 'AUTH_TOKEN_INVALID');
    if (entry.expiresAt < Date.now()) throw new RpcError(400, 'AUTH_TOKEN_EXPIRED');
    if (entry.acceptedBy !== undefined) throw new RpcError(400, 'AUTH_TOKEN_ALREADY_ACCEPTED');
    entry.acceptedBy = userId;
    this.sink?.push(
      [BigInt(entry.keyId)],
      new Api.UpdateShort({ update: new Api.UpdateLoginToken(), date: now() }),
    );
    return new Api.Authorization({
      hash: long(0),
      deviceModel: 'TeleFlow sandbox',
      platform: 'sandbox',
      systemVersion: '1',
      apiId: 0,
      appName: 'sandbox',
      appVersion: '1',
      dateCreated: now(),
      dateActive: now(),
      ip: '127.0.0.1',
      country: '',
      region: '',
    });
  }

  // ---------------------------------------------------------------- rendering

  apiStatus(user: UserRecord): Api.TypeUserStatus {
    return user.onlineUntil > now()
      ? new Api.UserStatusOnline({ expires: user.onlineUntil })
      : new Api.UserStatusOffline({ wasOnline: user.lastSeen });
  }

  apiUser(viewerId: number, userId: number): Api.User {
    const user = this.user(userId);
    const viewer = this.findUser(viewerId);
    const self = viewerId === userId;
    const contact = viewer?.contacts.includes(userId) ?? false;
    return new Api.User({
      id: long(user.id),
      accessHash: long(user.accessHash),
      firstName: user.firstName,
      ...(user.lastName ? { lastName: user.lastName } : {}),
      ...(user.username ? { username: user.username } : {}),
      phone: user.phone,
      status: this.apiStatus(user),
      self,
      contact,
      mutualContact: contact && user.contacts.includes(viewerId),
    });
  }

  apiChat(viewerId: number, chatId: number): Api.TypeChat {
    const chat = this.chat(chatId);
    const member = chat.participants.find((p) => p.userId === viewerId);
    return new Api.Chat({
      id: long(chat.id),
      title: chat.title,
      photo: new Api.ChatPhotoEmpty(),
      participantsCount: chat.participants.length,
      date: chat.date,
      version: chat.version,
      creator: chat.creatorId === viewerId,
      left: !member,
      deactivated: chat.deactivated,
      ...(member?.admin || chat.creatorId === viewerId
        ? { adminRights: adminRightsToApi(FULL_ADMIN_RIGHTS) }
        : {}),
    });
  }

  apiChannel(viewerId: number, channelId: number): Api.Channel | Api.ChannelForbidden {
    const channel = this.channel(channelId);
    if (channel.deleted) {
      return new Api.ChannelForbidden({
        id: long(channel.id),
        accessHash: long(channel.accessHash),
        title: channel.title,
        broadcast: !channel.megagroup,
        megagroup: channel.megagroup,
      });
    }
    const member = channel.participants[viewerId];
    const active = member && !member.left && !member.banned;
    const rights = channel.creatorId === viewerId ? FULL_ADMIN_RIGHTS : member?.adminRights;
    return new Api.Channel({
      id: long(channel.id),
      accessHash: long(channel.accessHash),
      title: channel.title,
      ...(channel.username ? { username: channel.username } : {}),
      photo: new Api.ChatPhotoEmpty(),
      date: channel.date,
      creator: channel.creatorId === viewerId,
      left: !active,
      broadcast: !channel.megagroup,
      megagroup: channel.megagroup,
      participantsCount: this.channelMembers(channel).length,
      ...(rights && active ? { adminRights: adminRightsToApi(rights) } : {}),
    });
  }

  apiReactions(viewerId: number, reactions: Record<string, string>): Api.MessageReactions | undefined {
    const counts = new Map<string, number>();
    for (const emoji of Object.values(reactions)) counts.set(emoji, (counts.get(emoji) ?? 0) + 1);
    if (counts.size === 0) return undefined;
    const mine = reactions[viewerId];
    return new Api.MessageReactions({
      canSeeList: false,
      results: [...counts].map(
        ([emoji, count]) =>
          new Api.ReactionCount({
            reaction: new Api.ReactionEmoji({ emoticon: emoji }),
            count,
            ...(emoji === mine ? { chosenOrder: 0 } : {}),
          }),
      ),
    });
  }

  private apiFwd(fwd: PostRecord['fwdFrom']): Api.MessageFwdHeader | undefined {
    if (!fwd) return undefined;
    return new Api.MessageFwdHeader({
      date: fwd.date,
      ...(fwd.fromUserId ? { fromId: new Api.PeerUser({ userId: long(fwd.fromUserId) }) } : {}),
      ...(fwd.fromChannelId ? { fromId: new Api.PeerChannel({ channelId: long(fwd.fromChannelId) }) } : {}),
      ...(fwd.channelPost ? { channelPost: fwd.channelPost } : {}),
    });
  }

  /** One account's copy of a message, as that account sees it. */
  apiMessage(userId: number, msgId: number): Api.TypeMessage {
    const box = this.box(userId);
    const copy = box.messages[msgId];
    if (!copy) return new Api.MessageEmpty({ id: msgId });
    const post = this.state.posts[copy.postId];
    const { kind } = parsePeerKey(copy.peer);
    const fromId = kind === 'u' ? undefined : new Api.PeerUser({ userId: long(post.fromId) });
    const base = {
      id: copy.id,
      peerId: peerToApi(copy.peer),
      date: post.date,
      out: copy.out,
      ...(fromId ? { fromId } : {}),
    };
    if (post.action)
      return new Api.MessageService({ ...base, action: decodeTl<Api.TypeMessageAction>(post.action) });
    const replyToId =
      post.replyToPostId !== undefined ? this.copyIdOf(post.replyToPostId, userId) : undefined;
    const reactions = this.apiReactions(userId, post.reactions);
    return new Api.Message({
      ...base,
      message: post.text,
      ...(post.entities.length ? { entities: decodeTlList<Api.TypeMessageEntity>(post.entities) } : {}),
      ...(replyToId !== undefined
        ? { replyTo: new Api.MessageReplyHeader({ replyToMsgId: replyToId }) }
        : {}),
      ...(post.fwdFrom ? { fwdFrom: this.apiFwd(post.fwdFrom) } : {}),
      ...(post.editDate ? { editDate: post.editDate } : {}),
      ...(reactions ? { reactions } : {}),
      pinned: post.pinned,
      silent: post.silent,
    });
  }

  apiChannelMessage(viewerId: number, channel: ChannelRecord, msgId: number): Api.TypeMessage {
    const msg = channel.messages[msgId];
    if (!msg) return new Api.MessageEmpty({ id: msgId, peerId: peerToApi(peerKey('h', channel.id)) });
    const base = {
      id: msg.id,
      peerId: peerToApi(peerKey('h', channel.id)),
      date: msg.date,
      out: msg.fromId === viewerId,
      post: msg.post,
      ...(msg.fromId && !msg.post ? { fromId: new Api.PeerUser({ userId: long(msg.fromId) }) } : {}),
    };
    if (msg.action)
      return new Api.MessageService({ ...base, action: decodeTl<Api.TypeMessageAction>(msg.action) });
    const reactions = this.apiReactions(viewerId, msg.reactions);
    return new Api.Message({
      ...base,
      message: msg.text,
      ...(msg.entities.length ? { entities: decodeTlList<Api.TypeMessageEntity>(msg.entities) } : {}),
      ...(msg.replyToId ? { replyTo: new Api.MessageReplyHeader({ replyToMsgId: msg.replyToId }) } : {}),
      ...(msg.fwdFrom ? { fwdFrom: this.apiFwd(msg.fwdFrom) } : {}),
      ...(msg.editDate ? { editDate: msg.editDate } : {}),
      ...(reactions ? { reactions } : {}),
      pinned: msg.pinned,
      silent: msg.silent,
    });
  }

  /** Users and chats an answer mentions, rendered for one viewer. */
  entities(viewerId: number): EntityCollector {
    return new EntityCollector(this, viewerId);
  }

  // ---------------------------------------------------------------- pushing

  pushTo(userId: number, updates: Api.TypeUpdates, exceptKey?: bigint): void {
    if (!this.sink) return;
    const keys = this.keysOf(userId).filter((key) => key !== exceptKey);
    if (keys.length) this.sink.push(keys, updates);
  }

  box(userId: number): AccountBox {
    const box = this.state.boxes[userId];
    if (!box) throw new RpcError(400, 'USER_ID_INVALID');
    return box;
  }

  /** Adds a pts event to an account's log (trimming old ones) and returns its pts. */
  private logAccount(
    box: AccountBox,
    ptsCount: number,
    entry: DistributiveOmit<AccountLogEntry, 'pts' | 'ptsCount' | 'date'>,
  ): AccountLogEntry {
    box.pts += ptsCount;
    box.date = now();
    const full = { ...entry, pts: box.pts, ptsCount, date: box.date } as AccountLogEntry;
    box.log.push(full);
    if (box.log.length > this.options.logRetention) {
      const dropped = box.log.splice(0, box.log.length - this.options.logRetention);
      box.logStartPts = dropped[dropped.length - 1].pts;
    }
    return full;
  }

  private logChannel(
    channel: ChannelRecord,
    ptsCount: number,
    entry: DistributiveOmit<ChannelLogEntry, 'pts' | 'ptsCount' | 'date'>,
  ): ChannelLogEntry {
    channel.pts += ptsCount;
    const full = { ...entry, pts: channel.pts, ptsCount, date: now() } as ChannelLogEntry;
    channel.log.push(full);
    if (channel.log.length > this.options.logRetention) {
      const dropped = channel.log.splice(0, channel.log.length - this.options.logRetention);
      channel.logStartPts = dropped[dropped.length - 1].pts;
    }
    return full;
  }

  /** Renders one account log entry as the update the account receives (null: message gone). */
  renderAccountEntry(userId: number, entry: AccountLogEntry): Api.TypeUpdate | null {
    const { pts, ptsCount } = entry;
    switch (entry.kind) {
      case 'new': {
        const message = this.apiMessage(userId, entry.msgId);
        return message instanceof Api.MessageEmpty
          ? null
          : new Api.UpdateNewMessage({ message, pts, ptsCount });
      }
      case 'edit': {
        const message = this.apiMessage(userId, entry.msgId);
        return message instanceof Api.MessageEmpty
          ? null
          : new Api.UpdateEditMessage({ message, pts, ptsCount });
      }
      case 'delete':
        return new Api.UpdateDeleteMessages({ messages: entry.ids, pts, ptsCount });
      case 'readInbox':
        return new Api.UpdateReadHistoryInbox({
          peer: peerToApi(entry.peer),
          maxId: entry.maxId,
          stillUnreadCount: entry.stillUnread,
          pts,
          ptsCount,
        });
      case 'readOutbox':
        return new Api.UpdateReadHistoryOutbox({
          peer: peerToApi(entry.peer),
          maxId: entry.maxId,
          pts,
          ptsCount,
        });
      case 'pin':
        return new Api.UpdatePinnedMessages({
          pinned: entry.pinned,
          peer: peerToApi(entry.peer),
          messages: entry.ids,
          pts,
          ptsCount,
        });
    }
  }

  renderChannelEntry(
    viewerId: number,
    channel: ChannelRecord,
    entry: ChannelLogEntry,
  ): Api.TypeUpdate | null {
    const { pts, ptsCount } = entry;
    const channelId = long(channel.id);
    switch (entry.kind) {
      case 'new': {
        const message = this.apiChannelMessage(viewerId, channel, entry.msgId);
        return message instanceof Api.MessageEmpty
          ? null
          : new Api.UpdateNewChannelMessage({ message, pts, ptsCount });
      }
      case 'edit': {
        const message = this.apiChannelMessage(viewerId, channel, entry.msgId);
        return message instanceof Api.MessageEmpty
          ? null
          : new Api.UpdateEditChannelMessage({ message, pts, ptsCount });
      }
      case 'delete':
        return new Api.UpdateDeleteChannelMessages({ channelId, messages: entry.ids, pts, ptsCount });
      case 'pin':
        return new Api.UpdatePinnedChannelMessages({
          channelId,
          messages: entry.ids,
          pinned: entry.pinned,
          pts,
          ptsCount,
        });
    }
  }

  /** Logs an account event and pushes it to the account's other connections. */
  private emitAccount(
    userId: number,
    ptsCount: number,
    entry: DistributiveOmit<AccountLogEntry, 'pts' | 'ptsCount' | 'date'>,
    origin?: Origin,
    extra: Api.TypeUpdate[] = [],
    peerKnown = false,
  ): { logged: AccountLogEntry; update: Api.TypeUpdate | null; entities: EntityCollector } {
    const box = this.box(userId);
    const logged = this.logAccount(box, ptsCount, entry);
    const update = this.renderAccountEntry(userId, logged);
    const entities = this.entities(userId).addUser(userId);
    if (entry.kind === 'new' || entry.kind === 'edit') entities.addMessageCopy(box.messages[entry.msgId]);
    if ('peer' in entry) entities.addPeer(entry.peer);
    const short =
      this.options.shortMessageUpdates && peerKnown && !extra.length ? shortMessageUpdate(update) : undefined;
    if (short) this.pushTo(userId, short, origin?.keyId);
    else if (update || extra.length) {
      const updates = [...extra, ...(update ? [update] : [])];
      this.pushTo(
        userId,
        new Api.Updates({ updates, ...entities.build(), date: logged.date, seq: 0 }),
        origin?.keyId,
      );
    }
    return { logged, update, entities };
  }

  private emitChannel(
    channel: ChannelRecord,
    ptsCount: number,
    entry: DistributiveOmit<ChannelLogEntry, 'pts' | 'ptsCount' | 'date'>,
    origin?: Origin & { userId?: number },
    recipients?: number[],
  ): ChannelLogEntry {
    const logged = this.logChannel(channel, ptsCount, entry);
    for (const memberId of recipients ?? this.channelMembers(channel)) {
      const update = this.renderChannelEntry(memberId, channel, logged);
      if (!update) continue;
      const entities = this.entities(memberId).addChannel(channel.id);
      if (entry.kind === 'new' || entry.kind === 'edit')
        entities.addChannelMessage(channel.messages[entry.msgId]);
      this.pushTo(
        memberId,
        new Api.Updates({ updates: [update], ...entities.build(), date: logged.date, seq: 0 }),
        memberId === origin?.userId ? origin?.keyId : undefined,
      );
    }
    return logged;
  }

  // ---------------------------------------------------------------- peers

  chat(chatId: number): ChatRecord {
    const chat = this.state.chats[chatId];
    if (!chat) throw new RpcError(400, 'CHAT_ID_INVALID');
    return chat;
  }

  channel(channelId: number): ChannelRecord {
    const channel = this.state.channels[channelId];
    if (!channel) throw new RpcError(400, 'CHANNEL_INVALID');
    return channel;
  }

  channelMembers(channel: ChannelRecord): number[] {
    if (channel.deleted) return [];
    return Object.values(channel.participants)
      .filter((p) => !p.left && !p.banned)
      .map((p) => p.userId);
  }

  isChannelMember(channel: ChannelRecord, userId: number): boolean {
    if (channel.deleted) return false;
    const member = channel.participants[userId];
    return member !== undefined && !member.left && !member.banned;
  }

  /** Channels are readable by members, and public ones by anyone. */
  readableChannel(userId: number, channelId: number): ChannelRecord {
    const channel = this.channel(channelId);
    if (this.isChannelMember(channel, userId)) return channel;
    if (channel.username && !channel.deleted && !channel.participants[userId]?.banned) return channel;
    throw new RpcError(400, 'CHANNEL_PRIVATE');
  }

  private chatMember(chat: ChatRecord, userId: number): boolean {
    return chat.participants.some((p) => p.userId === userId);
  }

  channelRights(channel: ChannelRecord, userId: number): AdminRights | undefined {
    if (channel.creatorId === userId && this.isChannelMember(channel, userId)) return FULL_ADMIN_RIGHTS;
    const member = channel.participants[userId];
    return member && !member.left && !member.banned ? member.adminRights : undefined;
  }

  private requireChannelRight(channel: ChannelRecord, userId: number, right: string): void {
    if (!this.channelRights(channel, userId)?.[right]) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
  }

  // ---------------------------------------------------------------- messages

  private copyIdOf(postId: number, userId: number): number | undefined {
    return this.state.posts[postId]?.copies.find(([uid]) => uid === userId)?.[1];
  }

  private checkText(content: MessageContent): void {
    if (!content.action && !content.text.trim()) throw new RpcError(400, 'MESSAGE_EMPTY');
    if (content.text.length > 4096) throw new RpcError(400, 'MESSAGE_TOO_LONG');
  }

  /**
   * A user sends a message to a peer as they see it (`u<id>`, `c<id>`, `h<id>`). Returns the
   * sender's message id and what the sending connection receives as the call's result.
   */
  sendMessage(
    fromId: number,
    peer: PeerKey,
    content: MessageContent,
    origin?: Origin,
  ): { id: number; result: Api.TypeUpdates } {
    if (origin?.randomId !== undefined) this.checkRandomIds(fromId, [origin.randomId]);
    const sent = this.deliverMessage(fromId, peer, content, origin);
    if (origin?.randomId !== undefined) {
      const used = (this.box(fromId).randomIds ??= []);
      used.push([origin.randomId.toString(), sent.id]);
      if (used.length > RANDOM_IDS_KEPT) used.splice(0, used.length - RANDOM_IDS_KEPT);
    }
    return sent;
  }

  /**
   * Like Telegram, refuses random ids this account already sent with (RANDOM_ID_DUPLICATE), or
   * repeated within one call, before anything is sent.
   */
  checkRandomIds(userId: number, randomIds: bigint[]): void {
    const used = new Set((this.box(userId).randomIds ?? []).map(([rid]) => rid));
    for (const rid of randomIds) {
      if (used.has(rid.toString())) throw new RpcError(400, 'RANDOM_ID_DUPLICATE');
      used.add(rid.toString());
    }
  }

  private deliverMessage(
    fromId: number,
    peer: PeerKey,
    content: MessageContent,
    origin?: Origin,
  ): { id: number; result: Api.TypeUpdates } {
    this.checkText(content);
    const { kind, id } = parsePeerKey(peer);
    if (kind === 'h') return this.sendChannelMessage(fromId, this.channel(id), content, origin);
    let recipients: Array<{ userId: number; peer: PeerKey }>;
    if (kind === 'u') {
      this.user(id);
      recipients =
        id === fromId
          ? [{ userId: fromId, peer }]
          : [
              { userId: fromId, peer },
              { userId: id, peer: peerKey('u', fromId) },
            ];
    } else {
      const chat = this.chat(id);
      if (!this.chatMember(chat, fromId) || chat.deactivated) throw new RpcError(400, 'CHAT_WRITE_FORBIDDEN');
      recipients = chat.participants.map((p) => ({ userId: p.userId, peer }));
    }
    let replyToPostId: number | undefined;
    if (content.replyToId !== undefined) {
      const replied = this.box(fromId).messages[content.replyToId];
      if (!replied || replied.peer !== peer) throw new RpcError(400, 'REPLY_MESSAGE_ID_INVALID');
      replyToPostId = replied.postId;
    }
    const post: PostRecord = {
      id: this.state.nextPostId++,
      fromId,
      date: now(),
      text: content.text,
      entities: encodeEntities(content.entities),
      reactions: {},
      pinned: false,
      silent: content.silent ?? false,
      copies: [],
      ...(content.fwdFrom ? { fwdFrom: content.fwdFrom } : {}),
      ...(content.action ? { action: content.action.getBytes().toString('base64') } : {}),
      ...(replyToPostId !== undefined ? { replyToPostId } : {}),
    };
    this.state.posts[post.id] = post;
    let senderMsgId = 0;
    let senderEntry: AccountLogEntry | undefined;
    for (const recipient of recipients) {
      const box = this.box(recipient.userId);
      const copy: MessageCopy = {
        id: box.nextMessageId++,
        peer: recipient.peer,
        postId: post.id,
        out: recipient.userId === fromId,
      };
      box.messages[copy.id] = copy;
      post.copies.push([recipient.userId, copy.id]);
      const peerKnown = (box.dialogs[recipient.peer]?.topId ?? 0) > 0;
      const dialog = (box.dialogs[recipient.peer] ??= { topId: 0, readInboxMaxId: 0, readOutboxMaxId: 0 });
      dialog.topId = copy.id;
      if (copy.out) dialog.readInboxMaxId = Math.max(dialog.readInboxMaxId, copy.id);
      const emitted = this.emitAccount(
        recipient.userId,
        1,
        { kind: 'new', msgId: copy.id },
        recipient.userId === fromId ? origin : undefined,
        [],
        peerKnown,
      );
      if (recipient.userId === fromId) {
        senderMsgId = copy.id;
        senderEntry = emitted.logged;
      }
    }
    this.changed();
    if (!senderEntry) throw new RpcError(500, 'INTERNAL');
    if (kind === 'u' && !content.fwdFrom && !content.action) {
      return {
        id: senderMsgId,
        result: new Api.UpdateShortSentMessage({
          out: true,
          id: senderMsgId,
          pts: senderEntry.pts,
          ptsCount: 1,
          date: post.date,
          ...(content.entities?.length ? { entities: content.entities } : {}),
        }),
      };
    }
    const entities = this.entities(fromId).addPeer(peer).addUser(fromId);
    const updates: Api.TypeUpdate[] = [];
    if (origin?.randomId !== undefined)
      updates.push(new Api.UpdateMessageID({ id: senderMsgId, randomId: long(origin.randomId) }));
    const rendered = this.renderAccountEntry(fromId, senderEntry);
    if (rendered) updates.push(rendered);
    return {
      id: senderMsgId,
      result: new Api.Updates({ updates, ...entities.build(), date: post.date, seq: 0 }),
    };
  }

  private sendChannelMessage(
    fromId: number,
    channel: ChannelRecord,
    content: MessageContent,
    origin?: Origin,
  ): { id: number; result: Api.TypeUpdates } {
    if (!this.isChannelMember(channel, fromId)) throw new RpcError(400, 'CHANNEL_PRIVATE');
    if (!channel.megagroup && !this.channelRights(channel, fromId)?.postMessages)
      throw new RpcError(400, 'CHAT_WRITE_FORBIDDEN');
    if (content.replyToId !== undefined && !channel.messages[content.replyToId])
      throw new RpcError(400, 'REPLY_MESSAGE_ID_INVALID');
    const msg: ChannelMessage = {
      id: channel.nextMessageId++,
      fromId,
      date: now(),
      text: content.text,
      entities: encodeEntities(content.entities),
      reactions: {},
      pinned: false,
      silent: content.silent ?? false,
      post: !channel.megagroup,
      ...(content.fwdFrom ? { fwdFrom: content.fwdFrom } : {}),
      ...(content.action ? { action: content.action.getBytes().toString('base64') } : {}),
      ...(content.replyToId !== undefined ? { replyToId: content.replyToId } : {}),
    };
    channel.messages[msg.id] = msg;
    const logged = this.emitChannel(
      channel,
      1,
      { kind: 'new', msgId: msg.id },
      { ...origin, userId: fromId },
    );
    this.changed();
    const updates: Api.TypeUpdate[] = [];
    if (origin?.randomId !== undefined)
      updates.push(new Api.UpdateMessageID({ id: msg.id, randomId: long(origin.randomId) }));
    const rendered = this.renderChannelEntry(fromId, channel, logged);
    if (rendered) updates.push(rendered);
    const entities = this.entities(fromId).addChannel(channel.id).addUser(fromId);
    return { id: msg.id, result: new Api.Updates({ updates, ...entities.build(), date: msg.date, seq: 0 }) };
  }

  /** Resolves an account's own message id in a private chat or basic group. */
  ownCopy(userId: number, peer: PeerKey, msgId: number): { copy: MessageCopy; post: PostRecord } {
    const copy = this.box(userId).messages[msgId];
    if (!copy || copy.peer !== peer) throw new RpcError(400, 'MESSAGE_ID_INVALID');
    return { copy, post: this.state.posts[copy.postId] };
  }

  editMessage(
    userId: number,
    peer: PeerKey,
    msgId: number,
    text: string | undefined,
    entities: Api.TypeMessageEntity[] | undefined,
    origin?: Origin,
  ): Api.TypeUpdates {
    const { kind, id } = parsePeerKey(peer);
    const date = now();
    if (kind === 'h') {
      const channel = this.readableChannel(userId, id);
      const msg = channel.messages[msgId];
      if (!msg || msg.action) throw new RpcError(400, 'MESSAGE_ID_INVALID');
      if (msg.fromId !== userId && !this.channelRights(channel, userId)?.editMessages)
        throw new RpcError(403, 'MESSAGE_AUTHOR_REQUIRED');
      if (text !== undefined && text === msg.text && !entities)
        throw new RpcError(400, 'MESSAGE_NOT_MODIFIED');
      if (text !== undefined) {
        this.checkText({ text });
        msg.text = text;
      }
      msg.entities = encodeEntities(entities);
      msg.editDate = date;
      const logged = this.emitChannel(channel, 1, { kind: 'edit', msgId }, { ...origin, userId });
      this.changed();
      const update = this.renderChannelEntry(userId, channel, logged);
      return new Api.Updates({
        updates: update ? [update] : [],
        ...this.entities(userId).addChannel(channel.id).build(),
        date,
        seq: 0,
      });
    }
    const { post } = this.ownCopy(userId, peer, msgId);
    if (post.action) throw new RpcError(400, 'MESSAGE_ID_INVALID');
    if (post.fromId !== userId) throw new RpcError(403, 'MESSAGE_AUTHOR_REQUIRED');
    if (text !== undefined && text === post.text && !entities)
      throw new RpcError(400, 'MESSAGE_NOT_MODIFIED');
    if (text !== undefined) {
      this.checkText({ text });
      post.text = text;
    }
    post.entities = encodeEntities(entities);
    post.editDate = date;
    let own: Api.TypeUpdate | null = null;
    let ownEntities: EntityCollector | undefined;
    for (const [uid, mid] of post.copies) {
      const emitted = this.emitAccount(
        uid,
        1,
        { kind: 'edit', msgId: mid },
        uid === userId ? origin : undefined,
      );
      if (uid === userId) {
        own = emitted.update;
        ownEntities = emitted.entities;
      }
    }
    this.changed();
    return new Api.Updates({
      updates: own ? [own] : [],
      ...(ownEntities ?? this.entities(userId)).build(),
      date,
      seq: 0,
    });
  }

  /** messages.deleteMessages: the caller's copies go; with revoke (or in groups, own
   * messages), everyone's copies of the same messages go too. */
  deleteMessages(
    userId: number,
    ids: number[],
    revoke: boolean,
    origin?: Origin,
  ): Api.messages.AffectedMessages {
    const box = this.box(userId);
    const perUser = new Map<number, number[]>();
    const add = (uid: number, mid: number): void => {
      const list = perUser.get(uid) ?? [];
      if (!list.includes(mid)) list.push(mid);
      perUser.set(uid, list);
    };
    for (const mid of ids) {
      const copy = box.messages[mid];
      if (!copy) continue;
      add(userId, mid);
      const post = this.state.posts[copy.postId];
      const { kind, id } = parsePeerKey(copy.peer);
      // Private chats: anyone may delete for both sides. Groups: own messages always go for
      // everyone; other people's only when an admin asks for it.
      const groupAdmin =
        kind === 'c' &&
        (this.state.chats[id]?.creatorId === userId ||
          this.state.chats[id]?.participants.some((p) => p.userId === userId && p.admin));
      const forEveryone = kind === 'u' ? revoke : post.fromId === userId || (revoke && groupAdmin);
      if (forEveryone) for (const [uid, other] of post.copies) add(uid, other);
    }
    let result = new Api.messages.AffectedMessages({ pts: box.pts, ptsCount: 0 });
    for (const [uid, mids] of perUser) {
      const targetBox = this.box(uid);
      for (const mid of mids) {
        const copy = targetBox.messages[mid];
        if (!copy) continue;
        delete targetBox.messages[mid];
        const post = this.state.posts[copy.postId];
        post.copies = post.copies.filter(([u, m]) => !(u === uid && m === mid));
        if (post.copies.length === 0) delete this.state.posts[post.id];
        this.refreshTop(targetBox, copy.peer);
      }
      const emitted = this.emitAccount(
        uid,
        mids.length,
        { kind: 'delete', ids: mids },
        uid === userId ? origin : undefined,
      );
      if (uid === userId)
        result = new Api.messages.AffectedMessages({ pts: emitted.logged.pts, ptsCount: mids.length });
    }
    this.changed();
    return result;
  }

  private refreshTop(box: AccountBox, peer: PeerKey): void {
    const dialog = box.dialogs[peer];
    if (!dialog) return;
    let top = 0;
    for (const copy of Object.values(box.messages)) if (copy.peer === peer && copy.id > top) top = copy.id;
    dialog.topId = top;
  }

  deleteChannelMessages(
    userId: number,
    channelId: number,
    ids: number[],
    origin?: Origin,
  ): Api.messages.AffectedMessages {
    const channel = this.readableChannel(userId, channelId);
    const deleted: number[] = [];
    for (const mid of ids) {
      const msg = channel.messages[mid];
      if (!msg) continue;
      if (msg.fromId !== userId && !this.channelRights(channel, userId)?.deleteMessages)
        throw new RpcError(403, 'MESSAGE_DELETE_FORBIDDEN');
      deleted.push(mid);
    }
    if (!deleted.length) return new Api.messages.AffectedMessages({ pts: channel.pts, ptsCount: 0 });
    for (const mid of deleted) delete channel.messages[mid];
    const logged = this.emitChannel(
      channel,
      deleted.length,
      { kind: 'delete', ids: deleted },
      { ...origin, userId },
    );
    this.changed();
    return new Api.messages.AffectedMessages({ pts: logged.pts, ptsCount: deleted.length });
  }

  /** Sets (or with null removes) a user's reaction; pushed to everyone who sees the message. */
  react(
    userId: number,
    peer: PeerKey,
    msgId: number,
    emoji: string | null,
    origin?: Origin,
  ): Api.TypeUpdates {
    const { kind, id } = parsePeerKey(peer);
    const date = now();
    if (kind === 'h') {
      const channel = this.readableChannel(userId, id);
      const msg = channel.messages[msgId];
      if (!msg) throw new RpcError(400, 'MESSAGE_ID_INVALID');
      if (emoji) msg.reactions[userId] = emoji;
      else delete msg.reactions[userId];
      this.changed();
      const build = (viewer: number): Api.Updates =>
        new Api.Updates({
          updates: [
            new Api.UpdateMessageReactions({
              peer: peerToApi(peer),
              msgId,
              reactions:
                this.apiReactions(viewer, msg.reactions) ?? new Api.MessageReactions({ results: [] }),
            }),
          ],
          ...this.entities(viewer).addChannel(channel.id).build(),
          date,
          seq: 0,
        });
      for (const member of this.channelMembers(channel))
        this.pushTo(member, build(member), member === userId ? origin?.keyId : undefined);
      return build(userId);
    }
    const { post } = this.ownCopy(userId, peer, msgId);
    if (emoji) post.reactions[userId] = emoji;
    else delete post.reactions[userId];
    this.changed();
    let own: Api.Updates | undefined;
    for (const [uid, mid] of post.copies) {
      const copy = this.box(uid).messages[mid];
      const updates = new Api.Updates({
        updates: [
          new Api.UpdateMessageReactions({
            peer: peerToApi(copy.peer),
            msgId: mid,
            reactions: this.apiReactions(uid, post.reactions) ?? new Api.MessageReactions({ results: [] }),
          }),
        ],
        ...this.entities(uid).addPeer(copy.peer).build(),
        date,
        seq: 0,
      });
      this.pushTo(uid, updates, uid === userId ? origin?.keyId : undefined);
      if (uid === userId) own = updates;
    }
    return own ?? new Api.Updates({ updates: [], users: [], chats: [], date, seq: 0 });
  }

  pin(userId: number, peer: PeerKey, msgId: number, pinned: boolean, origin?: Origin): Api.TypeUpdates {
    const { kind, id } = parsePeerKey(peer);
    const date = now();
    if (kind === 'h') {
      const channel = this.readableChannel(userId, id);
      const msg = channel.messages[msgId];
      if (!msg) throw new RpcError(400, 'MESSAGE_ID_INVALID');
      if (
        !this.channelRights(channel, userId)?.pinMessages &&
        !(channel.megagroup && this.isChannelMember(channel, userId))
      ) {
        throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
      }
      msg.pinned = pinned;
      const logged = this.emitChannel(
        channel,
        1,
        { kind: 'pin', ids: [msgId], pinned },
        { ...origin, userId },
      );
      this.changed();
      const update = this.renderChannelEntry(userId, channel, logged);
      return new Api.Updates({
        updates: update ? [update] : [],
        ...this.entities(userId).addChannel(channel.id).build(),
        date,
        seq: 0,
      });
    }
    const { post } = this.ownCopy(userId, peer, msgId);
    post.pinned = pinned;
    let own: Api.TypeUpdate | null = null;
    for (const [uid, mid] of post.copies) {
      const copy = this.box(uid).messages[mid];
      const emitted = this.emitAccount(
        uid,
        1,
        { kind: 'pin', peer: copy.peer, ids: [mid], pinned },
        uid === userId ? origin : undefined,
      );
      if (uid === userId) own = emitted.update;
    }
    this.changed();
    return new Api.Updates({
      updates: own ? [own] : [],
      ...this.entities(userId).addPeer(peer).build(),
      date,
      seq: 0,
    });
  }

  unpinAll(userId: number, peer: PeerKey, origin?: Origin): Api.messages.AffectedHistory {
    const { kind, id } = parsePeerKey(peer);
    if (kind === 'h') {
      const channel = this.readableChannel(userId, id);
      const ids = Object.values(channel.messages)
        .filter((m) => m.pinned)
        .map((m) => m.id);
      if (!ids.length) return new Api.messages.AffectedHistory({ pts: channel.pts, ptsCount: 0, offset: 0 });
      for (const mid of ids) channel.messages[mid].pinned = false;
      const logged = this.emitChannel(channel, 1, { kind: 'pin', ids, pinned: false }, { ...origin, userId });
      this.changed();
      return new Api.messages.AffectedHistory({ pts: logged.pts, ptsCount: 1, offset: 0 });
    }
    const box = this.box(userId);
    const pinnedCopies = Object.values(box.messages).filter(
      (c) => c.peer === peer && this.state.posts[c.postId]?.pinned,
    );
    if (!pinnedCopies.length)
      return new Api.messages.AffectedHistory({ pts: box.pts, ptsCount: 0, offset: 0 });
    const perUser = new Map<number, { peer: PeerKey; ids: number[] }>();
    for (const copy of pinnedCopies) {
      const post = this.state.posts[copy.postId];
      post.pinned = false;
      for (const [uid, mid] of post.copies) {
        const other = this.box(uid).messages[mid];
        const entry = perUser.get(uid) ?? { peer: other.peer, ids: [] };
        entry.ids.push(mid);
        perUser.set(uid, entry);
      }
    }
    let result = new Api.messages.AffectedHistory({ pts: box.pts, ptsCount: 0, offset: 0 });
    for (const [uid, entry] of perUser) {
      const emitted = this.emitAccount(
        uid,
        1,
        { kind: 'pin', peer: entry.peer, ids: entry.ids, pinned: false },
        uid === userId ? origin : undefined,
      );
      if (uid === userId)
        result = new Api.messages.AffectedHistory({ pts: emitted.logged.pts, ptsCount: 1, offset: 0 });
    }
    this.changed();
    return result;
  }

  /** Unread incoming messages per dialog, in one pass over the account's messages. */
  unreadCounts(box: AccountBox): Map<PeerKey, number> {
    const counts = new Map<PeerKey, number>();
    for (const copy of Object.values(box.messages)) {
      if (copy.out || copy.id <= (box.dialogs[copy.peer]?.readInboxMaxId ?? 0)) continue;
      counts.set(copy.peer, (counts.get(copy.peer) ?? 0) + 1);
    }
    return counts;
  }

  unreadCount(box: AccountBox, peer: PeerKey): number {
    const readMax = box.dialogs[peer]?.readInboxMaxId ?? 0;
    let count = 0;
    for (const copy of Object.values(box.messages))
      if (copy.peer === peer && !copy.out && copy.id > readMax) count++;
    return count;
  }

  channelUnreadCount(channel: ChannelRecord, userId: number): number {
    const readMax = channel.readInbox[userId] ?? 0;
    return Object.values(channel.messages).filter((m) => m.id > readMax && m.fromId !== userId).length;
  }

  /** messages.readHistory: the reader's inbox and every sender's outbox move forward. */
  readHistory(
    userId: number,
    peer: PeerKey,
    maxIdInput: number,
    origin?: Origin,
  ): Api.messages.AffectedMessages {
    const box = this.box(userId);
    const dialog = box.dialogs[peer];
    if (!dialog) return new Api.messages.AffectedMessages({ pts: box.pts, ptsCount: 0 });
    const maxId = maxIdInput <= 0 ? dialog.topId : Math.min(maxIdInput, dialog.topId);
    if (maxId <= dialog.readInboxMaxId)
      return new Api.messages.AffectedMessages({ pts: box.pts, ptsCount: 0 });
    const previous = dialog.readInboxMaxId;
    dialog.readInboxMaxId = maxId;
    const outboxMax = new Map<number, number>();
    for (const copy of Object.values(box.messages)) {
      if (copy.peer !== peer || copy.out || copy.id <= previous || copy.id > maxId) continue;
      const post = this.state.posts[copy.postId];
      const senderCopy = post.copies.find(([uid]) => uid === post.fromId);
      if (senderCopy)
        outboxMax.set(senderCopy[0], Math.max(outboxMax.get(senderCopy[0]) ?? 0, senderCopy[1]));
    }
    const emitted = this.emitAccount(
      userId,
      1,
      { kind: 'readInbox', peer, maxId, stillUnread: this.unreadCount(box, peer) },
      origin,
    );
    for (const [senderId, senderMax] of outboxMax) {
      const senderBox = this.box(senderId);
      const senderPeer = parsePeerKey(peer).kind === 'u' ? peerKey('u', userId) : peer;
      const senderDialog = senderBox.dialogs[senderPeer];
      if (!senderDialog || senderMax <= senderDialog.readOutboxMaxId) continue;
      senderDialog.readOutboxMaxId = senderMax;
      this.emitAccount(senderId, 1, { kind: 'readOutbox', peer: senderPeer, maxId: senderMax });
    }
    this.changed();
    return new Api.messages.AffectedMessages({ pts: emitted.logged.pts, ptsCount: 1 });
  }

  readChannelHistory(userId: number, channelId: number, maxIdInput: number, origin?: Origin): boolean {
    const channel = this.readableChannel(userId, channelId);
    const top = channel.nextMessageId - 1;
    const maxId = maxIdInput <= 0 ? top : Math.min(maxIdInput, top);
    const previous = channel.readInbox[userId] ?? 0;
    if (maxId <= previous) return true;
    channel.readInbox[userId] = maxId;
    this.changed();
    const date = now();
    this.pushTo(
      userId,
      new Api.UpdateShort({
        update: new Api.UpdateReadChannelInbox({
          channelId: long(channelId),
          maxId,
          stillUnreadCount: this.channelUnreadCount(channel, userId),
          pts: channel.pts,
        }),
        date,
      }),
      origin?.keyId,
    );
    const senders = new Set<number>();
    for (const msg of Object.values(channel.messages)) {
      if (msg.id > previous && msg.id <= maxId && msg.fromId && msg.fromId !== userId)
        senders.add(msg.fromId);
    }
    for (const senderId of senders) {
      this.pushTo(
        senderId,
        new Api.UpdateShort({
          update: new Api.UpdateReadChannelOutbox({ channelId: long(channelId), maxId }),
          date,
        }),
      );
    }
    return true;
  }

  forwardMessages(
    userId: number,
    fromPeer: PeerKey,
    ids: number[],
    toPeer: PeerKey,
    randomIds: bigint[],
    origin?: Origin,
  ): Api.TypeUpdates {
    this.checkRandomIds(userId, randomIds);
    const updates: Api.TypeUpdate[] = [];
    const users: Api.TypeUser[] = [];
    const chats: Api.TypeChat[] = [];
    const from = parsePeerKey(fromPeer);
    ids.forEach((mid, index) => {
      let text: string;
      let entities: Api.TypeMessageEntity[];
      let fwdFrom: PostRecord['fwdFrom'];
      if (from.kind === 'h') {
        const channel = this.readableChannel(userId, from.id);
        const msg = channel.messages[mid];
        if (!msg || msg.action) throw new RpcError(400, 'MESSAGE_ID_INVALID');
        text = msg.text;
        entities = decodeTlList(msg.entities);
        fwdFrom =
          msg.fwdFrom ??
          (msg.post
            ? { fromChannelId: channel.id, channelPost: msg.id, date: msg.date }
            : { fromUserId: msg.fromId, date: msg.date });
      } else {
        const { post } = this.ownCopy(userId, fromPeer, mid);
        if (post.action) throw new RpcError(400, 'MESSAGE_ID_INVALID');
        text = post.text;
        entities = decodeTlList(post.entities);
        fwdFrom = post.fwdFrom ?? { fromUserId: post.fromId, date: post.date };
      }
      const sent = this.sendMessage(
        userId,
        toPeer,
        { text, entities, fwdFrom },
        { keyId: origin?.keyId, randomId: randomIds[index] },
      );
      if (sent.result instanceof Api.Updates) {
        updates.push(...sent.result.updates);
        users.push(...sent.result.users);
        chats.push(...sent.result.chats);
      }
    });
    return new Api.Updates({ updates, users: dedupe(users), chats: dedupe(chats), date: now(), seq: 0 });
  }

  setTyping(
    userId: number,
    peer: PeerKey,
    action: Api.TypeSendMessageAction = new Api.SendMessageTypingAction(),
  ): void {
    const { kind, id } = parsePeerKey(peer);
    const date = now();
    if (kind === 'u') {
      this.pushTo(
        id,
        new Api.UpdateShort({ update: new Api.UpdateUserTyping({ userId: long(userId), action }), date }),
      );
    } else if (kind === 'c') {
      const chat = this.chat(id);
      for (const p of chat.participants) {
        if (p.userId === userId) continue;
        this.pushTo(
          p.userId,
          new Api.UpdateShort({
            update: new Api.UpdateChatUserTyping({
              chatId: long(id),
              fromId: new Api.PeerUser({ userId: long(userId) }),
              action,
            }),
            date,
          }),
        );
      }
    } else {
      const channel = this.channel(id);
      for (const member of this.channelMembers(channel)) {
        if (member === userId) continue;
        this.pushTo(
          member,
          new Api.UpdateShort({
            update: new Api.UpdateChannelUserTyping({
              channelId: long(id),
              fromId: new Api.PeerUser({ userId: long(userId) }),
              action,
            }),
            date,
          }),
        );
      }
    }
  }

  // ---------------------------------------------------------------- basic groups

  createChat(
    creatorId: number,
    title: string,
    memberIds: number[],
    origin?: Origin,
  ): { chatId: number; result: Api.TypeUpdates } {
    if (!title.trim()) throw new RpcError(400, 'CHAT_TITLE_EMPTY');
    const members = [...new Set(memberIds.filter((id) => id !== creatorId))];
    for (const id of members) this.user(id);
    const date = now();
    const chat: ChatRecord = {
      id: this.state.nextChatId++,
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
    this.state.chats[chat.id] = chat;
    const sent = this.sendMessage(
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
    this.pushChatParticipants(
      chat,
      new Api.UpdateChatParticipants({ participants: this.apiChatParticipants(chat) }),
    );
    return { chatId: chat.id, result: sent.result };
  }

  addChatUser(actorId: number, chatId: number, userId: number, origin?: Origin): Api.TypeUpdates {
    const chat = this.chat(chatId);
    if (!this.chatMember(chat, actorId)) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
    this.user(userId);
    if (this.chatMember(chat, userId)) throw new RpcError(400, 'USER_ALREADY_PARTICIPANT');
    const date = now();
    chat.participants.push({ userId, inviterId: actorId, date, admin: false });
    chat.version++;
    this.pushChatParticipants(
      chat,
      new Api.UpdateChatParticipantAdd({
        chatId: long(chatId),
        userId: long(userId),
        inviterId: long(actorId),
        date,
        version: chat.version,
      }),
    );
    return this.sendMessage(
      actorId,
      peerKey('c', chatId),
      { text: '', action: new Api.MessageActionChatAddUser({ users: [long(userId)] }) },
      origin,
    ).result;
  }

  deleteChatUser(actorId: number, chatId: number, userId: number, origin?: Origin): Api.TypeUpdates {
    const chat = this.chat(chatId);
    if (!this.chatMember(chat, userId)) throw new RpcError(400, 'USER_NOT_PARTICIPANT');
    const actor = chat.participants.find((p) => p.userId === actorId);
    if (actorId !== userId && !actor?.admin && chat.creatorId !== actorId)
      throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
    const result = this.sendMessage(
      actorId,
      peerKey('c', chatId),
      { text: '', action: new Api.MessageActionChatDeleteUser({ userId: long(userId) }) },
      origin,
    ).result;
    chat.participants = chat.participants.filter((p) => p.userId !== userId);
    chat.version++;
    this.pushChatParticipants(
      chat,
      new Api.UpdateChatParticipantDelete({
        chatId: long(chatId),
        userId: long(userId),
        version: chat.version,
      }),
      [userId],
    );
    this.changed();
    return result;
  }

  editChatAdmin(actorId: number, chatId: number, userId: number, isAdmin: boolean): boolean {
    const chat = this.chat(chatId);
    if (chat.creatorId !== actorId) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
    const participant = chat.participants.find((p) => p.userId === userId);
    if (!participant) throw new RpcError(400, 'USER_NOT_PARTICIPANT');
    participant.admin = isAdmin;
    chat.version++;
    this.pushChatParticipants(
      chat,
      new Api.UpdateChatParticipantAdmin({
        chatId: long(chatId),
        userId: long(userId),
        isAdmin,
        version: chat.version,
      }),
    );
    this.changed();
    return true;
  }

  private pushChatParticipants(chat: ChatRecord, update: Api.TypeUpdate, alsoTo: number[] = []): void {
    const date = now();
    for (const userId of [...chat.participants.map((p) => p.userId), ...alsoTo]) {
      const entities = this.entities(userId).addChat(chat.id);
      for (const p of chat.participants) entities.addUser(p.userId);
      this.pushTo(userId, new Api.Updates({ updates: [update], ...entities.build(), date, seq: 0 }));
    }
  }

  apiChatParticipants(chat: ChatRecord): Api.ChatParticipants {
    return new Api.ChatParticipants({
      chatId: long(chat.id),
      version: chat.version,
      participants: chat.participants.map((p) =>
        p.userId === chat.creatorId
          ? new Api.ChatParticipantCreator({ userId: long(p.userId) })
          : p.admin
            ? new Api.ChatParticipantAdmin({
                userId: long(p.userId),
                inviterId: long(p.inviterId),
                date: p.date,
              })
            : new Api.ChatParticipant({ userId: long(p.userId), inviterId: long(p.inviterId), date: p.date }),
      ),
    });
  }

  // ---------------------------------------------------------------- channels

  createChannel(
    creatorId: number,
    input: { title: string; about?: string; megagroup: boolean; username?: string },
    origin?: Origin,
  ): { channelId: number; result: Api.TypeUpdates } {
    if (!input.title.trim()) throw new RpcError(400, 'CHAT_TITLE_EMPTY');
    if (input.username) this.checkUsernameFree(input.username);
    const date = now();
    const channel: ChannelRecord = {
      id: this.state.nextChannelId++,
      accessHash: (randomBytes(8).readBigUInt64LE() >> 1n).toString(),
      title: input.title,
      about: input.about ?? '',
      megagroup: input.megagroup,
      ...(input.username ? { username: input.username } : {}),
      date,
      creatorId,
      pts: 1,
      nextMessageId: 1,
      logStartPts: 1,
      log: [],
      messages: {},
      participants: {
        [creatorId]: { userId: creatorId, inviterId: creatorId, date, adminRights: FULL_ADMIN_RIGHTS },
      },
      readInbox: {},
    };
    this.state.channels[channel.id] = channel;
    this.addChannelService(
      channel,
      creatorId,
      new Api.MessageActionChannelCreate({ title: input.title }),
      origin,
    );
    this.changed();
    return { channelId: channel.id, result: this.channelUpdates(creatorId, channel) };
  }

  private addChannelService(
    channel: ChannelRecord,
    fromId: number,
    action: Api.TypeMessageAction,
    origin?: Origin,
  ): void {
    const msg: ChannelMessage = {
      id: channel.nextMessageId++,
      fromId,
      date: now(),
      text: '',
      entities: [],
      reactions: {},
      pinned: false,
      silent: false,
      post: !channel.megagroup,
      action: action.getBytes().toString('base64'),
    };
    channel.messages[msg.id] = msg;
    this.emitChannel(channel, 1, { kind: 'new', msgId: msg.id }, { ...origin, userId: fromId });
  }

  /** Updates{updateChannel} with the channel: what join/leave/create answer and push. */
  private channelUpdates(
    viewerId: number,
    channel: ChannelRecord,
    extra: Api.TypeUpdate[] = [],
  ): Api.Updates {
    return new Api.Updates({
      updates: [new Api.UpdateChannel({ channelId: long(channel.id) }), ...extra],
      ...this.entities(viewerId).addChannel(channel.id).build(),
      date: now(),
      seq: 0,
    });
  }

  private notifyParticipantChange(
    channel: ChannelRecord,
    actorId: number,
    userId: number,
    before: Api.TypeChannelParticipant | undefined,
    origin?: Origin,
  ): void {
    const after = channel.participants[userId];
    const update = new Api.UpdateChannelParticipant({
      channelId: long(channel.id),
      date: now(),
      actorId: long(actorId),
      userId: long(userId),
      ...(before ? { prevParticipant: before } : {}),
      ...(after && !after.left
        ? { newParticipant: this.apiChannelParticipant(channel, userId, userId) }
        : {}),
      qts: 0,
    });
    const admins = Object.values(channel.participants)
      .filter((p) => this.channelRights(channel, p.userId))
      .map((p) => p.userId);
    for (const viewer of new Set([userId, ...admins])) {
      const extra = viewer === userId || admins.includes(viewer) ? [update] : [];
      const updates = new Api.Updates({
        updates: [new Api.UpdateChannel({ channelId: long(channel.id) }), ...extra],
        ...this.entities(viewer).addChannel(channel.id).addUser(userId).addUser(actorId).build(),
        date: now(),
        seq: 0,
      });
      this.pushTo(viewer, updates, viewer === actorId ? origin?.keyId : undefined);
    }
  }

  joinChannel(userId: number, channelId: number, inviterId = userId, origin?: Origin): Api.TypeUpdates {
    const channel = this.channel(channelId);
    const existing = channel.participants[userId];
    if (existing?.banned) throw new RpcError(400, 'USER_BANNED_IN_CHANNEL');
    if (existing && !existing.left) throw new RpcError(400, 'USER_ALREADY_PARTICIPANT');
    const before =
      existing && !existing.left ? this.apiChannelParticipant(channel, userId, userId) : undefined;
    channel.participants[userId] = {
      userId,
      inviterId,
      date: now(),
      ...(existing?.adminRights ? { adminRights: existing.adminRights } : {}),
    };
    if (channel.megagroup) {
      const action =
        inviterId === userId
          ? new Api.MessageActionChatJoinedByLink({ inviterId: long(channel.creatorId) })
          : new Api.MessageActionChatAddUser({ users: [long(userId)] });
      this.addChannelService(
        channel,
        inviterId === userId ? userId : inviterId,
        action,
        inviterId === userId ? origin : undefined,
      );
    }
    this.notifyParticipantChange(channel, inviterId, userId, before, origin);
    this.changed();
    return this.channelUpdates(userId, channel);
  }

  leaveChannel(userId: number, channelId: number, origin?: Origin): Api.TypeUpdates {
    const channel = this.channel(channelId);
    if (!this.isChannelMember(channel, userId)) throw new RpcError(400, 'USER_NOT_PARTICIPANT');
    const before = this.apiChannelParticipant(channel, userId, userId);
    if (channel.megagroup)
      this.addChannelService(
        channel,
        userId,
        new Api.MessageActionChatDeleteUser({ userId: long(userId) }),
        origin,
      );
    channel.participants[userId] = { ...channel.participants[userId], left: true };
    delete channel.participants[userId].adminRights;
    this.notifyParticipantChange(channel, userId, userId, before, origin);
    this.changed();
    return this.channelUpdates(userId, channel);
  }

  /** Removes (bans) a member: channels.editBanned with view_messages. */
  kickFromChannel(actorId: number, channelId: number, userId: number): void {
    const channel = this.channel(channelId);
    this.requireChannelRight(channel, actorId, 'banUsers');
    if (!this.isChannelMember(channel, userId)) throw new RpcError(400, 'USER_NOT_PARTICIPANT');
    const before = this.apiChannelParticipant(channel, userId, userId);
    if (channel.megagroup)
      this.addChannelService(channel, actorId, new Api.MessageActionChatDeleteUser({ userId: long(userId) }));
    channel.participants[userId] = {
      userId,
      inviterId: actorId,
      date: now(),
      banned: { kickedBy: actorId, date: now(), untilDate: 0, viewMessages: true },
    };
    this.notifyParticipantChange(channel, actorId, userId, before);
    this.changed();
  }

  /** Lifts a ban: the user is no longer a participant at all and may join again. */
  unbanFromChannel(actorId: number, channelId: number, userId: number): void {
    const channel = this.channel(channelId);
    this.requireChannelRight(channel, actorId, 'banUsers');
    const participant = channel.participants[userId];
    if (!participant?.banned) return;
    delete channel.participants[userId];
    this.changed();
  }

  editChannelAdmin(
    actorId: number,
    channelId: number,
    userId: number,
    rights: AdminRights,
    rank: string,
    origin?: Origin,
  ): Api.TypeUpdates {
    const channel = this.channel(channelId);
    this.requireChannelRight(channel, actorId, 'addAdmins');
    if (userId === channel.creatorId) throw new RpcError(400, 'USER_CREATOR');
    if (!this.isChannelMember(channel, userId)) throw new RpcError(400, 'USER_NOT_PARTICIPANT');
    const before = this.apiChannelParticipant(channel, userId, userId);
    const participant = channel.participants[userId];
    const any = Object.values(rights).some(Boolean);
    if (any) {
      participant.adminRights = rights;
      participant.promotedBy = actorId;
      participant.rank = rank;
    } else {
      delete participant.adminRights;
      delete participant.promotedBy;
      delete participant.rank;
    }
    this.notifyParticipantChange(channel, actorId, userId, before, origin);
    this.changed();
    return this.channelUpdates(actorId, channel);
  }

  apiChannelParticipant(
    channel: ChannelRecord,
    userId: number,
    viewerId: number,
  ): Api.TypeChannelParticipant {
    const p = channel.participants[userId];
    if (!p || p.left) throw new RpcError(400, 'USER_NOT_PARTICIPANT');
    if (userId === channel.creatorId)
      return new Api.ChannelParticipantCreator({
        userId: long(userId),
        adminRights: adminRightsToApi(FULL_ADMIN_RIGHTS),
      });
    if (p.banned) {
      return new Api.ChannelParticipantBanned({
        peer: new Api.PeerUser({ userId: long(userId) }),
        kickedBy: long(p.banned.kickedBy),
        date: p.banned.date,
        bannedRights: new Api.ChatBannedRights({
          viewMessages: p.banned.viewMessages,
          untilDate: p.banned.untilDate,
        }),
      });
    }
    if (p.adminRights) {
      return new Api.ChannelParticipantAdmin({
        userId: long(userId),
        promotedBy: long(p.promotedBy ?? channel.creatorId),
        date: p.date,
        adminRights: adminRightsToApi(p.adminRights),
        ...(p.rank ? { rank: p.rank } : {}),
        // `self` and `inviter_id` share flags.1 in the schema: setting one without the other
        // misaligns the client's reader (and corrupts its shared parser state).
        self: viewerId === userId,
        inviterId: long(p.inviterId),
      });
    }
    if (viewerId === userId)
      return new Api.ChannelParticipantSelf({
        userId: long(userId),
        inviterId: long(p.inviterId),
        date: p.date,
      });
    return new Api.ChannelParticipant({ userId: long(userId), date: p.date });
  }

  setChannelUsername(actorId: number, channelId: number, username: string | null): void {
    const channel = this.channel(channelId);
    this.requireChannelRight(channel, actorId, 'changeInfo');
    if (username) {
      this.checkUsernameFree(username, peerKey('h', channelId));
      channel.username = username;
    } else delete channel.username;
    this.changed();
    for (const member of this.channelMembers(channel))
      this.pushTo(member, this.channelUpdates(member, channel));
  }

  editChatTitle(actorId: number, chatId: number, title: string, origin?: Origin): Api.TypeUpdates {
    const chat = this.chat(chatId);
    if (!this.chatMember(chat, actorId)) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
    if (!title.trim()) throw new RpcError(400, 'CHAT_TITLE_EMPTY');
    if (title === chat.title) throw new RpcError(400, 'CHAT_NOT_MODIFIED');
    chat.title = title;
    chat.version++;
    return this.sendMessage(
      actorId,
      peerKey('c', chatId),
      { text: '', action: new Api.MessageActionChatEditTitle({ title }) },
      origin,
    ).result;
  }

  /** messages.deleteChat: the creator ends a basic group for everyone. */
  deleteChat(actorId: number, chatId: number): boolean {
    const chat = this.chat(chatId);
    if (chat.creatorId !== actorId) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
    const members = chat.participants.map((p) => p.userId);
    chat.deactivated = true;
    chat.participants = [];
    chat.version++;
    this.changed();
    for (const userId of members) {
      this.pushTo(
        userId,
        new Api.Updates({
          updates: [new Api.UpdateChat({ chatId: long(chatId) })],
          ...this.entities(userId).addChat(chatId).build(),
          date: now(),
          seq: 0,
        }),
      );
    }
    return true;
  }

  editChannelTitle(actorId: number, channelId: number, title: string, origin?: Origin): Api.TypeUpdates {
    const channel = this.channel(channelId);
    this.requireChannelRight(channel, actorId, 'changeInfo');
    if (!title.trim()) throw new RpcError(400, 'CHAT_TITLE_EMPTY');
    if (title === channel.title) throw new RpcError(400, 'CHAT_NOT_MODIFIED');
    channel.title = title;
    this.addChannelService(channel, actorId, new Api.MessageActionChatEditTitle({ title }), origin);
    for (const member of this.channelMembers(channel)) {
      this.pushTo(
        member,
        this.channelUpdates(member, channel),
        member === actorId ? origin?.keyId : undefined,
      );
    }
    this.changed();
    return this.channelUpdates(actorId, channel);
  }

  /** channels.deleteChannel: only the creator; members then see channelForbidden. */
  deleteChannel(actorId: number, channelId: number, origin?: Origin): Api.TypeUpdates {
    const channel = this.channel(channelId);
    if (channel.creatorId !== actorId || channel.deleted) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
    const members = this.channelMembers(channel);
    channel.deleted = true;
    delete channel.username;
    this.changed();
    for (const member of members) {
      this.pushTo(
        member,
        this.channelUpdates(member, channel),
        member === actorId ? origin?.keyId : undefined,
      );
    }
    return this.channelUpdates(actorId, channel);
  }

  /** messages.deleteHistory: clears a private chat or group (for both sides with revoke). */
  deleteHistory(
    userId: number,
    peer: PeerKey,
    maxId: number,
    revoke: boolean,
    justClear: boolean,
    origin?: Origin,
  ): Api.messages.AffectedHistory {
    const box = this.box(userId);
    const ids = Object.values(box.messages)
      .filter((copy) => copy.peer === peer && (maxId <= 0 || copy.id <= maxId))
      .map((copy) => copy.id);
    const affected = ids.length
      ? this.deleteMessages(userId, ids, revoke, origin)
      : new Api.messages.AffectedMessages({ pts: box.pts, ptsCount: 0 });
    if (!justClear && !Object.values(box.messages).some((copy) => copy.peer === peer))
      delete box.dialogs[peer];
    this.changed();
    return new Api.messages.AffectedHistory({ pts: affected.pts, ptsCount: affected.ptsCount, offset: 0 });
  }

  authorizationsOf(userId: number, currentKey?: bigint): Api.Authorization[] {
    return this.keysOf(userId).map((key) => {
      const auth = this.state.authorizations[key.toString()];
      return new Api.Authorization({
        current: key === currentKey,
        hash: long(key === currentKey ? 0 : auth.hash),
        deviceModel: auth.deviceModel ?? 'unknown',
        platform: 'sandbox',
        systemVersion: '1',
        apiId: auth.apiId ?? 0,
        appName: 'sandbox',
        appVersion: '1',
        dateCreated: auth.createdAt,
        dateActive: auth.createdAt,
        ip: '127.0.0.1',
        country: '',
        region: '',
      });
    });
  }

  /** account.resetAuthorization by hash (0 is never another session's hash). */
  resetAuthorization(userId: number, hash: string): boolean {
    const key = this.keysOf(userId).find((k) => this.state.authorizations[k.toString()]?.hash === hash);
    if (!key || hash === '0') throw new RpcError(400, 'HASH_INVALID');
    this.revokeKey(key, 0);
    return true;
  }

  // ---------------------------------------------------------------- invites

  exportInvite(userId: number, peer: PeerKey): Api.ChatInviteExported {
    const { kind, id } = parsePeerKey(peer);
    if (kind === 'c') {
      const chat = this.chat(id);
      if (!this.chatMember(chat, userId)) throw new RpcError(400, 'CHAT_ADMIN_REQUIRED');
    } else if (kind === 'h') {
      this.requireChannelRight(this.channel(id), userId, 'inviteUsers');
    } else throw new RpcError(400, 'PEER_ID_INVALID');
    const hash = randomBytes(12).toString('base64url');
    this.state.invites[hash] = { hash, peer, adminId: userId, date: now(), revoked: false, usage: 0 };
    this.changed();
    return this.apiInvite(hash);
  }

  apiInvite(hash: string): Api.ChatInviteExported {
    const invite = this.state.invites[hash];
    return new Api.ChatInviteExported({
      link: `https://t.me/+${hash}`,
      adminId: long(invite.adminId),
      date: invite.date,
      usage: invite.usage,
      revoked: invite.revoked,
    });
  }

  private invite(hashInput: string): { hash: string; peer: PeerKey } {
    const hash = hashInput.replace(/^(https?:\/\/)?t\.me\/(\+|joinchat\/)/, '');
    const invite = this.state.invites[hash];
    if (!invite) throw new RpcError(400, 'INVITE_HASH_INVALID');
    if (invite.revoked) throw new RpcError(400, 'INVITE_HASH_EXPIRED');
    return invite;
  }

  checkInvite(userId: number, hashInput: string): Api.TypeChatInvite {
    const { peer } = this.invite(hashInput);
    const { kind, id } = parsePeerKey(peer);
    if (kind === 'c') {
      const chat = this.chat(id);
      if (this.chatMember(chat, userId)) return new Api.ChatInviteAlready({ chat: this.apiChat(userId, id) });
      return new Api.ChatInvite({
        title: chat.title,
        photo: new Api.PhotoEmpty({ id: long(0) }),
        participantsCount: chat.participants.length,
        color: 0,
      });
    }
    const channel = this.channel(id);
    if (this.isChannelMember(channel, userId))
      return new Api.ChatInviteAlready({ chat: this.apiChannel(userId, id) });
    return new Api.ChatInvite({
      channel: true,
      broadcast: !channel.megagroup,
      megagroup: channel.megagroup,
      public: channel.username !== undefined,
      title: channel.title,
      about: channel.about,
      photo: new Api.PhotoEmpty({ id: long(0) }),
      participantsCount: this.channelMembers(channel).length,
      color: 0,
    });
  }

  importInvite(userId: number, hashInput: string, origin?: Origin): Api.TypeUpdates {
    const { hash, peer } = this.invite(hashInput);
    const { kind, id } = parsePeerKey(peer);
    this.state.invites[hash].usage++;
    if (kind === 'c') {
      const chat = this.chat(id);
      if (this.chatMember(chat, userId)) throw new RpcError(400, 'USER_ALREADY_PARTICIPANT');
      const date = now();
      chat.participants.push({ userId, inviterId: this.state.invites[hash].adminId, date, admin: false });
      chat.version++;
      this.pushChatParticipants(
        chat,
        new Api.UpdateChatParticipantAdd({
          chatId: long(id),
          userId: long(userId),
          inviterId: long(this.state.invites[hash].adminId),
          date,
          version: chat.version,
        }),
      );
      return this.sendMessage(
        userId,
        peer,
        {
          text: '',
          action: new Api.MessageActionChatJoinedByLink({
            inviterId: long(this.state.invites[hash].adminId),
          }),
        },
        origin,
      ).result;
    }
    return this.joinChannel(userId, id, userId, origin);
  }

  // ---------------------------------------------------------------- reading

  /** The peer key of a private-chat partner, group or channel, checked for access. */
  historyOf(
    userId: number,
    peer: PeerKey,
  ): Array<{ id: number; date: number; text: string; fromId?: number; pinned: boolean }> {
    const { kind, id } = parsePeerKey(peer);
    if (kind === 'h') {
      const channel = this.readableChannel(userId, id);
      return Object.values(channel.messages).map((m) => ({
        id: m.id,
        date: m.date,
        text: m.text,
        pinned: m.pinned,
        ...(m.fromId ? { fromId: m.fromId } : {}),
      }));
    }
    const box = this.box(userId);
    return Object.values(box.messages)
      .filter((copy) => copy.peer === peer)
      .map((copy) => {
        const post = this.state.posts[copy.postId];
        return { id: copy.id, date: post.date, text: post.text, fromId: post.fromId, pinned: post.pinned };
      });
  }

  renderPeerMessage(userId: number, peer: PeerKey, msgId: number): Api.TypeMessage {
    const { kind, id } = parsePeerKey(peer);
    return kind === 'h'
      ? this.apiChannelMessage(userId, this.channel(id), msgId)
      : this.apiMessage(userId, msgId);
  }

  // ---------------------------------------------------------------- differences

  getState(userId: number): Api.updates.State {
    const box = this.box(userId);
    let unread = 0;
    for (const count of this.unreadCounts(box).values()) unread += count;
    // The date also covers channel activity, so a client that passes it back is not hinted
    // (updateChannelTooLong) about channel events it was already told of.
    let date = box.date;
    for (const channel of Object.values(this.state.channels)) {
      const last = channel.log[channel.log.length - 1];
      if (last && last.date > date && this.isChannelMember(channel, userId)) date = last.date;
    }
    return new Api.updates.State({ pts: box.pts, qts: 0, date, seq: box.seq, unreadCount: unread });
  }

  getDifference(
    userId: number,
    pts: number,
    date: number,
    ptsTotalLimit?: number,
  ): Api.updates.TypeDifference {
    const box = this.box(userId);
    const state = this.getState(userId);
    const channelHints = this.channelsActiveSince(userId, date);
    if (pts >= box.pts && channelHints.length === 0)
      return new Api.updates.DifferenceEmpty({ date: state.date, seq: state.seq });
    if (pts < box.logStartPts) return new Api.updates.DifferenceTooLong({ pts: box.pts });
    const limit = Math.max(
      1,
      Math.min(
        ptsTotalLimit && ptsTotalLimit > 0 ? ptsTotalLimit : Infinity,
        this.options.differenceSliceSize,
      ),
    );
    const pending = box.log.filter((entry) => entry.pts > pts);
    const taken = pending.slice(0, limit);
    const sliced = taken.length < pending.length;
    const newMessages: Api.TypeMessage[] = [];
    const otherUpdates: Api.TypeUpdate[] = [];
    const entities = this.entities(userId).addUser(userId);
    for (const entry of taken) {
      if (entry.kind === 'new') {
        const message = this.apiMessage(userId, entry.msgId);
        if (message instanceof Api.MessageEmpty) continue;
        newMessages.push(message);
        entities.addMessageCopy(box.messages[entry.msgId]);
        continue;
      }
      const update = this.renderAccountEntry(userId, entry);
      if (!update) continue;
      otherUpdates.push(update);
      if (entry.kind === 'edit') entities.addMessageCopy(box.messages[entry.msgId]);
      if ('peer' in entry) entities.addPeer(entry.peer);
    }
    if (!sliced) {
      for (const channel of channelHints) {
        otherUpdates.push(new Api.UpdateChannelTooLong({ channelId: long(channel.id), pts: channel.pts }));
        entities.addChannel(channel.id);
      }
    }
    const last = taken[taken.length - 1];
    const reached = last ? last.pts : Math.max(pts, box.pts);
    const resultState = new Api.updates.State({
      pts: sliced ? reached : box.pts,
      qts: 0,
      date: sliced && last ? last.date : state.date,
      seq: state.seq,
      unreadCount: state.unreadCount,
    });
    const common = { newMessages, newEncryptedMessages: [], otherUpdates, ...entities.build() };
    return sliced
      ? new Api.updates.DifferenceSlice({ ...common, intermediateState: resultState })
      : new Api.updates.Difference({ ...common, state: resultState });
  }

  /** Channels of the account with events since `date`: getDifference hints them with
   * updateChannelTooLong, as Telegram does, so the client runs getChannelDifference. */
  private channelsActiveSince(userId: number, date: number): ChannelRecord[] {
    if (date <= 0) return [];
    return Object.values(this.state.channels).filter(
      (channel) =>
        this.isChannelMember(channel, userId) &&
        channel.log.length > 0 &&
        channel.log[channel.log.length - 1].date > date,
    );
  }

  getChannelDifference(
    userId: number,
    channelId: number,
    pts: number,
    limitInput: number,
  ): Api.updates.TypeChannelDifference {
    const channel = this.readableChannel(userId, channelId);
    if (pts >= channel.pts)
      return new Api.updates.ChannelDifferenceEmpty({ final: true, pts: channel.pts, timeout: 30 });
    const limit = Math.max(1, Math.min(limitInput > 0 ? limitInput : 100, this.options.differenceSliceSize));
    if (pts < channel.logStartPts || pts <= 0) {
      const ids = Object.keys(channel.messages)
        .map(Number)
        .sort((a, b) => b - a)
        .slice(0, limit);
      const entities = this.entities(userId).addChannel(channelId);
      for (const mid of ids) entities.addChannelMessage(channel.messages[mid]);
      const top = ids[0] ?? 0;
      return new Api.updates.ChannelDifferenceTooLong({
        final: true,
        timeout: 30,
        dialog: new Api.Dialog({
          peer: peerToApi(peerKey('h', channelId)),
          topMessage: top,
          readInboxMaxId: channel.readInbox[userId] ?? 0,
          readOutboxMaxId: top,
          unreadCount: this.channelUnreadCount(channel, userId),
          unreadMentionsCount: 0,
          unreadReactionsCount: 0,
          notifySettings: new Api.PeerNotifySettings({}),
          pts: channel.pts,
        }),
        messages: ids.map((mid) => this.apiChannelMessage(userId, channel, mid)),
        ...entities.build(),
      });
    }
    const pending = channel.log.filter((entry) => entry.pts > pts);
    const taken = pending.slice(0, limit);
    const final = taken.length === pending.length;
    const newMessages: Api.TypeMessage[] = [];
    const otherUpdates: Api.TypeUpdate[] = [];
    const entities = this.entities(userId).addChannel(channelId);
    for (const entry of taken) {
      if (entry.kind === 'new') {
        const message = this.apiChannelMessage(userId, channel, entry.msgId);
        if (message instanceof Api.MessageEmpty) continue;
        newMessages.push(message);
        entities.addChannelMessage(channel.messages[entry.msgId]);
        continue;
      }
      const update = this.renderChannelEntry(userId, channel, entry);
      if (update) otherUpdates.push(update);
      if (entry.kind === 'edit') entities.addChannelMessage(channel.messages[entry.msgId]);
    }
    return new Api.updates.ChannelDifference({
      final,
      pts: taken[taken.length - 1].pts,
      timeout: 30,
      newMessages,
      otherUpdates,
      ...entities.build(),
    });
  }
}

/** Collects the users and chats an answer refers to, rendered for one viewer. */
export class EntityCollector {
  private readonly users = new Set<number>();
  private readonly chats = new Set<number>();
  private readonly channels = new Set<number>();

  constructor(
    private readonly world: World,
    private readonly viewerId: number,
  ) {}

  addUser(id: number | undefined): this {
    if (id !== undefined && this.world.findUser(id)) this.users.add(id);
    return this;
  }

  addChat(id: number): this {
    this.chats.add(id);
    return this;
  }

  addChannel(id: number): this {
    this.channels.add(id);
    return this;
  }

  addPeer(key: PeerKey): this {
    const { kind, id } = parsePeerKey(key);
    if (kind === 'u') return this.addUser(id);
    if (kind === 'c') return this.addChat(id);
    return this.addChannel(id);
  }

  addMessageCopy(copy: MessageCopy | undefined): this {
    if (!copy) return this;
    this.addPeer(copy.peer);
    const post = this.world.state.posts[copy.postId];
    if (post) this.addPost(post.fromId, post.fwdFrom, post.action);
    return this;
  }

  addChannelMessage(msg: ChannelMessage | undefined): this {
    if (msg) this.addPost(msg.fromId, msg.fwdFrom, msg.action);
    return this;
  }

  private addPost(fromId: number | undefined, fwd: PostRecord['fwdFrom'], action: string | undefined): void {
    this.addUser(fromId);
    if (fwd?.fromUserId) this.addUser(fwd.fromUserId);
    if (fwd?.fromChannelId) this.addChannel(fwd.fromChannelId);
    if (action) {
      const decoded = decodeTl<{ users?: unknown[]; userId?: unknown; inviterId?: unknown }>(action);
      for (const id of decoded.users ?? []) this.addUser(Number(String(id)));
      if (decoded.userId !== undefined) this.addUser(Number(String(decoded.userId)));
      if (decoded.inviterId !== undefined) this.addUser(Number(String(decoded.inviterId)));
    }
  }

  build(): { users: Api.TypeUser[]; chats: Api.TypeChat[] } {
    const chats: Api.TypeChat[] = [];
    for (const id of this.chats)
      if (this.world.state.chats[id]) chats.push(this.world.apiChat(this.viewerId, id));
    for (const id of this.channels)
      if (this.world.state.channels[id]) chats.push(this.world.apiChannel(this.viewerId, id));
    return { users: [...this.users].map((id) => this.world.apiUser(this.viewerId, id)), chats };
  }
}

/** The short form Telegram pushes for a new plain message in a private chat or basic group. */
function shortMessageUpdate(update: Api.TypeUpdate | null): Api.TypeUpdates | undefined {
  if (!(update instanceof Api.UpdateNewMessage) || !(update.message instanceof Api.Message)) return undefined;
  const message = update.message;
  if (message.fwdFrom) return undefined;
  const common = {
    out: message.out,
    silent: message.silent,
    id: message.id,
    message: message.message,
    pts: update.pts,
    ptsCount: update.ptsCount,
    date: message.date,
    ...(message.replyTo ? { replyTo: message.replyTo } : {}),
    ...(message.entities?.length ? { entities: message.entities } : {}),
  };
  if (message.peerId instanceof Api.PeerUser)
    return new Api.UpdateShortMessage({ ...common, userId: message.peerId.userId });
  if (message.peerId instanceof Api.PeerChat && message.fromId instanceof Api.PeerUser) {
    return new Api.UpdateShortChatMessage({
      ...common,
      fromId: message.fromId.userId,
      chatId: message.peerId.chatId,
    });
  }
  return undefined;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export function normalizePhone(phone: string): string {
  return phone.replace(/[^\d]/g, '');
}

function encodeEntities(entities: Api.TypeMessageEntity[] | undefined): string[] {
  return (entities ?? []).map((entity) => entity.getBytes().toString('base64'));
}

function dedupe<T extends { id?: unknown }>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = `${(item as { className?: string }).className}:${String(item.id)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
