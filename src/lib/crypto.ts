import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

/** SHA-256 hex: API keys are 192-bit random strings, so a fast hash cannot be brute-forced. */
export function sha256Hex(value: string | Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}

export function hmacSha256(key: string | Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Constant-time string comparison that does not leak the length through an early return. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/**
 * AES-256-GCM envelope for secrets at rest: `v<version>.<iv>.<tag>.<ciphertext>` (base64url).
 * Keys are derived from SESSION_ENCRYPTION_KEY with HKDF per purpose, so one passphrase serves
 * several stores without reusing a key. The version lets the passphrase be rotated: `keys`
 * maps versions to passphrases, and the highest version encrypts.
 */
export class SecretBox {
  private readonly keys = new Map<number, Buffer>();
  private readonly current: number;

  constructor(passphrases: Record<number, string> | string, purpose: string) {
    const entries = typeof passphrases === 'string' ? { 1: passphrases } : passphrases;
    for (const [version, pass] of Object.entries(entries)) {
      const key = Buffer.from(hkdfSync('sha256', pass, 'teleflow', `teleflow:${purpose}`, 32));
      this.keys.set(Number(version), key);
    }
    this.current = Math.max(...this.keys.keys());
  }

  get version(): number {
    return this.current;
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.current)!, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `v${this.current}.${iv.toString('base64url')}.${tag.toString('base64url')}.${body.toString('base64url')}`;
  }

  decrypt(sealed: string): string {
    const [v, iv, tag, body] = sealed.split('.');
    const key = this.keys.get(Number(v?.slice(1)));
    if (!key || !iv || !tag || body === undefined)
      throw new Error('Cannot decrypt: unknown key version or malformed value');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  }

  versionOf(sealed: string): number {
    return Number(sealed.split('.', 1)[0]?.slice(1));
  }
}
