/**
 * Bot-API-style chat ids, the form every TeleFlow response uses: a user's id, `-<id>` for a
 * basic group, `-100<id>` (that is -(10^12 + id)) for a channel or supergroup.
 */
import { Api } from 'teleproto';

const CHANNEL_OFFSET = 1_000_000_000_000n;

export type PeerKind = 'user' | 'chat' | 'channel';

export interface ParsedChatId {
  kind: PeerKind;
  /** Telegram's own (positive) id of the user, chat or channel. */
  id: bigint;
}

export function toBotApiId(kind: PeerKind, id: bigint | string | { toString(): string }): string {
  const n = BigInt(id.toString());
  if (kind === 'user') return n.toString();
  if (kind === 'chat') return (-n).toString();
  return (-(CHANNEL_OFFSET + n)).toString();
}

/** Parses a numeric Bot-API id; undefined when it is not one. */
export function parseBotApiId(value: string): ParsedChatId | undefined {
  if (!/^-?\d{1,20}$/.test(value)) return undefined;
  const n = BigInt(value);
  if (n > 0n) return { kind: 'user', id: n };
  if (n === 0n) return undefined;
  if (value.startsWith('-100') && -n > CHANNEL_OFFSET) return { kind: 'channel', id: -n - CHANNEL_OFFSET };
  return { kind: 'chat', id: -n };
}

export function peerToBotApiId(peer: Api.TypePeer): string {
  if (peer instanceof Api.PeerUser) return toBotApiId('user', peer.userId);
  if (peer instanceof Api.PeerChat) return toBotApiId('chat', peer.chatId);
  return toBotApiId('channel', peer.channelId);
}

/** The Bot-API id of a user, chat or channel object. */
export function entityBotApiId(entity: Api.TypeUser | Api.TypeChat): string {
  if (entity instanceof Api.User || entity instanceof Api.UserEmpty) return toBotApiId('user', entity.id);
  if (entity instanceof Api.Chat || entity instanceof Api.ChatForbidden || entity instanceof Api.ChatEmpty)
    return toBotApiId('chat', entity.id);
  return toBotApiId('channel', entity.id);
}
