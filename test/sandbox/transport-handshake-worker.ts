/**
 * Worker for the many-handshakes test: creates auth keys one after another with teleproto's
 * Authenticator and proves each key works by one encrypted round trip, decrypted by teleproto.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Api, helpers } from 'teleproto';
import { trustServerPublicKey } from '../../src/telegram/dc.js';
import { RawMtprotoClient } from './transport-fixtures.js';

interface Job {
  host: string;
  port: number;
  publicKeyPem: string;
  count: number;
}

export interface HandshakeReport {
  done: number;
  shortKeys: number;
  highKeyIds: number;
  failures: string[];
}

const job = workerData as Job;
trustServerPublicKey(job.publicKeyPem);
const report: HandshakeReport = { done: 0, shortKeys: 0, highKeyIds: 0, failures: [] };
for (let i = 0; i < job.count; i++) {
  const client = await RawMtprotoClient.open(job.host, job.port);
  try {
    const keyId = await client.handshake();
    if (client.authKey!.getKey()!.length < 256) report.shortKeys++;
    if (keyId >= 2n ** 63n) report.highKeyIds++;
    // Salt 0 is wrong: the answer (bad_server_salt) shows the server found and used the key.
    const msgId = await client.send(new Api.Ping({ pingId: helpers.returnBigInt(i) }));
    const packet = await client.nextPacket();
    if (packet.length === 4) throw new Error(`transport error ${packet.readInt32LE(0)}`);
    const message = await client.state!.decryptMessageData(packet);
    const obj = (await message.obj) as Api.BadServerSalt;
    if (!(obj instanceof Api.BadServerSalt) || BigInt(obj.badMsgId.toString()) !== msgId) {
      throw new Error(`unexpected answer ${(obj as { className?: string }).className}`);
    }
    report.done++;
  } catch (error) {
    report.failures.push(`handshake ${i}: ${(error as Error).message}`);
  } finally {
    client.close();
  }
}
parentPort!.postMessage(report);
