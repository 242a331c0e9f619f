/**
 * `images import`: an OCI image layout tar or a `docker save` tar into the
 * namespace, the way `ctr images import` (containerd 1.6) does it, in the
 * order ctrx's pull uses:
 *
 *  1. a lease (`containerd.io/gc.expire` = now + 24 h) holds everything;
 *  2. the archive is streamed into the store (read.ts): every file through
 *     a verified ingest, the three JSON files bounded to 20 MiB;
 *  3. docker archives get their manifests and index built (docker.ts), OCI
 *     layouts use index.json;
 *  4. the index is walked with the platform filter: every parent blob gets
 *     the gc.ref labels of the children kept (containerd's
 *     SetChildrenLabels), every child must be present;
 *  5. image names come from the index entries' annotations (names.ts);
 *  6. each image is unpacked for the platform (unless --no-unpack);
 *  7. the image records, last, in one session;
 *  8. the lease goes with a GC pass, as containerd collects after a lease
 *     is deleted: files of the archive no image needs do not stay.
 *
 * A failure anywhere leaves no image record; the GC in step 8 removes what
 * the lease held.
 */
import type { OpContext } from '../../context.js';
import { CtrxError, failedPrecondition, invalidArgument, isCategory, notFound } from '../../errdefs.js';
import { writeMeta } from '../../metadata/db.js';
import { collectGarbage } from '../../metadata/collect.js';
import { createImage, updateImageLabels, updateImageTarget } from '../../metadata/images.js';
import { createLease, deleteLease, expireLabel, randomLeaseId } from '../../metadata/leases.js';
import { path as bucketPath, type Labels } from '../../metadata/buckets.js';
import { K } from '../../metadata/schema.js';
import { assertWritable } from '../../metadata/writable.js';
import { parseDocument } from '../registry/documents.js';
import type { Descriptor } from '../registry/types.js';
import { isConfigType, isDocumentType, isIndexType, isSchema1Type } from '../media-types.js';
import { defaultMatcher, formatPlatform, type Platform, type PlatformMatcher } from '../platform.js';
import { selectManifest } from '../image.js';
import { unpackImage, type UnpackProgress } from '../unpack.js';
import { haveBlob, recordBlob, storeFor } from '../content-records.js';
import { importDockerArchive, storeDocument } from './docker.js';
import { checkArchiveImageName, defaultBaseName, imageNameOf, refTranslator } from './names.js';
import { strictFromFlags } from './platforms.js';
import { MAX_JSON_BYTES, readArchive, type ArchiveContents, type ArchiveProgress } from './read.js';
import { isObject } from './json.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts' | 'onDebug'>;

const LEASE_TTL_MS = 24 * 3600 * 1000;
/** Manifests listed by one index (each becomes a gc.ref label on it). */
export const MAX_INDEX_ENTRIES = 4096;
const MAX_DEPTH = 8;

export type ImportProgress = ArchiveProgress | UnpackProgress | { kind: 'unpack-image'; name: string; digest: string };

export interface ImportOptions {
  /** Import the content of every platform (unpacking stays the host's or --platform's, as ctr: this wins over `platform` for the content). */
  allPlatforms?: boolean;
  /** Only this platform (strict match), for import and unpack. */
  platform?: string;
  /** Also name the archive's index itself. */
  indexName?: string;
  /** Also name every image `<base>@<digest>`. */
  digests?: boolean;
  /** With `digests`: not for images the archive names. */
  skipDigestForNamed?: boolean;
  /** Unpack into the snapshotter (default true). */
  unpack?: boolean;
  /** Prefix for tag-only names; when given, full names outside it are not imported. */
  baseName?: string;
  snapshotter?: string;
  /** Labels for the image records. */
  labels?: Labels;
  /** What errors name (`archive "busybox.tar"`). */
  subject?: string;
  /** The date in `import-<date>` (tests). */
  now?: Date;
  onProgress?: (p: ImportProgress) => void;
  signal?: AbortSignal;
}

export interface ImportedImage {
  name: string;
  target: Descriptor;
}

export interface ImportResult {
  format: 'oci' | 'docker';
  index: Descriptor;
  images: ImportedImage[];
  /** Named entries left out by the platform filter. */
  skipped: { name: string; platform?: string }[];
  unpacked: { name: string; platform?: string; snapshotter: string; chainId: string }[];
  /** Files read from the archive into the store. */
  files: number;
}

/** containerd's ChildGCLabels + SetChildrenMappedLabels: one counter per label kind. */
export function childGcLabels(children: Descriptor[]): Labels {
  const labels: Labels = {};
  const counters = new Map<string, number>();
  for (const ch of children) {
    const mt = ch.mediaType;
    let key: string;
    if (isConfigType(mt) || mt === 'application/vnd.containerd.container.checkpoint.config.v1+proto' || mt === 'application/vnd.containerd.container.criu.checkpoint.criu.tar') {
      key = 'containerd.io/gc.ref.content.config';
    } else if (mt === 'application/vnd.docker.distribution.manifest.v2+json' || mt === 'application/vnd.oci.image.manifest.v1+json') key = 'containerd.io/gc.ref.content.m.';
    else if (mt.startsWith('application/vnd.oci.image.layer.') || mt.startsWith('application/vnd.docker.image.rootfs.')) key = 'containerd.io/gc.ref.content.l.';
    else key = 'containerd.io/gc.ref.content.';
    const i = counters.get(key) ?? 0;
    counters.set(key, i + 1);
    labels[i > 0 || key.endsWith('.') ? `${key}${i}` : key] = ch.digest;
  }
  return labels;
}

function isNonDistributable(mt: string): boolean {
  return mt.startsWith('application/vnd.oci.image.layer.nondistributable.') || mt.startsWith('application/vnd.docker.image.rootfs.foreign.');
}

const platformHint = (matcher: PlatformMatcher, all: boolean) =>
  all ? 'the archive was exported for fewer platforms: import without --all-platforms, or with --platform' : `import only what the archive carries: --platform ${formatPlatform(matcher.platforms[0]!)}`;

interface Walked {
  /** Entries of the top-level index that passed the filter, and those that did not. */
  kept: Descriptor[];
  dropped: Descriptor[];
}

/** Step 4: labels and presence, depth first from the archive's index. */
async function walkIndex(ctx: Ctx, lease: string, index: Descriptor, filter: (p: Platform | undefined) => boolean, hint: string, subject: string): Promise<Walked> {
  const seen = new Set<string>();
  let nonEmpty = false;
  const out: Walked = { kept: [], dropped: [] };
  const missing = (d: Descriptor, platform: string | undefined, what: string) =>
    notFound(`the archive lacks the ${what} ${d.digest}${platform ? ` for ${platform}` : ''}`, { subject, hint });

  const visit = async (d: Descriptor, depth: number, platform: string | undefined): Promise<void> => {
    if (depth > MAX_DEPTH) throw invalidArgument(`image indexes nested more than ${MAX_DEPTH} deep`, { subject });
    if (isSchema1Type(d.mediaType)) throw failedPrecondition('Docker schema 1 manifests are not supported', { subject });
    const key = `${d.digest} ${d.mediaType}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (!isDocumentType(d.mediaType)) {
      if (!haveBlob(ctx, d.digest) && !isNonDistributable(d.mediaType)) throw missing(d, platform, isConfigType(d.mediaType) ? 'image config' : 'blob');
      return;
    }
    if (!haveBlob(ctx, d.digest)) throw missing(d, platform, isIndexType(d.mediaType) ? 'index' : 'manifest');
    if (d.size > MAX_JSON_BYTES) throw invalidArgument(`document ${d.digest} is larger than ${MAX_JSON_BYTES >> 20} MiB`, { subject });
    const bytes = await storeFor(ctx).readAll(d.digest, { maxSize: MAX_JSON_BYTES, verify: true });
    if (bytes.length !== d.size) throw invalidArgument(`${d.digest} has ${bytes.length} bytes, its descriptor says ${d.size}`, { subject });
    let doc: ReturnType<typeof parseDocument>;
    try {
      doc = parseDocument(bytes, d.mediaType, subject);
    } catch (e) {
      if (!(e instanceof CtrxError)) throw e;
      throw new CtrxError(e.category, `${depth === 0 ? 'the archive index' : d.digest}: ${e.message}`, { subject, cause: e });
    }
    let children: Descriptor[];
    if (doc.kind === 'index') {
      const all = doc.index.manifests;
      if (all.length > MAX_INDEX_ENTRIES) throw invalidArgument(`an index lists ${all.length} manifests, more than the limit of ${MAX_INDEX_ENTRIES}`, { subject });
      children = all.filter((m) => filter(m.platform));
      if (depth === 0) {
        out.kept = children;
        out.dropped = all.filter((m) => !filter(m.platform));
      }
    } else children = [doc.manifest.config, ...doc.manifest.layers];
    if (children.length > 0) {
      nonEmpty = true;
      recordBlob(ctx, lease, d, childGcLabels(children));
    }
    for (const c of children) await visit(c, depth + 1, c.platform ? formatPlatform(c.platform) : platform);
  };
  await visit(index, 0, undefined);
  if (!nonEmpty) throw notFound('no image in the archive matches the platform', { subject, hint });
  return out;
}

/** Step 3 for OCI layouts: the version check and index.json as a blob. */
async function ociIndex(ctx: Ctx, lease: string, c: ArchiveContents, subject: string): Promise<Descriptor> {
  const v = isObject(c.layout) ? c.layout.imageLayoutVersion : undefined;
  if (v !== '1.0.0') throw invalidArgument(`unsupported OCI layout version ${JSON.stringify(v)?.slice(0, 40)} (1.0.0 expected)`, { subject });
  if (!c.indexJson) throw invalidArgument('missing index.json in the OCI layout', { subject });
  return storeDocument(ctx, lease, c.indexJson, 'application/vnd.oci.image.index.v1+json');
}

export async function importArchive(ctx: Ctx, source: AsyncIterable<Uint8Array>, opts: ImportOptions = {}): Promise<ImportResult> {
  const subject = opts.subject ?? 'archive';
  if (opts.skipDigestForNamed && !opts.digests) throw invalidArgument('--skip-digest-for-named must be specified with --digests option', { subject: 'flags' });
  const strict = opts.platform ? strictFromFlags([opts.platform]) : undefined;
  const importMatcher = strict ?? defaultMatcher();
  const filter = (p: Platform | undefined) => opts.allPlatforms || !p || importMatcher.match(p);
  const prefix = opts.baseName || defaultBaseName(opts.now);
  const translate = refTranslator(prefix, Boolean(opts.baseName));
  const hint = platformHint(importMatcher, Boolean(opts.allPlatforms));
  assertWritable(ctx);

  const lease = randomLeaseId();
  writeMeta(ctx, (tx) => createLease(tx, ctx.namespace, lease, { 'containerd.io/gc.expire': expireLabel(LEASE_TTL_MS) }));
  try {
    const contents = await readArchive(ctx, lease, source, { subject, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
    let format: ImportResult['format'];
    let index: Descriptor;
    if (contents.layout !== undefined) {
      format = 'oci';
      index = await ociIndex(ctx, lease, contents, subject);
    } else if (contents.manifestJson) {
      format = 'docker';
      index = await importDockerArchive(ctx, lease, contents, subject);
    } else {
      throw invalidArgument('unrecognized image format: neither an OCI layout (oci-layout, index.json) nor a docker save archive (manifest.json)', { subject });
    }

    const walked = await walkIndex(ctx, lease, index, filter, hint, subject);
    const images: ImportedImage[] = [];
    const skipped: ImportResult['skipped'] = [];
    if (opts.indexName) images.push({ name: checkArchiveImageName(opts.indexName, subject), target: index });
    const target = (m: Descriptor): Descriptor => ({ mediaType: m.mediaType, digest: m.digest, size: m.size, ...(m.annotations ? { annotations: { ...m.annotations } } : {}) });
    for (const m of walked.kept) {
      const name = imageNameOf(m.annotations, translate);
      if (name) images.push({ name: checkArchiveImageName(name, subject), target: target(m) });
      if (opts.digests && !(opts.skipDigestForNamed && name)) images.push({ name: `${prefix}@${m.digest}`, target: target(m) });
    }
    for (const m of walked.dropped) {
      const name = imageNameOf(m.annotations, translate);
      if (name) skipped.push({ name, ...(m.platform ? { platform: formatPlatform(m.platform) } : {}) });
    }
    // Later entries with the same name win, as ctr's one-by-one updates do.
    const byName = new Map<string, ImportedImage>();
    for (const i of images) byName.set(i.name, i);
    const finalImages = [...byName.values()];

    const unpacked: ImportResult['unpacked'] = [];
    if (opts.unpack !== false) {
      const unpackMatcher = strict ?? defaultMatcher();
      const done = new Map<string, { platform?: string; snapshotter: string; chainId: string } | null>();
      for (const img of finalImages) {
        let u = done.get(img.target.digest);
        if (u === undefined) {
          opts.onProgress?.({ kind: 'unpack-image', name: img.name, digest: img.target.digest });
          let manifest: Descriptor;
          try {
            manifest = selectManifest(ctx.root, img.target, unpackMatcher);
          } catch (e) {
            if (isCategory(e, 'not-found')) {
              throw notFound(`no manifest for ${unpackMatcher.platforms.slice(0, 1).map(formatPlatform).join()} to unpack`, { subject: `image ${JSON.stringify(img.name)}`, hint: 'import with --no-unpack, or choose the platform with --platform' });
            }
            throw e;
          }
          const r = await unpackImage(ctx, manifest, {
            lease,
            ...(opts.snapshotter ? { snapshotter: opts.snapshotter } : {}),
            ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
            ...(opts.signal ? { signal: opts.signal } : {}),
          });
          const top = r.chainIds[r.chainIds.length - 1];
          u = top ? { ...(manifest.platform ? { platform: formatPlatform(manifest.platform) } : {}), snapshotter: r.snapshotter, chainId: top } : null;
          done.set(img.target.digest, u);
        }
        if (u) unpacked.push({ name: img.name, ...u });
      }
    }

    writeMeta(ctx, (tx) => {
      for (const img of finalImages) {
        if (!bucketPath(tx, K.v1, ctx.namespace, K.images, img.name)) {
          createImage(tx, ctx.namespace, { name: img.name, target: img.target, ...(opts.labels && Object.keys(opts.labels).length ? { labels: opts.labels } : {}) });
          continue;
        }
        updateImageTarget(tx, ctx.namespace, img.name, img.target);
        if (opts.labels && Object.keys(opts.labels).length) updateImageLabels(tx, ctx.namespace, img.name, opts.labels);
      }
    });
    return { format, index, images: finalImages, skipped, unpacked, files: contents.files.size };
  } finally {
    dropLease(ctx, lease);
  }
}

/** Deletes the lease and collects, as containerd does after a lease is deleted. */
function dropLease(ctx: Ctx, lease: string): void {
  try {
    collectGarbage(ctx, (tx) => deleteLease(tx, ctx.namespace, lease));
  } catch (e) {
    if (!isCategory(e, 'not-found')) ctx.onDebug(`could not drop lease ${lease}: ${(e as Error).message}`);
  }
}
