/**
 * What catching up on channels needs besides updates.getChannelDifference: a channel's
 * starting pts from the dialogs (core.telegram.org/api/updates: a channel's pts comes with its
 * dialog, messages.getDialogs / getPeerDialogs, or channelFull), and the messages of a gap too
 * long for a difference, read from the channel's history (channelDifferenceTooLong tells the
 * client to refetch it: core.telegram.org/constructor/updates.channelDifferenceTooLong).
 */
import { Api } from 'teleproto';
import { toBotApiId } from './ids.js';

export type Invoke = <R extends Api.AnyRequest>(request: R) => Promise<R['__response']>;

export interface ChannelPosition {
  pts: number;
  /** The channel's newest message id. */
  topMessage: number;
}

export interface FetchedMessages {
  /** Oldest first. */
  messages: Api.TypeMessage[];
  users: Api.TypeUser[];
  chats: Api.TypeChat[];
}

const PAGE = 100;
/** At most this many history pages per gap (10,000 messages). */
const PAGES_MAX = 100;
const DIALOG_PAGES_MAX = 20;

/** The input peer of an input channel (a min one stays known by the message that named it). */
function channelPeer(channel: Api.TypeInputChannel): Api.TypeInputPeer {
  if (channel instanceof Api.InputChannel)
    return new Api.InputPeerChannel({ channelId: channel.channelId, accessHash: channel.accessHash });
  if (channel instanceof Api.InputChannelFromMessage)
    return new Api.InputPeerChannelFromMessage({
      peer: channel.peer,
      msgId: channel.msgId,
      channelId: channel.channelId,
    });
  return new Api.InputPeerEmpty();
}

function positionOf(dialog: Api.TypeDialog): [string, ChannelPosition] | undefined {
  if (!(dialog instanceof Api.Dialog) || !(dialog.peer instanceof Api.PeerChannel)) return undefined;
  if (dialog.pts === undefined) return undefined;
  return [toBotApiId('channel', dialog.peer.channelId), { pts: dialog.pts, topMessage: dialog.topMessage }];
}

/** Every channel among the account's dialogs with its pts (Bot-API id -> position). */
export async function channelPositions(
  invoke: Invoke,
  ingest: (users: Api.TypeUser[], chats: Api.TypeChat[]) => void,
): Promise<Map<string, ChannelPosition>> {
  const found = new Map<string, ChannelPosition>();
  let offsetDate = 0;
  let offsetId = 0;
  for (let page = 0; page < DIALOG_PAGES_MAX; page++) {
    const res = await invoke(
      new Api.messages.GetDialogs({
        offsetDate,
        offsetId,
        offsetPeer: new Api.InputPeerEmpty(),
        limit: PAGE,
        hash: 0 as never,
      }),
    );
    if (res instanceof Api.messages.DialogsNotModified) break;
    ingest(res.users, res.chats);
    for (const dialog of res.dialogs) {
      const entry = positionOf(dialog);
      if (entry) found.set(...entry);
    }
    if (!(res instanceof Api.messages.DialogsSlice) || res.dialogs.length < PAGE) break;
    const last = res.dialogs[res.dialogs.length - 1]!;
    const top = res.messages.find((m) => m.id === last.topMessage && 'date' in m) as
      { id: number; date: number } | undefined;
    if (!top || (top.date === offsetDate && top.id === offsetId)) break;
    offsetDate = top.date;
    offsetId = top.id;
  }
  return found;
}

/** One channel's pts and newest message (messages.getPeerDialogs). */
export async function channelPosition(
  invoke: Invoke,
  channel: Api.TypeInputChannel,
  ingest: (users: Api.TypeUser[], chats: Api.TypeChat[]) => void,
): Promise<ChannelPosition | undefined> {
  const res = await invoke(
    new Api.messages.GetPeerDialogs({
      peers: [
        new Api.InputDialogPeer({
          peer: channelPeer(channel),
        }),
      ],
    }),
  );
  ingest(res.users, res.chats);
  for (const dialog of res.dialogs) {
    const entry = positionOf(dialog);
    if (entry) return entry[1];
  }
  return undefined;
}

/**
 * The channel's messages newer than `after` (a message id, or else a date), oldest first, read
 * backwards from `top` through messages.getHistory. `carried`: the newest messages already in
 * hand (channelDifferenceTooLong's), so the history is read only below them.
 */
export async function messagesSince(
  invoke: Invoke,
  channel: Api.TypeInputChannel,
  after: { id?: number; date?: number },
  top: number,
  carried: readonly Api.TypeMessage[],
): Promise<FetchedMessages> {
  const byId = new Map<number, Api.TypeMessage>();
  const users: Api.TypeUser[] = [];
  const chats: Api.TypeChat[] = [];
  const wanted = (m: Api.TypeMessage): boolean =>
    !(m instanceof Api.MessageEmpty) &&
    // Dates are in seconds: a message of the very second is taken too (events are deduplicated).
    (after.id !== undefined ? m.id > after.id : after.date !== undefined ? m.date >= after.date : true);
  let reachedEnd = false;
  for (const m of carried) {
    if (wanted(m)) byId.set(m.id, m);
    else reachedEnd = true;
  }
  let offsetId = carried.length ? Math.min(...carried.map((m) => m.id)) : top + 1;
  const peer = channelPeer(channel);
  for (let page = 0; page < PAGES_MAX && !reachedEnd && offsetId > (after.id ?? 0) + 1; page++) {
    const res = await invoke(
      new Api.messages.GetHistory({
        peer,
        offsetId,
        offsetDate: 0,
        addOffset: 0,
        limit: PAGE,
        maxId: 0,
        minId: after.id ?? 0,
        hash: 0 as never,
      }),
    );
    if (res instanceof Api.messages.MessagesNotModified) break;
    users.push(...res.users);
    chats.push(...res.chats);
    const page_ = res.messages.filter((m) => m.id < offsetId);
    if (page_.length === 0) break;
    for (const m of page_) {
      if (wanted(m)) byId.set(m.id, m);
      else reachedEnd = true;
    }
    offsetId = Math.min(...page_.map((m) => m.id));
    if (page_.length < PAGE) break;
  }
  const messages = [...byId.values()].sort((a, b) => a.id - b.id);
  return { messages, users, chats };
}
