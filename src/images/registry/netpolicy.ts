/**
 * Where a registry may send us. A redirect target or a bearer token realm is
 * chosen by the server, so it must not point the client (and the
 * credentials it carries to a realm) at addresses the user never named:
 *
 * - only http: and https:, no user info in the URL;
 * - never link-local (169.254/16, fe80::/10, which holds cloud metadata
 *   services), unspecified, multicast or reserved addresses, nor well-known
 *   metadata host names;
 * - loopback or private addresses only when the registry endpoint itself is
 *   in the same class (a registry on 127.0.0.1 may redirect to 127.0.0.2; a
 *   public one may not send us to 10.0.0.1 or localhost);
 * - no downgrade from https to http except to loopback.
 *
 * Literal IPs are checked up front; host names are checked on the addresses
 * they resolve to, at connection time (http.ts passes `lookupGuard`).
 */
import { isIP } from 'node:net';

export type AddressClass = 'loopback' | 'private' | 'link-local' | 'unspecified' | 'multicast' | 'reserved' | 'public';

const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal', 'metadata.azure.com']);
const METADATA_IPS = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', 'fd00:ec2::254']);

function v4(ip: string): number[] {
  return ip.split('.').map(Number);
}

function classifyV4(ip: string): AddressClass {
  const [a, b] = v4(ip) as [number, number];
  if (a === 127) return 'loopback';
  if (a === 0) return 'unspecified';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)) return 'private';
  if (a === 169 && b === 254) return 'link-local';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a >= 240) return 'reserved';
  return 'public';
}

/** Expands an IPv6 address into 8 16-bit groups (handles '::' and a trailing IPv4). */
function v6Groups(ip: string): number[] | undefined {
  let s = ip.toLowerCase().split('%')[0]!;
  let tail: number[] = [];
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    const q = v4(m[2]!);
    tail = [(q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!];
    s = m[1]!.endsWith('::') ? m[1]! : m[1]!.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string): number[] => (h === '' ? [] : h.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - tail.length - head.length - rest.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  return [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...rest, ...tail];
}

function classifyV6(ip: string): AddressClass {
  const g = v6Groups(ip);
  if (!g || g.length !== 8 || g.some((x) => Number.isNaN(x))) return 'reserved';
  if (g.every((x) => x === 0)) return 'unspecified';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback';
  // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) {
    return classifyV4(`${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`);
  }
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0]! & 0xfe00) === 0xfc00) return 'private';
  if ((g[0]! & 0xff00) === 0xff00) return 'multicast';
  return 'public';
}

/** The class of an IP literal, or undefined when the string is not an IP. */
export function classifyIp(ip: string): AddressClass | undefined {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const kind = isIP(bare.split('%')[0]!);
  if (kind === 4) return classifyV4(bare);
  if (kind === 6) return classifyV6(bare);
  return undefined;
}

/** `host` of a URL without IPv6 brackets. */
export function hostnameOf(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** localhost, *.localhost, 127.0.0.0/8, ::1 (with or without a port). */
export function isLoopbackHost(hostPort: string): boolean {
  let h = hostPort;
  if (h.startsWith('[')) h = h.slice(1, h.indexOf(']'));
  else if (h.split(':').length === 2) h = h.split(':')[0]!;
  h = h.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  return classifyIp(h) === 'loopback';
}

function isMetadataIp(ip: string): boolean {
  const g = classifyIp(ip);
  if (g === undefined) return false;
  const bare = ip.replace(/^\[|\]$/g, '').toLowerCase();
  if (METADATA_IPS.has(bare)) return true;
  const groups = isIP(bare) === 6 ? v6Groups(bare) : undefined;
  if (groups && groups.slice(0, 5).every((x) => x === 0) && groups[5] === 0xffff) {
    return METADATA_IPS.has(`${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`);
  }
  return false;
}

/** Why an address the server chose may not be contacted from an endpoint of class `origin`; undefined when it may. */
export function addressRefusal(ip: string, origin: AddressClass): string | undefined {
  if (isMetadataIp(ip)) return `${ip} is a cloud metadata address`;
  const c = classifyIp(ip);
  if (c === undefined) return undefined;
  if (c === 'link-local' || c === 'unspecified' || c === 'multicast' || c === 'reserved') return `${ip} is a ${c} address`;
  if ((c === 'loopback' || c === 'private') && c !== origin) return `${ip} is a ${c} address and the registry is not`;
  return undefined;
}

/** The class of the endpoint a request started from (host names count as public unless localhost). */
export function originClass(url: URL): AddressClass {
  const h = hostnameOf(url);
  if (isLoopbackHost(h)) return 'loopback';
  return classifyIp(h) ?? 'public';
}

/**
 * Why the server-chosen `target` may not be followed from `origin` (whose
 * address class is `oc`), or undefined.
 */
export function targetRefusal(target: URL, origin: URL, oc: AddressClass = originClass(origin)): string | undefined {
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return `scheme ${JSON.stringify(target.protocol.replace(/:$/, ''))} is not allowed (only http and https)`;
  if (target.username || target.password) return 'a URL with user info is not allowed';
  const host = hostnameOf(target).toLowerCase();
  if (METADATA_NAMES.has(host.replace(/\.$/, ''))) return `${host} is a cloud metadata host`;
  const literal = classifyIp(host);
  if (literal !== undefined) {
    const r = addressRefusal(host, oc);
    if (r) return r;
  } else if (host === 'localhost' || host.endsWith('.localhost')) {
    if (oc !== 'loopback') return `${host} is a loopback address and the registry is not`;
  }
  if (origin.protocol === 'https:' && target.protocol === 'http:' && !isLoopbackHost(host)) return 'a downgrade from https to http is not allowed';
  return undefined;
}
