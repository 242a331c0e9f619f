/**
 * `ctr images mount` / `unmount` without the daemon, with ctr 1.6's records:
 * a lease whose id is the target path as typed (expiring in 24 h, labelled
 * `containerd.io/gc.ref.snapshot.<sn>=<target>`), and a snapshot keyed by
 * the target on top of the image's chain: a View, or an Active one with
 * --rw. The records are written in one locked session, then the snapshot is
 * mounted; a failed mount removes what this call created. Unmount with --rm
 * deletes the lease and the snapshot and collects garbage as containerd
 * would after the deletion.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { OpContext } from '../context.js';
import { CtrxError, failedPrecondition, invalidArgument, notFound } from '../errdefs.js';
import { viewMeta, writeWith } from '../metadata/db.js';
import { assertWritable } from '../metadata/writable.js';
import { addLeaseResource, createLease, deleteLease, expireLabel, LABELS } from '../metadata/leases.js';
import { removeSnapshotRecord } from '../metadata/snapshots.js';
import { path as bucketPath } from '../metadata/buckets.js';
import { K } from '../metadata/schema.js';
import { collectGarbage, type GcReport } from '../metadata/collect.js';
import { checkSnapshotter, mounts as snapshotMounts, prepareIn, type SnapshotterName } from '../snapshots/snapshotter.js';
import { isMountPoint, mountAll, unmountAll, type Mount } from '../snapshots/mount.js';
import { chainIds, findImage } from './image.js';
import { imageDiffIds, isUnpacked } from './check.js';
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

export function mountImage(ctx: Ctx, ref: string, target: string, opts: MountImageOptions = {}): MountImageResult {
  const sn = checkSnapshotter(opts.snapshotter || ctx.facts.snapshotter);
  const abs = checkTarget(target);
  const matcher = opts.platform ? onlyPlatform(parsePlatform(opts.platform)) : defaultMatcher();
  const image = findImage(ctx, ref);
  const desc = image.target as Descriptor;
  const { top, exists } = viewMeta(ctx, (tx) => {
    if (!isUnpacked(ctx, tx, sn, desc, matcher)) {
      throw failedPrecondition(`image is not unpacked in snapshotter ${sn}`, { subject: `image ${JSON.stringify(image.name)}`, hint: `unpack it (ctrx -n ${ctx.namespace} images pull ${image.name}) or pick --snapshotter / --platform` });
    }
    const ids = chainIds(imageDiffIds(ctx, tx, desc, matcher));
    return { top: ids[ids.length - 1]!, exists: Boolean(tx && bucketPath(tx, K.v1, ctx.namespace, K.snapshots, sn, target)) };
  });
  assertWritable(ctx);
  // ctr mounts an existing snapshot of that key again (its Prepare/View returns AlreadyExists)
  const existing = exists ? snapshotMounts(ctx, sn, target) : undefined;
  const { mounts, leaseCreated } = writeWith(
    ctx,
    [sn],
    (meta, s) => {
      let leaseCreated = false;
      if (!bucketPath(meta, K.v1, ctx.namespace, K.leases, target)) {
        createLease(meta, ctx.namespace, target, { [LABELS.gcExpire]: expireLabel(LEASE_TTL_MS), [`${LABELS.gcRefSnapshot}${sn}`]: target });
        leaseCreated = true;
      }
      if (existing) return { mounts: existing, leaseCreated };
      const m = prepareIn(ctx, meta, s[sn]!, sn, target, top, { kind: opts.rw ? 'Active' : 'View' });
      if (leaseCreated) addLeaseResource(meta, ctx.namespace, target, { type: `snapshots/${sn}`, id: target });
      return { mounts: m, leaseCreated };
    },
    { create: true },
  );
  try {
    mountAll(mounts, abs);
  } catch (e) {
    // as ctr: the snapshot goes, and the lease if this call made it
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
    throw e;
  }
  return { chainId: top, target, snapshotter: sn, mounts, created: !existing };
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
