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

/** A Telegram account (issue 4). The session string is sealed with SecretBox ('session'). */
export interface TgSessionsTable {
  id: string;
  name: string | null;
  phone: string | null;
  status: string;
  user_json: string | null;
  session_secret: string | null;
  key_version: number | null;
  phone_code_hash: string | null;
  /** 1 when the session should be connected at start-up (it was connected and not disconnected on purpose). */
  auto_connect: number;
  last_error_json: string | null;
  /** {pts, qts, date, seq, channels: {id: pts}}: where updates.getDifference resumes. */
  update_state_json: string | null;
  created_at: string;
  updated_at: string;
}

/** What a session knows of a peer, so Bot-API ids keep working without resolving again. */
export interface TgPeersTable {
  session_id: string;
  /** Bot-API-style id: user id, -<id> basic group, -100<id> channel. */
  peer_id: string;
  kind: 'user' | 'chat' | 'channel';
  access_hash: string | null;
  username: string | null;
  /** A peer known only from a `min` object: the chat (Bot-API id) and message it was seen in. */
  seen_chat_id: string | null;
  seen_msg_id: number | null;
  /** A basic group migrated to a supergroup: the supergroup's Bot-API id. */
  migrated_to: string | null;
  updated_at: string;
}

export interface IdempotencyKeysTable {
  /** route, session and the client's Idempotency-Key. */
  scope_key: string;
  request_hash: string;
  state: 'pending' | 'done';
  response_json: string | null;
  created_at: string;
  /** The process running the request (its boot id); null once no process runs it. */
  owner: string | null;
  /** The random ids given to Telegram, as a JSON array of decimal strings, stored before the call. */
  random_ids: string | null;
  /** The chat the message went to (Bot-API id). */
  chat_id: string | null;
  /** When the random ids were first sent (ISO): where to look for the message after a crash. */
  sent_at: string | null;
}

export interface Database {
  api_keys: ApiKeysTable;
  revoked_tokens: RevokedTokensTable;
  meta: MetaTable;
  tg_sessions: TgSessionsTable;
  tg_peers: TgPeersTable;
  idempotency_keys: IdempotencyKeysTable;
  events: EventsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  media_uploads: MediaUploadsTable;
  media_file_refs: MediaFileRefsTable;
  cluster_instances: ClusterInstancesTable;
  cluster_leases: ClusterLeasesTable;
  webhook_leases: WebhookLeasesTable;
  cluster_state: ClusterStateTable;
}

/** A live TeleFlow instance of a cluster (times: ms on the database's clock). */
export interface ClusterInstancesTable {
  id: string;
  url: string;
  started_at: number;
  heartbeat_at: number;
}

/** Which instance runs a session until when; epoch grows at every takeover (fencing). */
export interface ClusterLeasesTable {
  session_id: string;
  owner: string | null;
  expires_at: number | null;
  epoch: Generated<number>;
}

/** Which instance runs a webhook's delivery queue until when; epoch grows at every takeover. */
export interface WebhookLeasesTable {
  webhook_id: string;
  owner: string | null;
  expires_at: number | null;
  epoch: Generated<number>;
}

/** What the instances of a cluster agree on, by name (value: JSON). */
export interface ClusterStateTable {
  name: string;
  value: string;
  updated_by: string;
}

/** A file in the upload store (DATA_DIR/uploads/<sha256>); rows with the same bytes share it. */
export interface MediaUploadsTable {
  id: string;
  sha256: string;
  size: number;
  mime_type: string;
  file_name: string;
  created_at: string;
  expires_at: string;
  /** The instance whose disk holds the file (CLUSTER=true); null for one process per database. */
  instance_id: string | null;
}

/**
 * A file one session has already given Telegram: sending the same bytes as the same kind again
 * re-sends it by Telegram's id instead of uploading it again.
 */
export interface MediaFileRefsTable {
  session_id: string;
  sha256: string;
  /** The kind it was sent as, with its conversion, name and tags (media-files.ts, refKindOf). */
  kind: string;
  /** Telegram's object: photo or document. */
  media_type: 'photo' | 'document';
  tg_id: string;
  access_hash: string;
  /** base64 of Telegram's file_reference. */
  file_reference: string;
  updated_at: string;
}

/** The durable event log; `data` is the JSON of the envelope's data. */
export interface EventsTable {
  id: Generated<number>;
  type: string;
  session_id: string | null;
  data: string;
  created_at: string;
  /** What the event reports, when it has such a key (unique: see migration 031). */
  dedup_key: string | null;
}

export interface WebhooksTable {
  id: string;
  url: string;
  /** JSON array of type patterns (`*`, `prefix.*`, exact types). */
  events: string;
  /** JSON array of session ids, or null for all sessions. */
  session_ids: string | null;
  /** The whsec_ secret sealed with SecretBox (purpose webhook-secret). */
  secret_enc: string;
  enabled: number;
  description: string | null;
  consecutive_failures: number;
  disabled_reason: string | null;
  disabled_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface WebhookDeliveriesTable {
  id: Generated<number>;
  webhook_id: string;
  /** Null for test events, whose body is kept in `payload`. */
  event_id: number | null;
  event_type: string;
  payload: string | null;
  status: 'pending' | 'succeeded' | 'failed' | 'dead';
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_response_excerpt: string | null;
  last_error: string | null;
  last_duration_ms: number | null;
  created_at: string;
  updated_at: string;
}

export interface WebhookAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  attempt: number;
  status_code: number | null;
  response_excerpt: string | null;
  error: string | null;
  duration_ms: number;
  created_at: string;
}

export type { Generated };
