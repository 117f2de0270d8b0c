import type { Generated } from 'kysely';

/** Table types. Times are ISO 8601 strings on both databases, so rows read the same everywhere. */
export interface ApiKeysTable {
  id: string;
  name: string;
  role: 'admin' | 'operator' | 'viewer';
  /** First characters of the key, shown so people can tell keys apart. */
  prefix: string;
  /** SHA-256 hex of the whole key; the key itself is never stored. */
  hash: string;
  /** JSON array of session ids, or null for all sessions. */
  session_ids: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface RevokedTokensTable {
  jti: string;
  /** When the token would have expired anyway: rows past it can be pruned. */
  expires_at: string;
  revoked_at: string;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface Database {
  api_keys: ApiKeysTable;
  revoked_tokens: RevokedTokensTable;
  meta: MetaTable;
}

export type { Generated };
