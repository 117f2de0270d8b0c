/**
 * The shared state every part of the world works on: the saved records (`WorldState`), the
 * options, the update sink, and what lives in memory only (pending login codes, SRP
 * challenges, QR login tokens, and the keys of each user).
 */
import type { Api } from 'teleproto';
import type { Logger } from 'pino';
import type { UpdateSink } from '../contract.js';
import type { SrpChallenge } from './srp.js';
import type { MessageMediaRecord, PostRecord, WorldState } from './state.js';
import { FileStore } from './files.js';
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
  /** Where files are stored (`<dataDir>/files`); in memory when omitted. */
  dataDir?: string;
  /** How long a file reference handed out with a message stays valid before
   * FILE_REFERENCE_EXPIRED (https://core.telegram.org/api/file_reference); default 2 hours. */
  fileReferenceTtlMs?: number;
}

export type ResolvedWorldOptions = Required<Omit<WorldOptions, 'logger' | 'onChange' | 'dataDir'>> &
  Pick<WorldOptions, 'logger' | 'onChange' | 'dataDir'>;

export interface MessageContent {
  text: string;
  entities?: Api.TypeMessageEntity[];
  replyToId?: number;
  silent?: boolean;
  fwdFrom?: PostRecord['fwdFrom'];
  action?: Api.TypeMessageAction;
  media?: MessageMediaRecord;
  groupedId?: string;
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
  /** Blobs and uploads in progress. */
  readonly files: FileStore;
  /** File references issued before these times (ms) are expired: per user id, and 0 for all. */
  readonly fileReferencesExpiredBefore: Map<number, number>;
  /** upload.saveFilePart / saveBigFilePart calls per account (memory only). */
  readonly uploadCalls: Map<number, { saveFilePart: number; saveBigFilePart: number }>;
  /** Set while pushes are held back to go out as one batch (updates.ts batchPushes). */
  pushBatch?: Array<{ userId: number; updates: Api.TypeUpdates; exceptKey?: bigint }>;
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
    fileReferenceTtlMs: 2 * 60 * 60 * 1000,
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
    files: new FileStore(options.dataDir),
    fileReferencesExpiredBefore: new Map(),
    uploadCalls: new Map(),
    changed: () => resolved.onChange?.(),
  };
}

/** An account or channel log entry as callers hand it in, before it gets its pts and date. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
