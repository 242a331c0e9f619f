/**
 * `images push`: a local image to a registry, the way containerd's client
 * pushes (remotes.PushContent), without the daemon:
 *
 *  - the descriptor tree below the image's target is walked from the
 *    content store first, so a missing piece is reported before anything is
 *    sent: a multi-platform index pulled for one platform names the missing
 *    platform and suggests `--platform`, which (as in ctr) pushes that
 *    platform's manifest alone;
 *  - blobs (configs, layers) go first, a few at a time: one the registry
 *    has is skipped, one whose `containerd.io/distribution.source.<host>`
 *    label names another repository of the same registry is mounted from
 *    there (cross-repository mount), the rest is uploaded as a stream read
 *    from the store and checked against its digest on the way;
 *  - then manifests, children before parents, so the registry never sees a
 *    manifest whose content it lacks; the root goes under the tag.
 *
 * Non-distributable layers (Windows base layers) are not pushed unless
 * asked, as ctr. Nothing local is written.
 */
import { limited } from './limited.js';
import type { OpContext } from '../context.js';
import { CtrxError, failedPrecondition, invalidArgument, notFound } from '../errdefs.js';
import { viewMeta } from '../metadata/db.js';
import { getBlob, hasBlob } from '../metadata/content.js';
import { createResolver, type ResolverOptions } from './registry/index.js';
import { parseDocument } from './registry/documents.js';
import type { Descriptor } from './registry/types.js';
import { findImage } from './image.js';
import { isDocumentType, isIndexType, isManifestType, isSchema1Type, MediaTypes } from './media-types.js';
import { formatPlatform, parsePlatform, type Platform } from './platform.js';
import { formatReference, parseReference } from './reference.js';
import { parseDigest } from '../digest.js';
import { storeFor } from './content-records.js';
import { strictMatcher } from './archive/platforms.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts' | 'onDebug'>;

const MAX_DOCUMENT_BYTES = 4 << 20;
const MAX_DEPTH = 8;

export type PushBlobStatus = 'waiting' | 'uploading' | 'exists' | 'mounted' | 'done';

export type PushProgress =
  | { kind: 'blob'; ref: string; digest: string; mediaType: string; offset: number; total: number; status: PushBlobStatus }
  | { kind: 'manifest'; ref: string; digest: string; mediaType: string; status: 'uploading' | 'done' };

export interface PushOptions {
  /** Push only the manifest of this platform from an index (ctr's single --platform). */
  platform?: string;
  /** Push this digest of the content store instead of an image record (ctr --manifest). */
  manifest?: string;
  /** Media type of `manifest` (default OCI manifest). */
  manifestType?: string;
  /** Push non-distributable layers too. */
  allowNonDistributable?: boolean;
  maxConcurrentUploads?: number;
  registry?: ResolverOptions;
  onProgress?: (p: PushProgress) => void;
  signal?: AbortSignal;
}

export interface PushResult {
  /** The remote reference, normalised. */
  name: string;
  /** The local image pushed (undefined with `manifest`). */
  local?: string;
  target: Descriptor;
  endpoint: string;
  blobs: { uploaded: number; mounted: number; exists: number; skipped: number };
  manifests: number;
  /** Bytes sent in blob uploads. */
  uploaded: number;
}

function isNonDistributable(mt: string): boolean {
  return mt.startsWith('application/vnd.oci.image.layer.nondistributable.') || mt.startsWith('application/vnd.docker.image.rootfs.foreign.');
}

/** The host a distribution.source label is keyed by: containerd strips the port (url.Hostname). */
function labelHost(domain: string): string {
  if (domain.startsWith('[')) return domain.slice(1, domain.indexOf(']'));
  return domain.replace(/:\d+$/, '');
}

interface Plan {
  /** Blobs in first-seen order. */
  blobs: Descriptor[];
  /** Manifests and indexes, children before parents; bytes read and verified. */
  manifests: { desc: Descriptor; bytes: Buffer }[];
  skipped: number;
}

const refKey = (d: Descriptor): string => {
  if (isIndexType(d.mediaType)) return `index-${d.digest}`;
  if (isManifestType(d.mediaType)) return `manifest-${d.digest}`;
  if (d.mediaType === MediaTypes.ociConfig || d.mediaType === MediaTypes.dockerConfig) return `config-${d.digest}`;
  return `layer-${d.digest}`;
};

/** Walks what will be pushed and checks that all of it is here, before any request. */
async function planPush(ctx: Ctx, root: Descriptor, subject: string, allowNonDistributable: boolean, singlePlatform: boolean): Promise<Plan> {
  const store = storeFor(ctx);
  const plan: Plan = { blobs: [], manifests: [], skipped: 0 };
  const seen = new Set<string>();
  const present = (digest: string) => store.has(digest) && viewMeta(ctx, (tx) => Boolean(tx && hasBlob(tx, ctx.namespace, digest)));
  const missing = (d: Descriptor, platform: string | undefined): CtrxError =>
    platform && !singlePlatform
      ? notFound(`content for platform ${platform} is not in the content store (${d.digest}): the image was pulled for fewer platforms than its index lists`, {
          subject,
          hint: 'push one platform with --platform (its manifest alone, as ctr does), or pull with --all-platforms first',
        })
      : notFound(`content digest ${d.digest} not found${platform ? ` (${platform})` : ''}`, { subject, hint: 'the image is incomplete: pull it again' });

  const visit = async (d: Descriptor, depth: number, platform: string | undefined): Promise<void> => {
    if (depth > MAX_DEPTH) throw invalidArgument(`image indexes nested more than ${MAX_DEPTH} deep`, { subject });
    if (isSchema1Type(d.mediaType)) throw failedPrecondition('Docker schema 1 manifests cannot be pushed', { subject });
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    if (!isDocumentType(d.mediaType)) {
      if (!allowNonDistributable && isNonDistributable(d.mediaType)) {
        plan.skipped++;
        return;
      }
      if (!present(d.digest)) throw missing(d, platform);
      plan.blobs.push(d);
      return;
    }
    if (!present(d.digest)) throw missing(d, platform);
    if (d.size > MAX_DOCUMENT_BYTES) throw invalidArgument(`manifest ${d.digest} is larger than ${MAX_DOCUMENT_BYTES >> 20} MiB`, { subject });
    const bytes = await store.readAll(d.digest, { maxSize: MAX_DOCUMENT_BYTES, verify: true });
    if (bytes.length !== d.size) throw failedPrecondition(`${d.digest} has ${bytes.length} bytes, its descriptor says ${d.size}`, { subject });
    const doc = parseDocument(bytes, d.mediaType, `${subject}: ${d.digest}`);
    if (doc.kind === 'index') {
      for (const m of doc.index.manifests) await visit(m, depth + 1, m.platform ? formatPlatform(m.platform) : platform);
    } else {
      for (const c of [doc.manifest.config, ...doc.manifest.layers]) await visit(c, depth + 1, platform);
    }
    plan.manifests.push({ desc: d, bytes });
  };
  await visit(root, 0, undefined);
  return plan;
}

/** ctr's --platform on push: the index's first manifest for that platform becomes what is pushed. */
async function pickPlatform(ctx: Ctx, target: Descriptor, platform: Platform, subject: string): Promise<Descriptor> {
  if (!isIndexType(target.mediaType)) return target;
  const bytes = await storeFor(ctx).readAll(target.digest, { maxSize: MAX_DOCUMENT_BYTES, verify: true });
  const doc = parseDocument(bytes, target.mediaType, subject);
  if (doc.kind !== 'index') return target;
  const matcher = strictMatcher([platform]);
  const m = doc.index.manifests.find((x) => x.platform && matcher.match(x.platform));
  if (!m) throw notFound(`no manifest for platform ${formatPlatform(platform)} in the image index`, { subject });
  return m;
}

export async function pushImage(ctx: Ctx, remote: string, local?: string, opts: PushOptions = {}): Promise<PushResult> {
  const concurrency = opts.maxConcurrentUploads ?? 3;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw invalidArgument('must be a positive integer', { subject: '--max-concurrent-uploaded-layers' });
  const ref = parseReference(remote);
  const name = formatReference(ref);

  let target: Descriptor;
  let localName: string | undefined;
  if (opts.manifest) {
    try {
      parseDigest(opts.manifest);
    } catch (e) {
      throw invalidArgument(`invalid manifest digest: ${(e as Error).message}`, { subject: '--manifest' });
    }
    const size = viewMeta(ctx, (tx) => {
      if (!tx || !hasBlob(tx, ctx.namespace, opts.manifest!)) throw notFound(`content digest ${opts.manifest} not found`, { subject: '--manifest' });
      return getBlob(tx, ctx.namespace, opts.manifest!).size;
    });
    target = { mediaType: opts.manifestType || MediaTypes.ociManifest, digest: opts.manifest, size };
  } else {
    const rec = findImage(ctx, local ?? remote);
    localName = rec.name;
    target = { mediaType: rec.target.mediaType, digest: rec.target.digest, size: rec.target.size };
  }
  const subject = `image ${JSON.stringify(localName ?? opts.manifest)}`;
  if (opts.platform) target = await pickPlatform(ctx, target, parsePlatform(opts.platform), subject);
  if (ref.digest && ref.digest !== target.digest) {
    throw invalidArgument(`the remote reference names ${ref.digest} but the image is ${target.digest}`, { subject: name });
  }
  const plan = await planPush(ctx, target, subject, Boolean(opts.allowNonDistributable), Boolean(opts.platform));

  const resolver = createResolver(ctx, { ...(opts.registry ?? {}), ...(opts.signal ? { signal: opts.signal } : {}) });
  const pusher = await resolver.pusher(ref);
  const result: PushResult = {
    name,
    ...(localName ? { local: localName } : {}),
    target: { mediaType: target.mediaType, digest: target.digest, size: target.size },
    endpoint: pusher.endpoint,
    blobs: { uploaded: 0, mounted: 0, exists: 0, skipped: plan.skipped },
    manifests: 0,
    uploaded: 0,
  };
  const store = storeFor(ctx);
  const sourceKey = `containerd.io/distribution.source.${labelHost(ref.domain)}`;
  const candidatePushers = new Map<string, ReturnType<typeof resolver.pusher>>();
  /**
   * Repositories of this registry the blob was pulled from. The label does
   * not tell ports apart and a registry answers a failed mount with a plain
   * upload (so only the first candidate is ever tried): with several, those
   * that answer a HEAD for the blob go first, those that do not are dropped.
   */
  const mountCandidates = async (b: Descriptor): Promise<string[]> => {
    const labels = viewMeta(ctx, (tx) => (tx ? getBlob(tx, ctx.namespace, b.digest).labels : {}));
    const repos = (labels[sourceKey] ?? '').split(',').filter((r) => r && r !== ref.path);
    if (repos.length < 2) return repos;
    const has: string[] = [];
    const unknown: string[] = [];
    for (const repo of repos) {
      try {
        let p = candidatePushers.get(repo);
        if (!p) candidatePushers.set(repo, (p = resolver.pusher({ domain: ref.domain, path: repo })));
        if (await (await p).blobExists(b)) has.push(repo);
      } catch (e) {
        ctx.onDebug(`mount candidate ${repo} for ${b.digest}: ${(e as Error).message}`);
        unknown.push(repo);
      }
    }
    return [...has, ...unknown];
  };

  for (const b of plan.blobs) opts.onProgress?.({ kind: 'blob', ref: refKey(b), digest: b.digest, mediaType: b.mediaType, offset: 0, total: b.size, status: 'waiting' });
  await limited(concurrency, plan.blobs, async (b) => {
    const report = (offset: number, status: PushBlobStatus) => opts.onProgress?.({ kind: 'blob', ref: refKey(b), digest: b.digest, mediaType: b.mediaType, offset, total: b.size, status });
    let sent = 0;
    let last = 0;
    const data = () =>
      (async function* () {
        report(0, 'uploading');
        for await (const chunk of store.stream(b.digest, { verify: true, expectedSize: b.size })) {
          sent += (chunk as Buffer).length;
          const now = Date.now();
          if (now - last > 100) {
            last = now;
            report(sent, 'uploading');
          }
          yield chunk as Uint8Array;
        }
      })();
    const how = await pusher.pushBlob(b, data, { mountFrom: await mountCandidates(b) });
    if (how === 'uploaded') {
      result.blobs.uploaded++;
      result.uploaded += sent;
      report(b.size, 'done');
    } else if (how === 'mounted') {
      result.blobs.mounted++;
      report(b.size, 'mounted');
    } else {
      result.blobs.exists++;
      report(b.size, 'exists');
    }
  });

  for (const m of plan.manifests) {
    const isRoot = m.desc.digest === target.digest;
    opts.onProgress?.({ kind: 'manifest', ref: refKey(m.desc), digest: m.desc.digest, mediaType: m.desc.mediaType, status: 'uploading' });
    await pusher.putManifest(m.desc, m.bytes, isRoot && ref.tag !== undefined ? { tag: ref.tag } : {});
    result.manifests++;
    opts.onProgress?.({ kind: 'manifest', ref: refKey(m.desc), digest: m.desc.digest, mediaType: m.desc.mediaType, status: 'done' });
  }
  return result;
}
