/**
 * What one session knows of the peers it met: Bot-API id -> access hash, username -> id.
 * Filled from every users/chats list Telegram sends and persisted, so ids keep working after a
 * restart without resolving again (repeated resolve calls get real accounts limited).
 */
import { Api, helpers } from 'teleproto';
import { entityBotApiId, parseBotApiId, type PeerKind } from './ids.js';

/** One cached peer as it is stored (the sessions repository keeps them in tg_peers). */
export interface StoredPeer {
  session_id: string;
  /** Bot-API-style id: user id, -<id> basic group, -100<id> channel. */
  peer_id: string;
  kind: PeerKind;
  access_hash: string | null;
  username: string | null;
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
      this.set(r.peer_id, { kind: r.kind, accessHash: r.access_hash, username: r.username }, false);
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
      old.kind === entry.kind
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

  /** Records users and chats as Telegram sent them; `min` objects carry no usable hash. */
  ingest(users: readonly Api.TypeUser[] = [], chats: readonly Api.TypeChat[] = []): void {
    for (const u of users) {
      if (!(u instanceof Api.User) || u.min || u.accessHash === undefined) continue;
      this.set(entityBotApiId(u), {
        kind: 'user',
        accessHash: u.accessHash.toString(),
        username: u.username ?? null,
      });
    }
    for (const c of chats) {
      if (c instanceof Api.Chat || c instanceof Api.ChatForbidden) {
        this.set(entityBotApiId(c), { kind: 'chat', accessHash: null, username: null });
      } else if ((c instanceof Api.Channel && !c.min) || c instanceof Api.ChannelForbidden) {
        if (c.accessHash === undefined) continue;
        const username = c instanceof Api.Channel ? (c.username ?? null) : null;
        this.set(entityBotApiId(c), { kind: 'channel', accessHash: c.accessHash.toString(), username });
      }
    }
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

  /** The input peer for a Bot-API id, or undefined when this session never met it. */
  inputPeer(botApiId: string): Api.TypeInputPeer | undefined {
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

  inputChannel(botApiId: string): Api.InputChannel | undefined {
    const peer = this.inputPeer(botApiId);
    if (!(peer instanceof Api.InputPeerChannel)) return undefined;
    return new Api.InputChannel({ channelId: peer.channelId, accessHash: peer.accessHash });
  }

  inputUser(botApiId: string): Api.InputUser | undefined {
    const peer = this.inputPeer(botApiId);
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
      updated_at: now,
    }));
    this.dirty = new Map();
    return rows;
  }
}

function normalUsername(username: string): string {
  return username.replace(/^@/, '').toLowerCase();
}
