/**
 * `ctr images mount` / `unmount` without the daemon, with ctr 1.6's records:
 * a lease whose id is the target path as typed (expiring in 24 h, labelled
 * `containerd.io/gc.ref.snapshot.<sn>=<target>`), and a snapshot keyed by
 * the target on top of the image's chain: a View, or an Active one with
 * --rw. An image not unpacked in the snapshotter is unpacked first, under
 * that lease (as ctr does). The lease and snapshot are written in one locked
 * session, then the snapshot is mounted; a failed mount removes the
 * snapshot, and the lease if this call created it. Unmount with --rm
 * deletes the lease and the snapshot and collects garbage as containerd
 * would after the deletion.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { OpContext } from '../context.js';
import { CtrxError, failedPrecondition, invalidArgument, notFound } from '../errdefs.js';
import type { Tx } from '../bolt/types.js';
import { viewMeta, writeMeta, writeWith } from '../metadata/db.js';
import { assertWritable } from '../metadata/writable.js';
import { addLeaseResource, createLease, deleteLease, expireLabel, LABELS } from '../metadata/leases.js';
import { removeSnapshotRecord } from '../metadata/snapshots.js';
import { path as bucketPath } from '../metadata/buckets.js';
import { K } from '../metadata/schema.js';
import { collectGarbage, type GcReport } from '../metadata/collect.js';
import { checkSnapshotter, mounts as snapshotMounts, prepareIn, type SnapshotterName } from '../snapshots/snapshotter.js';
import { isMountPoint, mountAll, unmountAll, type Mount } from '../snapshots/mount.js';
import { chainIds, findImage } from './image.js';
import { imageDiffIds, isUnpacked, manifestFor } from './check.js';
import { defaultMatcher, onlyPlatform, parsePlatform } from './platform.js';
import type { Descriptor } from './registry/types.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts'>;

const LEASE_TTL_MS = 24 * 60 * 60 * 1000;

export interface MountImageOptions {
  rw?: boolean;
  /** os/arch[/variant]; default the host's. */
  platform?: string;
  snapshotter?: string;
}

export interface MountImageResult {
  /** The image's top chainID (ctr prints it first). */
  chainId: string;
  target: string;
  snapshotter: SnapshotterName;
  mounts: Mount[];
  /** False when a snapshot keyed by the target already existed and was mounted again. */
  created: boolean;
  /** The image was unpacked first (it was not in the snapshotter). */
  unpacked: boolean;
}

function checkTarget(target: string): string {
  if (!target) throw invalidArgument('please provide a target path to mount to');
  const abs = path.resolve(target);
  let st;
  try {
    st = statSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('mount target does not exist', { subject: `target ${abs}`, hint: 'create the directory first' });
    throw e;
  }
  if (!st.isDirectory()) throw invalidArgument('mount target is not a directory', { subject: `target ${abs}` });
  if (isMountPoint(abs)) throw failedPrecondition('already a mount point', { subject: `target ${abs}`, hint: `unmount it first (ctrx images unmount ${target})` });
  return abs;
}

const isNotFound = (e: unknown) => e instanceof CtrxError && e.category === 'not-found';

/** Delete the lease (when this call made it) and the target's snapshot, then GC: what ctr's failure path leaves. */
function undo(ctx: Ctx, sn: SnapshotterName, target: string, leaseCreated: boolean): void {
  collectGarbage(
    ctx,
    (meta) => {
      if (leaseCreated) {
        try {
          deleteLease(meta, ctx.namespace, target);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
      try {
        removeSnapshotRecord(meta, ctx.namespace, sn, target);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    {},
    [sn],
  );
}

/** ctr's lease for a mount: id = target, 24 h, labelled with the snapshot it is for. Returns whether it was created. */
function ensureLease(meta: Tx, ns: string, sn: string, target: string): boolean {
  if (bucketPath(meta, K.v1, ns, K.leases, target)) return false;
  createLease(meta, ns, target, { [LABELS.gcExpire]: expireLabel(LEASE_TTL_MS), [`${LABELS.gcRefSnapshot}${sn}`]: target });
  return true;
}

export async function mountImage(ctx: Ctx, ref: string, target: string, opts: MountImageOptions = {}): Promise<MountImageResult> {
  const sn = checkSnapshotter(opts.snapshotter || ctx.facts.snapshotter);
  const abs = checkTarget(target);
  const matcher = opts.platform ? onlyPlatform(parsePlatform(opts.platform)) : defaultMatcher();
  const image = findImage(ctx, ref);
  const desc = image.target as Descriptor;
  const pre = viewMeta(ctx, (tx) => ({
    manifest: manifestFor(ctx, tx, desc, matcher).desc,
    unpacked: isUnpacked(ctx, tx, sn, desc, matcher),
    exists: Boolean(tx && bucketPath(tx, K.v1, ctx.namespace, K.snapshots, sn, target)),
  }));
  assertWritable(ctx);
  let leaseCreated = false;
  if (!pre.unpacked) {
    // as ctr: the image is unpacked under the mount's lease
    leaseCreated = writeMeta(ctx, (meta) => ensureLease(meta, ctx.namespace, sn, target));
    const { unpackImage } = await import('./unpack.js');
    try {
      await unpackImage(ctx, pre.manifest, { snapshotter: sn, lease: target });
    } catch (e) {
      if (leaseCreated) undo(ctx, sn, target, true);
      throw e;
    }
  }
  const top = viewMeta(ctx, (tx) => {
    const ids = chainIds(imageDiffIds(ctx, tx, desc, matcher));
    return ids[ids.length - 1];
  });
  if (!top) throw failedPrecondition('image has no layers to mount', { subject: `image ${JSON.stringify(image.name)}` });
  // ctr mounts an existing snapshot of that key again (its Prepare/View returns AlreadyExists)
  const existing = pre.exists ? snapshotMounts(ctx, sn, target) : undefined;
  const mounts = writeWith(
    ctx,
    [sn],
    (meta, s) => {
      if (ensureLease(meta, ctx.namespace, sn, target)) leaseCreated = true;
      if (existing) return existing;
      const m = prepareIn(ctx, meta, s[sn]!, sn, target, top, { kind: opts.rw ? 'Active' : 'View' });
      if (leaseCreated) addLeaseResource(meta, ctx.namespace, target, { type: `snapshots/${sn}`, id: target });
      return m;
    },
    { create: true },
  );
  try {
    mountAll(mounts, abs);
  } catch (e) {
    // as ctr: the snapshot goes, and the lease if this call made it
    undo(ctx, sn, target, leaseCreated);
    throw e;
  }
  return { chainId: top, target, snapshotter: sn, mounts, created: !existing, unpacked: !pre.unpacked };
}

export interface UnmountImageOptions {
  /** Delete the lease and the snapshot keyed by the target. */
  rm?: boolean;
  snapshotter?: string;
}

export function unmountImage(ctx: Ctx, target: string, opts: UnmountImageOptions = {}): { target: string; removed: boolean; gc?: GcReport } {
  if (!target) throw invalidArgument('please provide a target path to unmount from');
  const sn = opts.rm ? checkSnapshotter(opts.snapshotter || ctx.facts.snapshotter) : undefined;
  if (opts.rm) assertWritable(ctx);
  unmountAll(path.resolve(target));
  if (!sn) return { target, removed: false };
  let removed = false;
  const { gc } = collectGarbage(
    ctx,
    (meta) => {
      try {
        deleteLease(meta, ctx.namespace, target);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      try {
        removeSnapshotRecord(meta, ctx.namespace, sn, target);
        removed = true;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    {},
    [sn],
  );
  return { target, removed, gc };
}
