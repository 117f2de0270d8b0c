/**
 * The sandbox's Telegram: accounts, chats, channels, messages and the per-account update
 * streams (pts) that clients read live (pushed through the UpdateSink) or catch up on with
 * updates.getDifference / getChannelDifference. The RPC dispatcher and the control API both
 * act through the public methods here, so a message posted from either looks the same.
 *
 * `World` owns the shared context (state, options, sink, in-memory sign-in state); the work
 * itself is done by the modules it delegates to, one per responsibility (see README.md).
 */
import type { Api } from 'teleproto';
import type { AuthKeyStore, UpdateSink } from '../contract.js';
import type {
  AccountBox,
  AccountLogEntry,
  AdminRights,
  ChannelLogEntry,
  ChannelRecord,
  ChatRecord,
  MessageCopy,
  PeerKey,
  PostRecord,
  UserRecord,
  WorldState,
} from './state.js';
import { createWorldContext } from './context.js';
import type { MessageContent, Origin, ResolvedWorldOptions, WorldContext, WorldOptions } from './context.js';
import type { EntityCollector } from './entities.js';
import * as lookups from './lookups.js';
import * as authorizations from './authorizations.js';
import * as accounts from './accounts.js';
import * as login from './sign-in.js';
import * as views from './views.js';
import * as updateStreams from './updates.js';
import * as differences from './differences.js';
import * as sending from './messages-send.js';
import * as editing from './messages-edit.js';
import * as reactionsPins from './reactions-pins.js';
import * as reading from './messages-read.js';
import * as typing from './typing.js';
import * as groups from './groups.js';
import * as channels from './channels.js';
import * as invites from './invites.js';
import * as entities from './entities.js';
import * as restrictions from './restrictions.js';
import * as privacy from './privacy.js';
import * as dataCentres from './data-centres.js';
import { MediaService } from './media-service.js';

export type { MessageContent, Origin, WorldOptions } from './context.js';
export { EntityCollector } from './entities.js';
export { normalizePhone } from './lookups.js';

export class World {
  private readonly ctx: WorldContext;
  /** Files, uploads, photos and documents (media-service.ts). */
  readonly media: MediaService;
  /** The auth keys of DC 2 (the default home DC); `authKeyStoreFor(dcId)` gives any DC's. */
  readonly authKeyStore: AuthKeyStore;

  constructor(options: WorldOptions, state?: WorldState) {
    this.ctx = createWorldContext(options, state);
    this.authKeyStore = authorizations.createAuthKeyStore(this.ctx, dataCentres.DEFAULT_HOME_DC);
    this.media = new MediaService(this.ctx);
    for (const auth of Object.values(this.ctx.state.authorizations))
      if (auth.userId) authorizations.bindKey(this.ctx, auth.userId, auth.keyId);
  }

  /** The AuthKeyStore of one DC's listener: keys persist with the world and belong to one DC. */
  authKeyStoreFor(dcId: number): AuthKeyStore {
    return authorizations.createAuthKeyStore(this.ctx, dcId);
  }

  get state(): WorldState {
    return this.ctx.state;
  }

  get options(): ResolvedWorldOptions {
    return this.ctx.options;
  }

  attachSink(sink: UpdateSink): void {
    this.ctx.sink = sink;
  }

  get updateSink(): UpdateSink | undefined {
    return this.ctx.sink;
  }

  // ---------------------------------------------------------------- lookups.ts

  user(id: number): UserRecord {
    return lookups.getUser(this.ctx, id);
  }
  findUser(id: number): UserRecord | undefined {
    return lookups.findUser(this.ctx, id);
  }
  userByPhone(phone: string): UserRecord | undefined {
    return lookups.userByPhone(this.ctx, phone);
  }
  userByUsername(username: string): UserRecord | undefined {
    return lookups.userByUsername(this.ctx, username);
  }
  channelByUsername(username: string): ChannelRecord | undefined {
    return lookups.channelByUsername(this.ctx, username);
  }
  box(userId: number): AccountBox {
    return lookups.getBox(this.ctx, userId);
  }
  chat(chatId: number): ChatRecord {
    return lookups.getChat(this.ctx, chatId);
  }
  channel(channelId: number): ChannelRecord {
    return lookups.getChannel(this.ctx, channelId);
  }
  channelMembers(channel: ChannelRecord): number[] {
    return lookups.channelMembers(channel);
  }
  isChannelMember(channel: ChannelRecord, userId: number): boolean {
    return lookups.isChannelMember(channel, userId);
  }
  readableChannel(userId: number, channelId: number): ChannelRecord {
    return lookups.readableChannel(this.ctx, userId, channelId);
  }
  channelRights(channel: ChannelRecord, userId: number): AdminRights | undefined {
    return lookups.channelRights(channel, userId);
  }
  ownCopy(userId: number, peer: PeerKey, msgId: number): { copy: MessageCopy; post: PostRecord } {
    return lookups.ownCopy(this.ctx, userId, peer, msgId);
  }

  // ---------------------------------------------------------------- authorizations.ts

  userIdForKey(keyId: bigint): number | undefined {
    return authorizations.userIdForKey(this.ctx, keyId);
  }
  keysOf(userId: number): bigint[] {
    return authorizations.keysOf(this.ctx, userId);
  }
  revokeKey(keyId: bigint, delayMs?: number): void {
    authorizations.revokeKey(this.ctx, keyId, delayMs);
  }
  terminateKey(keyId: bigint): void {
    authorizations.terminateKey(this.ctx, keyId);
  }
  keyRevoked(keyId: bigint): boolean {
    return authorizations.keyRevoked(this.ctx, keyId);
  }
  checkKeyDuplicated(keyId: bigint, inUseElsewhere: boolean): void {
    authorizations.checkKeyDuplicated(this.ctx, keyId, inUseElsewhere);
  }
  revokeUser(userId: number): number {
    return authorizations.revokeUser(this.ctx, userId);
  }
  authorizationsOf(userId: number, currentKey?: bigint): Api.Authorization[] {
    return authorizations.authorizationsOf(this.ctx, userId, currentKey);
  }
  resetAuthorization(userId: number, hash: string): boolean {
    return authorizations.resetAuthorization(this.ctx, userId, hash);
  }

  // ---------------------------------------------------------------- accounts.ts

  createUser(input: {
    phone: string;
    firstName?: string;
    lastName?: string;
    username?: string;
    password?: string;
    /** Home DC (1-5); DC 2 when omitted. */
    dc?: number;
  }): UserRecord {
    return accounts.createUser(this.ctx, input);
  }
  setPassword(userId: number, password: string | null, hint?: string): void {
    accounts.setPassword(this.ctx, userId, password, hint);
  }
  updateProfile(
    userId: number,
    input: { firstName?: string; lastName?: string; username?: string | null },
  ): UserRecord {
    return accounts.updateProfile(this.ctx, userId, input);
  }
  setOnline(userId: number, online: boolean): void {
    accounts.setOnline(this.ctx, userId, online);
  }
  addContact(userId: number, contactId: number): void {
    accounts.addContact(this.ctx, userId, contactId);
  }

  // ---------------------------------------------------------------- sign-in.ts

  sendCode(phoneInput: string): { hash: string; code: string; registered: boolean } {
    return login.sendCode(this.ctx, phoneInput);
  }
  lastCode(phone: string): string | undefined {
    return login.lastCode(this.ctx, phone);
  }
  signIn(keyId: bigint, phoneInput: string, hash: string, code?: string): Api.auth.TypeAuthorization {
    return login.signIn(this.ctx, keyId, phoneInput, hash, code);
  }
  signUp(
    keyId: bigint,
    phoneInput: string,
    hash: string,
    firstName: string,
    lastName: string,
  ): Api.auth.TypeAuthorization {
    return login.signUp(this.ctx, keyId, phoneInput, hash, firstName, lastName);
  }
  getPassword(keyId: bigint): Api.account.Password {
    return login.getPassword(this.ctx, keyId);
  }
  checkPassword(keyId: bigint, srpId: bigint, A: Buffer, M1: Buffer): Api.auth.Authorization {
    return login.checkPassword(this.ctx, keyId, srpId, A, M1);
  }
  /** `dcId`: the DC the call came in on (a token accepted by an account homed elsewhere
   * then answers auth.loginTokenMigrateTo); omitted, no DC is checked. */
  exportLoginToken(keyId: bigint, dcId?: number): Api.auth.TypeLoginToken {
    return login.exportLoginToken(this.ctx, keyId, dcId);
  }
  importLoginToken(keyId: bigint, token: Buffer, dcId?: number): Api.auth.TypeLoginToken {
    return login.importLoginToken(this.ctx, keyId, token, dcId);
  }

  // ---------------------------------------------------------------- data-centres.ts

  homeDcOf(userId: number): number {
    return dataCentres.homeDcOf(this.ctx, userId);
  }
  checkDataCentre(dcId: number | undefined, className: string, request: unknown, userId?: number): void {
    dataCentres.checkDataCentre(this.ctx, dcId, className, request, userId);
  }
  exportAuthorization(
    userId: number,
    fromDc: number | undefined,
    toDc: number,
  ): Api.auth.ExportedAuthorization {
    return dataCentres.exportAuthorization(this.ctx, userId, fromDc, toDc);
  }
  importAuthorization(
    keyId: bigint,
    dcId: number | undefined,
    userId: bigint,
    bytes: Buffer,
  ): Api.auth.Authorization {
    return dataCentres.importAuthorization(this.ctx, keyId, dcId, userId, bytes);
  }
  acceptLoginToken(userId: number, token: Buffer): Api.Authorization {
    return login.acceptLoginToken(this.ctx, userId, token);
  }

  // ---------------------------------------------------------------- views.ts

  apiStatus(user: UserRecord): Api.TypeUserStatus {
    return views.apiStatus(user);
  }
  apiUser(viewerId: number, userId: number): Api.User {
    return views.apiUser(this.ctx, viewerId, userId);
  }
  apiChat(viewerId: number, chatId: number): Api.TypeChat {
    return views.apiChat(this.ctx, viewerId, chatId);
  }
  apiChannel(viewerId: number, channelId: number): Api.Channel | Api.ChannelForbidden {
    return views.apiChannel(this.ctx, viewerId, channelId);
  }
  apiReactions(viewerId: number, reactions: Record<string, string>): Api.MessageReactions | undefined {
    return views.apiReactions(viewerId, reactions);
  }
  apiMessage(userId: number, msgId: number): Api.TypeMessage {
    return views.apiMessage(this.ctx, userId, msgId);
  }
  apiChannelMessage(viewerId: number, channel: ChannelRecord, msgId: number): Api.TypeMessage {
    return views.apiChannelMessage(this.ctx, viewerId, channel, msgId);
  }
  apiChatParticipants(chat: ChatRecord): Api.ChatParticipants {
    return views.apiChatParticipants(chat);
  }
  apiChannelParticipant(
    channel: ChannelRecord,
    userId: number,
    viewerId: number,
  ): Api.TypeChannelParticipant {
    return views.apiChannelParticipant(channel, userId, viewerId);
  }
  apiInvite(hash: string): Api.ChatInviteExported {
    return views.apiInvite(this.ctx, hash);
  }
  renderPeerMessage(userId: number, peer: PeerKey, msgId: number): Api.TypeMessage {
    return views.renderPeerMessage(this.ctx, userId, peer, msgId);
  }

  // ---------------------------------------------------------------- updates.ts

  pushTo(userId: number, updates: Api.TypeUpdates, exceptKey?: bigint): void {
    updateStreams.pushTo(this.ctx, userId, updates, exceptKey);
  }
  /** Runs `send` and pushes what it caused to each connection as one Updates (albums). */
  batchPushes<T>(send: () => T): T {
    return updateStreams.batchPushes(this.ctx, send);
  }
  renderAccountEntry(userId: number, entry: AccountLogEntry): Api.TypeUpdate | null {
    return updateStreams.renderAccountEntry(this.ctx, userId, entry);
  }
  renderChannelEntry(
    viewerId: number,
    channel: ChannelRecord,
    entry: ChannelLogEntry,
  ): Api.TypeUpdate | null {
    return updateStreams.renderChannelEntry(this.ctx, viewerId, channel, entry);
  }

  // ---------------------------------------------------------------- differences.ts

  getState(userId: number): Api.updates.State {
    return differences.getState(this.ctx, userId);
  }
  getDifference(
    userId: number,
    pts: number,
    date: number,
    ptsTotalLimit?: number,
  ): Api.updates.TypeDifference {
    return differences.getDifference(this.ctx, userId, pts, date, ptsTotalLimit);
  }
  getChannelDifference(
    userId: number,
    channelId: number,
    pts: number,
    limitInput: number,
  ): Api.updates.TypeChannelDifference {
    return differences.getChannelDifference(this.ctx, userId, channelId, pts, limitInput);
  }

  // ---------------------------------------------------------------- messages-send.ts

  sendMessage(
    fromId: number,
    peer: PeerKey,
    content: MessageContent,
    origin?: Origin,
  ): { id: number; result: Api.TypeUpdates } {
    return sending.sendMessage(this.ctx, fromId, peer, content, origin);
  }
  checkRandomIds(userId: number, randomIds: bigint[]): void {
    sending.checkRandomIds(this.ctx, userId, randomIds);
  }
  forwardMessages(
    userId: number,
    fromPeer: PeerKey,
    ids: number[],
    toPeer: PeerKey,
    randomIds: bigint[],
    origin?: Origin,
  ): Api.TypeUpdates {
    return sending.forwardMessages(this.ctx, userId, fromPeer, ids, toPeer, randomIds, origin);
  }

  // ---------------------------------------------------------------- messages-edit.ts

  editMessage(
    userId: number,
    peer: PeerKey,
    msgId: number,
    text: string | undefined,
    entities: Api.TypeMessageEntity[] | undefined,
    origin?: Origin,
  ): Api.TypeUpdates {
    return editing.editMessage(this.ctx, userId, peer, msgId, text, entities, origin);
  }
  deleteMessages(
    userId: number,
    ids: number[],
    revoke: boolean,
    origin?: Origin,
  ): Api.messages.AffectedMessages {
    return editing.deleteMessages(this.ctx, userId, ids, revoke, origin);
  }
  deleteChannelMessages(
    userId: number,
    channelId: number,
    ids: number[],
    origin?: Origin,
  ): Api.messages.AffectedMessages {
    return editing.deleteChannelMessages(this.ctx, userId, channelId, ids, origin);
  }
  deleteHistory(
    userId: number,
    peer: PeerKey,
    maxId: number,
    revoke: boolean,
    justClear: boolean,
    origin?: Origin,
  ): Api.messages.AffectedHistory {
    return editing.deleteHistory(this.ctx, userId, peer, maxId, revoke, justClear, origin);
  }

  // ---------------------------------------------------------------- reactions-pins.ts

  react(
    userId: number,
    peer: PeerKey,
    msgId: number,
    emoji: string | null,
    origin?: Origin,
  ): Api.TypeUpdates {
    return reactionsPins.react(this.ctx, userId, peer, msgId, emoji, origin);
  }
  pin(userId: number, peer: PeerKey, msgId: number, pinned: boolean, origin?: Origin): Api.TypeUpdates {
    return reactionsPins.pin(this.ctx, userId, peer, msgId, pinned, origin);
  }
  unpinAll(userId: number, peer: PeerKey, origin?: Origin): Api.messages.AffectedHistory {
    return reactionsPins.unpinAll(this.ctx, userId, peer, origin);
  }

  // ---------------------------------------------------------------- messages-read.ts

  unreadCounts(box: AccountBox): Map<PeerKey, number> {
    return reading.unreadCounts(box);
  }
  unreadCount(box: AccountBox, peer: PeerKey): number {
    return reading.unreadCount(box, peer);
  }
  channelUnreadCount(channel: ChannelRecord, userId: number): number {
    return reading.channelUnreadCount(channel, userId);
  }
  readHistory(
    userId: number,
    peer: PeerKey,
    maxIdInput: number,
    origin?: Origin,
  ): Api.messages.AffectedMessages {
    return reading.readHistory(this.ctx, userId, peer, maxIdInput, origin);
  }
  readChannelHistory(userId: number, channelId: number, maxIdInput: number, origin?: Origin): boolean {
    return reading.readChannelHistory(this.ctx, userId, channelId, maxIdInput, origin);
  }
  historyOf(userId: number, peer: PeerKey): reading.HistoryItem[] {
    return reading.historyOf(this.ctx, userId, peer);
  }

  // ---------------------------------------------------------------- typing.ts

  setTyping(userId: number, peer: PeerKey, action?: Api.TypeSendMessageAction): void {
    typing.setTyping(this.ctx, userId, peer, action);
  }

  // ---------------------------------------------------------------- groups.ts

  createChat(
    creatorId: number,
    title: string,
    memberIds: number[],
    origin?: Origin,
  ): { chatId: number; result: Api.TypeUpdates } {
    return groups.createChat(this.ctx, creatorId, title, memberIds, origin);
  }
  addChatUser(actorId: number, chatId: number, userId: number, origin?: Origin): Api.TypeUpdates {
    return groups.addChatUser(this.ctx, actorId, chatId, userId, origin);
  }
  deleteChatUser(actorId: number, chatId: number, userId: number, origin?: Origin): Api.TypeUpdates {
    return groups.deleteChatUser(this.ctx, actorId, chatId, userId, origin);
  }
  editChatAdmin(actorId: number, chatId: number, userId: number, isAdmin: boolean): boolean {
    return groups.editChatAdmin(this.ctx, actorId, chatId, userId, isAdmin);
  }
  editChatTitle(actorId: number, chatId: number, title: string, origin?: Origin): Api.TypeUpdates {
    return groups.editChatTitle(this.ctx, actorId, chatId, title, origin);
  }
  deleteChat(actorId: number, chatId: number): boolean {
    return groups.deleteChat(this.ctx, actorId, chatId);
  }

  // ---------------------------------------------------------------- channels.ts

  createChannel(
    creatorId: number,
    input: { title: string; about?: string; megagroup: boolean; username?: string },
    origin?: Origin,
  ): { channelId: number; result: Api.TypeUpdates } {
    return channels.createChannel(this.ctx, creatorId, input, origin);
  }
  migrateChat(userId: number, chatId: number): { channelId: number; result: Api.Updates } {
    return channels.migrateChat(this.ctx, userId, chatId);
  }
  joinChannel(userId: number, channelId: number, inviterId?: number, origin?: Origin): Api.TypeUpdates {
    return channels.joinChannel(this.ctx, userId, channelId, inviterId, origin);
  }
  leaveChannel(userId: number, channelId: number, origin?: Origin): Api.TypeUpdates {
    return channels.leaveChannel(this.ctx, userId, channelId, origin);
  }
  kickFromChannel(actorId: number, channelId: number, userId: number): void {
    channels.kickFromChannel(this.ctx, actorId, channelId, userId);
  }
  unbanFromChannel(actorId: number, channelId: number, userId: number): void {
    channels.unbanFromChannel(this.ctx, actorId, channelId, userId);
  }
  editChannelAdmin(
    actorId: number,
    channelId: number,
    userId: number,
    rights: AdminRights,
    rank: string,
    origin?: Origin,
  ): Api.TypeUpdates {
    return channels.editChannelAdmin(this.ctx, actorId, channelId, userId, rights, rank, origin);
  }
  setChannelUsername(actorId: number, channelId: number, username: string | null): void {
    channels.setChannelUsername(this.ctx, actorId, channelId, username);
  }
  editChannelTitle(actorId: number, channelId: number, title: string, origin?: Origin): Api.TypeUpdates {
    return channels.editChannelTitle(this.ctx, actorId, channelId, title, origin);
  }
  deleteChannel(actorId: number, channelId: number, origin?: Origin): Api.TypeUpdates {
    return channels.deleteChannel(this.ctx, actorId, channelId, origin);
  }

  // ---------------------------------------------------------------- invites.ts

  exportInvite(userId: number, peer: PeerKey): Api.ChatInviteExported {
    return invites.exportInvite(this.ctx, userId, peer);
  }
  checkInvite(userId: number, hashInput: string): Api.TypeChatInvite {
    return invites.checkInvite(this.ctx, userId, hashInput);
  }
  importInvite(userId: number, hashInput: string, origin?: Origin): Api.TypeUpdates {
    return invites.importInvite(this.ctx, userId, hashInput, origin);
  }

  // ---------------------------------------------------------------- restrictions.ts

  setPeerFlood(userId: number, on: boolean): void {
    restrictions.setPeerFlood(this.ctx, userId, on);
  }
  setNoforwards(peer: PeerKey, on: boolean): void {
    restrictions.setNoforwards(this.ctx, peer, on);
  }
  ageMessage(userId: number, peer: PeerKey, msgId: number, seconds: number): void {
    restrictions.ageMessage(this.ctx, userId, peer, msgId, seconds);
  }

  // ---------------------------------------------------------------- privacy.ts

  getPrivacy(userId: number, key: Api.TypeInputPrivacyKey): Api.account.PrivacyRules {
    return privacy.getPrivacy(this.ctx, userId, key);
  }
  setPrivacy(
    userId: number,
    key: Api.TypeInputPrivacyKey,
    rules: Api.TypeInputPrivacyRule[],
    resolveUser: (input: Api.TypeInputUser) => number,
    originKey?: bigint,
  ): Api.account.PrivacyRules {
    return privacy.setPrivacy(this.ctx, userId, key, rules, resolveUser, originKey);
  }
  setInvitePrivacy(userId: number, choice: privacy.PrivacyChoice): void {
    privacy.setInvitePrivacy(this.ctx, userId, choice);
  }
  invitePrivacyChoice(userId: number): privacy.PrivacyChoice | 'custom' {
    return privacy.invitePrivacyChoice(this.ctx, userId);
  }
  checkInvitees(
    inviterId: number,
    inviteeIds: number[],
  ): { allowed: number[]; missing: Api.MissingInvitee[] } {
    return privacy.checkInvitees(this.ctx, inviterId, inviteeIds);
  }

  // ---------------------------------------------------------------- entities.ts

  entities(viewerId: number): EntityCollector {
    return entities.collectEntities(this.ctx, viewerId);
  }
}
