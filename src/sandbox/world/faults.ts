/** Faults on demand: the next matching calls fail with a chosen RPC error. */
import { RpcError } from '../contract.js';

export interface FaultRule {
  error: string;
  code: number;
  remaining: number;
  method?: string;
  phone?: string;
}

export interface FaultInput {
  error: string;
  count?: number;
  method?: string;
  phone?: string;
  code?: number;
}

/** Telegram's usual status for an error name (420 flood, 500 internal, 401 auth, else 400). */
export function defaultErrorCode(error: string): number {
  if (/^(FLOOD_WAIT_|SLOWMODE_WAIT_|FLOOD_PREMIUM_WAIT_)\d+$/.test(error)) return 420;
  if (error === 'INTERNAL' || error.endsWith('_INTERNAL') || error === 'RPC_CALL_FAIL') return 500;
  if (
    [
      'AUTH_KEY_UNREGISTERED',
      'AUTH_KEY_INVALID',
      'USER_DEACTIVATED',
      'SESSION_REVOKED',
      'SESSION_EXPIRED',
      'SESSION_PASSWORD_NEEDED',
    ].includes(error)
  )
    return 401;
  if (error === 'USER_DEACTIVATED_BAN' || error.endsWith('_FORBIDDEN')) return 403;
  return 400;
}

export class FaultInjector {
  private rules: FaultRule[] = [];

  add(input: FaultInput): FaultRule {
    if (!/^[A-Z][A-Z0-9_]*$/.test(input.error))
      throw new Error('error must look like an RPC error name, e.g. FLOOD_WAIT_30');
    const rule: FaultRule = {
      error: input.error,
      code: input.code ?? defaultErrorCode(input.error),
      remaining: input.count ?? 1,
      ...(input.method ? { method: input.method } : {}),
      ...(input.phone ? { phone: input.phone.replace(/[^\d]/g, '') } : {}),
    };
    this.rules.push(rule);
    return rule;
  }

  list(): FaultRule[] {
    return this.rules.map((rule) => ({ ...rule }));
  }

  clear(): void {
    this.rules = [];
  }

  /** Throws the first matching rule's error (and counts it down). */
  check(method: string, phone: string | undefined): void {
    const rule = this.rules.find(
      (r) =>
        r.remaining > 0 &&
        (!r.method || r.method.toLowerCase() === method.toLowerCase()) &&
        (!r.phone || r.phone === phone),
    );
    if (!rule) return;
    rule.remaining--;
    this.rules = this.rules.filter((r) => r.remaining > 0);
    throw new RpcError(rule.code, rule.error);
  }
}
