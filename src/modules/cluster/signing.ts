/**
 * The internal channel's authentication: a request one instance passes to another carries who
 * asked (the caller's resolved credential: role, session limits) in a header signed with
 * HMAC-SHA256 under a key derived from JWT_SECRET for this purpose only (HKDF; every instance
 * of a cluster shares JWT_SECRET). The signature covers the method, URL, body hash, the
 * receiving instance, a timestamp and a nonce: a captured request cannot be changed, sent to
 * another instance, or replayed.
 */
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { hmacSha256, safeEqual } from '../../lib/crypto.js';
import type { Principal } from '../auth/auth.service.js';

export const FORWARDED_HEADER = 'x-teleflow-forwarded';
export const SIGNATURE_HEADER = 'x-teleflow-signature';
/** How far the sender's clock may be from the receiver's. */
const MAX_SKEW_MS = 30_000;

export interface ForwardClaims {
  v: 1;
  from: string;
  to: string;
  /** Milliseconds since the epoch, sender's clock. */
  ts: number;
  nonce: string;
  method: string;
  url: string;
  /** sha256 (hex) of the body bytes sent. */
  body: string;
  /** Null for the public routes (a signed media link). */
  principal: Principal | null;
}

export function bodyHash(body: string | Buffer | undefined): string {
  return createHash('sha256')
    .update(body ?? '')
    .digest('hex');
}

export class ForwardSigner {
  private readonly key: Buffer;
  /** Nonces seen within the skew window, with when they may be forgotten. */
  private readonly seen = new Map<string, number>();

  constructor(
    secret: string,
    private readonly instanceId: string,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'teleflow', 'teleflow:cluster-forward', 32));
  }

  /** The two headers for a request to instance `to`. */
  sign(
    to: string,
    request: { method: string; url: string; body: string | undefined; principal: Principal | null },
  ): Record<string, string> {
    const claims: ForwardClaims = {
      v: 1,
      from: this.instanceId,
      to,
      ts: Date.now(),
      nonce: randomBytes(16).toString('base64url'),
      method: request.method,
      url: request.url,
      body: bodyHash(request.body),
      principal: request.principal,
    };
    const value = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return { [FORWARDED_HEADER]: value, [SIGNATURE_HEADER]: this.signature(value) };
  }

  /**
   * The claims of a request forwarded to this instance, or a reason it is refused. The body
   * hash is checked by the caller once the body has been read.
   */
  verify(value: string, signature: string, method: string, url: string): ForwardClaims | string {
    if (!safeEqual(signature, this.signature(value))) return 'bad signature';
    let claims: ForwardClaims;
    try {
      claims = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as ForwardClaims;
    } catch {
      return 'unreadable claims';
    }
    const now = Date.now();
    if (claims.v !== 1 || claims.to !== this.instanceId) return 'meant for another instance';
    if (Math.abs(now - claims.ts) > MAX_SKEW_MS) return 'too old';
    if (claims.method !== method || claims.url !== url) return 'another request';
    this.forgetOld(now);
    if (this.seen.has(claims.nonce)) return 'replayed';
    this.seen.set(claims.nonce, claims.ts + MAX_SKEW_MS);
    const p = claims.principal;
    if (p?.tokenExpiresAt !== undefined) p.tokenExpiresAt = new Date(p.tokenExpiresAt);
    return claims;
  }

  private forgetOld(now: number): void {
    if (this.seen.size < 1024) return;
    for (const [nonce, until] of this.seen) if (until < now) this.seen.delete(nonce);
  }

  private signature(value: string): string {
    return hmacSha256(this.key, value).toString('base64url');
  }
}
