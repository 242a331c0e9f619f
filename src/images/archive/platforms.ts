/**
 * The platform matchers ctr's archive verbs use: `--platform` on import
 * and export matches that platform only (containerd's OnlyStrict/Ordered,
 * no arm/v7-runs-v6 fallbacks); the default is the host's.
 */
import { defaultPlatform, formatPlatform, normalizePlatform, orderedMatcher, parsePlatform, type Platform, type PlatformMatcher } from '../platform.js';

/** Matches exactly the given platforms (after normalisation), preferring them in order. */
export function strictMatcher(platforms: Platform[]): PlatformMatcher {
  return orderedMatcher(platforms.map(normalizePlatform));
}

/** `--platform` values parsed strictly, or the host's platform. */
export function strictFromFlags(specs: string[] | undefined): PlatformMatcher {
  return strictMatcher(specs?.length ? specs.map(parsePlatform) : [defaultPlatform()]);
}

export function platformText(p: Platform | undefined): string | undefined {
  return p ? formatPlatform(p) : undefined;
}
