/**
 * What ctr images ls derives from the content store: the image size for the
 * default platform (images.Size: index → best manifest → config + layers)
 * and the platforms it has (images.Platforms). Blobs are read the way
 * containerd's metadata content store reads them: the namespace must have a
 * record for the digest, and the file must exist.
 */
import { readFileSync } from 'node:fs';
import type { Tx } from '../bolt/types.js';
import { notFound } from '../errdefs.js';
import { blobPath, hasBlob } from './content.js';
import type { Descriptor } from './validate.js';
import { defaultMatcher, normalizePlatform, type Platform, type PlatformMatcher } from '../images/platform.js';
import { isConfigType, isIndexType, isManifestType } from '../images/media-types.js';

interface Desc extends Descriptor {
  platform?: Platform;
}

const isManifest = (m: string) => isManifestType(m);
const isIndex = (m: string) => isIndexType(m);
const isConfig = (m: string) => isConfigType(m);

/** platforms.Format as ctr prints it: os/arch[/variant] as written (not normalised), "unknown" without an OS. */
function formatForListing(p: Platform): string {
  if (!p.os) return 'unknown';
  return [p.os, p.architecture, p.variant].filter((x) => x).join('/');
}

function readBlob(tx: Tx | null, root: string, ns: string, d: Descriptor): Buffer {
  if (!tx || !hasBlob(tx, ns, d.digest)) throw notFound('not found', { subject: `content digest ${d.digest}` });
  return readFileSync(blobPath(root, d.digest));
}

function children(tx: Tx | null, root: string, ns: string, d: Desc): Desc[] {
  if (isManifest(d.mediaType)) {
    const m = JSON.parse(readBlob(tx, root, ns, d).toString('utf8'));
    return [m.config, ...(m.layers ?? [])].filter(Boolean);
  }
  if (isIndex(d.mediaType)) {
    const ix = JSON.parse(readBlob(tx, root, ns, d).toString('utf8'));
    return ix.manifests ?? [];
  }
  return [];
}

/** images.Size for the host platform; on a missing blob the partial sum and the error. */
export function imageSize(tx: Tx | null, root: string, ns: string, target: Descriptor, matcher: PlatformMatcher = defaultMatcher()): { size: number; error?: Error } {
  // A descriptor without a platform is kept but ranks after every match (containerd's sort).
  const unranked = Number.MAX_SAFE_INTEGER;
  let size = 0;
  const walk = (d: Desc): void => {
    size += d.size;
    let cs = children(tx, root, ns, d);
    if (isIndex(d.mediaType)) {
      cs = cs.filter((c) => !c.platform || matcher.match(c.platform));
      const ranked = cs.map((c, i) => ({ c, i, r: c.platform ? matcher.rank(c.platform) : unranked }));
      ranked.sort((a, b) => a.r - b.r || a.i - b.i);
      if (ranked.length === 0) throw notFound('no match for platform in manifest');
      cs = ranked.slice(0, 1).map((x) => x.c);
    }
    for (const c of cs) walk(c);
  };
  try {
    walk(target);
    return { size };
  } catch (e) {
    return { size, error: e as Error };
  }
}

/** images.Platforms: formatted, deduplicated, sorted. */
export function imagePlatforms(tx: Tx | null, root: string, ns: string, target: Descriptor): { platforms: string[]; error?: Error } {
  const found: Platform[] = [];
  const walk = (d: Desc): void => {
    if (d.platform) {
      found.push(d.platform);
      return;
    }
    if (isConfig(d.mediaType)) {
      const c = JSON.parse(readBlob(tx, root, ns, d).toString('utf8'));
      found.push(normalizePlatform({ os: c.os ?? '', architecture: c.architecture ?? '' }));
      return;
    }
    for (const c of children(tx, root, ns, d)) walk(c);
  };
  try {
    walk(target);
  } catch (e) {
    return { platforms: [], error: e as Error };
  }
  return { platforms: [...new Set(found.map(formatForListing))].sort() };
}
