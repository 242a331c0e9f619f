/**
 * Unpacking an image's layers into a snapshotter exactly as containerd's
 * client does for `ctr images pull`: per layer, an active snapshot
 * `extract-<nanos>-<rand> <chainID>` on the previous chainID, the layer
 * applied (overlay: into the upper dir with overlay whiteouts and the lower
 * dirs as parents; native: into the copy), the uncompressed digest checked
 * against the config's diff_ids, then a commit under the chainID and the
 * layer blob labelled `containerd.io/uncompressed`. Finally the config blob
 * gets `containerd.io/gc.ref.snapshot.<snapshotter>` = the top chainID, so
 * containerd's GC keeps the chain through the image.
 *
 * One layer may be applied while it downloads: prepareEarlyLayer() makes the
 * extraction snapshot of the first layer still to unpack (its parents are
 * all in place), the puller feeds the download into its apply(), and
 * unpackImage() commits it once the blob and the diff_id are verified. If
 * that apply fails for any reason, the layer is applied again from the
 * content store, as if nothing had been streamed.
 */
import type { OpContext } from '../context.js';
import { failedPrecondition, isCategory } from '../errdefs.js';
import { snapshotterRoot, viewMeta, writeWith } from '../metadata/db.js';
import { addLeaseResource, randomLeaseId } from '../metadata/leases.js';
import { removeSnapshotRecord } from '../metadata/snapshots.js';
import { path as bucketPath } from '../metadata/buckets.js';
import { K } from '../metadata/schema.js';
import { removeBackend } from '../snapshots/storage.js';
import { checkSnapshotter, commitIn, prepareIn, type SnapshotterName } from '../snapshots/snapshotter.js';
import type { Mount } from '../snapshots/mount.js';
import { applyLayer } from '../archive/apply.js';
import { labelBlob, storeFor, whenFree } from './content-records.js';
import { chainIds as computeChainIds, readDocument, type ImageConfig, type Manifest } from './image.js';
import type { Descriptor } from './registry/types.js';
import { rmSync } from 'node:fs';
import path from 'node:path';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts'> & { onDebug?: (line: string) => void };

export interface UnpackProgress {
  kind: 'unpack';
  layer: number;
  layers: number;
  chainId: string;
  status: 'exists' | 'extracting' | 'done';
}

export interface UnpackOptions {
  snapshotter?: string;
  /** Lease that holds the snapshots while the pull is under way. */
  lease: string;
  onProgress?: (p: UnpackProgress) => void;
  signal?: AbortSignal;
  /** A layer prepared (and maybe applied while downloading) by prepareEarlyLayer. */
  early?: EarlyLayer;
}

/** An extraction snapshot made before its layer's download, so the bytes can be applied as they arrive. */
export interface EarlyLayer {
  snapshotter: SnapshotterName;
  index: number;
  digest: string;
  key: string;
  /** Applies a layer stream (compressed as downloaded) into the snapshot, checking the diff_id. */
  apply(source: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void>;
  /** Set by whoever started apply() on the download. */
  applied?: Promise<void>;
  /** Set once unpackImage took it over (committed or discarded). */
  settled?: boolean;
}

const snapshotExists = (ctx: Ctx, sn: string, key: string): boolean =>
  viewMeta(ctx, (tx) => Boolean(tx && bucketPath(tx, K.v1, ctx.namespace, K.snapshots, sn, key)));

/** Where a layer is applied, from the mounts of its extraction snapshot. */
function applyTarget(mounts: Mount[]): { dir: string; mode: 'overlay' | 'native'; parents?: string[] } {
  const m = mounts[0]!;
  if (m.type === 'overlay') {
    const opt = (k: string) => m.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
    const upper = opt('upperdir');
    if (!upper) throw failedPrecondition('overlay mount without an upper dir', { subject: 'unpack' });
    return { dir: upper, mode: 'overlay', parents: (opt('lowerdir') ?? '').split(':').filter(Boolean) };
  }
  return { dir: m.source, mode: 'native' };
}

/** Drop an extraction snapshot that failed: records and directory. */
export async function discard(ctx: Ctx, sn: SnapshotterName, key: string): Promise<void> {
  try {
    await whenFree(ctx, () =>
      writeWith(ctx, [sn], (meta, s) => {
        const rec = removeSnapshotRecord(meta, ctx.namespace, sn, key);
        const b = removeBackend(s[sn]!, rec.name);
        rmSync(path.join(snapshotterRoot(ctx, sn), 'snapshots', String(b.id)), { recursive: true, force: true });
      }),
    );
  } catch {
    /* it stays in the lease; containerd's or ctrx's GC removes it once the lease expires */
  }
}

interface Plan {
  sn: SnapshotterName;
  manifest: Manifest;
  diffIds: string[];
  chain: string[];
}

function plan(ctx: Ctx, manifestDesc: Descriptor, snapshotter: string | undefined): Plan {
  const sn = checkSnapshotter(snapshotter ?? ctx.facts.snapshotter);
  const manifest = readDocument<Manifest>(ctx.root, manifestDesc);
  const config = readDocument<ImageConfig>(ctx.root, manifest.config);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw failedPrecondition(`config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, { subject: `manifest ${manifestDesc.digest}` });
  }
  return { sn, manifest, diffIds, chain: computeChainIds(diffIds) };
}

/** The active `extract-… <chainID>` snapshot for layer i, in the lease; returns its key and where to apply. */
async function prepareLayer(ctx: Ctx, p: Plan, i: number, lease: string): Promise<{ key: string; mounts: Mount[] }> {
  const key = `extract-${randomLeaseId()} ${p.chain[i]!}`;
  const parent = i > 0 ? p.chain[i - 1] : undefined;
  const mounts = await whenFree(ctx, () =>
    writeWith(
      ctx,
      [p.sn],
      (meta, s) => {
        const m = prepareIn(ctx, meta, s[p.sn]!, p.sn, key, parent);
        addLeaseResource(meta, ctx.namespace, lease, { type: `snapshots/${p.sn}`, id: key });
        return m;
      },
      { create: true },
    ),
  );
  return { key, mounts };
}

function applier(p: Plan, i: number, mounts: Mount[]) {
  return async (source: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> => {
    const target = applyTarget(mounts);
    await applyLayer(source, target.dir, {
      mode: target.mode,
      ...(target.parents ? { parents: target.parents } : {}),
      expectedDiffID: p.diffIds[i],
      ...(signal ? { signal } : {}),
    });
  };
}

/**
 * The first layer of the image that is not unpacked yet, its extraction
 * snapshot prepared, when its blob still has to be downloaded (otherwise
 * there is nothing to overlap and unpackImage does it all).
 */
export async function prepareEarlyLayer(ctx: Ctx, manifestDesc: Descriptor, opts: { snapshotter?: string; lease: string }): Promise<EarlyLayer | undefined> {
  const p = plan(ctx, manifestDesc, opts.snapshotter);
  const i = p.chain.findIndex((c) => !snapshotExists(ctx, p.sn, c));
  if (i < 0) return undefined;
  const digest = p.manifest.layers[i]!.digest;
  if (storeFor(ctx).has(digest)) return undefined;
  const { key, mounts } = await prepareLayer(ctx, p, i, opts.lease);
  return { snapshotter: p.sn, index: i, digest, key, apply: applier(p, i, mounts) };
}

export async function unpackImage(ctx: Ctx, manifestDesc: Descriptor, opts: UnpackOptions): Promise<{ chainIds: string[]; snapshotter: SnapshotterName }> {
  const p = plan(ctx, manifestDesc, opts.snapshotter);
  const { sn, manifest, diffIds, chain } = p;
  const store = storeFor(ctx);
  const early = opts.early;
  for (let i = 0; i < chain.length; i++) {
    const chainId = chain[i]!;
    const layer = manifest.layers[i]!;
    const t0 = Date.now();
    let key: string | undefined;
    let how = 'from the store';
    if (early && early.index === i && !early.settled) {
      early.settled = true;
      key = early.key;
      if (early.applied) {
        try {
          await early.applied;
          how = 'while downloading';
        } catch (err) {
          ctx.onDebug?.(`layer ${i + 1}: applying during the download failed (${(err as Error).message}); applying from the store`);
          await discard(ctx, sn, key);
          key = undefined;
        }
      }
    }
    if (!key && snapshotExists(ctx, sn, chainId)) {
      opts.onProgress?.({ kind: 'unpack', layer: i, layers: chain.length, chainId, status: 'exists' });
      continue;
    }
    opts.onProgress?.({ kind: 'unpack', layer: i, layers: chain.length, chainId, status: 'extracting' });
    const tApply = Date.now();
    if (!key || how !== 'while downloading') {
      let mounts: Mount[] | undefined;
      if (!key) ({ key, mounts } = await prepareLayer(ctx, p, i, opts.lease));
      try {
        // No digest check on this read: the diff_id check below covers every byte, and the blob was verified when written.
        const source = store.stream(layer.digest, { expectedSize: layer.size });
        if (mounts) await applier(p, i, mounts)(source, opts.signal);
        else await early!.apply(source, opts.signal);
      } catch (err) {
        await discard(ctx, sn, key);
        throw err;
      }
    }
    const tCommit = Date.now();
    try {
      await whenFree(ctx, () =>
        writeWith(ctx, [sn], (meta, s) => {
          commitIn(ctx, meta, s[sn]!, sn, chainId, key!);
          addLeaseResource(meta, ctx.namespace, opts.lease, { type: `snapshots/${sn}`, id: chainId });
        }),
      );
    } catch (err) {
      await discard(ctx, sn, key);
      // Another ctrx (or containerd before it started) unpacked the same layer meanwhile.
      if (!isCategory(err, 'already-exists')) throw err;
    }
    await whenFree(ctx, () => labelBlob(ctx, layer.digest, { 'containerd.io/uncompressed': diffIds[i]! }));
    ctx.onDebug?.(`timing: layer ${i + 1}/${chain.length} ${layer.digest} into ${sn} in ${Date.now() - t0} ms (applied ${how}: ${tCommit - tApply} ms, commit ${Date.now() - tCommit} ms)`);
    opts.onProgress?.({ kind: 'unpack', layer: i, layers: chain.length, chainId, status: 'done' });
  }
  if (chain.length) await whenFree(ctx, () => labelBlob(ctx, manifest.config.digest, { [`containerd.io/gc.ref.snapshot.${sn}`]: chain[chain.length - 1]! }));
  return { chainIds: chain, snapshotter: sn };
}
