import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import type { FastifyBaseLogger } from 'fastify';
import type { ApiKeysTable } from '../../db/types.js';
import type { Clock } from '../../lib/clock.js';
import { hmacSha256, safeEqual, sha256Hex } from '../../lib/crypto.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { AuthRepository } from './auth.repository.js';
import type { ApiKeyInfo, Role } from './auth.schema.js';

/** Who is calling, resolved once per request by the auth plugin. */
export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  prefix: string;
  /** Sessions this caller may touch; null means all. */
  sessionIds: string[] | null;
  via: 'api_key' | 'jwt';
  jti?: string;
  tokenExpiresAt?: Date;
}

export const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

const BOOTSTRAP_ID = 'key_bootstrap';
/**
 * The claim that binds a JWT issued for the bootstrap key to that key's value: an HMAC of
 * API_KEY under JWT_SECRET (so the token reveals nothing of the key). A new API_KEY gives a new
 * fingerprint, and the tokens of the old one stop working.
 */
const BOOTSTRAP_CLAIM = 'bkf';
/**
 * How long a resolved key or token is trusted without asking the database again. Deletions and
 * logouts made by this process take effect at once; those made by another instance on the same
 * database within this time.
 */
const KEY_CACHE_MS = 30_000;
const TOKEN_CACHE_MAX = 10_000;
const TOUCH_EVERY_MS = 60_000;
/** HS256 only: the verifier never accepts another algorithm (no "none", no key confusion). */
const JWT_ALGORITHM = 'HS256' as const;
const JWT_ISSUER = 'teleflow';

export interface AuthServiceDeps {
  repo: AuthRepository;
  bootstrapApiKey: string;
  jwtSecret: string;
  jwtExpiresInSeconds: number;
  clock: Clock;
  log: FastifyBaseLogger;
}

/** Three dot-separated parts, the first a base64url JSON object: a JWT, not an API key. */
function looksLikeJwt(credential: string): boolean {
  if (!credential.startsWith('eyJ')) return false;
  const first = credential.indexOf('.');
  const second = credential.indexOf('.', first + 1);
  return second > first && credential.indexOf('.', second + 1) === -1;
}

function parseSessionIds(raw: string | null): string[] | null {
  return raw === null ? null : (JSON.parse(raw) as string[]);
}

/**
 * Whether `caller` may see and manage a key with this role and session limit. An unlimited
 * caller manages every key of its role or below; a key limited to sessions manages only keys
 * limited to a subset of its own sessions, so it can never reach beyond them.
 */
function manages(caller: Principal, key: { role: Role; sessionIds: string[] | null }): boolean {
  if (ROLE_RANK[key.role] > ROLE_RANK[caller.role]) return false;
  const own = caller.sessionIds;
  if (own === null) return true;
  return key.sessionIds !== null && key.sessionIds.every((id) => own.includes(id));
}

function keyInfo(row: ApiKeysTable): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    sessionIds: parseSessionIds(row.session_ids),
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

export class AuthService {
  private bootstrapHashBytes: Buffer;
  private bootstrapPrefix: string;
  private readonly keyCache = new Map<string, { row: ApiKeysTable; at: number }>();
  /**
   * Resolved API keys by the key as presented, so a hit costs no hashing, parsing or allocation
   * (held in memory only, like the request that carried it; the database keeps hashes only).
   */
  private readonly apiKeyCache = new Map<string, { principal: Principal; at: number }>();
  /**
   * Verified and resolved JWTs by the token itself: the same string always verifies the same way,
   * so a hit needs neither the signature check nor the database; expiry is checked on each use.
   */
  private readonly tokenCache = new Map<string, { principal: Principal; at: number }>();
  private readonly lastTouch = new Map<string, number>();
  private readonly revocationListeners = new Set<() => void>();
  private bootstrapFingerprint: string;
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verify: (token: string) => Record<string, unknown>;

  constructor(private readonly deps: AuthServiceDeps) {
    this.bootstrapHashBytes = Buffer.from(sha256Hex(deps.bootstrapApiKey));
    this.bootstrapPrefix = deps.bootstrapApiKey.slice(0, 6);
    this.bootstrapFingerprint = hmacSha256(deps.jwtSecret, `bootstrap:${deps.bootstrapApiKey}`)
      .subarray(0, 16)
      .toString('base64url');
    this.sign = createSigner({
      key: deps.jwtSecret,
      algorithm: JWT_ALGORITHM,
      expiresIn: deps.jwtExpiresInSeconds * 1000,
      iss: JWT_ISSUER,
    });
    this.verify = createVerifier({
      key: deps.jwtSecret,
      algorithms: [JWT_ALGORITHM],
      allowedIss: JWT_ISSUER,
      requiredClaims: ['jti', 'sub', 'exp'],
      clockTimestamp: undefined,
    });
  }

  private bootstrapPrincipal(): Principal {
    return {
      keyId: BOOTSTRAP_ID,
      name: 'bootstrap (API_KEY)',
      role: 'admin',
      prefix: this.bootstrapPrefix,
      sessionIds: null,
      via: 'api_key',
    };
  }

  private toPrincipal(row: ApiKeysTable, via: Principal['via']): Principal {
    return {
      keyId: row.id,
      name: row.name,
      role: row.role,
      prefix: row.prefix,
      sessionIds: parseSessionIds(row.session_ids),
      via,
    };
  }

  private async keyByHash(hash: string): Promise<ApiKeysTable | undefined> {
    const now = Date.now();
    const cached = this.keyCache.get(hash);
    if (cached && now - cached.at < KEY_CACHE_MS) return cached.row;
    const row = await this.deps.repo.findKeyByHash(hash);
    if (row) this.keyCache.set(hash, { row, at: now });
    else this.keyCache.delete(hash);
    return row;
  }

  private touch(id: string): void {
    const now = Date.now();
    if (now - (this.lastTouch.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    this.lastTouch.set(id, now);
    this.deps.repo.touchKey(id, this.deps.clock.now().toISOString()).catch((err: unknown) => {
      this.deps.log.warn({ err, keyId: id }, 'could not record key use');
    });
  }

  /**
   * The principal of a credential resolved within the last few seconds, at once (no promise: the
   * rate limiter runs this on every request); undefined when it must go through authenticate.
   */
  cachedPrincipal(credential: string): Principal | undefined {
    return looksLikeJwt(credential) ? this.cachedJwt(credential) : this.cachedApiKey(credential);
  }

  private cachedApiKey(key: string): Principal | undefined {
    const cached = this.apiKeyCache.get(key);
    if (!cached || Date.now() - cached.at >= KEY_CACHE_MS) return undefined;
    if (cached.principal.keyId !== BOOTSTRAP_ID) this.touch(cached.principal.keyId);
    return cached.principal;
  }

  private cachedJwt(token: string): Principal | undefined {
    const cached = this.tokenCache.get(token);
    if (!cached) return undefined;
    const now = Date.now();
    if (now - cached.at < KEY_CACHE_MS && now < cached.principal.tokenExpiresAt!.getTime()) {
      return cached.principal;
    }
    this.tokenCache.delete(token);
    return undefined;
  }

  /** Resolves an API key to its principal, or undefined. */
  async principalForApiKey(key: string): Promise<Principal | undefined> {
    const cached = this.cachedApiKey(key);
    if (cached) return cached;
    const principal = await this.resolveApiKey(key);
    if (principal) {
      if (this.apiKeyCache.size >= TOKEN_CACHE_MAX)
        this.apiKeyCache.delete(this.apiKeyCache.keys().next().value!);
      this.apiKeyCache.set(key, { principal, at: Date.now() });
    } else {
      this.apiKeyCache.delete(key);
    }
    return principal;
  }

  private async resolveApiKey(key: string): Promise<Principal | undefined> {
    const hash = sha256Hex(key);
    // Both are SHA-256 hex digests of the same length: compared in constant time directly.
    if (timingSafeEqual(Buffer.from(hash), this.bootstrapHashBytes)) return this.bootstrapPrincipal();
    const row = await this.keyByHash(hash);
    if (!row) return undefined;
    this.touch(row.id);
    return this.toPrincipal(row, 'api_key');
  }

  private async principalForJwt(token: string): Promise<Principal | undefined> {
    const cached = this.cachedJwt(token);
    if (cached) return cached;
    let claims: Record<string, unknown>;
    try {
      claims = this.verify(token);
    } catch {
      return undefined;
    }
    const jti = String(claims.jti);
    const keyId = String(claims.sub);
    if (keyId === BOOTSTRAP_ID) {
      const bound = claims[BOOTSTRAP_CLAIM];
      // Issued for another API_KEY (rotated since), or before tokens were bound to it.
      if (typeof bound !== 'string' || !safeEqual(bound, this.bootstrapFingerprint)) return undefined;
    }
    if (await this.deps.repo.isTokenRevoked(jti)) return undefined;
    const base =
      keyId === BOOTSTRAP_ID
        ? this.bootstrapPrincipal()
        : await this.deps.repo
            .findKeyById(keyId)
            .then((row) => (row ? this.toPrincipal(row, 'jwt') : undefined));
    if (!base) return undefined; // the key behind the token was deleted
    const principal: Principal = {
      ...base,
      via: 'jwt',
      jti,
      tokenExpiresAt: new Date(Number(claims.exp) * 1000),
    };
    if (this.tokenCache.size >= TOKEN_CACHE_MAX) {
      this.tokenCache.delete(this.tokenCache.keys().next().value!);
    }
    this.tokenCache.set(token, { principal, at: Date.now() });
    return principal;
  }

  /** Accepts an API key or a JWT; throws 401 UNAUTHORIZED otherwise. */
  async authenticate(credential: string | undefined): Promise<Principal> {
    if (!credential)
      throw new AppError('UNAUTHORIZED', 'Missing credentials: send X-API-Key or Authorization: Bearer');
    const principal = looksLikeJwt(credential)
      ? await this.principalForJwt(credential)
      : await this.principalForApiKey(credential);
    if (!principal) throw new AppError('UNAUTHORIZED', 'Invalid, expired or revoked credentials');
    return principal;
  }

  async login(
    apiKey: string,
  ): Promise<{ token: string; tokenType: 'Bearer'; expiresAt: string; apiKey: ApiKeyInfo }> {
    const principal = await this.principalForApiKey(apiKey);
    if (!principal) throw new AppError('UNAUTHORIZED', 'Invalid API key');
    const token = this.sign({
      sub: principal.keyId,
      role: principal.role,
      jti: randomUUID(),
      ...(principal.keyId === BOOTSTRAP_ID ? { [BOOTSTRAP_CLAIM]: this.bootstrapFingerprint } : {}),
    });
    const exp = (this.verify(token).exp as number) * 1000;
    return {
      token,
      tokenType: 'Bearer',
      expiresAt: new Date(exp).toISOString(),
      apiKey: this.info(principal),
    };
  }

  async logout(principal: Principal): Promise<void> {
    if (principal.via !== 'jwt' || !principal.jti || !principal.tokenExpiresAt) {
      throw new AppError(
        'BAD_REQUEST',
        'Logout revokes the JWT it is called with; API keys are removed with DELETE /api/v1/auth/keys/:id',
      );
    }
    const now = this.deps.clock.now().toISOString();
    await this.deps.repo.revokeToken(principal.jti, principal.tokenExpiresAt.toISOString(), now);
    for (const [token, entry] of this.tokenCache) {
      if (entry.principal.jti === principal.jti) this.tokenCache.delete(token);
    }
    this.notifyRevocation();
    await this.deps.repo.pruneRevokedTokens(now);
  }

  /**
   * Calls `listener` whenever this process revokes a key or a token, so holders of long-lived
   * connections can check their credential again at once. Returns the unsubscribe function.
   */
  onRevocation(listener: () => void): () => void {
    this.revocationListeners.add(listener);
    return () => this.revocationListeners.delete(listener);
  }

  /** The bootstrap key as the other instances of a cluster can check it (never the key itself). */
  bootstrapIdentity(): { hash: string; fingerprint: string; prefix: string } {
    return {
      hash: this.bootstrapHashBytes.toString(),
      fingerprint: this.bootstrapFingerprint,
      prefix: this.bootstrapPrefix,
    };
  }

  /**
   * Accepts the bootstrap key of another instance's API_KEY instead of this one's (a cluster
   * rotating API_KEY: the instance started last with a new one); tokens of the old key end.
   */
  useBootstrapIdentity(identity: { hash: string; fingerprint: string; prefix: string }): void {
    if (!/^[0-9a-f]{64}$/.test(identity.hash) || identity.hash === this.bootstrapHashBytes.toString()) return;
    this.bootstrapHashBytes = Buffer.from(identity.hash);
    this.bootstrapFingerprint = identity.fingerprint;
    this.bootstrapPrefix = identity.prefix;
    this.forgetResolved();
  }

  /**
   * Forgets every resolved key and token, so each is checked against the database again, and
   * tells the revocation listeners (another instance of a cluster revoked a credential).
   */
  forgetResolved(): void {
    this.keyCache.clear();
    this.apiKeyCache.clear();
    this.tokenCache.clear();
    this.notifyRevocation();
  }

  private notifyRevocation(): void {
    for (const listener of this.revocationListeners) {
      try {
        listener();
      } catch (err) {
        this.deps.log.warn({ err }, 'revocation listener failed');
      }
    }
  }

  info(p: Principal): ApiKeyInfo {
    return { id: p.keyId, name: p.name, role: p.role, prefix: p.prefix, sessionIds: p.sessionIds };
  }

  /** The keys `caller` manages (see `manages`); the bootstrap key is not stored and not listed. */
  async listKeys(caller: Principal): Promise<ApiKeyInfo[]> {
    const rows = await this.deps.repo.listKeys();
    return rows.map(keyInfo).filter((key) => manages(caller, key));
  }

  /**
   * Creates a key no stronger than its creator: a role no higher, and (for a creator limited to
   * sessions) only sessions of its own, by default all of them. Every session named must exist.
   */
  async createKey(
    caller: Principal,
    input: { name: string; role: Role; sessionIds?: string[] },
  ): Promise<ApiKeyInfo & { key: string }> {
    if (ROLE_RANK[input.role] > ROLE_RANK[caller.role]) {
      throw new AppError(
        'FORBIDDEN',
        `A key cannot create a key with a higher role than its own (${caller.role})`,
      );
    }
    const sessionIds = input.sessionIds ? [...new Set(input.sessionIds)] : caller.sessionIds;
    if (sessionIds !== null) await this.assertSessionsExist(caller, sessionIds);
    const key = `tf_${randomBytes(24).toString('base64url')}`;
    const row: ApiKeysTable = {
      id: newId('key'),
      name: input.name,
      role: input.role,
      prefix: key.slice(0, 9),
      hash: sha256Hex(key),
      session_ids: sessionIds ? JSON.stringify(sessionIds) : null,
      created_at: this.deps.clock.now().toISOString(),
      last_used_at: null,
      revoked_at: null,
    };
    await this.deps.repo.insertKey(row);
    return { key, ...keyInfo(row) };
  }

  /** Sessions outside the caller's own, like sessions that do not exist, are "not found". */
  private async assertSessionsExist(caller: Principal, ids: string[]): Promise<void> {
    const existing = new Set(await this.deps.repo.existingSessionIds(ids));
    const missing = ids.find(
      (id) => !existing.has(id) || (caller.sessionIds !== null && !caller.sessionIds.includes(id)),
    );
    if (missing !== undefined) {
      throw new AppError('SESSION_NOT_FOUND', `Session ${missing} not found`, { sessionId: missing });
    }
  }

  async deleteKey(caller: Principal, id: string): Promise<void> {
    if (id === BOOTSTRAP_ID && caller.sessionIds === null)
      throw new AppError(
        'BAD_REQUEST',
        'The bootstrap key comes from API_KEY; change the environment to replace it',
      );
    const row = await this.deps.repo.findKeyById(id);
    if (!row || !manages(caller, keyInfo(row))) throw notFound('API_KEY_NOT_FOUND', 'API key');
    const done = await this.deps.repo.revokeKey(id, this.deps.clock.now().toISOString());
    if (!done) throw notFound('API_KEY_NOT_FOUND', 'API key');
    for (const [hash, entry] of this.keyCache) if (entry.row.id === id) this.keyCache.delete(hash);
    for (const [key, entry] of this.apiKeyCache)
      if (entry.principal.keyId === id) this.apiKeyCache.delete(key);
    for (const [token, entry] of this.tokenCache) {
      if (entry.principal.keyId === id) this.tokenCache.delete(token);
    }
    this.notifyRevocation();
  }
}
