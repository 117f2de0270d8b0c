/**
 * What one session knows of the peers it met: Bot-API id -> access hash, username -> id.
 * Filled from every users/chats list Telegram sends and persisted, so ids keep working after a
 * restart without resolving again (repeated resolve calls get real accounts limited).
 */
import { Api, helpers } from 'teleproto';
import { entityBotApiId, parseBotApiId, peerToBotApiId, toBotApiId, type PeerKind } from './ids.js';

/** One cached peer as it is stored (the sessions repository keeps them in tg_peers). */
export interface StoredPeer {
  session_id: string;
  /** Bot-API-style id: user id, -<id> basic group, -100<id> channel. */
  peer_id: string;
  kind: PeerKind;
  access_hash: string | null;
  username: string | null;
  /** For a peer known only from a `min` object: the chat (Bot-API id) and message it was seen in. */
  seen_chat_id: string | null;
  seen_msg_id: number | null;
  /** A basic group migrated to a supergroup: the supergroup's Bot-API id. */
  migrated_to: string | null;
  updated_at: string;
}

/** Where a session's peer cache is loaded from and saved to. */
export interface PeerStore {
  loadPeers(sessionId: string): Promise<StoredPeer[]>;
  upsertPeers(rows: StoredPeer[]): Promise<void>;
}

interface PeerEntry {
  kind: PeerKind;
  accessHash: string | null;
  username: string | null;
  /** Where a `min` peer was seen, when no usable access hash is known. */
  seenIn?: { chatId: string; msgId: number };
  /** A basic group's supergroup after a migration. */
  migratedTo?: string;
}

/** The users and channels a message names: its author, its forward origin, an action's users. */
function peersNamedBy(message: Api.TypeMessage): string[] {
  if (!(message instanceof Api.Message) && !(message instanceof Api.MessageService)) return [];
  const ids: string[] = [];
  if (message.fromId) ids.push(peerToBotApiId(message.fromId));
  if (message instanceof Api.Message && message.fwdFrom?.fromId)
    ids.push(peerToBotApiId(message.fwdFrom.fromId));
  if (message instanceof Api.MessageService) {
    const action = message.action as { users?: unknown[]; userId?: unknown; inviterId?: unknown };
    for (const id of [...(action.users ?? []), action.userId, action.inviterId])
      if (id !== undefined) ids.push(toBotApiId('user', String(id)));
  }
  return ids;
}

/** How long a username that resolved to nothing is answered from memory. */
export const MISSING_USERNAME_TTL_MS = 5 * 60_000;

export class PeerCache {
  private readonly peers = new Map<string, PeerEntry>();
  private readonly usernames = new Map<string, string>();
  /** Usernames Telegram said are free or invalid -> when that answer expires (ms). */
  private readonly missing = new Map<string, number>();
  private dirty = new Map<string, PeerEntry>();

  constructor(
    rows: StoredPeer[] = [],
    private readonly now: () => number = Date.now,
  ) {
    for (const r of rows)
      this.set(
        r.peer_id,
        {
          kind: r.kind,
          accessHash: r.access_hash,
          username: r.username,
          ...(r.seen_chat_id && r.seen_msg_id !== null
            ? { seenIn: { chatId: r.seen_chat_id, msgId: r.seen_msg_id } }
            : {}),
          ...(r.migrated_to ? { migratedTo: r.migrated_to } : {}),
        },
        false,
      );
  }

  get size(): number {
    return this.peers.size;
  }

  private set(id: string, entry: PeerEntry, markDirty = true): void {
    const old = this.peers.get(id);
    if (
      old &&
      old.accessHash === entry.accessHash &&
      old.username === entry.username &&
      old.kind === entry.kind &&
      old.seenIn?.chatId === entry.seenIn?.chatId &&
      old.seenIn?.msgId === entry.seenIn?.msgId &&
      old.migratedTo === entry.migratedTo
    )
      return;
    if (old?.username && old.username !== entry.username) this.usernames.delete(old.username.toLowerCase());
    this.peers.set(id, entry);
    if (entry.username) {
      this.usernames.set(entry.username.toLowerCase(), id);
      this.missing.delete(entry.username.toLowerCase());
    }
    if (markDirty) this.dirty.set(id, entry);
  }

  /**
   * Records users and chats as Telegram sent them. `min` objects (https://core.telegram.org/api/min)
   * carry no usable access hash: they are kept with the message that named them (one of
   * `messages`, the messages that came with them) so the peer can be addressed as
   * inputPeerUserFromMessage / inputPeerChannelFromMessage, and never replace a full hash.
   */
  ingest(
    users: readonly Api.TypeUser[] = [],
    chats: readonly Api.TypeChat[] = [],
    messages: readonly Api.TypeMessage[] = [],
  ): void {
    // Full objects first: a min peer is kept only when the chat it was seen in is addressable.
    for (const c of chats) {
      if (c instanceof Api.Chat) {
        // A basic group migrated to a supergroup (https://core.telegram.org/api/channel#migration)
        // names the supergroup: its old id is followed there.
        const to =
          c.migratedTo instanceof Api.InputChannel
            ? toBotApiId('channel', c.migratedTo.channelId)
            : undefined;
        this.set(entityBotApiId(c), {
          kind: 'chat',
          accessHash: null,
          username: null,
          ...(to ? { migratedTo: to } : {}),
        });
      } else if (c instanceof Api.ChatForbidden) {
        this.set(entityBotApiId(c), { kind: 'chat', accessHash: null, username: null });
      } else if ((c instanceof Api.Channel && !c.min) || c instanceof Api.ChannelForbidden) {
        if (c.accessHash === undefined) continue;
        const username = c instanceof Api.Channel ? (c.username ?? null) : null;
        this.set(entityBotApiId(c), { kind: 'channel', accessHash: c.accessHash.toString(), username });
      }
    }
    for (const u of users) {
      if (!(u instanceof Api.User) || u.min || u.accessHash === undefined) continue;
      this.set(entityBotApiId(u), {
        kind: 'user',
        accessHash: u.accessHash.toString(),
        username: u.username ?? null,
      });
    }
    for (const c of chats)
      if (c instanceof Api.Channel && c.min)
        this.ingestMin(entityBotApiId(c), 'channel', c.username ?? null, messages);
    for (const u of users)
      if (u instanceof Api.User && u.min)
        this.ingestMin(entityBotApiId(u), 'user', u.username ?? null, messages);
  }

  /** The supergroup a basic group was migrated to (its Bot-API id), when it was. */
  migratedTo(botApiId: string): string | undefined {
    return this.peers.get(botApiId)?.migratedTo;
  }

  private ingestMin(
    id: string,
    kind: PeerKind,
    username: string | null,
    messages: readonly Api.TypeMessage[],
  ): void {
    const old = this.peers.get(id);
    if (old?.accessHash) return;
    const message = messages.find((m) => m.peerId && peersNamedBy(m).includes(id));
    if (!message?.peerId) return;
    const chatId = peerToBotApiId(message.peerId);
    // The chat it was seen in must itself be addressable (a full peer or a basic group).
    if (chatId === id || !this.fullInputPeer(chatId)) return;
    this.set(id, { kind, accessHash: null, username, seenIn: { chatId, msgId: message.id } });
  }

  idForUsername(username: string): string | undefined {
    return this.usernames.get(normalUsername(username));
  }

  /**
   * A username that resolved to nothing is not asked for again for a while: resolving is the
   * most strictly limited call (FLOOD_WAIT), and a typo repeated by a client would spend it.
   */
  noteMissingUsername(username: string): void {
    const at = this.now();
    for (const [name, until] of this.missing) if (until <= at) this.missing.delete(name);
    this.missing.set(normalUsername(username), at + MISSING_USERNAME_TTL_MS);
  }

  isKnownMissing(username: string): boolean {
    const until = this.missing.get(normalUsername(username));
    return until !== undefined && until > this.now();
  }

  has(botApiId: string): boolean {
    return this.peers.has(botApiId);
  }

  /**
   * The input peer for a Bot-API id, or undefined when this session never met it. A peer known
   * only from a `min` object is named by the message it was seen in.
   */
  inputPeer(botApiId: string): Api.TypeInputPeer | undefined {
    const full = this.fullInputPeer(botApiId);
    if (full) return full;
    const seenIn = this.peers.get(botApiId)?.seenIn;
    const parsed = parseBotApiId(botApiId);
    const peer = seenIn ? this.fullInputPeer(seenIn.chatId) : undefined;
    if (!seenIn || !parsed || !peer) return undefined;
    if (parsed.kind === 'user')
      return new Api.InputPeerUserFromMessage({
        peer,
        msgId: seenIn.msgId,
        userId: helpers.returnBigInt(parsed.id),
      });
    if (parsed.kind === 'channel')
      return new Api.InputPeerChannelFromMessage({
        peer,
        msgId: seenIn.msgId,
        channelId: helpers.returnBigInt(parsed.id),
      });
    return undefined;
  }

  private fullInputPeer(botApiId: string): Api.TypeInputPeer | undefined {
    const parsed = parseBotApiId(botApiId);
    if (!parsed) return undefined;
    if (parsed.kind === 'chat') return new Api.InputPeerChat({ chatId: helpers.returnBigInt(parsed.id) });
    const entry = this.peers.get(botApiId);
    if (!entry?.accessHash) return undefined;
    const accessHash = helpers.returnBigInt(entry.accessHash);
    if (parsed.kind === 'user')
      return new Api.InputPeerUser({ userId: helpers.returnBigInt(parsed.id), accessHash });
    return new Api.InputPeerChannel({ channelId: helpers.returnBigInt(parsed.id), accessHash });
  }

  inputChannel(botApiId: string): Api.TypeInputChannel | undefined {
    const peer = this.inputPeer(botApiId);
    if (peer instanceof Api.InputPeerChannelFromMessage)
      return new Api.InputChannelFromMessage({
        peer: peer.peer,
        msgId: peer.msgId,
        channelId: peer.channelId,
      });
    if (!(peer instanceof Api.InputPeerChannel)) return undefined;
    return new Api.InputChannel({ channelId: peer.channelId, accessHash: peer.accessHash });
  }

  inputUser(botApiId: string): Api.TypeInputUser | undefined {
    const peer = this.inputPeer(botApiId);
    if (peer instanceof Api.InputPeerUserFromMessage)
      return new Api.InputUserFromMessage({ peer: peer.peer, msgId: peer.msgId, userId: peer.userId });
    if (!(peer instanceof Api.InputPeerUser)) return undefined;
    return new Api.InputUser({ userId: peer.userId, accessHash: peer.accessHash });
  }

  /** Entries changed since the last call, as rows to persist. */
  takeDirty(sessionId: string, now: string): StoredPeer[] {
    if (this.dirty.size === 0) return [];
    const rows = [...this.dirty].map(([peerId, e]) => ({
      session_id: sessionId,
      peer_id: peerId,
      kind: e.kind,
      access_hash: e.accessHash,
      username: e.username,
      seen_chat_id: e.seenIn?.chatId ?? null,
      seen_msg_id: e.seenIn?.msgId ?? null,
      migrated_to: e.migratedTo ?? null,
      updated_at: now,
    }));
    this.dirty = new Map();
    return rows;
  }
}

function normalUsername(username: string): string {
  return username.replace(/^@/, '').toLowerCase();
}
