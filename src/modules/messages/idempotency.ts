import type { Kysely } from 'kysely';
import type { Clock } from '../../lib/clock.js';
import { sha256Hex } from '../../lib/crypto.js';
import { AppError } from '../../lib/errors.js';
import type { Database } from '../../db/types.js';

const TTL_MS = 24 * 60 * 60 * 1000;
const WAIT_FOR_FIRST_MS = 10_000;
/** Expired records are dropped at most this often, by the requests that use keys. */
const PRUNE_EVERY_MS = 60 * 60 * 1000;

/**
 * Idempotency-Key records of the sending routes: the first request runs, a retry within 24 h
 * gets its stored result and sends nothing. A duplicate arriving while the first still runs
 * waits for it (up to 10 s), then answers 409 CONFLICT. A failed first attempt leaves no record,
 * so the retry really retries.
 */
export class IdempotencyStore {
  private lastPrune = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async run<T>(scope: string, key: string | undefined, request: unknown, fn: () => Promise<T>): Promise<T> {
    if (!key) return fn();
    if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = Date.now();
      this.prune().catch(() => undefined);
    }
    const scopeKey = `${scope}:${key}`;
    const requestHash = sha256Hex(JSON.stringify(request));
    const started = Date.now();
    for (;;) {
      const claimed = await this.claim(scopeKey, requestHash);
      if (claimed) break;
      const row = await this.db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('scope_key', '=', scopeKey)
        .executeTakeFirst();
      if (!row) continue;
      if (Date.parse(row.created_at) < this.clock.now().getTime() - TTL_MS) {
        await this.db.deleteFrom('idempotency_keys').where('scope_key', '=', scopeKey).execute();
        continue;
      }
      if (row.request_hash !== requestHash)
        throw new AppError('CONFLICT', 'This Idempotency-Key was used for a different request');
      if (row.state === 'done') return JSON.parse(row.response_json ?? 'null') as T;
      if (Date.now() - started > WAIT_FOR_FIRST_MS)
        throw new AppError('CONFLICT', 'A request with this Idempotency-Key is still in progress');
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      const result = await fn();
      await this.db
        .updateTable('idempotency_keys')
        .set({ state: 'done', response_json: JSON.stringify(result) })
        .where('scope_key', '=', scopeKey)
        .execute();
      return result;
    } catch (err) {
      await this.db.deleteFrom('idempotency_keys').where('scope_key', '=', scopeKey).execute();
      throw err;
    }
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
      })
      .onConflict((oc) => oc.column('scope_key').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Drops records older than 24 h. */
  async prune(): Promise<void> {
    const cutoff = new Date(this.clock.now().getTime() - TTL_MS).toISOString();
    await this.db.deleteFrom('idempotency_keys').where('created_at', '<', cutoff).execute();
  }
}
