/** Small conversions between the world's records and teleproto's TL classes. */
import { Api } from 'teleproto';
import { BinaryReader } from 'teleproto/extensions/index.js';
import { returnBigInt } from 'teleproto/Helpers.js';
import type bigInt from 'big-integer';
import type { PeerKey } from './state.js';

export type Long = bigInt.BigInteger;

/** The RPC error for anything the sandbox does not model: loud, never a guess. */
export const UNSUPPORTED_METHOD_ERROR = 'METHOD_NOT_SUPPORTED_BY_SANDBOX';

export function long(value: number | bigint | string): Long {
  return returnBigInt(typeof value === 'number' ? BigInt(value) : value);
}

/** A TL long (big-integer, bigint, number or string) as a JS number; ids here stay below 2^53. */
export function num(value: unknown): number {
  if (value === undefined || value === null) return 0;
  return Number(String(value));
}

export function toBigint(value: unknown): bigint {
  return BigInt(String(value ?? 0));
}

export function peerKey(kind: 'u' | 'c' | 'h', id: number): PeerKey {
  return `${kind}${id}` as PeerKey;
}

export function parsePeerKey(key: PeerKey): { kind: 'u' | 'c' | 'h'; id: number } {
  return { kind: key[0] as 'u' | 'c' | 'h', id: Number(key.slice(1)) };
}

export function peerToApi(key: PeerKey): Api.TypePeer {
  const { kind, id } = parsePeerKey(key);
  if (kind === 'u') return new Api.PeerUser({ userId: long(id) });
  if (kind === 'c') return new Api.PeerChat({ chatId: long(id) });
  return new Api.PeerChannel({ channelId: long(id) });
}

export function encodeTl(objects: Array<{ getBytes(): Buffer }> | undefined): string[] {
  return (objects ?? []).map((object) => object.getBytes().toString('base64'));
}

export function decodeTl<T>(encoded: string): T {
  return new BinaryReader(Buffer.from(encoded, 'base64')).tgReadObject() as T;
}

export function decodeTlList<T>(encoded: string[] | undefined): T[] {
  return (encoded ?? []).map((item) => decodeTl<T>(item));
}

export function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** Method name as Telegram's docs and the fault rules spell it: `messages.sendMessage`. */
export function methodName(request: { className?: string }): string {
  const name = request.className ?? 'unknown';
  const dot = name.lastIndexOf('.');
  const head = dot >= 0 ? name.slice(0, dot + 1) : '';
  const tail = dot >= 0 ? name.slice(dot + 1) : name;
  return head + tail.charAt(0).toLowerCase() + tail.slice(1);
}

export const ADMIN_RIGHT_NAMES = [
  'changeInfo',
  'postMessages',
  'editMessages',
  'deleteMessages',
  'banUsers',
  'inviteUsers',
  'pinMessages',
  'addAdmins',
  'anonymous',
  'manageCall',
  'other',
  'manageTopics',
  'postStories',
  'editStories',
  'deleteStories',
] as const;

export function adminRightsToApi(rights: Record<string, boolean>): Api.ChatAdminRights {
  const args: Record<string, boolean> = {};
  for (const name of ADMIN_RIGHT_NAMES) if (rights[name]) args[name] = true;
  return new Api.ChatAdminRights(args);
}

export function adminRightsFromApi(rights: Api.TypeChatAdminRights | undefined): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  if (!rights) return out;
  for (const name of ADMIN_RIGHT_NAMES)
    if ((rights as unknown as Record<string, unknown>)[name]) out[name] = true;
  return out;
}

export const FULL_ADMIN_RIGHTS: Record<string, boolean> = Object.fromEntries(
  ADMIN_RIGHT_NAMES.filter((n) => n !== 'anonymous').map((n) => [n, true]),
);
