/**
 * Where sessions connect: Telegram's own DCs by default; any MTProto server with TELEGRAM_DC and
 * TELEGRAM_DC_PUBLIC_KEY_FILE; or the sandbox started in-process with TELEGRAM_SANDBOX=true.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Connection } from 'teleproto';
import type { Config } from '../config.js';
import { consecutiveDcs, createDcMapConnectionClass, trustServerPublicKey } from './dc.js';

export interface TelegramEndpoint {
  /** DC a brand-new session starts on, and its address as stored in the session (port 443). */
  dcId: number;
  host: string;
  /** Set for servers other than Telegram: a connection class that dials their real address. */
  connection?: typeof Connection;
  /** Present when the sandbox runs in this process. */
  sandbox?: EmbeddedSandbox;
  close(): Promise<void>;
}

export interface EmbeddedSandbox {
  /** Its five data centres; new sessions start on `dcId`. */
  dcs: { id: number; host: string; port: number }[];
  controlUrl: string;
  host: string;
  port: number;
  publicKeyPem: string;
  /** What `npm run sandbox` prints, for server.ts to show once TeleFlow listens. */
  banner: string;
}

/** Telegram's production DC 2, where new accounts are usually homed; the client migrates if needed. */
const TELEGRAM_DEFAULT_DC = { dcId: 2, host: '149.154.167.50' };

/**
 * The DC new sessions start on (when configured): DC 2, like Telegram's own apps. A sign-in
 * for an account homed elsewhere is answered PHONE_MIGRATE_X and the client moves there.
 */
const FIRST_DC = 2;

export async function resolveTelegramEndpoint(
  telegram: Config['telegram'],
  dataDir: string,
  log: Logger,
  options: { production?: boolean } = {},
): Promise<TelegramEndpoint> {
  if (telegram.sandbox) {
    if (options.production) {
      log.warn(
        'TELEGRAM_SANDBOX=true with NODE_ENV=production: sessions talk to the local sandbox, not ' +
          'Telegram, and its control API lets anyone on this machine act as any sandbox user',
      );
    }
    const { sandboxBanner, startSandbox } = await import('../sandbox/index.js');
    const sandboxDir = join(dataDir, 'sandbox');
    // Loopback only (startSandbox's default host), whatever HOST says.
    const sandbox = await startSandbox({
      dataDir: sandboxDir,
      port: telegram.sandboxPorts.mtproto ?? telegram.dc?.port ?? 0,
      controlPort: telegram.sandboxPorts.control ?? 0,
      logger: log.child({ component: 'sandbox' }),
    });
    trustServerPublicKey(sandbox.publicKeyPem);
    log.info(
      { host: sandbox.host, port: sandbox.port, controlUrl: sandbox.controlUrl },
      'sandbox started in-process',
    );
    return {
      dcId: FIRST_DC,
      host: sandbox.host,
      connection: createDcMapConnectionClass(sandbox.dcs) as unknown as typeof Connection,
      sandbox: {
        dcs: sandbox.dcs,
        controlUrl: sandbox.controlUrl,
        host: sandbox.host,
        port: sandbox.port,
        publicKeyPem: sandbox.publicKeyPem,
        banner: sandboxBanner(sandbox, { dataDir: sandboxDir, embedded: true }),
      },
      close: () => sandbox.close(),
    };
  }
  if (telegram.dc) {
    if (telegram.dcPublicKeyFile) trustServerPublicKey(readFileSync(telegram.dcPublicKeyFile, 'utf8'));
    const dcs = telegram.dcs ?? consecutiveDcs(telegram.dc.host, telegram.dc.port);
    const first = dcs.find((dc) => dc.id === FIRST_DC) ?? dcs[0];
    return {
      dcId: first.id,
      host: first.host,
      connection: createDcMapConnectionClass(dcs) as unknown as typeof Connection,
      close: async () => {},
    };
  }
  return { ...TELEGRAM_DEFAULT_DC, close: async () => {} };
}
