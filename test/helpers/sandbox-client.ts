/**
 * A ready teleproto client for tests against the sandbox: trusts the sandbox's RSA key, dials
 * one address or the address of the DC it is asked for, retries little, and logs nothing.
 */
import { Logger, TelegramClient } from 'teleproto';
import { LogLevel } from 'teleproto/extensions/Logger.js';
import { StringSession } from 'teleproto/sessions/index.js';
import {
  createDcConnectionClass,
  createDcMapConnectionClass,
  trustServerPublicKey,
} from '../../src/telegram/dc.js';
import type { ConnectionClass, DcAddress } from '../../src/telegram/dc.js';

/** api_id/api_hash are required by the client; the sandbox accepts any. */
export const TEST_API_ID = 12345;
export const TEST_API_HASH = '0123456789abcdef0123456789abcdef';

export interface SandboxClientOptions {
  /** The address dialled for every DC, unless `dcs` names each (a sandbox's `dcs`). */
  host: string;
  port: number;
  dcs?: readonly DcAddress[];
  publicKeyPem: string;
  /** A saved StringSession; a new one (DC `dcId`, port 443) when omitted. */
  session?: string;
  /** Transport: ConnectionTCPFull (default), ConnectionTCPAbridged or ConnectionTCPObfuscated. */
  connection?: ConnectionClass;
  /** DC id recorded in a new session; 2 unless said otherwise. */
  dcId?: number;
  connectionRetries?: number;
  requestRetries?: number;
  /** Seconds the client waits to connect. */
  timeout?: number;
}

export function createSandboxClient(options: SandboxClientOptions): TelegramClient {
  trustServerPublicKey(options.publicKeyPem);
  const session = new StringSession(options.session ?? '');
  if (!options.session) {
    // Sessions keep port 443 (a port above 32767 cannot be saved); the connection class remaps it.
    session.setDC(options.dcId ?? 2, options.host, 443);
  }
  const client = new TelegramClient(session, TEST_API_ID, TEST_API_HASH, {
    connection: options.dcs
      ? createDcMapConnectionClass(options.dcs, options.connection)
      : createDcConnectionClass(options.host, options.port, options.connection),
    connectionRetries: options.connectionRetries ?? 2,
    requestRetries: options.requestRetries ?? 2,
    retryDelay: 100,
    timeout: options.timeout ?? 5,
    baseLogger: new Logger(LogLevel.NONE),
    deviceModel: 'TeleFlow tests',
    systemVersion: 'test',
    appVersion: '1.0',
  });
  return client;
}
