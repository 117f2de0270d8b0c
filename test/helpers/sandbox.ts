/**
 * Test helpers around the sandbox: start one, call its control API, and sign a real teleproto
 * client in (phones 99966XYYYY get the code XXXXX, so no code needs reading).
 */
import type { TelegramClient } from 'teleproto';
import { StringSession } from 'teleproto/sessions/index.js';
import { startSandbox } from '../../src/sandbox/index.js';
import type { Sandbox, StartSandboxOptions } from '../../src/sandbox/index.js';
import { createSandboxClient } from './sandbox-client.js';

export type { Sandbox };

export function startTestSandbox(options: StartSandboxOptions = {}): Promise<Sandbox> {
  return startSandbox({ host: '127.0.0.1', port: 0, controlPort: 0, ...options });
}

export interface ControlResponse<T = any> {
  status: number;
  body: T;
}

export async function control<T = any>(
  sandbox: Pick<Sandbox, 'controlUrl'>,
  method: string,
  path: string,
  body?: unknown,
): Promise<ControlResponse<T>> {
  const response = await fetch(sandbox.controlUrl + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

let phoneCounter = Math.floor(Math.random() * 9000);

/** A fresh test phone 99966XYYYY whose login code is XXXXX. */
export function testPhone(digit = 1 + (phoneCounter % 9)): string {
  phoneCounter++;
  return `99966${digit}${String(phoneCounter % 10000).padStart(4, '0')}`;
}

export function codeFor(phone: string): string {
  return phone[5].repeat(5);
}

export function clientFor(sandbox: Sandbox, session?: string): TelegramClient {
  return createSandboxClient({
    host: sandbox.host,
    port: sandbox.port,
    dcs: sandbox.dcs,
    publicKeyPem: sandbox.publicKeyPem,
    ...(session ? { session } : {}),
  });
}

/** Signs a client in by code (and password when given); signs up when the phone is new. */
export async function signedInClient(
  sandbox: Sandbox,
  phone: string,
  options: { password?: string; firstName?: string } = {},
): Promise<TelegramClient> {
  const client = clientFor(sandbox);
  await client.start({
    phoneNumber: phone,
    phoneCode: async () => codeFor(phone),
    password: async () => options.password ?? '',
    firstAndLastNames: async () => [options.firstName ?? 'Test', 'User'],
    onError: async (error: Error) => {
      throw error;
    },
  });
  return client;
}

export function saveSession(client: TelegramClient): string {
  return (client.session as StringSession).save();
}

export async function closeClient(client: TelegramClient | undefined): Promise<void> {
  if (!client) return;
  try {
    await client.destroy();
  } catch {
    // already gone
  }
}

/** Resolves when `predicate` holds, polling; rejects after `ms`. */
export async function waitFor<T>(
  probe: () => T | undefined | false,
  ms = 3000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
