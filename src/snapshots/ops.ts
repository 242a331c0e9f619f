/**
 * ctr's snapshot verbs over the daemonless snapshotters: `prepare` labels the
 * new active snapshot `containerd.io/gc.root=<now>` (so containerd's GC keeps
 * it), `commit` labels the committed one the same way, `view` adds no label
 * (ctr's views are collected by the next GC unless something references
 * them). `mounts` answers only for active and view snapshots, as containerd's
 * snapshotters do.
 */
import type { OpContext } from '../context.js';
import { failedPrecondition, invalidArgument } from '../errdefs.js';
import { snapshotStat } from '../metadata/api.js';
import { formatRFC3339, timeNow } from '../metadata/encoding.js';
import { LABELS } from '../metadata/schema.js';
import { checkSnapshotter, commit, mounts, prepare } from './snapshotter.js';
import type { Mount } from './mount.js';

type Ctx = Pick<OpContext, 'root' | 'facts' | 'namespace'>;

/** ctr's gc.root value: time.Now().UTC().Format(time.RFC3339). */
const gcRootNow = (): Record<string, string> => ({ [LABELS.gcRoot]: formatRFC3339(timeNow()) });

function checkKey(key: string, what = 'key'): void {
  if (!key) throw invalidArgument(`${what} must not be empty`);
}

/** ctr snapshots prepare KEY [PARENT]: an active snapshot kept by a gc.root label. */
export function prepareSnapshot(ctx: Ctx, snapshotter: string, key: string, parent?: string): Mount[] {
  checkKey(key);
  return prepare(ctx, checkSnapshotter(snapshotter), key, parent || undefined, { kind: 'Active', labels: gcRootNow() });
}

/** ctr snapshots view KEY [PARENT]: a read-only snapshot, unlabelled. */
export function viewSnapshot(ctx: Ctx, snapshotter: string, key: string, parent?: string): Mount[] {
  checkKey(key);
  return prepare(ctx, checkSnapshotter(snapshotter), key, parent || undefined, { kind: 'View' });
}

/** ctr snapshots commit NAME KEY. */
export function commitSnapshot(ctx: Ctx, snapshotter: string, name: string, key: string): void {
  checkKey(name, 'name');
  checkKey(key);
  commit(ctx, checkSnapshotter(snapshotter), name, key, gcRootNow());
}

/** ctr snapshots mounts: the mounts of an active or view snapshot (committed ones have none). */
export function snapshotMounts(ctx: Ctx, snapshotter: string, key: string): Mount[] {
  const sn = checkSnapshotter(snapshotter);
  const info = snapshotStat(ctx, sn, key);
  if (info.kind !== 'Active' && info.kind !== 'View') {
    throw failedPrecondition(`failed to get active mount: requested snapshot ${info.backendKey} not active or view`, { subject: `snapshot ${key}` });
  }
  return mounts(ctx, sn, key);
}
