/**
 * A client of the embedded sandbox's control API (HTTP JSON on loopback), for the admin routes
 * that pass a few of its calls through. Its answers become the contract's errors: unknown users
 * and chats their 404 codes, any other refusal (a Telegram error such as PHONE_NUMBER_OCCUPIED,
 * an expired login token) a 400 that names the sandbox's code; an unreachable sandbox is a 500.
 */
import { AppError } from '../../lib/errors.js';

const TIMEOUT_MS = 10_000;
const PASSED_THROUGH_404 = new Set(['USER_NOT_FOUND', 'CHAT_NOT_FOUND']);

interface ControlErrorBody {
  error?: { code?: string; message?: string };
}

export class SandboxControl {
  constructor(private readonly baseUrl: string) {}

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch {
      throw new AppError('INTERNAL_ERROR', 'The sandbox control API did not answer');
    }
    const answer = (await res.json().catch(() => ({}))) as T & ControlErrorBody;
    if (res.ok) return answer;
    const code = answer.error?.code ?? `HTTP_${res.status}`;
    const message = `Sandbox: ${answer.error?.message ?? `answered ${res.status}`}`;
    if (res.status === 404 && PASSED_THROUGH_404.has(code))
      throw new AppError(code as 'USER_NOT_FOUND' | 'CHAT_NOT_FOUND', message);
    if (res.status >= 400 && res.status < 500)
      throw new AppError('BAD_REQUEST', message, { sandboxCode: code });
    throw new AppError('INTERNAL_ERROR', `The sandbox control API answered ${res.status}`);
  }
}
