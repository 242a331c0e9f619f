/**
 * Platforms as containerd's `platforms` package treats them: parsing of
 * `os[/arch[/variant]]` (or a bare architecture), normalisation of aliases
 * (x86_64 → amd64, aarch64 → arm64, armhf → arm/v7, arm64/v8 → arm64),
 * and ordered matching: a matcher for linux/arm/v7 also accepts v6 and v5
 * (preferring v7), linux/arm64 accepts arm/v8…v5 after arm64 itself, and
 * amd64/v3 accepts v2 and v1, as containerd's `platforms.Only`.
 */
import { invalidArgument } from '../errdefs.js';
import { hostPlatform } from '../platform/index.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

const COMPONENT = /^[A-Za-z0-9_-]+$/;
const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows', 'zos']);

function normalizeOS(os: string): string {
  const l = os.toLowerCase();
  return l === 'macos' ? 'darwin' : l;
}

/** containerd's normalizeArch: canonical architecture and variant. */
function normalizeArch(arch: string, variant: string): { architecture: string; variant: string } {
  const a = arch.toLowerCase();
  const v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: v === 'v1' ? '' : v };
    case 'aarch64':
    case 'arm64':
      return { architecture: 'arm64', variant: v === '8' || v === 'v8' || v === 'v8.0' ? '' : v };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (v === '' || v === '7') return { architecture: 'arm', variant: 'v7' };
      if (v === '5' || v === '6' || v === '8') return { architecture: 'arm', variant: `v${v}` };
      return { architecture: 'arm', variant: v };
    default:
      return { architecture: a, variant: v };
  }
}

export function normalizePlatform(p: Platform): Platform {
  const { architecture, variant } = normalizeArch(p.architecture ?? '', p.variant ?? '');
  const out: Platform = { os: normalizeOS(p.os ?? ''), architecture };
  if (variant) out.variant = variant;
  if (p['os.version']) out['os.version'] = p['os.version'];
  if (p['os.features']) out['os.features'] = [...p['os.features']];
  return out;
}

/** The host's platform, normalised (linux/amd64, linux/arm64, linux/arm/v7). */
export function defaultPlatform(): Platform {
  return normalizePlatform(hostPlatform());
}

/**
 * Parses `linux`, `linux/amd64`, `linux/arm/v7`, `amd64` (OS defaults to the
 * host's), `x86_64`, `arm64/v8`. Throws invalid-argument on anything else.
 */
export function parsePlatform(spec: string): Platform {
  const subject = `platform ${JSON.stringify(spec.length > 60 ? spec.slice(0, 60) + '…' : spec)}`;
  if (spec.length === 0) throw invalidArgument('empty platform specifier', { subject });
  const parts = spec.split('/');
  if (parts.length > 3) throw invalidArgument('a platform is os[/arch[/variant]]', { subject });
  for (const p of parts) {
    if (!COMPONENT.test(p)) throw invalidArgument(`invalid platform component ${JSON.stringify(p)}`, { subject });
  }
  const host = defaultPlatform();
  let os: string;
  let arch: string;
  let variant = '';
  if (parts.length === 1) {
    const only = parts[0]!.toLowerCase();
    if (KNOWN_OS.has(normalizeOS(only))) {
      os = only;
      arch = host.architecture;
      variant = host.variant ?? '';
    } else {
      os = host.os;
      arch = only;
    }
  } else {
    os = parts[0]!;
    arch = parts[1]!;
    variant = parts[2] ?? '';
    if (!KNOWN_OS.has(normalizeOS(os))) throw invalidArgument(`unknown operating system ${JSON.stringify(os)}`, { subject });
  }
  return normalizePlatform({ os, architecture: arch, variant });
}

/** `linux/arm64`, `linux/arm/v7` */
export function formatPlatform(p: Platform): string {
  const n = normalizePlatform(p);
  return [n.os, n.architecture, n.variant].filter((x) => x).join('/');
}

/** The platforms a host of this kind can run, best first (containerd's platformVector). */
export function platformVector(p: Platform): Platform[] {
  const n = normalizePlatform(p);
  const out: Platform[] = [n];
  const base = { os: n.os, ...(n['os.version'] ? { 'os.version': n['os.version'] } : {}) };
  const version = (v: string | undefined, prefix: string): number => {
    const m = new RegExp(`^${prefix}(\\d+)$`).exec(v ?? '');
    return m ? Number(m[1]) : NaN;
  };
  if (n.architecture === 'amd64') {
    const v = version(n.variant, 'v');
    for (let i = v - 1; i >= 1; i--) out.push({ ...base, architecture: 'amd64', ...(i > 1 ? { variant: `v${i}` } : {}) });
  } else if (n.architecture === 'arm') {
    const v = version(n.variant, 'v');
    for (let i = v - 1; i >= 5; i--) out.push({ ...base, architecture: 'arm', variant: `v${i}` });
  } else if (n.architecture === 'arm64') {
    const variant = n.variant ?? 'v8';
    out.push(...platformVector({ ...base, architecture: 'arm', variant }));
  }
  return out;
}

function same(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
}

export interface PlatformMatcher {
  /** Whether a descriptor's platform can run here. */
  match(p: Platform): boolean;
  /** Preference rank (0 = best); Infinity when it does not match. */
  rank(p: Platform): number;
  /** Sort comparator: best platform first. */
  compare(a: Platform, b: Platform): number;
  readonly platforms: Platform[];
}

/** containerd's platforms.Only: the platform and the ones it can also run, in order. */
export function onlyPlatform(p: Platform): PlatformMatcher {
  return orderedMatcher(platformVector(p));
}

/** Matches any of several platforms (repeated --platform), in the given order of preference. */
export function anyPlatform(ps: Platform[]): PlatformMatcher {
  return orderedMatcher(ps.flatMap((p) => platformVector(p)));
}

export function defaultMatcher(): PlatformMatcher {
  return onlyPlatform(defaultPlatform());
}

/** Matches exactly these platforms (already normalised), preferring them in order. */
export function orderedMatcher(platforms: Platform[]): PlatformMatcher {
  const rank = (p: Platform): number => {
    if (!p || typeof p.os !== 'string' || typeof p.architecture !== 'string') return Infinity;
    const n = normalizePlatform(p);
    const i = platforms.findIndex((x) => same(x, n));
    return i < 0 ? Infinity : i;
  };
  return {
    platforms,
    rank,
    match: (p) => rank(p) !== Infinity,
    compare: (a, b) => {
      const ra = rank(a);
      const rb = rank(b);
      return ra === rb ? 0 : ra < rb ? -1 : 1;
    },
  };
}
