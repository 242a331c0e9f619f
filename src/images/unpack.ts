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
async function discard(ctx: Ctx, sn: SnapshotterName, key: string): Promise<void> {
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

export async function unpackImage(ctx: Ctx, manifestDesc: Descriptor, opts: UnpackOptions): Promise<{ chainIds: string[]; snapshotter: SnapshotterName }> {
  const sn = checkSnapshotter(opts.snapshotter ?? ctx.facts.snapshotter);
  const manifest = readDocument<Manifest>(ctx.root, manifestDesc);
  const config = readDocument<ImageConfig>(ctx.root, manifest.config);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw failedPrecondition(`config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, { subject: `manifest ${manifestDesc.digest}` });
  }
  const chain = computeChainIds(diffIds);
  const store = storeFor(ctx);
  for (let i = 0; i < chain.length; i++) {
    const chainId = chain[i]!;
    const parent = i > 0 ? chain[i - 1] : undefined;
    if (snapshotExists(ctx, sn, chainId)) {
      opts.onProgress?.({ kind: 'unpack', layer: i, layers: chain.length, chainId, status: 'exists' });
      continue;
    }
    opts.onProgress?.({ kind: 'unpack', layer: i, layers: chain.length, chainId, status: 'extracting' });
    const t0 = Date.now();
    const key = `extract-${randomLeaseId()} ${chainId}`;
    const mounts = await whenFree(ctx, () =>
      writeWith(
        ctx,
        [sn],
        (meta, s) => {
          const m = prepareIn(ctx, meta, s[sn]!, sn, key, parent);
          addLeaseResource(meta, ctx.namespace, opts.lease, { type: `snapshots/${sn}`, id: key });
          return m;
        },
        { create: true },
      ),
    );
    const layer = manifest.layers[i]!;
    const tApply = Date.now();
    try {
      const target = applyTarget(mounts);
      await applyLayer(store.stream(layer.digest, { verify: true, expectedSize: layer.size }), target.dir, {
        mode: target.mode,
        ...(target.parents ? { parents: target.parents } : {}),
        expectedDiffID: diffIds[i],
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      await discard(ctx, sn, key);
      throw err;
    }
    const tCommit = Date.now();
    try {
      await whenFree(ctx, () =>
        writeWith(ctx, [sn], (meta, s) => {
          commitIn(ctx, meta, s[sn]!, sn, chainId, key);
          addLeaseResource(meta, ctx.namespace, opts.lease, { type: `snapshots/${sn}`, id: chainId });
        }),
      );
    } catch (err) {
      await discard(ctx, sn, key);
      // Another ctrx (or containerd before it started) unpacked the same layer meanwhile.
      if (!isCategory(err, 'already-exists')) throw err;
    }
    await whenFree(ctx, () => labelBlob(ctx, layer.digest, { 'containerd.io/uncompressed': diffIds[i]! }));
    ctx.onDebug?.(`timing: layer ${i + 1}/${chain.length} ${layer.digest} into ${sn} in ${Date.now() - t0} ms (prepare ${tApply - t0}, apply ${tCommit - tApply}, commit ${Date.now() - tCommit})`);
    opts.onProgress?.({ kind: 'unpack', layer: i, layers: chain.length, chainId, status: 'done' });
  }
  if (chain.length) await whenFree(ctx, () => labelBlob(ctx, manifest.config.digest, { [`containerd.io/gc.ref.snapshot.${sn}`]: chain[chain.length - 1]! }));
  return { chainIds: chain, snapshotter: sn };
}
