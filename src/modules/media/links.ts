/**
 * Short-lived signed download links, for clients that cannot send a key (an <img> tag). The
 * token names the session, the file and the thumbnail, and when it stops working; it is
 * signed with HMAC-SHA256 under a key derived from JWT_SECRET for this purpose only (HKDF), so
 * a link can neither be stretched nor pointed at another file. Only this one algorithm is
 * accepted: the token carries no algorithm field a client could change.
 */
import { hkdfSync } from 'node:crypto';
import { hmacSha256, safeEqual } from '../../lib/crypto.js';
import { AppError } from '../../lib/errors.js';

export interface LinkClaims {
  sessionId: string;
  mediaId: string;
  thumb?: string;
  /** Unix seconds after which the link fails. */
  expiresAt: number;
}

const VERSION = 'l1';

export class MediaLinks {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'teleflow', 'teleflow:media-link', 32));
  }

  /** `l1.<payload>.<signature>`, both base64url. */
  sign(claims: LinkClaims): string {
    const payload = Buffer.from(
      JSON.stringify([claims.sessionId, claims.mediaId, claims.thumb ?? '', claims.expiresAt]),
    ).toString('base64url');
    return `${VERSION}.${payload}.${this.signature(payload)}`;
  }

  /** The claims of a valid, unexpired token; 401 UNAUTHORIZED otherwise. */
  verify(token: string, nowSeconds: number): LinkClaims {
    const [version, payload, signature, extra] = token.split('.');
    if (
      version !== VERSION ||
      !payload ||
      !signature ||
      extra !== undefined ||
      !safeEqual(signature, this.signature(payload))
    )
      throw new AppError('UNAUTHORIZED', 'This media link is not valid');
    const claims = parseClaims(payload);
    if (!claims) throw new AppError('UNAUTHORIZED', 'This media link is not valid');
    if (claims.expiresAt <= nowSeconds) throw new AppError('UNAUTHORIZED', 'This media link has expired');
    return claims;
  }

  private signature(payload: string): string {
    return hmacSha256(this.key, `${VERSION}.${payload}`).toString('base64url');
  }
}

function parseClaims(payload: string): LinkClaims | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 4) return undefined;
    const [sessionId, mediaId, thumb, expiresAt] = value as unknown[];
    if (typeof sessionId !== 'string' || typeof mediaId !== 'string' || typeof thumb !== 'string')
      return undefined;
    if (typeof expiresAt !== 'number' || !Number.isInteger(expiresAt)) return undefined;
    return { sessionId, mediaId, ...(thumb ? { thumb } : {}), expiresAt };
  } catch {
    return undefined;
  }
}
