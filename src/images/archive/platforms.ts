/**
 * The platform matchers ctr's archive verbs use: `--platform` on import
 * and export matches that platform only (containerd's OnlyStrict/Ordered,
 * no arm/v7-runs-v6 fallbacks); the default is the host's.
 */
import { defaultPlatform, formatPlatform, normalizePlatform, parsePlatform, type Platform, type PlatformMatcher } from '../platform.js';

function same(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
}

/** Matches exactly the given platforms (after normalisation), preferring them in order. */
export function strictMatcher(platforms: Platform[]): PlatformMatcher {
  const list = platforms.map(normalizePlatform);
  const rank = (p: Platform): number => {
    if (!p || typeof p.os !== 'string' || typeof p.architecture !== 'string') return Infinity;
    const n = normalizePlatform(p);
    const i = list.findIndex((x) => same(x, n));
    return i < 0 ? Infinity : i;
  };
  return {
    platforms: list,
    rank,
    match: (p) => rank(p) !== Infinity,
    compare: (a, b) => {
      const ra = rank(a);
      const rb = rank(b);
      return ra === rb ? 0 : ra < rb ? -1 : 1;
    },
  };
}

/** `--platform` values parsed strictly, or the host's platform. */
export function strictFromFlags(specs: string[] | undefined): PlatformMatcher {
  return strictMatcher(specs?.length ? specs.map(parsePlatform) : [defaultPlatform()]);
}

export function platformText(p: Platform | undefined): string | undefined {
  return p ? formatPlatform(p) : undefined;
}
