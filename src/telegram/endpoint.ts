/**
 * Where sessions connect: Telegram's own DCs by default; any MTProto server with TELEGRAM_DC and
 * TELEGRAM_DC_PUBLIC_KEY_FILE; or the sandbox started in-process with TELEGRAM_SANDBOX=true.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Connection } from 'teleproto';
import type { Config } from '../config.js';
import { createDcConnectionClass, trustServerPublicKey } from './dc.js';

export interface TelegramEndpoint {
  /** DC a brand-new session starts on, and its address as stored in the session (port 443). */
  dcId: number;
  host: string;
  /** Set for servers other than Telegram: a connection class that dials their real address. */
  connection?: typeof Connection;
  /** Present when the sandbox runs in this process. */
  sandbox?: { controlUrl: string; host: string; port: number; publicKeyPem: string };
  close(): Promise<void>;
}

/** Telegram's production DC 2, where new accounts are usually homed; the client migrates if needed. */
const TELEGRAM_DEFAULT_DC = { dcId: 2, host: '149.154.167.50' };

export async function resolveTelegramEndpoint(
  telegram: Config['telegram'],
  dataDir: string,
  log: Logger,
): Promise<TelegramEndpoint> {
  if (telegram.sandbox) {
    const { startSandbox } = await import('../sandbox/index.js');
    const sandbox = await startSandbox({
      dataDir: join(dataDir, 'sandbox'),
      port: telegram.dc?.port ?? 0,
      controlPort: 0,
      logger: log.child({ component: 'sandbox' }),
    });
    trustServerPublicKey(sandbox.publicKeyPem);
    log.info({ port: sandbox.port, controlUrl: sandbox.controlUrl }, 'sandbox started in-process');
    return {
      dcId: 2,
      host: sandbox.host,
      connection: createDcConnectionClass(sandbox.host, sandbox.port) as unknown as typeof Connection,
      sandbox: {
        controlUrl: sandbox.controlUrl,
        host: sandbox.host,
        port: sandbox.port,
        publicKeyPem: sandbox.publicKeyPem,
      },
      close: () => sandbox.close(),
    };
  }
  if (telegram.dc) {
    if (telegram.dcPublicKeyFile) trustServerPublicKey(readFileSync(telegram.dcPublicKeyFile, 'utf8'));
    return {
      dcId: 2,
      host: telegram.dc.host,
      connection: createDcConnectionClass(telegram.dc.host, telegram.dc.port) as unknown as typeof Connection,
      close: async () => {},
    };
  }
  return { ...TELEGRAM_DEFAULT_DC, close: async () => {} };
}
