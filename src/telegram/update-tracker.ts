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
import { channelPosition, channelPositions, messagesSince } from './channel-history.js';
import { SeqOrder } from './seq-order.js';
import { FloodWaiter } from './flood-wait.js';

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
  /** Bot-API channel id -> the newest message id seen (where a too long gap is refetched from). */
  channelTops?: Record<string, number>;
  /** The channels' pts were taken from the dialogs once (those never heard of since included). */
  dialogsSeeded?: boolean;
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
  inputChannel(botApiChannelId: string): Api.TypeInputChannel | undefined;
  /** Users and chats to remember; `messages` came with them (where `min` peers were seen). */
  ingestEntities(
    users: readonly Api.TypeUser[],
    chats: readonly Api.TypeChat[],
    messages?: readonly Api.TypeMessage[],
  ): void;
  /** Whether the session knows this peer (Bot-API id) well enough to address it. */
  knowsPeer(botApiId: string): boolean;
  dispatch(update: Api.TypeUpdate, ctx: UpdateContext): void;
  onStateChanged(): void;
  log: Logger;
}

const DIFFERENCE_ROUNDS_MAX = 50;
/** How long a gap may stay open before getDifference (Telegram's own advice: about 0.5 s). */
const GAP_WAIT_MS = 500;
const COMMON = 'common';
/** A channel difference asks for this many updates; more since its pts is too long a gap. */
const CHANNEL_DIFFERENCE_LIMIT = 100;

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

/** The peers a short message names by id only: its chat, its sender, whom it forwards, its bot. */
function peersOfShort(update: Api.UpdateShortMessage | Api.UpdateShortChatMessage): string[] {
  const ids =
    update instanceof Api.UpdateShortMessage
      ? [toBotApiId('user', update.userId)]
      : [toBotApiId('chat', update.chatId), toBotApiId('user', update.fromId)];
  if (update.fwdFrom?.fromId) ids.push(peerToBotApiId(update.fwdFrom.fromId));
  if (update.viaBotId) ids.push(toBotApiId('user', update.viaBotId));
  return ids;
}

export class UpdateTracker {
  private catchingUp: Promise<void> | null = null;
  private again = false;
  private readonly channelCatchUps = new Map<string, Promise<void>>();
  private stopped = false;
  private readonly pending = new Map<string, PendingUpdate[]>();
  private readonly gapTimers = new Map<string, NodeJS.Timeout>();
  /** Identities of live short messages fetched again by getDifference for their peers. */
  private readonly fetchingPeers = new Set<string>();
  private readonly seq: SeqOrder;
  private readonly flood: FloodWaiter;

  constructor(private readonly deps: UpdateTrackerDeps) {
    this.flood = new FloodWaiter((req) => deps.invoke(req), deps.log);
    this.seq = new SeqOrder({
      get: () => this.state.seq,
      set: (seq) => {
        this.state.seq = seq;
        this.deps.onStateChanged();
      },
      onGap: () => {
        if (this.stopped) return;
        this.deps.log.debug({ seq: this.state.seq }, 'seq gap: catching up');
        void this.catchUp().catch((err: unknown) =>
          this.deps.log.warn({ err }, 'catch-up after a seq gap failed'),
        );
      },
      waitMs: GAP_WAIT_MS,
    });
  }

  /** True while the catch-up waits out a FLOOD_WAIT (the connection is fine meanwhile). */
  get waitingOutFlood(): boolean {
    return this.flood.waiting;
  }

  /** Calls Telegram for the catch-up: a FLOOD_WAIT is waited out (flood-wait.ts). */
  private call<R extends Api.AnyRequest>(request: R): Promise<R['__response']> {
    return this.flood.call(request);
  }

  get state(): UpdateState {
    return this.deps.state;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.gapTimers.values()) clearTimeout(timer);
    this.gapTimers.clear();
    this.pending.clear();
    this.seq.stop();
    this.flood.stop();
  }

  /** Asks Telegram for the current state when none is known yet (a fresh sign-in). */
  async initIfEmpty(): Promise<void> {
    if (this.state.pts !== undefined) return;
    const s = await this.call(new Api.updates.GetState());
    Object.assign(this.deps.state, { pts: s.pts, qts: s.qts, date: s.date, seq: s.seq });
    this.deps.onStateChanged();
    await this.seedChannels();
  }

  /**
   * Takes each channel's pts from the dialogs, once per state: a channel the account reads
   * but never heard from live is then caught up too when Telegram hints it after a restart.
   */
  private async seedChannels(): Promise<void> {
    if (this.state.dialogsSeeded) return;
    const positions = await channelPositions(
      (req) => this.call(req),
      (users, chats) => this.deps.ingestEntities(users, chats),
    );
    const tops = (this.state.channelTops ??= {});
    for (const [id, at] of positions) {
      if (this.state.channels[id] === undefined) this.state.channels[id] = at.pts;
      if (tops[id] === undefined) tops[id] = at.topMessage;
    }
    this.state.dialogsSeeded = true;
    this.deps.onStateChanged();
  }

  /** Everything Telegram sends that is of type Updates (pushed, or the answer to our own call). */
  feed(updates: Api.TypeUpdates, source: UpdateSource): void {
    if (updates instanceof Api.Updates || updates instanceof Api.UpdatesCombined) {
      const seqStart = updates instanceof Api.UpdatesCombined ? updates.seqStart : updates.seq;
      // seq orders the account's containers (seq-order.ts); 0: not ordered.
      if (updates.seq !== 0 && this.seq.alreadyApplied(seqStart)) return;
      this.deps.ingestEntities(updates.users, updates.chats, messagesOf(updates.updates));
      const ctx = { source, users: updates.users, chats: updates.chats };
      for (const u of updates.updates) this.apply(u, ctx);
      this.noteDateSeq(updates.date);
      if (updates.seq !== 0) this.seq.note(seqStart, updates.seq);
    } else if (updates instanceof Api.UpdateShort) {
      this.apply(updates.update, { source, users: [], chats: [] });
      this.noteDateSeq(updates.date);
    } else if (updates instanceof Api.UpdateShortMessage || updates instanceof Api.UpdateShortChatMessage) {
      this.applyShort(updates, source);
      this.noteDateSeq(updates.date);
    } else if (updates instanceof Api.UpdateShortSentMessage) {
      // Our own send: only the pts moves; the message itself is in the answer the caller holds.
      this.applyPts(COMMON, updates.pts, updates.ptsCount, () => undefined);
      this.noteDateSeq(updates.date);
    } else if (updates instanceof Api.UpdatesTooLong) {
      void this.catchUp();
    }
  }

  /**
   * A short message names its peers by id only. When the session does not know one of them
   * (a stranger's first message, a sender in a group never seen), it cannot address it or show
   * who it is, so, as Telegram advises (https://core.telegram.org/api/updates), the message is
   * fetched again with updates.getDifference from the pts before it, which returns it with its
   * users and chats; it is still dispatched as live. Should that fail, the short form is used.
   */
  private applyShort(
    update: Api.UpdateShortMessage | Api.UpdateShortChatMessage,
    source: UpdateSource,
  ): void {
    const expanded = expandShort(update);
    const ctx: UpdateContext = { source, users: [], chats: [] };
    const local = this.state.pts;
    const unknown = peersOfShort(update).some((id) => !this.deps.knowsPeer(id));
    if (!unknown || local === undefined || local + update.ptsCount > update.pts) {
      this.apply(expanded, ctx);
      return;
    }
    const identity = updateIdentity(expanded)!;
    this.fetchingPeers.add(identity);
    void this.catchUp()
      .catch((err: unknown) => this.deps.log.warn({ err }, 'could not fetch the peers of a short message'))
      .finally(() => {
        this.fetchingPeers.delete(identity);
        // A no-op when the difference had it (its pts is passed), else applied as it came.
        if (!this.stopped) this.apply(expanded, ctx);
      });
  }

  private noteDateSeq(date?: number): void {
    if (date && (this.state.date ?? 0) < date) {
      this.state.date = date;
      this.deps.onStateChanged();
    }
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
      void this.catchUpChannel(toBotApiId('channel', update.channelId), this.state.date);
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
    if (update instanceof Api.UpdateNewChannelMessage && !(update.message instanceof Api.MessageEmpty)) {
      const id = channelIdOf(update);
      const tops = (this.state.channelTops ??= {});
      if (id && (tops[id] ?? 0) < update.message.id) tops[id] = update.message.id;
    }
    try {
      this.deps.dispatch(update, ctx);
    } catch (err) {
      this.deps.log.error({ err }, 'update handler failed');
    }
  }

  /**
   * getDifference until Telegram says we are up to date, then the channels it names with
   * updateChannelTooLong, and only those: Telegram asks clients to call getChannelDifference
   * at start-up only for channels so hinted (or read actively), since calling it for every
   * channel of a busy account draws FLOOD_WAIT (core.telegram.org/api/updates, "Recovering gaps").
   */
  catchUp(): Promise<void> {
    if (this.catchingUp) {
      this.again = true;
      return this.catchingUp;
    }
    this.catchingUp = (async () => {
      try {
        if (this.state.pts !== undefined) await this.seedChannels();
        const hinted = new Set<string>();
        const since = this.state.date;
        do {
          this.again = false;
          for (const id of await this.commonDifference()) hinted.add(id);
        } while (this.again && !this.stopped);
        await Promise.all([...hinted].map((id) => this.catchUpChannel(id, since)));
      } finally {
        this.catchingUp = null;
      }
    })();
    return this.catchingUp;
  }

  /** Returns the channels Telegram hinted with updateChannelTooLong. */
  private async commonDifference(): Promise<string[]> {
    const hinted: string[] = [];
    if (this.state.pts === undefined) {
      await this.initIfEmpty();
      return hinted;
    }
    for (let round = 0; round < DIFFERENCE_ROUNDS_MAX && !this.stopped; round++) {
      const diff = await this.call(
        new Api.updates.GetDifference({
          pts: this.state.pts!,
          qts: this.state.qts ?? 0,
          date: this.state.date ?? 0,
        }),
      );
      if (diff instanceof Api.updates.DifferenceEmpty) {
        this.state.date = diff.date;
        this.state.seq = diff.seq;
        this.seq.afterDifference();
        this.deps.onStateChanged();
        return hinted;
      }
      if (diff instanceof Api.updates.DifferenceTooLong) {
        this.deps.log.warn({ pts: diff.pts }, 'update gap too long: some updates are lost');
        this.state.pts = diff.pts;
        this.deps.onStateChanged();
        return hinted;
      }
      this.deps.ingestEntities(diff.users, diff.chats, diff.newMessages);
      const ctx: UpdateContext = { source: 'difference', users: diff.users, chats: diff.chats };
      for (const message of diff.newMessages) {
        const update = new Api.UpdateNewMessage({ message, pts: 0, ptsCount: 0 });
        const live = this.fetchingPeers.delete(updateIdentity(update) ?? '');
        this.safeDispatch(update, live ? { ...ctx, source: 'live' } : ctx);
      }
      for (const u of diff.otherUpdates) {
        if (u instanceof Api.UpdateChannelTooLong) hinted.push(toBotApiId('channel', u.channelId));
        else if (hasPts(u) && channelIdOf(u)) this.apply(u, ctx);
        else this.safeDispatch(u, ctx);
      }
      const s = diff instanceof Api.updates.DifferenceSlice ? diff.intermediateState : diff.state;
      Object.assign(this.state, { pts: s.pts, qts: s.qts, date: s.date, seq: s.seq });
      this.seq.afterDifference();
      this.deps.onStateChanged();
      this.drainPending(COMMON);
      if (diff instanceof Api.updates.Difference) return hinted;
    }
    return hinted;
  }

  /** `since`: the date up to which updates were known, for a channel whose pts is not. */
  catchUpChannel(channelId: string, since?: number): Promise<void> {
    const running = this.channelCatchUps.get(channelId);
    if (running) return running;
    const p = this.channelDifference(channelId, since)
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

  private async channelDifference(channelId: string, since?: number): Promise<void> {
    const channel = this.deps.inputChannel(channelId);
    if (!channel) return;
    if (this.state.channels[channelId] === undefined) {
      await this.discoverChannel(channelId, channel, since);
      return;
    }
    for (let round = 0; round < DIFFERENCE_ROUNDS_MAX && !this.stopped; round++) {
      const pts = this.state.channels[channelId];
      if (pts === undefined) return;
      const diff = await this.call(
        new Api.updates.GetChannelDifference({
          channel,
          filter: new Api.ChannelMessagesFilterEmpty(),
          pts,
          limit: CHANNEL_DIFFERENCE_LIMIT,
        }),
      );
      if (diff instanceof Api.updates.ChannelDifferenceEmpty) {
        this.state.channels[channelId] = diff.pts;
        this.deps.onStateChanged();
        return;
      }
      if (diff instanceof Api.updates.ChannelDifferenceTooLong) {
        this.deps.ingestEntities(diff.users, diff.chats, diff.messages);
        const dialog = diff.dialog instanceof Api.Dialog ? diff.dialog : undefined;
        const known = this.state.channelTops?.[channelId];
        await this.dispatchHistory(
          channel,
          known !== undefined ? { id: known } : { date: since ?? this.state.date ?? 0 },
          dialog?.topMessage ?? 0,
          diff.messages,
          { users: diff.users, chats: diff.chats },
        );
        if (dialog?.pts !== undefined) this.state.channels[channelId] = dialog.pts;
        this.deps.onStateChanged();
        this.pending.delete(channelId);
        return;
      }
      this.deps.ingestEntities(diff.users, diff.chats, diff.newMessages);
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

  /**
   * A gap too long for a difference (channelDifferenceTooLong): the messages it carries and
   * the rest of the gap from the history, each once, in order, as caught up.
   */
  private async dispatchHistory(
    channel: Api.TypeInputChannel,
    after: { id?: number; date?: number },
    top: number,
    carried: readonly Api.TypeMessage[],
    entities: { users: readonly Api.TypeUser[]; chats: readonly Api.TypeChat[] },
  ): Promise<void> {
    const fetched = await messagesSince((req) => this.call(req), channel, after, top, carried);
    this.deps.ingestEntities(fetched.users, fetched.chats, fetched.messages);
    const ctx: UpdateContext = {
      source: 'difference',
      users: [...entities.users, ...fetched.users],
      chats: [...entities.chats, ...fetched.chats],
    };
    for (const message of fetched.messages)
      this.safeDispatch(new Api.UpdateNewChannelMessage({ message, pts: 0, ptsCount: 0 }), ctx);
  }

  /**
   * A channel hinted (updateChannelTooLong) whose pts this session never had: its pts comes
   * from its dialog, and what it got since `since` from its history.
   */
  private async discoverChannel(
    channelId: string,
    channel: Api.TypeInputChannel,
    since: number | undefined,
  ): Promise<void> {
    const at = await channelPosition(
      (req) => this.call(req),
      channel,
      (users, chats) => this.deps.ingestEntities(users, chats),
    );
    if (!at) return;
    if (since)
      await this.dispatchHistory(channel, { date: since }, at.topMessage, [], { users: [], chats: [] });
    this.state.channels[channelId] ??= at.pts;
    (this.state.channelTops ??= {})[channelId] ??= at.topMessage;
    this.deps.onStateChanged();
  }
}

/** The messages carried by a list of updates (new and edited ones). */
function messagesOf(updates: readonly Api.TypeUpdate[]): Api.TypeMessage[] {
  return updates.flatMap((u) =>
    u instanceof Api.UpdateNewMessage ||
    u instanceof Api.UpdateNewChannelMessage ||
    u instanceof Api.UpdateEditMessage ||
    u instanceof Api.UpdateEditChannelMessage
      ? [u.message]
      : [],
  );
}
