/**
 * Keeps a session's update state (pts, qts, date, seq and each channel's pts) and catches up
 * with updates.getDifference / updates.getChannelDifference after a gap, a reconnect or a
 * restart. The client library never does this itself. Caught-up updates go to the same
 * dispatch as live ones, so nothing that arrived while TeleFlow was away is missed.
 */
import type { Logger } from 'pino';
import { Api } from 'teleproto';
import { peerToBotApiId, toBotApiId } from './ids.js';
import { telegramErrorName } from './errors.js';

/** Answers to getChannelDifference that mean the channel is gone for this account. */
const GONE_CHANNEL_ERRORS = new Set([
  'CHANNEL_PRIVATE',
  'CHANNEL_INVALID',
  'CHAT_FORBIDDEN',
  'USER_BANNED_IN_CHANNEL',
]);

export interface UpdateState {
  pts?: number;
  qts?: number;
  date?: number;
  seq?: number;
  /** Bot-API channel id -> pts. */
  channels: Record<string, number>;
}

/** live: pushed by Telegram; difference: caught up after a gap; own: the result of our own call. */
export type UpdateSource = 'live' | 'difference' | 'own';

export interface UpdateContext {
  source: UpdateSource;
  users: readonly Api.TypeUser[];
  chats: readonly Api.TypeChat[];
}

export interface UpdateTrackerDeps {
  state: UpdateState;
  invoke<R extends Api.AnyRequest>(request: R): Promise<R['__response']>;
  inputChannel(botApiChannelId: string): Api.InputChannel | undefined;
  ingestEntities(users: readonly Api.TypeUser[], chats: readonly Api.TypeChat[]): void;
  dispatch(update: Api.TypeUpdate, ctx: UpdateContext): void;
  onStateChanged(): void;
  log: Logger;
}

const DIFFERENCE_ROUNDS_MAX = 50;
/** How long a gap may stay open before getDifference (Telegram's own advice: about 0.5 s). */
const GAP_WAIT_MS = 500;
const COMMON = 'common';

interface PendingUpdate {
  pts: number;
  ptsCount: number;
  run: () => void;
}

function channelIdOf(update: Api.TypeUpdate): string | undefined {
  const u = update as { channelId?: { toString(): string }; message?: Api.TypeMessage };
  if (u.channelId !== undefined) return toBotApiId('channel', u.channelId);
  const peer = u.message && 'peerId' in u.message ? u.message.peerId : undefined;
  if (peer instanceof Api.PeerChannel) return toBotApiId('channel', peer.channelId);
  return undefined;
}

function hasPts(update: Api.TypeUpdate): update is Api.TypeUpdate & { pts: number; ptsCount: number } {
  const u = update as { pts?: unknown; ptsCount?: unknown };
  return typeof u.pts === 'number' && typeof u.ptsCount === 'number';
}

/**
 * What identifies an update whether it is pushed live or comes again in a getDifference: a new
 * message by its chat and id, an update numbered by pts or qts by its kind and number (in its
 * channel for channel updates). Undefined for updates with neither (typing, statuses,
 * updateChannel, ...): nothing tells a repeat of those from a new one.
 */
export function updateIdentity(update: Api.TypeUpdate): string | undefined {
  if (update instanceof Api.UpdateNewMessage || update instanceof Api.UpdateNewChannelMessage) {
    const msg = update.message;
    if (msg instanceof Api.MessageEmpty || !msg.peerId) return undefined;
    return `message:${peerToBotApiId(msg.peerId)}:${msg.id}`;
  }
  const u = update as { pts?: unknown; qts?: unknown };
  if (typeof u.pts === 'number' && u.pts > 0)
    return `pts:${channelIdOf(update) ?? COMMON}:${update.className}:${u.pts}`;
  if (typeof u.qts === 'number' && u.qts > 0) return `qts:${update.className}:${u.qts}`;
  return undefined;
}

/** Turns the short forms Telegram uses for small updates into full UpdateNewMessage. */
function expandShort(update: Api.UpdateShortMessage | Api.UpdateShortChatMessage): Api.UpdateNewMessage {
  const common = {
    id: update.id,
    out: update.out,
    mentioned: update.mentioned,
    mediaUnread: update.mediaUnread,
    silent: update.silent,
    date: update.date,
    message: update.message,
    fwdFrom: update.fwdFrom,
    viaBotId: update.viaBotId,
    replyTo: update.replyTo,
    entities: update.entities,
    ttlPeriod: update.ttlPeriod,
  };
  const message =
    update instanceof Api.UpdateShortMessage
      ? new Api.Message({
          ...common,
          peerId: new Api.PeerUser({ userId: update.userId }),
          fromId: update.out ? undefined : new Api.PeerUser({ userId: update.userId }),
        })
      : new Api.Message({
          ...common,
          peerId: new Api.PeerChat({ chatId: update.chatId }),
          fromId: new Api.PeerUser({ userId: update.fromId }),
        });
  return new Api.UpdateNewMessage({ message, pts: update.pts, ptsCount: update.ptsCount });
}

export class UpdateTracker {
  private catchingUp: Promise<void> | null = null;
  private again = false;
  private readonly channelCatchUps = new Map<string, Promise<void>>();
  private stopped = false;
  private readonly pending = new Map<string, PendingUpdate[]>();
  private readonly gapTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly deps: UpdateTrackerDeps) {}

  get state(): UpdateState {
    return this.deps.state;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.gapTimers.values()) clearTimeout(timer);
    this.gapTimers.clear();
    this.pending.clear();
  }

  /** Asks Telegram for the current state when none is known yet (a fresh sign-in). */
  async initIfEmpty(): Promise<void> {
    if (this.state.pts !== undefined) return;
    const s = await this.deps.invoke(new Api.updates.GetState());
    Object.assign(this.deps.state, { pts: s.pts, qts: s.qts, date: s.date, seq: s.seq });
    this.deps.onStateChanged();
  }

  /** Everything Telegram sends that is of type Updates (pushed, or the answer to our own call). */
  feed(updates: Api.TypeUpdates, source: UpdateSource): void {
    if (updates instanceof Api.Updates || updates instanceof Api.UpdatesCombined) {
      this.deps.ingestEntities(updates.users, updates.chats);
      const ctx = { source, users: updates.users, chats: updates.chats };
      for (const u of updates.updates) this.apply(u, ctx);
      this.noteDateSeq(updates.date, updates.seq);
    } else if (updates instanceof Api.UpdateShort) {
      this.apply(updates.update, { source, users: [], chats: [] });
      this.noteDateSeq(updates.date);
    } else if (updates instanceof Api.UpdateShortMessage || updates instanceof Api.UpdateShortChatMessage) {
      this.apply(expandShort(updates), { source, users: [], chats: [] });
      this.noteDateSeq(updates.date);
    } else if (updates instanceof Api.UpdateShortSentMessage) {
      // Our own send: only the pts moves; the message itself is in the answer the caller holds.
      this.applyPts(COMMON, updates.pts, updates.ptsCount, () => undefined);
      this.noteDateSeq(updates.date);
    } else if (updates instanceof Api.UpdatesTooLong) {
      void this.catchUp();
    }
  }

  private noteDateSeq(date?: number, seq?: number): void {
    let changed = false;
    if (date && (this.state.date ?? 0) < date) {
      this.state.date = date;
      changed = true;
    }
    if (seq && (this.state.seq ?? 0) < seq) {
      this.state.seq = seq;
      changed = true;
    }
    if (changed) this.deps.onStateChanged();
  }

  /** An AffectedMessages/AffectedHistory answer to our own call: the pts moved by ptsCount. */
  noteAffected(pts: number, ptsCount: number, channelId?: string): void {
    this.applyPts(channelId ?? COMMON, pts, ptsCount, () => undefined);
  }

  private getPts(key: string): number | undefined {
    return key === COMMON ? this.state.pts : this.state.channels[key];
  }

  private setPts(key: string, pts: number): void {
    if (key === COMMON) this.state.pts = pts;
    else this.state.channels[key] = pts;
    this.deps.onStateChanged();
  }

  /**
   * Applies an update with a pts: now when it is the next one, never when already seen, and
   * when some are missing it waits briefly (answers to concurrent calls and pushes arrive out
   * of order) before asking Telegram for the difference.
   */
  private applyPts(key: string, pts: number, ptsCount: number, run: () => void): void {
    const local = this.getPts(key);
    if (local === undefined || local + ptsCount === pts) {
      this.setPts(key, pts);
      run();
      this.drainPending(key);
      return;
    }
    if (local + ptsCount > pts) return;
    const list = this.pending.get(key) ?? [];
    list.push({ pts, ptsCount, run });
    this.pending.set(key, list);
    if (!this.gapTimers.has(key)) {
      const timer = setTimeout(() => this.gapExpired(key), GAP_WAIT_MS);
      timer.unref();
      this.gapTimers.set(key, timer);
    }
  }

  private drainPending(key: string): void {
    const list = this.pending.get(key);
    if (!list) return;
    list.sort((a, b) => a.pts - b.pts);
    for (let i = 0; i < list.length;) {
      const entry = list[i]!;
      const local = this.getPts(key)!;
      if (local + entry.ptsCount === entry.pts) {
        list.splice(i, 1);
        this.setPts(key, entry.pts);
        entry.run();
        i = 0;
      } else if (local + entry.ptsCount > entry.pts) {
        list.splice(i, 1);
      } else i++;
    }
    if (list.length === 0) {
      this.pending.delete(key);
      clearTimeout(this.gapTimers.get(key));
      this.gapTimers.delete(key);
    }
  }

  private gapExpired(key: string): void {
    this.gapTimers.delete(key);
    const waiting = this.pending.get(key)?.length ?? 0;
    this.pending.delete(key);
    if (waiting === 0 || this.stopped) return;
    this.deps.log.debug({ key, waiting }, 'update gap: catching up');
    if (key === COMMON) void this.catchUp();
    else void this.catchUpChannel(key);
  }

  private apply(update: Api.TypeUpdate, ctx: UpdateContext): void {
    if (update instanceof Api.UpdateChannelTooLong) {
      void this.catchUpChannel(toBotApiId('channel', update.channelId));
      return;
    }
    if (hasPts(update)) {
      this.applyPts(channelIdOf(update) ?? COMMON, update.pts, update.ptsCount, () =>
        this.safeDispatch(update, ctx),
      );
      return;
    }
    this.safeDispatch(update, ctx);
  }

  private safeDispatch(update: Api.TypeUpdate, ctx: UpdateContext): void {
    try {
      this.deps.dispatch(update, ctx);
    } catch (err) {
      this.deps.log.error({ err }, 'update handler failed');
    }
  }

  /** getDifference until Telegram says we are up to date, then every known channel. */
  catchUp(): Promise<void> {
    if (this.catchingUp) {
      this.again = true;
      return this.catchingUp;
    }
    this.catchingUp = (async () => {
      try {
        do {
          this.again = false;
          await this.commonDifference();
        } while (this.again && !this.stopped);
        await Promise.all(Object.keys(this.state.channels).map((id) => this.catchUpChannel(id)));
      } finally {
        this.catchingUp = null;
      }
    })();
    return this.catchingUp;
  }

  private async commonDifference(): Promise<void> {
    if (this.state.pts === undefined) {
      await this.initIfEmpty();
      return;
    }
    for (let round = 0; round < DIFFERENCE_ROUNDS_MAX && !this.stopped; round++) {
      const diff = await this.deps.invoke(
        new Api.updates.GetDifference({
          pts: this.state.pts!,
          qts: this.state.qts ?? 0,
          date: this.state.date ?? 0,
        }),
      );
      if (diff instanceof Api.updates.DifferenceEmpty) {
        this.state.date = diff.date;
        this.state.seq = diff.seq;
        this.deps.onStateChanged();
        return;
      }
      if (diff instanceof Api.updates.DifferenceTooLong) {
        this.deps.log.warn({ pts: diff.pts }, 'update gap too long: some updates are lost');
        this.state.pts = diff.pts;
        this.deps.onStateChanged();
        return;
      }
      this.deps.ingestEntities(diff.users, diff.chats);
      const ctx: UpdateContext = { source: 'difference', users: diff.users, chats: diff.chats };
      for (const message of diff.newMessages) {
        this.safeDispatch(new Api.UpdateNewMessage({ message, pts: 0, ptsCount: 0 }), ctx);
      }
      for (const u of diff.otherUpdates) {
        if (u instanceof Api.UpdateChannelTooLong)
          void this.catchUpChannel(toBotApiId('channel', u.channelId));
        else if (hasPts(u) && channelIdOf(u)) this.apply(u, ctx);
        else this.safeDispatch(u, ctx);
      }
      const s = diff instanceof Api.updates.DifferenceSlice ? diff.intermediateState : diff.state;
      Object.assign(this.state, { pts: s.pts, qts: s.qts, date: s.date, seq: s.seq });
      this.deps.onStateChanged();
      this.drainPending(COMMON);
      if (diff instanceof Api.updates.Difference) return;
    }
  }

  catchUpChannel(channelId: string): Promise<void> {
    const running = this.channelCatchUps.get(channelId);
    if (running) return running;
    const p = this.channelDifference(channelId)
      .catch((err: unknown) => {
        // A channel the account can no longer read (left, banned, deleted) has nothing more to
        // catch up: forget its pts so later catch-ups do not fail on it again.
        const name = telegramErrorName(err);
        if (name && GONE_CHANNEL_ERRORS.has(name)) {
          delete this.state.channels[channelId];
          this.deps.onStateChanged();
          this.deps.log.info({ channelId, error: name }, 'channel no longer readable: dropped from catch-up');
          return;
        }
        this.deps.log.warn({ err, channelId }, 'channel catch-up failed');
      })
      .finally(() => this.channelCatchUps.delete(channelId));
    this.channelCatchUps.set(channelId, p);
    return p;
  }

  private async channelDifference(channelId: string): Promise<void> {
    const channel = this.deps.inputChannel(channelId);
    if (!channel) return;
    for (let round = 0; round < DIFFERENCE_ROUNDS_MAX && !this.stopped; round++) {
      const pts = this.state.channels[channelId];
      if (pts === undefined) return;
      const diff = await this.deps.invoke(
        new Api.updates.GetChannelDifference({
          channel,
          filter: new Api.ChannelMessagesFilterEmpty(),
          pts,
          limit: 100,
        }),
      );
      if (diff instanceof Api.updates.ChannelDifferenceEmpty) {
        this.state.channels[channelId] = diff.pts;
        this.deps.onStateChanged();
        return;
      }
      if (diff instanceof Api.updates.ChannelDifferenceTooLong) {
        this.deps.log.warn({ channelId }, 'channel update gap too long: some updates are lost');
        this.deps.ingestEntities(diff.users, diff.chats);
        if (diff.dialog instanceof Api.Dialog && diff.dialog.pts !== undefined)
          this.state.channels[channelId] = diff.dialog.pts;
        this.deps.onStateChanged();
        return;
      }
      this.deps.ingestEntities(diff.users, diff.chats);
      const ctx: UpdateContext = { source: 'difference', users: diff.users, chats: diff.chats };
      for (const message of diff.newMessages) {
        this.safeDispatch(new Api.UpdateNewChannelMessage({ message, pts: 0, ptsCount: 0 }), ctx);
      }
      for (const u of diff.otherUpdates) this.safeDispatch(u, ctx);
      this.state.channels[channelId] = diff.pts;
      this.deps.onStateChanged();
      this.drainPending(channelId);
      if (diff.final) return;
    }
  }
}
