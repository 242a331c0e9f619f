/**
 * What `ctr images check` and `ctr images usage` compute, from the store as
 * containerd's client sees it through the metadata content store: a blob is
 * there for a namespace when the namespace has a record for it and the file
 * exists. The manifest for the platform is picked the way images.Manifest
 * does (best match of each index only, no fallback to the next one), so an
 * image whose best manifest is missing is "unavailable", as ctr reports it.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Tx } from '../bolt/types.js';
import type { OpContext } from '../context.js';
import { CtrxError, failedPrecondition, internal, invalidArgument, notFound } from '../errdefs.js';
import { viewMeta, viewSnapshotter } from '../metadata/db.js';
import { blobPath, hasBlob } from '../metadata/content.js';
import { getSnapshotRecord } from '../metadata/snapshots.js';
import { listImages, type ImageRecord } from '../metadata/images.js';
import { getBackend } from '../snapshots/storage.js';
import { snapshotStat, snapshotUsage, type Usage } from '../metadata/api.js';
import type { Descriptor } from './registry/types.js';
import { isIndexType, isManifestType } from './media-types.js';
import { defaultMatcher, normalizePlatform, type PlatformMatcher } from './platform.js';
import { chainIds, findImage, MAX_DOCUMENT_SIZE, type ImageConfig, type Manifest } from './image.js';
import { digestOf } from '../digest.js';
import { imageAdaptor, parseFilters } from './filters.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts'>;

/** Whether the namespace can read the blob (record and file), as the metadata content store decides. */
export function blobPresent(ctx: Ctx, tx: Tx | null, digest: string): boolean {
  if (!tx || !hasBlob(tx, ctx.namespace, digest)) return false;
  try {
    const fd = openSync(blobPath(ctx.root, digest), 'r');
    closeSync(fd);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** A small document the namespace can read, verified against its digest. */
export function readNsBlob(ctx: Ctx, tx: Tx | null, d: Descriptor, maxSize = MAX_DOCUMENT_SIZE): Buffer {
  const subject = `content digest ${d.digest}`;
  if (!tx || !hasBlob(tx, ctx.namespace, d.digest)) throw notFound('not found', { subject });
  let fd: number;
  try {
    fd = openSync(blobPath(ctx.root, d.digest), 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('not found', { subject });
    throw e;
  }
  try {
    const size = fstatSync(fd).size;
    if (size > maxSize) throw invalidArgument(`blob is ${size} bytes, more than ${maxSize} for a document`, { subject });
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    if (digestOf(buf.subarray(0, off)) !== d.digest) throw invalidArgument('blob does not hash to its name', { subject });
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

function parseJSON<T>(b: Buffer, d: Descriptor): T {
  try {
    return JSON.parse(b.toString('utf8')) as T;
  } catch (e) {
    throw invalidArgument(`invalid JSON: ${(e as Error).message}`, { subject: `content digest ${d.digest}` });
  }
}

/** images.validateMediaType: the document's shape must agree with the descriptor's media type. */
function validateMediaType(doc: Record<string, unknown>, mt: string, d: Descriptor): void {
  const subject = `content digest ${d.digest}`;
  // Go decodes these into json.RawMessage: any value, even [] or null, counts as present
  const has = (k: string) => Object.hasOwn(doc, k);
  if (has('fsLayers')) throw invalidArgument('media-type: schema 1 not supported', { subject });
  if (isManifestType(mt) && (has('manifests') || isIndexType(String(doc['mediaType'] ?? '')))) {
    throw invalidArgument(`media-type: expected manifest but found index (${mt})`, { subject });
  }
  if (isIndexType(mt) && (has('config') || has('layers') || isManifestType(String(doc['mediaType'] ?? '')))) {
    throw invalidArgument(`media-type: expected index but found manifest (${mt})`, { subject });
  }
}

/** images.Manifest: the manifest of the best platform match (limit 1 per index). */
export function manifestFor(ctx: Ctx, tx: Tx | null, target: Descriptor, matcher: PlatformMatcher = defaultMatcher()): { desc: Descriptor; manifest: Manifest } {
  const found: Array<{ desc: Descriptor; manifest: Manifest }> = [];
  let wasIndex = false;
  const walk = (d: Descriptor, depth: number): void => {
    if (depth > 16) throw invalidArgument('index nesting too deep', { subject: `content digest ${target.digest}` });
    if (isManifestType(d.mediaType)) {
      const doc = parseJSON<Record<string, unknown>>(readNsBlob(ctx, tx, d), d);
      validateMediaType(doc, d.mediaType, d);
      const manifest = doc as unknown as Manifest;
      if (d.digest !== target.digest) {
        if (d.platform && !matcher.match(d.platform)) return;
        if (!d.platform) {
          if (!manifest.config?.digest) throw invalidArgument('manifest has no config', { subject: `content digest ${d.digest}` });
          const cfg = parseJSON<ImageConfig>(readNsBlob(ctx, tx, manifest.config), manifest.config);
          if (!matcher.match(normalizePlatform({ os: cfg.os ?? '', architecture: cfg.architecture ?? '' }))) return;
        }
      }
      found.push({ desc: d, manifest });
      return;
    }
    if (isIndexType(d.mediaType)) {
      const doc = parseJSON<Record<string, unknown>>(readNsBlob(ctx, tx, d), d);
      validateMediaType(doc, d.mediaType, d);
      const ms = ((doc['manifests'] as Descriptor[] | undefined) ?? []).filter((m) => !m.platform || matcher.match(m.platform));
      // sort.SliceStable with platform-less entries last
      const ranked = ms.map((m, i) => ({ m, i })).sort((a, b) => {
        if (!a.m.platform && !b.m.platform) return a.i - b.i;
        if (!a.m.platform) return 1;
        if (!b.m.platform) return -1;
        return matcher.compare(a.m.platform, b.m.platform) || a.i - b.i;
      });
      wasIndex = true;
      for (const { m } of ranked.slice(0, 1)) walk(m, depth + 1);
      return;
    }
    throw notFound(`unexpected media type ${d.mediaType} for ${d.digest}`, { subject: `content digest ${d.digest}` });
  };
  walk(target, 0);
  if (found.length === 0) {
    throw notFound(wasIndex ? `no match for platform in manifest ${target.digest}` : `manifest ${target.digest}`, { subject: `content digest ${target.digest}` });
  }
  return found[0]!;
}

/** The image's diff IDs for the platform (images.RootFS through its config). */
export function imageDiffIds(ctx: Ctx, tx: Tx | null, target: Descriptor, matcher: PlatformMatcher = defaultMatcher()): string[] {
  const { manifest } = manifestFor(ctx, tx, target, matcher);
  if (!manifest.config?.digest) throw invalidArgument('manifest has no config', { subject: `content digest ${target.digest}` });
  const cfg = parseJSON<ImageConfig>(readNsBlob(ctx, tx, manifest.config), manifest.config);
  const ids = cfg.rootfs?.diff_ids;
  if (ids !== undefined && !Array.isArray(ids)) throw invalidArgument('rootfs.diff_ids is not a list', { subject: `content digest ${manifest.config.digest}` });
  return ids ?? [];
}

/** image.IsUnpacked: the top chainID has a record in the namespace and a backend snapshot. */
export function isUnpacked(ctx: Ctx, tx: Tx | null, snapshotter: string, target: Descriptor, matcher: PlatformMatcher = defaultMatcher()): boolean {
  const ids = chainIds(imageDiffIds(ctx, tx, target, matcher));
  const top = ids[ids.length - 1];
  if (!top || !tx) return false;
  let backendKey: string;
  try {
    backendKey = getSnapshotRecord(tx, ctx.namespace, snapshotter, top).name;
  } catch (e) {
    if (e instanceof CtrxError && e.category === 'not-found') return false;
    throw e;
  }
  return viewSnapshotter(ctx, snapshotter, (stx) => Boolean(stx && getBackend(stx, backendKey)));
}

export type CheckStatus = 'complete' | 'incomplete' | 'unavailable' | 'error';

export interface ImageCheck {
  image: ImageRecord;
  status: CheckStatus;
  /** The manifest for the platform could be read. */
  available: boolean;
  required: Descriptor[];
  present: Descriptor[];
  missing: Descriptor[];
  /** Why the check itself failed (status "error"). */
  error?: CtrxError;
  unpacked: boolean;
  /** Why the unpack state could not be told (ctr logs it and exits non-zero). */
  unpackError?: CtrxError;
}

const asCtrx = (e: unknown): CtrxError => (e instanceof CtrxError ? e : internal((e as Error)?.message ?? String(e)));

/** images.Check for one image: config and layers of the platform's manifest, present or missing. */
export function checkImage(ctx: Ctx, tx: Tx | null, image: ImageRecord, snapshotter: string, matcher: PlatformMatcher = defaultMatcher()): ImageCheck {
  const target = image.target as Descriptor;
  const out: ImageCheck = { image, status: 'complete', available: false, required: [], present: [], missing: [], unpacked: false };
  try {
    const { manifest } = manifestFor(ctx, tx, target, matcher);
    out.available = true;
    out.required = [manifest.config, ...(manifest.layers ?? [])].filter((d): d is Descriptor => Boolean(d?.digest));
    for (const d of out.required) (blobPresent(ctx, tx, d.digest) ? out.present : out.missing).push(d);
    if (out.missing.length) out.status = 'incomplete';
  } catch (e) {
    const err = asCtrx(e);
    if (err.category === 'not-found') {
      out.status = 'unavailable';
      out.required = [target];
      out.missing = [target];
    } else {
      out.status = 'error';
      out.error = err;
    }
  }
  try {
    out.unpacked = isUnpacked(ctx, tx, snapshotter, target, matcher);
  } catch (e) {
    out.unpackError = asCtrx(e);
  }
  return out;
}

/** ctr images check: every image matching the filters, in name order. */
export function checkImages(ctx: Ctx, filters: string[], snapshotter: string, matcher: PlatformMatcher = defaultMatcher()): ImageCheck[] {
  const f = parseFilters(filters);
  return viewMeta(ctx, (tx) => {
    if (!tx) return [];
    return listImages(tx, ctx.namespace)
      .filter((img) => f.match(imageAdaptor(img)))
      .map((img) => checkImage(ctx, tx, img, snapshotter, matcher));
  });
}

export interface LayerUsage extends Usage {
  key: string;
}

/**
 * ctr images usage: the image must be unpacked in the snapshotter; then each
 * snapshot from the top chainID down through its parents.
 */
export function imageUsage(ctx: Ctx, ref: string, snapshotter: string, matcher: PlatformMatcher = defaultMatcher()): { image: ImageRecord; layers: LayerUsage[] } {
  const image = findImage(ctx, ref);
  const target = image.target as Descriptor;
  const top = viewMeta(ctx, (tx) => {
    if (!isUnpacked(ctx, tx, snapshotter, target, matcher)) {
      throw failedPrecondition(`image isn't unpacked in snapshotter ${snapshotter}`, { subject: `image ${JSON.stringify(image.name)}`, hint: 'unpack it (images pull) or pick --snapshotter' });
    }
    const ids = chainIds(imageDiffIds(ctx, tx, target, matcher));
    return ids[ids.length - 1]!;
  });
  const layers: LayerUsage[] = [];
  const seen = new Set<string>();
  for (let key: string | undefined = top; key; ) {
    if (seen.has(key)) throw internal('snapshot parent chain is cyclic', { subject: `snapshot ${key}` });
    seen.add(key);
    const info = snapshotStat(ctx, snapshotter, key);
    layers.push({ key, ...snapshotUsage(ctx, snapshotter, info) });
    key = info.parent;
  }
  return { image, layers };
}

