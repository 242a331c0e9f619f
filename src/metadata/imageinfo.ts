/**
 * What ctr images ls derives from the content store: the image size for the
 * default platform (images.Size: index → best manifest → config + layers)
 * and the platforms it has (images.Platforms). Blobs are read the way
 * containerd's metadata content store reads them: the namespace must have a
 * record for the digest, and the file must exist.
 */
import { readFileSync } from 'node:fs';
import { arch as osArch } from 'node:os';
import type { Tx } from '../bolt/types.js';
import { notFound } from '../errdefs.js';
import { blobPath, hasBlob } from './content.js';
import type { Descriptor } from './validate.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

interface Desc extends Descriptor {
  platform?: Platform;
}

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
} as const;

const isManifest = (m: string) => m === MEDIA.dockerManifest || m === MEDIA.ociManifest;
const isIndex = (m: string) => m === MEDIA.dockerList || m === MEDIA.ociIndex;
const isConfig = (m: string) => m === MEDIA.dockerConfig || m === MEDIA.ociConfig;

/** platforms.Normalize. */
export function normalizePlatform(p: Platform): Platform {
  const os = (p.os ?? '').toLowerCase() === 'macos' ? 'darwin' : (p.os ?? '').toLowerCase();
  let a = (p.architecture ?? '').toLowerCase();
  let v = (p.variant ?? '').toLowerCase();
  switch (a) {
    case 'i386':
      a = '386';
      v = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      a = 'amd64';
      if (v === 'v1') v = '';
      break;
    case 'aarch64':
    case 'arm64':
      a = 'arm64';
      if (v === '8' || v === 'v8') v = '';
      break;
    case 'armhf':
      a = 'arm';
      v = 'v7';
      break;
    case 'armel':
      a = 'arm';
      v = 'v6';
      break;
    case 'arm':
      if (v === '' || v === '7') v = 'v7';
      else if (v === '5' || v === '6' || v === '8') v = 'v' + v;
      break;
  }
  return { os, architecture: a, ...(v ? { variant: v } : {}) };
}

/** platforms.Format: os/arch[/variant], "unknown" without an OS. */
export function formatPlatform(p: Platform): string {
  if (!p.os) return 'unknown';
  return [p.os, p.architecture, p.variant].filter((x) => x).join('/');
}

export function hostPlatform(): Platform {
  const a = osArch();
  const m: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return normalizePlatform({ os: 'linux', architecture: m[a] ?? a });
}

/** platforms.Only's ordered vector for the host. */
function platformVector(p: Platform): Platform[] {
  const out: Platform[] = [p];
  if (p.architecture === 'amd64') {
    const n = Number((p.variant ?? '').replace(/^v/, ''));
    if (Number.isInteger(n) && n > 1) for (let i = n - 1; i >= 1; i--) out.push({ ...p, variant: `v${i}` });
    out.push({ os: p.os, architecture: '386' });
  } else if (p.architecture === 'arm') {
    const n = Number((p.variant ?? '').replace(/^v/, ''));
    if (Number.isInteger(n) && n > 5) for (let i = n - 1; i >= 5; i--) out.push({ ...p, variant: `v${i}` });
  } else if (p.architecture === 'arm64') {
    out.push(...platformVector({ os: p.os, architecture: 'arm', variant: p.variant || 'v8' }));
  }
  return out;
}

function rank(p: Platform, vector: Platform[]): number {
  const n = normalizePlatform(p);
  const i = vector.findIndex((v) => {
    const w = normalizePlatform(v);
    return w.os === n.os && w.architecture === n.architecture && (w.variant ?? '') === (n.variant ?? '');
  });
  return i < 0 ? vector.length : i;
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
export function imageSize(tx: Tx | null, root: string, ns: string, target: Descriptor, platform: Platform = hostPlatform()): { size: number; error?: Error } {
  const vector = platformVector(platform);
  let size = 0;
  const walk = (d: Desc): void => {
    size += d.size;
    let cs = children(tx, root, ns, d);
    if (isIndex(d.mediaType)) {
      cs = cs.filter((c) => !c.platform || rank(c.platform, vector) < vector.length);
      const ranked = cs.map((c, i) => ({ c, i, r: c.platform ? rank(c.platform, vector) : vector.length }));
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
  return { platforms: [...new Set(found.map(formatPlatform))].sort() };
}
