import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Addresses a webhook (or a media `url` TeleFlow fetches) may not reach unless WEBHOOK_ALLOW_PRIVATE=true: loopback, private,
 * link-local, unique-local, CGNAT, "this network", multicast, reserved and documentation ranges,
 * and cloud metadata endpoints (169.254.169.254 is link-local; fd00:ec2::254 is unique-local).
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** The 8 hextets of an IPv6 address (with an embedded dotted quad allowed at the end). */
function hextets(address: string): number[] | null {
  let a = address.toLowerCase().split('%')[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (dotted) {
    const parts = dotted[1]!.split('.').map(Number);
    a =
      a.slice(0, -dotted[1]!.length) +
      `${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const all = [...h, ...Array<string>(fill).fill('0'), ...t].map((x) => Number.parseInt(x || '0', 16));
  return all.length === 8 && all.every((n) => n >= 0 && n <= 0xffff) ? all : null;
}

function v4FromBits(hi: number, lo: number): string {
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** IPv4 carried inside an IPv6 address (mapped, compatible, NAT64, 6to4), if any. */
function embeddedV4(h: number[]): string | null {
  const zero = (from: number, to: number) => h.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && h[5] === 0xffff) return v4FromBits(h[6]!, h[7]!); // ::ffff:a.b.c.d
  if (zero(0, 6) && (h[6] !== 0 || h[7]! > 1)) return v4FromBits(h[6]!, h[7]!); // ::a.b.c.d
  if (h[0] === 0x64 && h[1] === 0xff9b && zero(2, 6)) return v4FromBits(h[6]!, h[7]!); // 64:ff9b::/96
  if (h[0] === 0x2002) return v4FromBits(h[1]!, h[2]!); // 6to4
  return null;
}

/** True when the address is one a webhook may not reach without WEBHOOK_ALLOW_PRIVATE. */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true;
  const h = hextets(address);
  if (!h) return true;
  const v4 = embeddedV4(h);
  if (v4 !== null && blocked.check(v4, 'ipv4')) return true;
  return blocked.check(address.split('%')[0]!, 'ipv6');
}

export class UnsafeUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeUrlError';
  }
}

/** Resolves a host name to every address it has (DNS by default; tests inject their own). */
export type HostResolver = (hostname: string, family?: number) => Promise<LookupAddress[]>;

const dnsResolver: HostResolver = (hostname, family) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, family: family ?? 0 }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    );
  });

/** Parses a webhook URL: http(s) only, no credentials in it. Returns the URL and its bare host. */
export function parseWebhookUrl(raw: string): { url: URL; host: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeUrlError('not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UnsafeUrlError('only http and https URLs are allowed');
  if (url.username || url.password) throw new UnsafeUrlError('credentials in the URL are not allowed');
  if (!url.hostname) throw new UnsafeUrlError('the URL has no host');
  return { url, host: url.hostname.replace(/^\[|\]$/g, '') };
}

/**
 * Checked when a webhook is created or changed: every address the host resolves to must be
 * allowed (unless private targets are allowed).
 */
export async function assertSafeWebhookUrl(raw: string, allowPrivate: boolean): Promise<URL> {
  const { url, host } = parseWebhookUrl(raw);
  if (allowPrivate) return url;
  if (isIP(host)) {
    if (isForbiddenAddress(host))
      throw new UnsafeUrlError(`${host} is a private, loopback, link-local or reserved address`);
    return url;
  }
  let addresses: LookupAddress[];
  try {
    addresses = await dnsResolver(host);
  } catch {
    throw new UnsafeUrlError(`${host} does not resolve`);
  }
  const bad = addresses.find((a) => isForbiddenAddress(a.address));
  if (bad)
    throw new UnsafeUrlError(
      `${host} resolves to ${bad.address}, a private, loopback, link-local or reserved address`,
    );
  return url;
}

/**
 * A `lookup` for http.request that resolves, drops forbidden addresses and hands the socket only a
 * checked one, so a DNS answer that changed since creation (rebinding) cannot reach inside.
 */
export function guardedLookup(allowPrivate: boolean, resolver: HostResolver = dnsResolver): LookupFunction {
  return (hostname, options, callback) => {
    resolver(hostname, (options as { family?: number }).family).then(
      (addresses) => {
        const list = addresses.filter((a) => allowPrivate || !isForbiddenAddress(a.address));
        if (list.length === 0) {
          const e = Object.assign(new UnsafeUrlError(`${hostname} resolves only to forbidden addresses`), {
            code: 'EFORBIDDENADDRESS',
          });
          return callback(e as NodeJS.ErrnoException, '', 0);
        }
        if ((options as { all?: boolean }).all) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
        } else callback(null, list[0]!.address, list[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}
