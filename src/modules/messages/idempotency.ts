import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../../lib/clock.js';
import { sha256Hex } from '../../lib/crypto.js';
import { AppError } from '../../lib/errors.js';
import { randomInt64 } from '../../lib/ids.js';
import type { Database, IdempotencyKeysTable } from '../../db/types.js';

const TTL_MS = 24 * 60 * 60 * 1000;
const WAIT_FOR_FIRST_MS = 10_000;
/** Expired records are dropped at most this often, by the requests that use keys. */
const PRUNE_EVERY_MS = 60 * 60 * 1000;

/** What a running send learns from its idempotency record. */
export interface SendAttempt {
  /**
   * The random ids for the Telegram call: those an earlier attempt of the same request stored
   * (Telegram answers RANDOM_ID_DUPLICATE when that attempt reached it), else new ones, stored
   * before they are returned. Without an Idempotency-Key they are new and stored nowhere.
   */
  randomIds(count: number, chatId: string): Promise<bigint[]>;
  /** When these random ids were first handed out (ms): where to look for what they sent. */
  sentAt(): number;
}

/** An attempt with nothing stored: a send without an Idempotency-Key. */
function unrecordedAttempt(clock: Clock): SendAttempt {
  let sentAt = clock.now().getTime();
  return {
    async randomIds(count) {
      sentAt = clock.now().getTime();
      return Array.from({ length: count }, randomInt64);
    },
    sentAt: () => sentAt,
  };
}

/**
 * Idempotency-Key records of the sending routes: the first request runs, a retry within 24 h
 * gets its stored result and sends nothing. A duplicate arriving while the first still runs in
 * this process waits for it (up to 10 s), then answers 409 CONFLICT.
 *
 * The random ids of the Telegram call are stored before the call. A record whose process is
 * gone (a crash or restart: each process has its own boot id as `owner`) is taken over at once
 * by the retry, which sends the same random ids again, so Telegram sends the message at most
 * once. A failure before any random id was stored leaves no record; after that it leaves the
 * record with no owner, so the retry really retries, with the same random ids.
 */
export class IdempotencyStore {
  private lastPrune = 0;
  /** This process's id in the records it runs. */
  readonly owner = randomUUID();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async run<T>(
    scope: string,
    key: string | undefined,
    request: unknown,
    fn: (attempt: SendAttempt) => Promise<T>,
  ): Promise<T> {
    if (!key) return fn(unrecordedAttempt(this.clock));
    if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = Date.now();
      this.prune().catch(() => undefined);
    }
    const scopeKey = `${scope}:${key}`;
    const requestHash = sha256Hex(JSON.stringify(request));
    const started = Date.now();
    let earlier: IdempotencyKeysTable | undefined;
    for (;;) {
      if (await this.claim(scopeKey, requestHash)) break;
      const row = await this.row(scopeKey);
      if (!row) continue;
      if (Date.parse(row.created_at) < this.clock.now().getTime() - TTL_MS) {
        await this.db.deleteFrom('idempotency_keys').where('scope_key', '=', scopeKey).execute();
        continue;
      }
      if (row.request_hash !== requestHash)
        throw new AppError('CONFLICT', 'This Idempotency-Key was used for a different request');
      if (row.state === 'done') return JSON.parse(row.response_json ?? 'null') as T;
      if (row.owner !== this.owner) {
        if (await this.takeOver(scopeKey, row.owner)) {
          earlier = row;
          break;
        }
        continue;
      }
      if (Date.now() - started > WAIT_FOR_FIRST_MS)
        throw new AppError('CONFLICT', 'A request with this Idempotency-Key is still in progress');
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      const result = await fn(this.recordedAttempt(scopeKey, earlier));
      await this.db
        .updateTable('idempotency_keys')
        .set({ state: 'done', response_json: JSON.stringify(result), owner: null })
        .where('scope_key', '=', scopeKey)
        .execute();
      return result;
    } catch (err) {
      await this.db
        .deleteFrom('idempotency_keys')
        .where('scope_key', '=', scopeKey)
        .where('owner', '=', this.owner)
        .where('random_ids', 'is', null)
        .execute();
      await this.db
        .updateTable('idempotency_keys')
        .set({ owner: null })
        .where('scope_key', '=', scopeKey)
        .where('owner', '=', this.owner)
        .where('state', '=', 'pending')
        .execute();
      throw err;
    }
  }

  private recordedAttempt(scopeKey: string, earlier: IdempotencyKeysTable | undefined): SendAttempt {
    let sentAt = earlier?.sent_at ? Date.parse(earlier.sent_at) : this.clock.now().getTime();
    return {
      randomIds: async (count, chatId) => {
        const fresh = Array.from({ length: count }, randomInt64);
        // Only the first attempt stores ids: a process that took the record over meanwhile
        // and this one then send the same ones.
        await this.db
          .updateTable('idempotency_keys')
          .set({
            random_ids: JSON.stringify(fresh.map(String)),
            chat_id: chatId,
            sent_at: this.clock.now().toISOString(),
          })
          .where('scope_key', '=', scopeKey)
          .where('random_ids', 'is', null)
          .execute();
        const row = await this.row(scopeKey);
        const stored = row?.random_ids ? (JSON.parse(row.random_ids) as string[]).map(BigInt) : [];
        if (!row?.sent_at || stored.length !== count)
          throw new AppError('INTERNAL_ERROR', 'The Idempotency-Key record lost its random ids');
        sentAt = Date.parse(row.sent_at);
        return stored;
      },
      sentAt: () => sentAt,
    };
  }

  private row(scopeKey: string): Promise<IdempotencyKeysTable | undefined> {
    return this.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('scope_key', '=', scopeKey)
      .executeTakeFirst();
  }

  private async claim(scopeKey: string, requestHash: string): Promise<boolean> {
    const res = await this.db
      .insertInto('idempotency_keys')
      .values({
        scope_key: scopeKey,
        request_hash: requestHash,
        state: 'pending',
        response_json: null,
        created_at: this.clock.now().toISOString(),
        owner: this.owner,
        random_ids: null,
        chat_id: null,
        sent_at: null,
      })
      .onConflict((oc) => oc.column('scope_key').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Makes this process the owner of a pending record no running process of its own holds. */
  private async takeOver(scopeKey: string, previous: string | null): Promise<boolean> {
    const res = await this.db
      .updateTable('idempotency_keys')
      .set({ owner: this.owner })
      .where('scope_key', '=', scopeKey)
      .where('state', '=', 'pending')
      .where('owner', previous === null ? 'is' : '=', previous)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Drops records older than 24 h. */
  async prune(): Promise<void> {
    const cutoff = new Date(this.clock.now().getTime() - TTL_MS).toISOString();
    await this.db.deleteFrom('idempotency_keys').where('created_at', '<', cutoff).execute();
  }
}
