/**
 * The shared state every part of the world works on: the saved records (`WorldState`), the
 * options, the update sink, and what lives in memory only (pending login codes, SRP
 * challenges, QR login tokens, and the keys of each user).
 */
import type { Api } from 'teleproto';
import type { Logger } from 'pino';
import type { UpdateSink } from '../contract.js';
import type { SrpChallenge } from './srp.js';
import type { PostRecord, WorldState } from './state.js';
import { emptyState } from './state.js';

export interface WorldOptions {
  /** Address the sandbox's MTProto listener is reachable at, for help.getConfig. */
  host: string;
  port: number;
  /** Every DC's address (help.getConfig lists them); empty: all at host:port. */
  dcs?: { id: number; host: string; port: number }[];
  logger?: Logger;
  /** Called after every change (persistence debounces on it). */
  onChange?: () => void;
  /** Push new private and basic group messages as updateShortMessage / updateShortChatMessage,
   * without users or chats, as Telegram does (the default). False: full Updates with the users
   * and chats they mention, a convenience Telegram does not offer. */
  shortMessageUpdates?: boolean;
  /** An auth key used from two remote addresses at once is invalidated, as on Telegram (the
   * default): its calls answer 406 AUTH_KEY_DUPLICATED and its account is signed out. False:
   * a key may be shared between addresses, a convenience Telegram does not offer. */
  authKeyDuplicated?: boolean;
  /** Max pts events per updates.getDifference answer before it becomes a differenceSlice. */
  differenceSliceSize?: number;
  /** Pts events kept per account/channel; older gaps answer ...TooLong. */
  logRetention?: number;
  codeTtlSeconds?: number;
  loginTokenTtlSeconds?: number;
}

export type ResolvedWorldOptions = Required<Omit<WorldOptions, 'logger' | 'onChange'>> &
  Pick<WorldOptions, 'logger' | 'onChange'>;

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

export interface LoginCode {
  code: string;
  hash: string;
  expiresAt: number;
}

export interface LoginToken {
  keyId: string;
  expiresAt: number;
  acceptedBy?: number;
}

export interface WorldContext {
  readonly state: WorldState;
  readonly options: ResolvedWorldOptions;
  sink?: UpdateSink;
  readonly codes: Map<string, LoginCode>;
  readonly challenges: Map<string, { userId: number; challenge: SrpChallenge }>;
  readonly loginTokens: Map<string, LoginToken>;
  readonly userKeys: Map<number, Set<string>>;
  /** Tells persistence the state changed. */
  changed(): void;
}

export function createWorldContext(options: WorldOptions, state?: WorldState): WorldContext {
  const resolved: ResolvedWorldOptions = {
    differenceSliceSize: 100,
    shortMessageUpdates: true,
    authKeyDuplicated: true,
    logRetention: 2000,
    codeTtlSeconds: 300,
    loginTokenTtlSeconds: 30,
    dcs: [],
    ...options,
  };
  return {
    state: state ?? emptyState(),
    options: resolved,
    codes: new Map(),
    challenges: new Map(),
    loginTokens: new Map(),
    userKeys: new Map(),
    changed: () => resolved.onChange?.(),
  };
}

/** An account or channel log entry as callers hand it in, before it gets its pts and date. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
