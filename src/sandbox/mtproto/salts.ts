/** Server salts: one per auth key and hour, derived from a secret, so no table is needed. */
import { createHmac, randomBytes } from 'node:crypto';

export const SALT_PERIOD_SECONDS = 3600;

export class ServerSalts {
  private readonly saltSecret = randomBytes(32);
  private readonly saltCache = new Map<bigint, { period: number; salt: Buffer }>();

  /** Salt for an auth key in a given hour: derived, so no table is needed. */
  saltFor(authKeyId: bigint, period: number): Buffer {
    const input = Buffer.alloc(16);
    input.writeBigUInt64LE(authKeyId, 0);
    input.writeBigInt64LE(BigInt(period), 8);
    return createHmac('sha256', this.saltSecret).update(input).digest().subarray(0, 8);
  }

  currentSalt(authKeyId: bigint): Buffer {
    const period = Math.floor(Date.now() / 1000 / SALT_PERIOD_SECONDS);
    const cached = this.saltCache.get(authKeyId);
    if (cached?.period === period) return cached.salt;
    const salt = this.saltFor(authKeyId, period);
    this.saltCache.set(authKeyId, { period, salt });
    return salt;
  }

  isValidSalt(authKeyId: bigint, salt: Buffer): boolean {
    const current = this.currentSalt(authKeyId);
    if (salt.equals(current)) return true;
    // The previous hour's salt stays valid a while, as Telegram's do.
    const period = Math.floor(Date.now() / 1000 / SALT_PERIOD_SECONDS);
    return salt.equals(this.saltFor(authKeyId, period - 1));
  }
}
