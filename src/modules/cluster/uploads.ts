/**
 * Uploads in a cluster: each instance keeps the files of its uploads on its own disk (no shared
 * storage), and an upload's row names the instance holding the file. The instance that sends
 * the file (the session's owner) fetches it from that instance over the internal channel, a
 * GET signed as forwarded requests are (signing.ts), and stages its own copy for the send.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../lib/errors.js';
import type { RemoteUploads, UploadStore } from '../media/upload-store.js';
import type { Cluster } from './cluster.js';
import { ForwardSigner } from './signing.js';

const ROUTE = '/internal/cluster/uploads';

/** Fetches the file of an upload another instance holds. */
export class ClusterUploads implements RemoteUploads {
  private readonly signer: ForwardSigner;

  constructor(
    private readonly cluster: Cluster,
    secret: string,
    private readonly timeoutMs: number,
  ) {
    this.signer = new ForwardSigner(secret, cluster.instanceId);
  }

  get instanceId(): string {
    return this.cluster.instanceId;
  }

  async open(holder: string, uploadId: string): Promise<Readable> {
    const instance = (await this.cluster.instances.live()).find((i) => i.id === holder);
    if (!instance)
      throw new AppError(
        'UPLOAD_NOT_FOUND',
        `Upload not found: its file is on instance ${holder}, which is not running`,
      );
    const url = `${ROUTE}/${encodeURIComponent(uploadId)}`;
    const headers = this.signer.sign(holder, { method: 'GET', url, body: undefined, principal: null });
    const res = await get(new URL(`${instance.url}${url}`), headers, this.timeoutMs);
    if (res.statusCode !== 200) {
      res.resume();
      throw new AppError(
        'UPLOAD_NOT_FOUND',
        `Upload not found (instance ${holder} answered ${res.statusCode})`,
      );
    }
    return res;
  }
}

function get(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).get(url, { headers }, (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    const timer = setTimeout(() => req.destroy(new Error('no answer in time')), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(
        new AppError('UPLOAD_NOT_FOUND', `Upload not found (its instance did not answer: ${err.message})`),
      );
    });
  });
}

/**
 * The holder's side: the file of one of its uploads, for another instance only (a request
 * signed on the internal channel; the forwarding plugin has checked the signature). Anyone else
 * gets 404.
 */
export const clusterUploadRoutes = fp<{ store: UploadStore }>(
  async (app: FastifyInstance, opts) => {
    app.get<{ Params: { id: string } }>(
      `${ROUTE}/:id`,
      { schema: { hide: true }, config: { rateLimit: false } },
      async (request, reply) => {
        if (!request.clusterForwarded)
          throw new AppError('ROUTE_NOT_FOUND', `Route GET ${request.url.split('?')[0]} not found`);
        const { upload, stream } = await opts.store.readLocal(request.params.id);
        return reply
          .header('content-type', 'application/octet-stream')
          .header('content-length', String(upload.size))
          .send(stream);
      },
    );
  },
  { name: 'cluster-uploads', dependencies: ['cluster-forwarding'] },
);
