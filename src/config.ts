import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { makePrivateDir } from './lib/files.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const durationSeconds = z
  .string()
  .regex(/^\d+[smhd]?$/, 'a number of seconds, or a number followed by s, m, h or d')
  .transform((v) => {
    const n = Number.parseInt(v, 10);
    const unit = v.at(-1);
    const mult = unit === 'm' ? 60 : unit === 'h' ? 3600 : unit === 'd' ? 86400 : 1;
    return n * mult;
  });

/** 1 s, 3 s, 10 s, then minutes and hours: 11 retries over about 22 h 43 min (plus jitter). */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE = '1s,3s,10s,30s,2m,10m,30m,1h,3h,6h,12h';
const DELAY_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Every environment variable TeleFlow reads, parsed once at start-up. */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().min(1).optional(),
  JWT_SECRET: z.string().optional(),
  JWT_EXPIRES_IN: durationSeconds.default(3600),
  API_KEY: z.string().optional(),
  SESSION_ENCRYPTION_KEY: z.string().optional(),
  TELEGRAM_API_ID: z.coerce.number().int().positive().optional(),
  TELEGRAM_API_HASH: z
    .string()
    .regex(/^[0-9a-f]{32}$/i, '32 hexadecimal characters')
    .optional(),
  /** `host:port` (DC 1 there, DCs 2-5 on the next four ports) or `1=host:port,2=host:port,...`. */
  TELEGRAM_DC: z
    .string()
    .refine((value) => parseDcAddresses(value) !== undefined, {
      message: 'host:port (DC 1; DCs 2-5 on the next ports) or 1=host:port,2=host:port,... (ids 1-5)',
    })
    .optional(),
  TELEGRAM_DC_PUBLIC_KEY_FILE: z.string().optional(),
  TELEGRAM_SANDBOX: bool.default(false),
  /** Ports of the embedded sandbox (TELEGRAM_SANDBOX=true), on loopback; free ones when unset. */
  SANDBOX_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  SANDBOX_CONTROL_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Flood waits up to this many seconds are slept through; longer ones answer 429 FLOOD_WAIT. */
  FLOOD_SLEEP_THRESHOLD_SECONDS: z.coerce.number().int().min(0).max(3600).default(10),
  /** Send pacing (messages per second, 0 = off, and burst) per session and per chat. */
  SEND_RATE_PER_SESSION: z.coerce.number().min(0).default(20),
  SEND_BURST_PER_SESSION: z.coerce.number().int().min(1).default(20),
  SEND_RATE_PER_CHAT: z.coerce.number().min(0).default(1),
  SEND_BURST_PER_CHAT: z.coerce.number().int().min(1).default(5),
  /** Version of SESSION_ENCRYPTION_KEY, and older keys as "1:<passphrase>,2:<passphrase>" (key rotation). */
  SESSION_ENCRYPTION_KEY_VERSION: z.coerce.number().int().min(1).default(1),
  SESSION_ENCRYPTION_OLD_KEYS: z
    .string()
    .regex(/^\s*\d+:[^,]+(,\s*\d+:[^,]+)*\s*$/, 'a comma list of <version>:<passphrase>')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CORS_ORIGIN: z.string().default('*'),
  /**
   * Requests per window per key: 3600 a minute lets one key keep three sessions sending at the
   * default pacing (SEND_RATE_PER_SESSION 20/s = 1200 a minute each); the pacer, not this limit,
   * is what holds sends back.
   */
  RATE_LIMIT_MAX: z.coerce.number().int().positive().default(3600),
  RATE_LIMIT_WINDOW_MS: z.coerce.number().int().positive().default(60000),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30000),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10000),
  /** This process's name in /health and /metrics; hostname-pid when unset. */
  INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,64}$/, '1-64 letters, digits, dots, colons, dashes or underscores')
    .optional(),
  /** Several instances on one PostgreSQL (src/modules/cluster/): leases, placement, forwarding. */
  CLUSTER: bool.default(false),
  /** Where the other instances reach this one (forwarded requests); http://127.0.0.1:<PORT> when unset. */
  INSTANCE_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** How long a session's lease lasts unrenewed; renewed every third of it. */
  CLUSTER_LEASE_TTL_MS: z.coerce.number().int().min(3000).max(120_000).default(15_000),
  /** Sessions an instance hands over per round when it runs two or more than the least loaded; 0: never. */
  CLUSTER_REBALANCE_BATCH: z.coerce.number().int().min(0).max(1000).default(10),
  /** GET /metrics (Prometheus) and the counters behind it. */
  METRICS_ENABLED: bool.default(true),
  /** A bearer token for GET /metrics (Prometheus's `authorization`); admin credentials work too. */
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  TRUST_PROXY: bool.default(false),
  WEBHOOK_ALLOW_PRIVATE: bool.optional(),
  EVENT_RETENTION_DAYS: z.coerce.number().positive().default(7),
  EVENT_PRUNE_INTERVAL_MS: z.coerce.number().int().positive().default(3_600_000),
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .regex(
      /^\s*\d+(ms|s|m|h)?(\s*,\s*\d+(ms|s|m|h)?)*\s*$/,
      'a comma list of delays, e.g. "1s,3s,10s,5m,1h" or "200ms,1s"',
    )
    // Minutes, then hours: about a day in all, so a receiver down through a deploy or an outage
    // still gets its deliveries (as Svix and Stripe retry).
    .default(DEFAULT_WEBHOOK_RETRY_SCHEDULE),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  WEBHOOK_MAX_CONSECUTIVE_FAILURES: z.coerce.number().int().min(0).default(10),
  WEBHOOK_POLL_INTERVAL_MS: z.coerce.number().int().positive().default(1000),
  STREAM_HEARTBEAT_MS: z.coerce.number().int().positive().default(15_000),
  STREAM_MAX_QUEUED_EVENTS: z.coerce.number().int().positive().default(1000),
  STREAM_MAX_BUFFERED_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Disk cache of downloaded media under DATA_DIR/media-cache, in bytes; 0 turns it off. */
  MEDIA_CACHE_MAX_BYTES: z.coerce.number().int().min(0).default(0),
  GIT_COMMIT: z.string().optional(),
  /** Sending media and the upload store (src/modules/media/: uploads, send-media). */
  MEDIA_UPLOAD_TTL: durationSeconds.default(86400),
  MEDIA_STORE_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 1024 ** 3),
  MEDIA_MAX_PHOTO_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .max(10 * 1024 ** 2)
    .default(10 * 1024 ** 2),
  MEDIA_MAX_FILE_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .max(2000 * 1024 ** 2)
    .default(2000 * 1024 ** 2),
  MEDIA_JSON_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(30 * 1024 ** 2),
  MEDIA_FETCH_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  FFMPEG_PATH: z.string().min(1).default('ffmpeg'),
  FFPROBE_PATH: z.string().min(1).default('ffprobe'),
});

export type Env = z.infer<typeof envSchema>;

/** "1s,3s,10s", "200ms,1m" or "3h" -> milliseconds. */
export function parseDelays(list: string): number[] {
  return list.split(',').map((part) => {
    const m = /^(\d+)(ms|s|m|h)?$/.exec(part.trim())!;
    return Number(m[1]) * DELAY_UNIT_MS[m[2] ?? 's']!;
  });
}

export interface Config {
  env: Env['NODE_ENV'];
  isProduction: boolean;
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string;
  jwtSecret: string;
  jwtExpiresInSeconds: number;
  apiKey: string;
  sessionEncryptionKey: string;
  telegram: {
    apiId: number;
    apiHash: string;
    /** DC 1's address (TELEGRAM_DC=host:port), or the lowest DC named. */
    dc?: { host: string; port: number };
    /** Every DC TELEGRAM_DC names, by id. */
    dcs?: { id: number; host: string; port: number }[];
    dcPublicKeyFile?: string;
    sandbox: boolean;
    /** The embedded sandbox's MTProto and control API ports (0 or unset: free ones). */
    sandboxPorts: { mtproto?: number; control?: number };
    floodSleepThresholdSeconds: number;
    pacing: {
      perSessionPerSecond: number;
      perSessionBurst: number;
      perChatPerSecond: number;
      perChatBurst: number;
    };
    /** Passphrases by key version for session strings at rest; the highest version encrypts. */
    sessionKeys: Record<number, string>;
  };
  logLevel: Env['LOG_LEVEL'];
  corsOrigin: string;
  rateLimit: { max: number; windowMs: number };
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  shutdownTimeoutMs: number;
  trustProxy: boolean;
  webhookAllowPrivate: boolean;
  events: { retentionDays: number; pruneIntervalMs: number };
  webhooks: {
    /** Delays before the 2nd, 3rd... attempt; a delivery dies after the last one fails. */
    retryScheduleMs: number[];
    timeoutMs: number;
    /** Dead deliveries in a row that disable a webhook; 0 never disables. */
    maxConsecutiveFailures: number;
    /** How often the delivery worker looks for work written by other processes. */
    pollIntervalMs: number;
  };
  streams: { heartbeatMs: number; maxQueuedEvents: number; maxBufferedBytes: number };
  media: {
    /** How long an upload stays in the store (seconds). */
    uploadTtlSeconds: number;
    /** Bytes the upload store holds at most; a new upload beyond it is refused (413). */
    storeMaxBytes: number;
    maxPhotoBytes: number;
    maxFileBytes: number;
    /** Body limit of the JSON media routes (base64 files), apart from BODY_LIMIT_BYTES. */
    jsonBodyLimitBytes: number;
    /** Longest a `url` source may take to download. */
    fetchTimeoutMs: number;
    ffmpegPath: string;
    ffprobePath: string;
  };
  /** Downloads: the disk cache's cap in bytes (0: no cache). */
  mediaCache: { maxBytes: number };
  /** Secrets generated for development, so a fresh clone starts with no setup. */
  generatedSecrets: string[];
  /** Those of generatedSecrets created by this start (the rest came from the data directory). */
  newSecrets: string[];
  commit: string | null;
  /** Names this process in /health and /metrics (INSTANCE_ID, or hostname-pid). */
  instanceId: string;
  metrics: { enabled: boolean; token: string | null };
  /** Several instances on one PostgreSQL (CLUSTER=true); null: one process per database. */
  cluster: { instanceUrl: string; leaseTtlMs: number; rebalanceBatch: number } | null;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const MIN_SECRET_LENGTH = 32;
const WEAK_SECRETS = new Set(['changeme', 'secret', 'your-secret', 'your-api-key', 'your-encryption-key']);

/** Telegram's published test credentials (for the sandbox or development when none are given). */
/** Telegram's widely published test id: Telegram may refuse it (API_ID_PUBLISHED_FLOOD). */
export const DEV_API_ID = 2496;
const DEV_API_HASH = '8da85b0d5bfe62527e5b244c209159c3';

type GeneratedSecrets = { JWT_SECRET?: string; API_KEY?: string; SESSION_ENCRYPTION_KEY?: string };

function loadGeneratedSecrets(dataDir: string): GeneratedSecrets {
  const file = join(dataDir, 'dev-secrets.json');
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8')) as GeneratedSecrets;
}

function saveGeneratedSecrets(dataDir: string, secrets: GeneratedSecrets): void {
  const file = join(dataDir, 'dev-secrets.json');
  makePrivateDir(dirname(file));
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Reads `.env` (values already in the environment win) without adding a dependency on its format quirks. */
export function readDotEnv(path = '.env'): Record<string, string> {
  if (!existsSync(path)) return {};
  const out: Record<string, string> = {};
  for (const raw of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 1) continue;
    const key = line
      .slice(0, eq)
      .trim()
      .replace(/^export\s+/, '');
    let value = line.slice(eq + 1).trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1);
    }
    out[key] = value;
  }
  return out;
}

/**
 * Parses the environment once. In production a missing or weak secret stops start-up with one
 * error naming every problem; in development missing secrets are generated once and kept in the
 * data directory (mode 0600).
 */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(
    Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== '')),
  );
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'env'}: ${i.message}`));
  }
  const env = parsed.data;
  const isProduction = env.NODE_ENV === 'production';
  const dataDir = resolve(env.DATA_DIR);
  const problems: string[] = [];
  const generatedSecrets: string[] = [];
  const newSecrets: string[] = [];

  const secrets = {
    JWT_SECRET: env.JWT_SECRET,
    API_KEY: env.API_KEY,
    SESSION_ENCRYPTION_KEY: env.SESSION_ENCRYPTION_KEY,
  };
  const missing = (Object.keys(secrets) as (keyof typeof secrets)[]).filter((k) => !secrets[k]);
  if (missing.length > 0) {
    if (isProduction) {
      for (const k of missing) problems.push(`${k}: required when NODE_ENV=production`);
    } else {
      const stored = loadGeneratedSecrets(dataDir);
      let changed = false;
      for (const k of missing) {
        if (!stored[k]) {
          stored[k] =
            k === 'API_KEY'
              ? `tf_${randomBytes(24).toString('base64url')}`
              : randomBytes(48).toString('base64url');
          changed = true;
          newSecrets.push(k);
        }
        secrets[k] = stored[k];
        generatedSecrets.push(k);
      }
      if (changed) saveGeneratedSecrets(dataDir, stored);
    }
  }
  for (const k of ['JWT_SECRET', 'API_KEY', 'SESSION_ENCRYPTION_KEY'] as const) {
    const v = secrets[k];
    if (!v) continue;
    if (v.length < MIN_SECRET_LENGTH) problems.push(`${k}: must be at least ${MIN_SECRET_LENGTH} characters`);
    else if (WEAK_SECRETS.has(v.toLowerCase()) || new Set(v).size < 8) problems.push(`${k}: too weak`);
  }

  let apiId = env.TELEGRAM_API_ID;
  let apiHash = env.TELEGRAM_API_HASH;
  if (apiId === undefined || apiHash === undefined) {
    if (isProduction && !env.TELEGRAM_SANDBOX) {
      if (apiId === undefined) problems.push('TELEGRAM_API_ID: required when NODE_ENV=production');
      if (apiHash === undefined) problems.push('TELEGRAM_API_HASH: required when NODE_ENV=production');
    }
    apiId ??= DEV_API_ID;
    apiHash ??= DEV_API_HASH;
  }
  if (env.TELEGRAM_DC && !env.TELEGRAM_DC_PUBLIC_KEY_FILE && !env.TELEGRAM_SANDBOX) {
    problems.push('TELEGRAM_DC_PUBLIC_KEY_FILE: required with TELEGRAM_DC (the server key to trust)');
  }
  const databaseUrl = env.DATABASE_URL ?? `file:${join(dataDir, 'teleflow.db')}`;
  if (env.CLUSTER && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('CLUSTER: needs PostgreSQL (DATABASE_URL=postgres://...); with SQLite run one process');
  }
  if (env.CLUSTER && !env.INSTANCE_URL && env.PORT === 0) {
    problems.push(
      'INSTANCE_URL: required with CLUSTER=true and PORT=0 (the others must know where to reach it)',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const dcs = env.TELEGRAM_DC ? parseDcAddresses(env.TELEGRAM_DC) : undefined;
  const dc = dcs ? { host: dcs[0].host, port: dcs[0].port } : undefined;

  return {
    env: env.NODE_ENV,
    isProduction,
    port: env.PORT,
    host: env.HOST,
    dataDir,
    databaseUrl,
    jwtSecret: secrets.JWT_SECRET!,
    jwtExpiresInSeconds: env.JWT_EXPIRES_IN,
    apiKey: secrets.API_KEY!,
    sessionEncryptionKey: secrets.SESSION_ENCRYPTION_KEY!,
    telegram: {
      apiId,
      apiHash,
      dc,
      ...(dcs ? { dcs } : {}),
      dcPublicKeyFile: env.TELEGRAM_DC_PUBLIC_KEY_FILE,
      sandbox: env.TELEGRAM_SANDBOX,
      sandboxPorts: { mtproto: env.SANDBOX_PORT, control: env.SANDBOX_CONTROL_PORT },
      floodSleepThresholdSeconds: env.FLOOD_SLEEP_THRESHOLD_SECONDS,
      pacing: {
        perSessionPerSecond: env.SEND_RATE_PER_SESSION,
        perSessionBurst: env.SEND_BURST_PER_SESSION,
        perChatPerSecond: env.SEND_RATE_PER_CHAT,
        perChatBurst: env.SEND_BURST_PER_CHAT,
      },
      sessionKeys: {
        ...Object.fromEntries(
          (env.SESSION_ENCRYPTION_OLD_KEYS ?? '')
            .split(',')
            .filter((e) => e.includes(':'))
            .map((e) => [Number(e.slice(0, e.indexOf(':')).trim()), e.slice(e.indexOf(':') + 1).trim()]),
        ),
        [env.SESSION_ENCRYPTION_KEY_VERSION]: secrets.SESSION_ENCRYPTION_KEY!,
      },
    },
    logLevel: env.LOG_LEVEL,
    corsOrigin: env.CORS_ORIGIN,
    rateLimit: { max: env.RATE_LIMIT_MAX, windowMs: env.RATE_LIMIT_WINDOW_MS },
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    trustProxy: env.TRUST_PROXY,
    instanceId: env.INSTANCE_ID ?? `${hostname()}-${process.pid}`,
    metrics: { enabled: env.METRICS_ENABLED, token: env.METRICS_TOKEN ?? null },
    cluster: env.CLUSTER
      ? {
          instanceUrl: (env.INSTANCE_URL ?? `http://127.0.0.1:${env.PORT}`).replace(/\/+$/, ''),
          leaseTtlMs: env.CLUSTER_LEASE_TTL_MS,
          rebalanceBatch: env.CLUSTER_REBALANCE_BATCH,
        }
      : null,
    webhookAllowPrivate: env.WEBHOOK_ALLOW_PRIVATE ?? !isProduction,
    events: { retentionDays: env.EVENT_RETENTION_DAYS, pruneIntervalMs: env.EVENT_PRUNE_INTERVAL_MS },
    webhooks: {
      retryScheduleMs: parseDelays(env.WEBHOOK_RETRY_SCHEDULE),
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      maxConsecutiveFailures: env.WEBHOOK_MAX_CONSECUTIVE_FAILURES,
      pollIntervalMs: env.WEBHOOK_POLL_INTERVAL_MS,
    },
    streams: {
      heartbeatMs: env.STREAM_HEARTBEAT_MS,
      maxQueuedEvents: env.STREAM_MAX_QUEUED_EVENTS,
      maxBufferedBytes: env.STREAM_MAX_BUFFERED_BYTES,
    },
    media: {
      uploadTtlSeconds: env.MEDIA_UPLOAD_TTL,
      storeMaxBytes: env.MEDIA_STORE_MAX_BYTES,
      maxPhotoBytes: env.MEDIA_MAX_PHOTO_BYTES,
      maxFileBytes: env.MEDIA_MAX_FILE_BYTES,
      jsonBodyLimitBytes: env.MEDIA_JSON_BODY_LIMIT_BYTES,
      fetchTimeoutMs: env.MEDIA_FETCH_TIMEOUT_MS,
      ffmpegPath: env.FFMPEG_PATH,
      ffprobePath: env.FFPROBE_PATH,
    },
    mediaCache: { maxBytes: env.MEDIA_CACHE_MAX_BYTES },
    generatedSecrets,
    newSecrets,
    commit: env.GIT_COMMIT ?? null,
  };
}

/**
 * TELEGRAM_DC's two forms: `host:port` names DC 1, DCs 2-5 being on the next four ports (the
 * sandbox's layout); `1=host:port,2=host:port,...` names each DC (ids 1-5). Sorted by id;
 * undefined when the value is neither.
 */
export function parseDcAddresses(value: string): { id: number; host: string; port: number }[] | undefined {
  const address = (text: string) => {
    const match = /^([^:\s=,]+):(\d{1,5})$/.exec(text.trim());
    if (!match) return undefined;
    const port = Number(match[2]);
    return port >= 1 && port <= 65535 ? { host: match[1], port } : undefined;
  };
  if (!value.includes('=')) {
    const first = address(value);
    if (!first || first.port + 4 > 65535) return undefined;
    return [1, 2, 3, 4, 5].map((id) => ({ id, host: first.host, port: first.port + id - 1 }));
  }
  const dcs: { id: number; host: string; port: number }[] = [];
  for (const part of value.split(',')) {
    const match = /^\s*([1-5])\s*=(.+)$/.exec(part);
    const parsed = match ? address(match[2]) : undefined;
    if (!match || !parsed || dcs.some((dc) => dc.id === Number(match[1]))) return undefined;
    dcs.push({ id: Number(match[1]), ...parsed });
  }
  return dcs.sort((a, b) => a.id - b.id);
}
