/**
 * `images pull`: resolve, fetch and unpack, the way containerd's client does
 * it, without the daemon.
 *
 * Everything happens under a lease (`containerd.io/gc.expire` = now + 24 h)
 * so a GC in between keeps the partial work; a killed pull leaves its
 * ingests in that lease and the next pull resumes them with Range requests.
 * Documents (index, manifests, config) are fetched first and each blob
 * record carries the gc.ref labels of its children; layers are fetched
 * concurrently; every blob is verified by size and digest before it is
 * committed; blobs the namespace already has are not fetched again. The
 * first layer still to unpack is applied while it downloads (its snapshot
 * is committed only once the blob and the diff_id are verified; if that
 * download breaks off, the layer is applied from the store afterwards). The
 * image record is written last, then the lease is dropped.
 */
import { limited } from './limited.js';
import type { OpContext } from '../context.js';
import { failedPrecondition, invalidArgument, isCategory } from '../errdefs.js';
import { writeMeta } from '../metadata/db.js';
import { createImage, getImage, updateImageLabels, updateImageTarget } from '../metadata/images.js';
import { createLease, deleteLease, expireLabel, randomLeaseId } from '../metadata/leases.js';
import { path as bucketPath, type Labels } from '../metadata/buckets.js';
import { K } from '../metadata/schema.js';
import { assertWritable } from '../metadata/writable.js';
import { createResolver, type ResolverOptions } from './registry/index.js';
import type { Fetcher } from './registry/fetcher.js';
import { isStall } from './registry/http.js';
import type { Descriptor } from './registry/types.js';
import { isIndexType, isManifestType, isSchema1Type, ingestKind } from './media-types.js';
import { anyPlatform, defaultMatcher, formatPlatform, parsePlatform, type PlatformMatcher } from './platform.js';
import { childLabels, haveBlob, openIngest, recordBlob, sourceLabel, storeFor, whenFree } from './content-records.js';
import { discard, prepareEarlyLayer, unpackImage, type EarlyLayer, type UnpackProgress } from './unpack.js';
import { backendRef } from '../content/ingest.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts' | 'onDebug'>;

export type BlobStatus = 'waiting' | 'downloading' | 'resuming' | 'exists' | 'done';

export type PullProgress =
  | { kind: 'resolved'; name: string; digest: string; endpoint: string }
  | { kind: 'blob'; ref: string; digest: string; mediaType: string; offset: number; total: number; status: BlobStatus }
  | UnpackProgress;

export interface PullOptions {
  /** `os/arch[/variant]`, repeatable; default the host's. */
  platforms?: string[];
  allPlatforms?: boolean;
  /** ctr content fetch --metadata-only: the index, every platform's manifest and config; no layers, no unpack. */
  metadataOnly?: boolean;
  snapshotter?: string;
  /** Unpack into the snapshotter (default true). */
  unpack?: boolean;
  maxConcurrentDownloads?: number;
  /** Apply the first layer to unpack while it downloads (default true). */
  applyWhileDownloading?: boolean;
  /** Labels for the image record. */
  labels?: Labels;
  registry?: ResolverOptions;
  onProgress?: (p: PullProgress) => void;
  signal?: AbortSignal;
}

export interface PullResult {
  name: string;
  target: Descriptor;
  /** Manifests fetched (one per platform). */
  manifests: { digest: string; platform?: string }[];
  unpacked: { platform?: string; snapshotter: string; chainId: string }[];
  /** Bytes downloaded by this run. */
  downloaded: number;
  blobs: number;
}

const LEASE_TTL_MS = 24 * 3600 * 1000;
/** A body that breaks mid-way is resumed this many times before the pull fails. */
const RESUME_ATTEMPTS = 3;
/** How long to wait for another process downloading the same blob (containerd's client waits as long as its context lives). */
const INGEST_WAIT_MS = 30 * 60 * 1000;
/** How far a download may run ahead of the apply it feeds. */
const EARLY_FEED_BYTES = 16 << 20;

/**
 * Downloaded chunks handed to an apply running alongside the download, at
 * most `limit` bytes ahead of it (the download waits beyond that). When the
 * consumer stops (it failed), further chunks are dropped.
 */
class Feed implements AsyncIterable<Uint8Array> {
  private queue: Uint8Array[] = [];
  private bytes = 0;
  private ended = false;
  private error: unknown;
  private gone = false;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;
  constructor(private readonly limit: number) {}

  private static wake(f: (() => void) | undefined): undefined {
    f?.();
    return undefined;
  }

  async push(chunk: Uint8Array): Promise<void> {
    if (this.gone || this.ended) return;
    this.queue.push(chunk);
    this.bytes += chunk.byteLength;
    this.wakeConsumer = Feed.wake(this.wakeConsumer);
    while (this.bytes > this.limit && !this.gone) await new Promise<void>((r) => (this.wakeProducer = r));
  }

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    this.wakeConsumer = Feed.wake(this.wakeConsumer);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const c = this.queue.shift();
        if (c) {
          this.bytes -= c.byteLength;
          if (this.bytes <= this.limit) this.wakeProducer = Feed.wake(this.wakeProducer);
          yield c;
          continue;
        }
        if (this.ended) {
          if (this.error !== undefined) throw this.error;
          return;
        }
        await new Promise<void>((r) => (this.wakeConsumer = r));
      }
    } finally {
      this.gone = true;
      this.queue = [];
      this.bytes = 0;
      this.wakeProducer = Feed.wake(this.wakeProducer);
    }
  }
}

export async function pullImage(ctx: Ctx, input: string, opts: PullOptions = {}): Promise<PullResult> {
  const concurrency = opts.maxConcurrentDownloads ?? 3;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw invalidArgument('must be a positive integer', { subject: '--max-concurrent-downloads' });
  const matcher: PlatformMatcher = opts.platforms?.length ? anyPlatform(opts.platforms.map(parsePlatform)) : defaultMatcher();
  // containerd holding meta.db fails here, before any request; another ctrx's short session is waited for.
  await whenFree(ctx, () => assertWritable(ctx));
  const t0 = Date.now();
  const ms = (since: number) => `${Date.now() - since} ms`;
  const resolver = createResolver(ctx, opts.registry ?? {});
  const resolved = await resolver.resolve(input);
  ctx.onDebug(`timing: resolved ${resolved.name} in ${ms(t0)}`);
  const { name, ref } = resolved;
  const target = resolved.desc;
  opts.onProgress?.({ kind: 'resolved', name, digest: target.digest, endpoint: resolved.endpoint.host });
  const fetcher = resolver.fetcher(ref);
  const source = sourceLabel(ref.domain, ref.path);
  const store = storeFor(ctx);

  const lease = randomLeaseId();
  await whenFree(ctx, () => writeMeta(ctx, (tx) => createLease(tx, ctx.namespace, lease, { 'containerd.io/gc.expire': expireLabel(LEASE_TTL_MS) })));
  const result: PullResult = { name, target, manifests: [], unpacked: [], downloaded: 0, blobs: 0 };
  try {
    // 1. Documents, depth first: index → manifests (platform-filtered) → config; layers collected.
    const layers = new Map<string, Descriptor>();
    const manifests: { desc: Descriptor; platform?: string }[] = [];
    const fetchDocument = async (desc: Descriptor, depth: number): Promise<void> => {
      if (depth > 4) throw failedPrecondition('image index nested too deeply', { subject: name });
      if (isSchema1Type(desc.mediaType)) throw failedPrecondition('Docker schema 1 manifests are not supported; push the image again with a current client', { subject: name });
      const { document } = await readDocumentCached(ctx, fetcher, desc);
      result.blobs++;
      if (document.kind === 'index') {
        const all = document.index.manifests ?? [];
        await whenFree(ctx, () => recordBlob(ctx, lease, desc, { ...childLabels('index', { manifests: all }), ...source }));
        const every = opts.allPlatforms || opts.metadataOnly;
        const chosen = every ? all : all.filter((m) => (m.platform ? matcher.match(m.platform) : isIndexType(m.mediaType)));
        if (!every) {
          chosen.sort((a, b) => (a.platform && b.platform ? matcher.compare(a.platform, b.platform) : 0));
          // ctr fetches every manifest matching the requested platforms; with no --platform that is the host's best match only.
          if (!opts.platforms?.length) chosen.splice(1);
        }
        if (chosen.length === 0) throw failedPrecondition(`no match for platform ${matcher.platforms.slice(0, 1).map(formatPlatform).join()} in the image index`, { subject: name });
        for (const m of chosen) {
          if (!isManifestType(m.mediaType) && !isIndexType(m.mediaType)) continue;
          await fetchDocument(m, depth + 1);
          if (isManifestType(m.mediaType)) manifests.push({ desc: m, ...(m.platform ? { platform: formatPlatform(m.platform) } : {}) });
        }
        return;
      }
      const m = document.manifest;
      await whenFree(ctx, () => recordBlob(ctx, lease, desc, { ...childLabels('manifest', { config: m.config, layers: m.layers }), ...source }));
      if (depth === 0) manifests.push({ desc });
      await fetchBlob(m.config);
      if (!opts.metadataOnly) for (const l of m.layers) if (!layers.has(l.digest)) layers.set(l.digest, l);
    };

    // The first layer to unpack is applied while it downloads (when it is downloaded from its first byte).
    let early: EarlyLayer | undefined;
    const stopEarly = new AbortController();
    opts.signal?.addEventListener('abort', () => stopEarly.abort(), { once: true });
    const feedEarly = (desc: Descriptor): Feed | undefined => {
      if (!early || early.applied || early.digest !== desc.digest) return undefined;
      const feed = new Feed(EARLY_FEED_BYTES);
      const t = Date.now();
      const e = early;
      e.applied = e.apply(feed, stopEarly.signal);
      e.applied.then(
        () => ctx.onDebug(`timing: layer ${e.index + 1} applied while downloading in ${ms(t)}`),
        (err: unknown) => ctx.onDebug(`layer ${e.index + 1}: apply during the download stopped: ${(err as Error).message}`),
      );
      return feed;
    };

    // 2. Blobs: resumable ingests, verified commits, records in the lease.
    const fetchBlob = async (desc: Descriptor): Promise<void> => {
      const ref = `${ingestKind(desc.mediaType)}-${desc.digest}`;
      const report = (offset: number, status: BlobStatus) => opts.onProgress?.({ kind: 'blob', ref, digest: desc.digest, mediaType: desc.mediaType, offset, total: desc.size, status });
      result.blobs++;
      if (haveBlob(ctx, desc.digest)) {
        await whenFree(ctx, () => recordBlob(ctx, lease, desc, source));
        report(desc.size, 'exists');
        return;
      }
      const tFetch = Date.now();
      const backend = await whenFree(ctx, () => openIngest(ctx, lease, ref));
      let feed: Feed | undefined;
      for (let attempt = 0; ; attempt++) {
        // Another pull of the same blob holds the ingest: wait for it (then the blob is there, or its ingest is ours to resume).
        const w = await store.writer(backend, { total: desc.size, expected: desc.digest, waitMs: INGEST_WAIT_MS, ...(opts.signal ? { signal: opts.signal } : {}) });
        const startedAt = w.offset;
        let streaming = false;
        try {
          if (w.existing) {
            await w.commit(desc.size, desc.digest);
            break;
          }
          report(w.offset, w.offset > 0 ? 'resuming' : 'downloading');
          const res = await fetcher.fetch(desc, { offset: w.offset });
          if (res.resumedFrom < w.offset) await w.reset();
          if (attempt === 0 && w.offset === 0) feed = feedEarly(desc);
          streaming = true;
          let last = 0;
          for await (const chunk of res.stream) {
            await w.write(chunk);
            await feed?.push(chunk);
            result.downloaded += chunk.length;
            const now = Date.now();
            if (now - last > 100) {
              last = now;
              report(w.offset, 'downloading');
            }
          }
          streaming = false;
          await w.commit(desc.size, desc.digest);
          feed?.end();
          break;
        } catch (err) {
          // A download that breaks off (even one that resumes) ends the apply fed by it: the layer is applied from the store later.
          feed?.end(err);
          feed = undefined;
          // Bytes that failed verification (wrong digest, more than the size) must not be resumed from:
          // the stream withholds its last chunk, so the writer never got to commit and reset them itself.
          if (streaming && isCategory(err, 'failed-precondition')) await w.reset().catch(() => {});
          const progressed = w.offset > startedAt;
          await w.close().catch(() => {});
          // A broken body keeps what reached the disk; try again from there, as long as bytes keep coming.
          // A stall is final: the fetcher already waited the whole no-progress timeout.
          if (attempt + 1 < RESUME_ATTEMPTS && progressed && isCategory(err, 'unavailable') && !isStall(err) && !opts.signal?.aborted) {
            ctx.onDebug(`fetch ${desc.digest}: ${(err as Error).message}; resuming`);
            continue;
          }
          throw err;
        }
      }
      await whenFree(ctx, () => recordBlob(ctx, lease, desc, source, ref));
      ctx.onDebug(`timing: fetched ${ref} (${desc.size} bytes) in ${ms(tFetch)}`);
      report(desc.size, 'done');
    };

    await fetchDocument(target, 0);
    ctx.onDebug(`timing: documents and configs in ${ms(t0)}`);
    const unpacking = opts.unpack !== false && !opts.metadataOnly;
    try {
      if (unpacking && manifests.length === 1 && opts.applyWhileDownloading !== false) early = await prepareEarlyLayer(ctx, manifests[0]!.desc, { lease, ...(opts.snapshotter ? { snapshotter: opts.snapshotter } : {}) });
      const tLayers = Date.now();
      await limited(concurrency, [...layers.values()], (l) => fetchBlob(l));
      ctx.onDebug(`timing: ${layers.size} layers fetched in ${ms(tLayers)}`);
      const tUnpack = Date.now();

      // 3. Unpack each fetched manifest.
      if (unpacking) {
        for (const m of manifests) {
          const u = await unpackImage(ctx, m.desc, {
            lease,
            ...(opts.snapshotter ? { snapshotter: opts.snapshotter } : {}),
            ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
            ...(opts.signal ? { signal: opts.signal } : {}),
            ...(early && m === manifests[0] ? { early } : {}),
          });
          const top = u.chainIds[u.chainIds.length - 1];
          if (top) result.unpacked.push({ ...(m.platform ? { platform: m.platform } : {}), snapshotter: u.snapshotter, chainId: top });
        }
        ctx.onDebug(`timing: unpacked in ${ms(tUnpack)}`);
      }
    } catch (err) {
      // The early layer's snapshot was never taken over by the unpack: stop its apply and drop it.
      if (early && !early.settled) {
        stopEarly.abort();
        await early.applied?.catch(() => {});
        await discard(ctx, early.snapshotter, early.key);
      }
      throw err;
    }
    result.manifests = manifests.map((m) => ({ digest: m.desc.digest, ...(m.platform ? { platform: m.platform } : {}) }));

    // 4. The image record, last.
    await whenFree(ctx, () => writeMeta(ctx, (tx) => {
      const exists = bucketPath(tx, K.v1, ctx.namespace, K.images, name);
      const desc = { digest: target.digest, mediaType: target.mediaType, size: target.size };
      if (!exists) createImage(tx, ctx.namespace, { name, target: desc, ...(opts.labels ? { labels: opts.labels } : {}) });
      else {
        if (getImage(tx, ctx.namespace, name).target.digest !== target.digest) updateImageTarget(tx, ctx.namespace, name, desc);
        if (opts.labels && Object.keys(opts.labels).length) updateImageLabels(tx, ctx.namespace, name, opts.labels);
      }
    }));
    ctx.onDebug(`timing: pull done in ${ms(t0)}`);
    return result;
  } finally {
    try {
      await whenFree(ctx, () => writeMeta(ctx, (tx) => deleteLease(tx, ctx.namespace, lease)));
    } catch (e) {
      if (!isCategory(e, 'not-found')) ctx.onDebug(`could not drop lease ${lease}: ${(e as Error).message}`);
    }
  }
}

/** A document from the store when the namespace has it, else from the registry (then stored). */
async function readDocumentCached(ctx: Ctx, fetcher: Fetcher, desc: Descriptor) {
  const { parseDocument } = await import('./registry/documents.js');
  if (haveBlob(ctx, desc.digest)) {
    const bytes = await storeFor(ctx).readAll(desc.digest, { maxSize: desc.size, verify: true });
    return { bytes, document: parseDocument(bytes, desc.mediaType, desc.digest) };
  }
  const got = await fetcher.readDocument(desc);
  const w = await storeFor(ctx).writer(backendRef(ctx.namespace, `${ingestKind(desc.mediaType)}-${desc.digest}`), { total: desc.size, expected: desc.digest, waitMs: INGEST_WAIT_MS });
  try {
    if (!w.existing) {
      if (w.offset > 0) await w.reset();
      await w.write(got.bytes);
    }
    await w.commit(desc.size, desc.digest);
  } finally {
    await w.close().catch(() => {});
  }
  return got;
}
