/**
 * Pointing the teleproto client at a data center of our choosing: trusting an extra server
 * RSA key (the sandbox's) and a connection class that dials a fixed host and port. The client
 * ignores the port stored in a session and always dials 443/80 on the session's address, so
 * the connection class is the one place where the sandbox's address can be put.
 */
import { helpers } from 'teleproto';
import { ConnectionTCPFull } from 'teleproto/network/connection/index.js';
import type { Connection } from 'teleproto/network/connection/index.js';
import { _serverKeys } from 'teleproto/crypto/RSA.js';
import { publicKeyComponents, rsaFingerprint } from '../sandbox/mtproto/rsa.js';

type ConnectionParams = ConstructorParameters<typeof Connection>[0];
export type ConnectionClass = new (params: ConnectionParams) => Connection;

/**
 * Adds an RSA public key (PEM, PKCS#1 or SPKI) to the keys the client accepts in resPQ.
 * Returns its fingerprint as the decimal signed 64-bit string the client's map is keyed by.
 */
export function trustServerPublicKey(pem: string): string {
  const { n, e } = publicKeyComponents(pem);
  const fingerprint = rsaFingerprint(pem).toString();
  _serverKeys.set(fingerprint, {
    n: helpers.returnBigInt(BigInt('0x' + n.toString('hex'))),
    e: Number(BigInt('0x' + e.toString('hex'))),
  });
  return fingerprint;
}

/**
 * A subclass of `base` (ConnectionTCPFull, ConnectionTCPAbridged, ConnectionTCPObfuscated)
 * that connects to `host:port` whatever address the client asks for. Reconnects and senders
 * for other DCs construct the same class, so they land there too.
 */
export function createDcConnectionClass<T extends ConnectionClass>(
  host: string,
  port: number,
  base: T = ConnectionTCPFull as unknown as T,
): T {
  const Base = base as ConnectionClass;
  class FixedAddressConnection extends Base {
    constructor(params: ConnectionParams) {
      super({ ...params, ip: host, port });
    }
  }
  Object.defineProperty(FixedAddressConnection, 'name', { value: `${Base.name}To${host}:${port}` });
  return FixedAddressConnection as unknown as T;
}

/** One data centre's real address. */
export interface DcAddress {
  id: number;
  host: string;
  port: number;
}

/** TELEGRAM_DC=host:port's layout (the sandbox's): DC 1 there, DCs 2-5 on the next four ports. */
export function consecutiveDcs(host: string, port: number): DcAddress[] {
  return [1, 2, 3, 4, 5].map((id) => ({ id, host, port: port + id - 1 }));
}

/**
 * A subclass of `base` that dials the address of the DC it is constructed for: the client
 * passes the DC id among the connection's parameters (first connect, reconnects, `_switchDC`
 * after PHONE_MIGRATE/USER_MIGRATE, senders for other DCs). A DC not in the list is refused.
 */
export function createDcMapConnectionClass<T extends ConnectionClass>(
  dcs: readonly DcAddress[],
  base: T = ConnectionTCPFull as unknown as T,
): T {
  const Base = base as ConnectionClass;
  const byId = new Map(dcs.map((dc) => [dc.id, dc]));
  class DataCentreConnection extends Base {
    constructor(params: ConnectionParams) {
      const dc = byId.get(params.dcId);
      if (!dc) throw new Error(`No address is configured for DC ${params.dcId}`);
      super({ ...params, ip: dc.host, port: dc.port });
    }
  }
  Object.defineProperty(DataCentreConnection, 'name', {
    value: `${Base.name}To${dcs.map((dc) => `${dc.id}=${dc.host}:${dc.port}`).join(',')}`,
  });
  return DataCentreConnection as unknown as T;
}
