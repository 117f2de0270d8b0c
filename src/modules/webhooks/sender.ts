import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { hmacSha256 } from '../../lib/crypto.js';
import { guardedLookup, isForbiddenAddress, parseWebhookUrl } from '../../lib/ssrf.js';

export interface AttemptResult {
  ok: boolean;
  statusCode: number | null;
  /** At most 1 kB of the answer body. */
  excerpt: string | null;
  error: string | null;
  durationMs: number;
}

export interface SignedDelivery {
  /** The event id (stable across retries: receivers dedupe on it). */
  messageId: string;
  deliveryId: string;
  eventType: string;
  body: string;
  secret: string;
}

const EXCERPT_BYTES = 1024;
/** Answer bytes read before the connection is dropped; keeps a chatty receiver from costing memory. */
const MAX_READ_BYTES = 64 * 1024;

/**
 * Both signatures of a body. X-TeleFlow-Signature: hex HMAC-SHA256 of the raw body keyed with the
 * whole secret string (the seed's snippet). webhook-signature: Standard Webhooks, base64
 * HMAC-SHA256 of `${id}.${timestamp}.${body}` keyed with the base64-decoded part after `whsec_`.
 */
export function signDelivery(secret: string, messageId: string, timestamp: number, body: string) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return {
    teleflow: hmacSha256(secret, body).toString('hex'),
    standard: `v1,${hmacSha256(key, `${messageId}.${timestamp}.${body}`).toString('base64')}`,
  };
}

/** Sends one attempt: POST of the envelope with both signatures, a timeout, and no redirects followed. */
export class WebhookSender {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly lookup;

  constructor(
    private readonly opts: {
      timeoutMs: number;
      allowPrivate: boolean;
      userAgent: string;
      now?: () => number;
    },
  ) {
    this.lookup = guardedLookup(opts.allowPrivate);
  }

  async send(rawUrl: string, d: SignedDelivery): Promise<AttemptResult> {
    const started = performance.now();
    const took = () => Math.round(performance.now() - started);
    let target: ReturnType<typeof parseWebhookUrl>;
    try {
      target = parseWebhookUrl(rawUrl);
    } catch (err) {
      return {
        ok: false,
        statusCode: null,
        excerpt: null,
        error: (err as Error).message,
        durationMs: took(),
      };
    }
    // An IP literal never goes through `lookup`, so it is checked here.
    if (!this.opts.allowPrivate && isIP(target.host) && isForbiddenAddress(target.host)) {
      return {
        ok: false,
        statusCode: null,
        excerpt: null,
        error: `${target.host} is a forbidden address`,
        durationMs: took(),
      };
    }
    const timestamp = Math.floor((this.opts.now?.() ?? Date.now()) / 1000);
    const sig = signDelivery(d.secret, d.messageId, timestamp, d.body);
    const body = Buffer.from(d.body, 'utf8');
    const isHttps = target.url.protocol === 'https:';
    const request = isHttps ? https.request : http.request;

    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      const finish = (r: Omit<AttemptResult, 'durationMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...r, durationMs: took() });
      };
      const req = request(
        target.url,
        {
          method: 'POST',
          agent: isHttps ? this.httpsAgent : this.httpAgent,
          lookup: this.lookup,
          headers: {
            'content-type': 'application/json',
            'content-length': String(body.length),
            'user-agent': this.opts.userAgent,
            'x-teleflow-event': d.eventType,
            'x-teleflow-delivery-id': d.deliveryId,
            'x-teleflow-signature': sig.teleflow,
            'webhook-id': d.messageId,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': sig.standard,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let read = 0;
          res.on('data', (chunk: Buffer) => {
            if (read < EXCERPT_BYTES) chunks.push(chunk);
            read += chunk.length;
            if (read > MAX_READ_BYTES) res.destroy();
          });
          const done = () => {
            const status = res.statusCode ?? 0;
            const excerpt = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8');
            const ok = status >= 200 && status < 300;
            finish({
              ok,
              statusCode: status,
              excerpt: excerpt || null,
              error: ok
                ? null
                : status >= 300 && status < 400
                  ? `redirect (${status}) not followed`
                  : `HTTP ${status}`,
            });
          };
          res.on('end', done);
          res.on('close', done);
          res.on('error', done);
        },
      );
      const timer = setTimeout(() => {
        req.destroy(new Error(`timed out after ${this.opts.timeoutMs} ms`));
      }, this.opts.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        finish({
          ok: false,
          statusCode: null,
          excerpt: null,
          error: err.code ? `${err.code}: ${err.message}` : err.message,
        });
      });
      req.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
