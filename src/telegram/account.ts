/**
 * One Telegram account's connection: a teleproto client behind the few methods the services
 * need. Updates are taken straight from the client's sender (the library's own event
 * machinery is bypassed: it calls getMe before every event and keeps no pts), fed to the
 * UpdateTracker, and answers to our own calls go through the same tracker.
 */
import type { Logger as PinoLogger } from 'pino';
import { Api, Logger, TelegramClient, errors } from 'teleproto';
import { LogLevel } from 'teleproto/extensions/Logger.js';
import { StringSession } from 'teleproto/sessions/index.js';
import { AppError } from '../lib/errors.js';
import type { TelegramEndpoint } from './endpoint.js';
import { MediaDownloader, type MediaFile } from './media-download.js';
import { floodWaitSeconds } from './flood-wait.js';
import { isSignedOutError, toAppErrorFromTelegram } from './errors.js';
import { peerToBotApiId } from './ids.js';
import type { PeerCache } from './peer-cache.js';
import type { UpdateTracker } from './update-tracker.js';
import { applyTeleprotoPatches } from './teleproto-patches.js';
import { applyTransferSpeedups } from './transfer-speed.js';

applyTeleprotoPatches();
applyTransferSpeedups();

/** What the message and chat services see of a connected account. */
export interface TelegramAccount {
  readonly sessionId: string;
  /** The account's own user id. */
  readonly selfId: string;
  /** Calls Telegram; errors come back as AppError with the envelope's codes. */
  invoke<R extends Api.AnyRequest>(request: R): Promise<R['__response']>;
  /** `me`, `@username` or a Bot-API id to an input peer (404 CHAT_NOT_FOUND when unknown). */
  resolvePeer(chatId: string): Promise<{ peer: Api.TypeInputPeer; id: string }>;
  inputChannel(botApiId: string): Api.TypeInputChannel | undefined;
  inputUser(botApiId: string): Api.TypeInputUser | undefined;
  /** Tells the update state about an AffectedMessages/AffectedHistory answer. */
  affected(result: { pts: number; ptsCount: number }, channelId?: string): void;
  /** A message's file (or its thumbnail) by mediaId, read from Telegram as asked (media-download.ts). */
  openMedia(mediaId: string, thumb?: string): Promise<MediaFile>;
  /** Records users and chats (resolve results) in the peer cache. */
  remember(
    users: readonly Api.TypeUser[],
    chats: readonly Api.TypeChat[],
    messages?: readonly Api.TypeMessage[],
  ): void;
}

/**
 * `lost`: the library is reconnecting; `restored`: its reconnect succeeded; `gone`: its
 * reconnect ended without a connection and it will not try again by itself; `key-rejected`: the
 * server answered transport error -404 on a signed-in connection (a forgotten key, or only a
 * packet it could not read: the caller asks again on a fresh connection before giving up).
 */
export type ConnectionState = 'lost' | 'restored' | 'gone' | 'key-rejected';

/** Whether an error is the server's transport error -404 while connecting (see `open`). */
export function isKeyRejection(err: unknown): boolean {
  return (err as { transportError?: number } | undefined)?.transportError === -404;
}

export interface AccountClientOptions {
  sessionId: string;
  endpoint: TelegramEndpoint;
  apiId: number;
  apiHash: string;
  floodSleepThresholdSeconds: number;
  /** Longest a single call may take before the session is considered unreachable. */
  callTimeoutMs: number;
  peers: PeerCache;
  log: PinoLogger;
  /** Everything of type Updates that Telegram pushes. */
  onUpdates(updates: Api.TypeUpdates): void;
  /** The connection was lost, is back, or the library stopped trying to bring it back. */
  onConnectionState(state: ConnectionState): void;
  /** A call answered that the account is signed out. */
  onSignedOut(error: { code: string; message: string }): void;
  /** Telegram answered FLOOD_WAIT_X to a call (whether the library sleeps through it or not). */
  onFloodWait?(seconds: number): void;
}

/** teleproto's client/users.js `invoke`, before it sleeps through a short flood wait. */
const FLOOD_SLEEP = /^Sleeping for (\d+)s on flood wait/;

/** Bridges teleproto's logger to pino at debug level: its warnings are routine reconnect chatter. */
class PinoBridgeLogger extends Logger {
  constructor(
    private readonly pinoLog: PinoLogger,
    private readonly onFloodSleep?: (seconds: number) => void,
  ) {
    super(pinoLog.isLevelEnabled('debug') ? LogLevel.DEBUG : LogLevel.NONE);
  }
  /** The library says only here that it sleeps through a FLOOD_WAIT under floodSleepThreshold. */
  override info(message: string): void {
    const flood = FLOOD_SLEEP.exec(message);
    if (flood) this.onFloodSleep?.(Number(flood[1]));
    super.info(message);
  }
  override log(level: LogLevel, message: string): void {
    if (level === LogLevel.ERROR || level === LogLevel.WARN)
      this.pinoLog.debug({ teleproto: level }, message);
  }
}

type Sender = {
  _updateCallback?: (client: unknown, update: unknown) => void;
  isReconnecting?: boolean;
  _transportConnected?: () => boolean;
  connect(connection: unknown, force?: boolean): Promise<boolean>;
};

export class AccountClient implements TelegramAccount {
  client: TelegramClient | undefined;
  self: Api.User | undefined;
  tracker: UpdateTracker | undefined;
  private closed = false;
  /** Non-zero while the library moves the session to another DC. */
  private switching = 0;
  /** Rejects every call still waiting when the client is closed (signed out, disconnected). */
  private readonly pending = new Set<(err: unknown) => void>();

  constructor(private readonly opts: AccountClientOptions) {}

  get sessionId(): string {
    return this.opts.sessionId;
  }

  get selfId(): string {
    if (!this.self) throw new AppError('SESSION_NOT_AUTHORIZED', 'The account is not signed in');
    return this.self.id.toString();
  }

  /** True while the transport is up (the library may be reconnecting otherwise). */
  get transportConnected(): boolean {
    const sender = this.client?._sender as Sender | undefined;
    return Boolean(sender?._transportConnected?.() && !sender.isReconnecting);
  }

  get reconnecting(): boolean {
    return Boolean((this.client?._sender as Sender | undefined)?.isReconnecting);
  }

  /** Connects with a saved StringSession (or a fresh one on the endpoint's DC). */
  async open(sessionString: string): Promise<void> {
    const session = new StringSession(sessionString);
    if (!sessionString) session.setDC(this.opts.endpoint.dcId, this.opts.endpoint.host, 443);
    const client = new TelegramClient(session, this.opts.apiId, this.opts.apiHash, {
      connection: this.opts.endpoint.connection,
      connectionRetries: 2,
      requestRetries: 3,
      retryDelay: 500,
      timeout: 10,
      autoReconnect: true,
      floodSleepThreshold: this.opts.floodSleepThresholdSeconds,
      baseLogger: new PinoBridgeLogger(this.opts.log, this.opts.onFloodWait),
      deviceModel: 'TeleFlow',
      systemVersion: process.platform,
      appVersion: '1.0',
    });
    // Called by the library after each of its own reconnects, successful or not. When its
    // connect attempts all failed, the sender is left without a connection and nothing in the
    // library starts another reconnect (its ping loop's reconnect needs a connected sender).
    (client as unknown as { _handleReconnect: () => Promise<void> })._handleReconnect = async () => {
      if (this.closed) return;
      this.opts.onConnectionState(this.transportConnected ? 'restored' : this.reconnecting ? 'lost' : 'gone');
    };
    this.client = client;
    let ok: boolean;
    const keyRejected = new Promise<never>((_, reject) => {
      this.rejectOpen = reject;
    });
    keyRejected.catch(() => undefined);
    this.hookSenders(client);
    try {
      const connecting = client.connect();
      ok = await withTimeout(Promise.race([connecting, keyRejected]), this.opts.callTimeoutMs, 'connect');
    } catch (err) {
      await this.close();
      throw err;
    } finally {
      this.rejectOpen = undefined;
    }
    if (!ok) {
      await this.close();
      throw new Error('Could not connect to Telegram');
    }
  }

  private rejectOpen: ((err: unknown) => void) | undefined;

  /**
   * Takes the update callback of every sender the client makes, the moment it is set: the first
   * one (so a key the server rejects during initConnection is seen too) and each one `_switchDC`
   * makes when Telegram answers PHONE_MIGRATE_X / USER_MIGRATE_X or a QR login moves the session
   * to the account's home DC.
   */
  private hookSenders(client: TelegramClient): void {
    let current = (client as unknown as { _sender?: Sender })._sender;
    Object.defineProperty(client, '_sender', {
      configurable: true,
      enumerable: true,
      get: () => current,
      set: (sender: Sender | undefined) => {
        current = sender;
        if (sender) this.hookSender(sender);
      },
    });
    if (current) this.hookSender(current);
    const switcher = client as unknown as { _switchDC(dcId: number): Promise<boolean> };
    const switchDC = switcher._switchDC.bind(client);
    // The old sender's disconnect while switching is not a lost connection.
    switcher._switchDC = async (dcId: number) => {
      this.switching++;
      try {
        return await switchDC(dcId);
      } finally {
        this.switching--;
      }
    };
  }

  private hookSender(sender: Sender): void {
    sender._updateCallback = (_client, update) => this.onRaw(update);
    // A reconnect the library had already planned when the client was closed would open a
    // connection nobody closes (its connect clears the "disconnected by the user" flag).
    const connect = sender.connect.bind(sender);
    sender.connect = async (connection, force) => (this.closed ? false : connect(connection, force));
  }

  /**
   * Moves the session to another DC (a new auth key there), as the library does by itself for
   * PHONE_MIGRATE_X and USER_MIGRATE_X: for auth.loginTokenMigrateTo, which it leaves to us
   * (https://core.telegram.org/api/qr-login).
   */
  async switchDc(dcId: number): Promise<void> {
    const client = this.client;
    if (!client || this.closed)
      throw new AppError('SESSION_NOT_CONNECTED', 'The session is not connected', undefined, 5);
    const switcher = client as unknown as { _switchDC(dcId: number): Promise<boolean> };
    const ok = await withTimeout(switcher._switchDC(dcId), this.opts.callTimeoutMs, `switch to DC ${dcId}`);
    if (!ok) throw new Error(`Could not connect to DC ${dcId}`);
  }

  /** The DC the session's auth key belongs to (its account's home once signed in). */
  get dcId(): number | undefined {
    return this.client?.session.dcId;
  }

  private onRaw(update: unknown): void {
    if (this.closed) return;
    const state = (update as { state?: number }).state;
    if (update && typeof update === 'object' && update.constructor?.name === 'UpdateConnectionState') {
      if (this.switching > 0) return;
      // 0 ("broken") is what the library reports when the server answers -404. Telegram sends
      // it for an auth key it does not know, but also for a packet it could not read
      // (core.telegram.org/mtproto/mtproto-transports#transport-errors): whether the key is
      // really forgotten is for the caller to confirm on a fresh connection.
      if (state === 0) {
        const err = Object.assign(
          new errors.RPCError('AUTH_KEY_UNREGISTERED', new Api.help.GetConfig(), 401),
          { transportError: -404 },
        );
        if (this.rejectOpen) this.rejectOpen(err);
        else if (this.self) this.opts.onConnectionState('key-rejected');
        else this.opts.onConnectionState('lost');
      } else if (state === -1) this.opts.onConnectionState('lost');
      return;
    }
    if (isUpdates(update)) this.opts.onUpdates(update);
  }

  sessionString(): string {
    const session = this.client?.session as StringSession | undefined;
    return session ? String(session.save()) : '';
  }

  /**
   * `call`, or a rejection if the client is closed first. Each call registers its own rejecter
   * and drops it when settled: racing every call against one long-lived "closed" promise left a
   * reaction on it per call, holding every answer for the client's lifetime (a 200 MB download
   * kept 200 MB).
   */
  private untilClosed<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.add(reject);
      call.then(resolve, reject).finally(() => this.pending.delete(reject));
    });
  }

  /** Calls Telegram without mapping errors (sign-in needs the library's own error classes). */
  async rawInvoke<R extends Api.AnyRequest>(request: R): Promise<R['__response']> {
    const client = this.client;
    if (!client || this.closed)
      throw new AppError('SESSION_NOT_CONNECTED', 'The session is not connected', undefined, 5);
    const result = await withTimeout(
      this.untilClosed(client.invoke(request)),
      this.opts.callTimeoutMs,
      request.className,
    ).catch((err: unknown) => {
      const seconds = floodWaitSeconds(err);
      if (seconds !== undefined) this.opts.onFloodWait?.(seconds);
      throw err;
    });
    this.absorb(result);
    return result;
  }

  async invoke<R extends Api.AnyRequest>(request: R): Promise<R['__response']> {
    try {
      return await this.rawInvoke(request);
    } catch (err) {
      if (isSignedOutError(err)) {
        const e = err as { errorMessage: string };
        this.opts.onSignedOut({
          code: e.errorMessage,
          message: 'Telegram reports the session as signed out',
        });
      }
      throw toAppErrorFromTelegram(err);
    }
  }

  private downloader: MediaDownloader | undefined;

  openMedia(mediaId: string, thumb?: string): Promise<MediaFile> {
    this.downloader ??= new MediaDownloader({
      invokeOnDc: (request, dcId) => this.rawInvokeOnDc(request, dcId),
      homeDc: () => this.dcId,
      fetchMessage: (chatId, messageId) => this.fetchMessage(chatId, messageId),
    });
    return this.downloader.open(mediaId, thumb);
  }

  /** A call on another DC (a file kept there) through the library's connection to it. */
  private async rawInvokeOnDc<R extends Api.AnyRequest>(
    request: R,
    dcId: number | undefined,
  ): Promise<R['__response']> {
    const client = this.client;
    if (!client || this.closed)
      throw new AppError('SESSION_NOT_CONNECTED', 'The session is not connected', undefined, 5);
    if (dcId === undefined) return this.rawInvoke(request);
    return withTimeout(
      this.untilClosed(client.invoke(request, dcId)),
      this.opts.callTimeoutMs,
      request.className,
    );
  }

  /** A fresh copy of one message of a chat (messages.getMessages, channels.getMessages for channels). */
  private async fetchMessage(chatId: string, messageId: number): Promise<Api.TypeMessage | undefined> {
    const { peer, id } = await this.resolvePeer(chatId);
    const ids = [new Api.InputMessageID({ id: messageId })];
    const channel =
      peer instanceof Api.InputPeerChannel || peer instanceof Api.InputPeerChannelFromMessage
        ? this.inputChannel(id)
        : undefined;
    const res = channel
      ? await this.invoke(new Api.channels.GetMessages({ channel, id: ids }))
      : await this.invoke(new Api.messages.GetMessages({ id: ids }));
    if (res instanceof Api.messages.MessagesNotModified) return undefined;
    return res.messages.find(
      (m) => m instanceof Api.Message && m.id === messageId && peerToBotApiId(m.peerId) === chatId,
    );
  }

  /** Answers carry users/chats (and Updates carry pts): both are recorded. */
  private absorb(result: unknown): void {
    if (!result || typeof result !== 'object') return;
    // Adding members answers messages.invitedUsers: its updates carry the service message's pts.
    if (result instanceof Api.messages.InvitedUsers) return this.absorb(result.updates);
    if (isUpdates(result)) {
      if (this.tracker) this.tracker.feed(result, 'own');
      else if ('users' in result) this.opts.peers.ingest(result.users, result.chats);
      return;
    }
    const r = result as { users?: unknown; chats?: unknown; messages?: unknown };
    const users = Array.isArray(r.users) ? (r.users as Api.TypeUser[]) : [];
    const chats = Array.isArray(r.chats) ? (r.chats as Api.TypeChat[]) : [];
    // A messages list names the message each `min` peer among the users/chats was seen in.
    const messages = Array.isArray(r.messages) ? (r.messages as Api.TypeMessage[]) : [];
    if (users.length || chats.length) this.opts.peers.ingest(users, chats, messages);
  }

  remember(
    users: readonly Api.TypeUser[],
    chats: readonly Api.TypeChat[],
    messages?: readonly Api.TypeMessage[],
  ): void {
    this.opts.peers.ingest(users, chats, messages);
  }

  affected(result: { pts: number; ptsCount: number }, channelId?: string): void {
    this.tracker?.noteAffected(result.pts, result.ptsCount, channelId);
  }

  async resolvePeer(chatId: string): Promise<{ peer: Api.TypeInputPeer; id: string }> {
    if (chatId === 'me' || chatId === 'self') return { peer: new Api.InputPeerSelf(), id: this.selfId };
    if (this.self && chatId === this.selfId) return { peer: new Api.InputPeerSelf(), id: chatId };
    if (chatId.startsWith('@')) {
      const username = chatId.slice(1);
      let id = this.opts.peers.idForUsername(username);
      if (!id) {
        if (this.opts.peers.isKnownMissing(username))
          throw new AppError('CHAT_NOT_FOUND', 'Chat not found: no one has this username');
        const res = await this.invoke(new Api.contacts.ResolveUsername({ username })).catch(
          (err: unknown) => {
            const name = (err as { details?: { telegramError?: string } }).details?.telegramError;
            if (name === 'USERNAME_NOT_OCCUPIED' || name === 'USERNAME_INVALID')
              this.opts.peers.noteMissingUsername(username);
            throw err;
          },
        );
        id = peerToBotApiId(res.peer);
      }
      const peer = this.opts.peers.inputPeer(id);
      if (!peer) throw new AppError('CHAT_NOT_FOUND', 'Chat not found');
      return { peer, id };
    }
    // A basic group migrated to a supergroup is followed there: the answer names the new id.
    const movedTo = this.opts.peers.migratedTo(chatId);
    if (movedTo) return this.resolvePeer(movedTo);
    const peer = this.opts.peers.inputPeer(chatId);
    if (!peer)
      throw new AppError(
        'CHAT_NOT_FOUND',
        'Chat not found: this session has not met this id (use @username once, or list chats)',
      );
    return { peer, id: chatId };
  }

  inputChannel(botApiId: string): Api.TypeInputChannel | undefined {
    return this.opts.peers.inputChannel(botApiId);
  }

  inputUser(botApiId: string): Api.TypeInputUser | undefined {
    return this.opts.peers.inputUser(botApiId);
  }

  /** Reads the signed-in user (also tells whether the key is authorized at all). */
  async fetchSelf(): Promise<Api.User> {
    const users = await this.rawInvoke(new Api.users.GetUsers({ id: [new Api.InputUserSelf()] }));
    const me = users[0];
    if (!(me instanceof Api.User))
      throw new AppError('SESSION_NOT_AUTHORIZED', 'The account is not signed in');
    this.setSelf(me);
    return me;
  }

  setSelf(me: Api.User): void {
    this.self = me;
    this.opts.peers.ingest([me], []);
    // The library asks for getMe before its own event dispatch when this is empty.
    (this.client as unknown as { _selfInputPeer?: Api.TypeInputPeer })._selfInputPeer = new Api.InputPeerUser(
      {
        userId: me.id,
        accessHash: me.accessHash!,
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const closedError = new Error('Connection closed: the session was disconnected');
    for (const reject of this.pending) reject(closedError);
    this.pending.clear();
    this.tracker?.stop();
    const client = this.client;
    if (!client) return;
    try {
      await withTimeout(client.destroy(), 5000, 'destroy');
    } catch (err) {
      this.opts.log.debug({ err }, 'client did not close cleanly');
    }
  }
}

export function isUpdates(value: unknown): value is Api.TypeUpdates {
  return (
    value instanceof Api.Updates ||
    value instanceof Api.UpdatesCombined ||
    value instanceof Api.UpdateShort ||
    value instanceof Api.UpdateShortMessage ||
    value instanceof Api.UpdateShortChatMessage ||
    value instanceof Api.UpdateShortSentMessage ||
    value instanceof Api.UpdatesTooLong
  );
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`TIMEOUT: ${what} took longer than ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}
