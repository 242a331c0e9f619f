/**
 * The operations ctrx's commands run on containerd's metadata: each is one
 * read (lock-free) or one write session (locks, then GC where containerd
 * would schedule one after a deletion).
 */
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Tx } from '../bolt/types.js';
import type { OpContext } from '../context.js';
import { CtrxError, failedPrecondition, notFound } from '../errdefs.js';
import { getBackend, listBackend, updateBackendLabels, type BackendSnapshot } from '../snapshots/storage.js';
import { collectGarbage, type GcReport } from './collect.js';
import { deleteContainer, getContainer, listContainers, updateContainerLabels, type ContainerRecord } from './containers.js';
import { deleteBlob, getBlob, listBlobs, updateBlobLabels, type BlobRecord } from './content.js';
import { snapshotterRoot, viewMeta, viewSnapshotter, writeMeta, writeWith } from './db.js';
import { createImage, deleteImage, getImage, listImages, updateImageLabels, type ImageRecord } from './images.js';
import { imagePlatforms, imageSize } from './imageinfo.js';
import { createLease, deleteLease, expireLabel, listLeases, randomLeaseId, type LeaseRecord } from './leases.js';
import { createNamespace, deleteNamespace, listNamespaces, setNamespaceLabel, type NamespaceInfo } from './namespaces.js';
import { getSnapshotRecord, listSnapshotRecords, removeSnapshotRecord, updateSnapshotLabels, type SnapshotRecord } from './snapshots.js';
import { inherited } from '../snapshots/storage.js';
import type { Labels } from './buckets.js';
import type { GoTime } from './encoding.js';
import { LABELS, type SnapshotKind } from './schema.js';

type Ctx = Pick<OpContext, 'root' | 'facts' | 'namespace'>;

// ---- namespaces ----

export const namespacesList = (ctx: Ctx): NamespaceInfo[] => viewMeta(ctx, (tx) => (tx ? listNamespaces(tx) : []));
export const namespaceCreate = (ctx: Ctx, name: string, labels: Labels): void => writeMeta(ctx, (tx) => createNamespace(tx, name, labels));
export const namespaceLabel = (ctx: Ctx, name: string, labels: Labels): void =>
  writeMeta(ctx, (tx) => {
    for (const [k, v] of Object.entries(labels)) setNamespaceLabel(tx, name, k, v);
  });
/** Returns false when the namespace did not exist (ctr reports success then). */
export function namespaceRemove(ctx: Ctx, name: string): boolean {
  return writeMeta(ctx, (tx) => {
    try {
      deleteNamespace(tx, name);
      return true;
    } catch (e) {
      if (e instanceof CtrxError && e.category === 'not-found') return false;
      throw e;
    }
  });
}

// ---- images ----

export interface ImageView extends ImageRecord {
  size: number;
  sizeError?: string;
  platforms: string[];
}

export function imagesList(ctx: Ctx, withDetails = true): ImageView[] {
  return viewMeta(ctx, (tx) => {
    if (!tx) return [];
    return listImages(tx, ctx.namespace).map((img) => {
      if (!withDetails) return { ...img, size: 0, platforms: [] };
      const s = imageSize(tx, ctx.root, ctx.namespace, img.target);
      const p = imagePlatforms(tx, ctx.root, ctx.namespace, img.target);
      return { ...img, size: s.size, ...(s.error ? { sizeError: s.error.message } : {}), platforms: p.platforms };
    });
  });
}

export const imageGet = (ctx: Ctx, name: string): ImageRecord =>
  viewMeta(ctx, (tx) => {
    if (!tx) throw notFound('not found', { subject: `image ${JSON.stringify(name)}` });
    return getImage(tx, ctx.namespace, name);
  });

/** ctr images tag: copy the record (target and labels) to each new name; force replaces. */
export function imageTag(ctx: Ctx, source: string, targets: string[], force: boolean): string[] {
  return writeMeta(ctx, (tx) => {
    const src = getImage(tx, ctx.namespace, source);
    for (const t of targets) {
      if (force) {
        try {
          deleteImage(tx, ctx.namespace, t);
        } catch (e) {
          if (!(e instanceof CtrxError && e.category === 'not-found')) throw e;
        }
      }
      createImage(tx, ctx.namespace, { name: t, target: src.target, labels: src.labels });
    }
    return targets;
  });
}

export const imageLabel = (ctx: Ctx, name: string, labels: Labels, replaceAll: boolean): ImageRecord =>
  writeMeta(ctx, (tx) => updateImageLabels(tx, ctx.namespace, name, labels, replaceAll));

/** Remove image records, then GC as containerd does after a deletion. Missing names are reported back. */
export function imagesRemove(ctx: Ctx, names: string[]): { removed: string[]; missing: string[]; gc: GcReport } {
  const removed: string[] = [];
  const missing: string[] = [];
  const { gc } = collectGarbage(ctx, (tx) => {
    for (const n of names) {
      try {
        deleteImage(tx, ctx.namespace, n);
        removed.push(n);
      } catch (e) {
        if (e instanceof CtrxError && e.category === 'not-found') missing.push(n);
        else throw e;
      }
    }
  });
  return { removed, missing, gc };
}

// ---- content ----

export const contentList = (ctx: Ctx): BlobRecord[] => viewMeta(ctx, (tx) => (tx ? listBlobs(tx, ctx.namespace) : []));
export const contentGet = (ctx: Ctx, digest: string): BlobRecord =>
  viewMeta(ctx, (tx) => {
    if (!tx) throw notFound('not found', { subject: `content digest ${digest}` });
    return getBlob(tx, ctx.namespace, digest);
  });
export const contentLabel = (ctx: Ctx, digest: string, labels: Labels): BlobRecord =>
  Object.keys(labels).length === 0 ? contentGet(ctx, digest) : writeMeta(ctx, (tx) => updateBlobLabels(tx, ctx.namespace, digest, labels));

export function contentRemove(ctx: Ctx, digests: string[]): { removed: string[]; missing: string[]; gc: GcReport } {
  const removed: string[] = [];
  const missing: string[] = [];
  const { gc } = collectGarbage(ctx, (tx) => {
    for (const d of digests) {
      try {
        deleteBlob(tx, ctx.namespace, d);
        removed.push(d);
      } catch (e) {
        if (e instanceof CtrxError && e.category === 'not-found') missing.push(d);
        else throw e;
      }
    }
  });
  return { removed, missing, gc };
}

/** A GC pass that also clears orphaned files; `references` first drops layer refs (ctr content prune references). */
export function contentPrune(ctx: Ctx, references = false): GcReport {
  return collectGarbage(
    ctx,
    references
      ? (tx) => {
          for (const b of listBlobs(tx, ctx.namespace)) {
            const drop: Labels = {};
            for (const k of Object.keys(b.labels)) if (isLayerLabel(k)) drop[k] = '';
            if (Object.keys(drop).length) updateBlobLabels(tx, ctx.namespace, b.digest, drop);
          }
        }
      : null,
    { full: true },
  ).gc;
}

function isLayerLabel(k: string): boolean {
  if (k.startsWith('containerd.io/gc.ref.content.l.')) return true;
  if (!k.startsWith('containerd.io/gc.ref.content.')) return false;
  const rest = k.slice('containerd.io/gc.ref.content.'.length);
  return /^[0-9]*$/.test(rest) && rest !== '0';
}

// ---- leases ----

export const leasesList = (ctx: Ctx): LeaseRecord[] => viewMeta(ctx, (tx) => (tx ? listLeases(tx, ctx.namespace) : []));
export function leaseCreate(ctx: Ctx, opts: { id?: string; expiresMs?: number; labels?: Labels }): LeaseRecord {
  const labels: Labels = { ...(opts.labels ?? {}) };
  if (opts.expiresMs && opts.expiresMs > 0) labels[LABELS.gcExpire] = expireLabel(opts.expiresMs);
  const id = opts.id || randomLeaseId();
  return writeMeta(ctx, (tx) => createLease(tx, ctx.namespace, id, labels));
}
/** ctr leases rm: deletes in order and stops at the first id that does not exist (reported in `missing`). */
export function leasesRemove(ctx: Ctx, ids: string[]): { removed: string[]; missing?: string; gc: GcReport } {
  const removed: string[] = [];
  let missing: string | undefined;
  const { gc } = collectGarbage(ctx, (tx) => {
    for (const id of ids) {
      try {
        deleteLease(tx, ctx.namespace, id);
      } catch (e) {
        if (!(e instanceof CtrxError && e.category === 'not-found')) throw e;
        missing = id;
        return;
      }
      removed.push(id);
    }
  });
  return { removed, ...(missing !== undefined ? { missing } : {}), gc };
}

// ---- snapshots ----

export interface SnapshotInfo {
  key: string;
  parent?: string;
  kind: SnapshotKind;
  labels: Labels;
  createdAt?: GoTime;
  updatedAt?: GoTime;
  backendKey: string;
  backend?: BackendSnapshot;
}

/** metadata snapshotter Stat/Walk: the record overlaid on its backend info; records without a backend are skipped. */
function overlay(rec: SnapshotRecord, b: BackendSnapshot | undefined): SnapshotInfo | undefined {
  if (!b) return undefined;
  return {
    key: rec.key,
    ...(rec.parent ? { parent: rec.parent } : {}),
    kind: b.kind,
    labels: { ...b.labels, ...rec.labels },
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
    backendKey: rec.name,
    backend: b,
  };
}

export function snapshotsList(ctx: Ctx, snapshotter: string): SnapshotInfo[] {
  const recs = viewMeta(ctx, (tx) => (tx ? listSnapshotRecords(tx, ctx.namespace, snapshotter) : []));
  if (recs.length === 0) return [];
  const backend = viewSnapshotter(ctx, snapshotter, (stx) => new Map((stx ? listBackend(stx) : []).map((b) => [b.key, b])));
  return recs.map((r) => overlay(r, backend.get(r.name))).filter((x): x is SnapshotInfo => x !== undefined);
}

export function snapshotStat(ctx: Ctx, snapshotter: string, key: string): SnapshotInfo {
  const rec = viewMeta(ctx, (tx) => {
    if (!tx) throw notFound('does not exist', { subject: `snapshot ${key}` });
    return getSnapshotRecord(tx, ctx.namespace, snapshotter, key);
  });
  const b = viewSnapshotter(ctx, snapshotter, (stx) => (stx ? getBackend(stx, rec.name) : undefined));
  const info = overlay(rec, b);
  if (!info) throw notFound('not found', { subject: `snapshot ${rec.name}` });
  return info;
}

export function snapshotLabel(ctx: Ctx, snapshotter: string, key: string, labels: Labels): SnapshotInfo {
  if (Object.keys(labels).length === 0) return snapshotStat(ctx, snapshotter, key);
  writeWith(ctx, [snapshotter], (tx, sn) => {
    const rec = updateSnapshotLabels(tx, ctx.namespace, snapshotter, key, labels);
    const stx = sn[snapshotter];
    if (stx && getBackend(stx, rec.name)) {
      const touched = Object.keys(labels).some((k) => Object.keys(inherited({ [k]: 'x' })).length > 0);
      if (touched) updateBackendLabels(stx, rec.name, rec.labels);
    }
  });
  return snapshotStat(ctx, snapshotter, key);
}

/** ctr snapshots rm: each record removed (children refuse), then GC cleans the backend. */
export function snapshotsRemove(ctx: Ctx, snapshotter: string, keys: string[]): { removed: string[]; gc: GcReport } {
  const removed: string[] = [];
  const { gc } = collectGarbage(
    ctx,
    (tx) => {
      for (const k of keys) {
        removeSnapshotRecord(tx, ctx.namespace, snapshotter, k);
        removed.push(k);
      }
    },
    {},
    [snapshotter],
  );
  return { removed, gc };
}

export interface Usage {
  size: number;
  inodes: number;
}

/** Snapshotter Usage: stored for Committed; du of the upper dir for Active (overlayfs fs/, native dir). */
export function snapshotUsage(ctx: Ctx, snapshotter: string, info: SnapshotInfo): Usage {
  const b = info.backend!;
  if (b.kind !== 'Active') return { size: b.size ?? 0, inodes: b.inodes ?? 0 };
  const base = join(snapshotterRoot(ctx, snapshotter), 'snapshots', String(b.id));
  return diskUsage(snapshotter === 'overlayfs' ? join(base, 'fs') : base);
}

/** continuity fs.DiskUsage: Σ st_blocks×512 and inode count, hard links once, root included. */
export function diskUsage(root: string): Usage {
  const seen = new Set<string>();
  let size = 0;
  const walk = (p: string): void => {
    const st = lstatSync(p, { bigint: true });
    const k = `${st.dev}:${st.ino}`;
    if (!seen.has(k)) {
      seen.add(k);
      size += Number(st.blocks) * 512;
    }
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  if (existsSync(root)) walk(root);
  return { size, inodes: seen.size };
}

// ---- containers ----

export const containersList = (ctx: Ctx): ContainerRecord[] => viewMeta(ctx, (tx) => (tx ? listContainers(tx, ctx.namespace) : []));
export const containerGet = (ctx: Ctx, id: string): ContainerRecord =>
  viewMeta(ctx, (tx) => {
    if (!tx) throw notFound('not found', { subject: `container ${JSON.stringify(id)}` });
    return getContainer(tx, ctx.namespace, id);
  });
export const containerLabel = (ctx: Ctx, id: string, labels: Labels): ContainerRecord =>
  writeMeta(ctx, (tx) => updateContainerLabels(tx, ctx.namespace, id, labels));

/**
 * ctr containers rm: refused while runc still has state for the container;
 * the record goes, and its snapshot unless keepSnapshot (a snapshot with
 * children stays, as in containerd, whose client ignores that error).
 */
export function containersRemove(ctx: Ctx & Pick<OpContext, 'state'>, ids: string[], keepSnapshot: boolean): { removed: string[]; missing: string[]; gc: GcReport } {
  for (const id of ids) {
    if (existsSync(join(ctx.state, 'runc', ctx.namespace, id, 'state.json'))) {
      throw failedPrecondition('cannot delete a non stopped container', { subject: `container ${JSON.stringify(id)}`, hint: 'a runc container with this id still exists; stop and delete its task first' });
    }
  }
  const pre = viewMeta(ctx, (tx) => ids.map((id) => (tx ? getContainer(tx, ctx.namespace, id) : null)));
  const sns = pre.map((c) => c?.snapshotter ?? '').filter((s) => s);
  const removed: string[] = [];
  const missing: string[] = [];
  const { gc } = collectGarbage(
    ctx,
    (tx: Tx) => {
      for (const id of ids) {
        let c: ContainerRecord;
        try {
          c = deleteContainer(tx, ctx.namespace, id);
        } catch (e) {
          // ctr logs the failure and goes on with the other ids
          if (!(e instanceof CtrxError && e.category === 'not-found')) throw e;
          missing.push(id);
          continue;
        }
        removed.push(id);
        if (!keepSnapshot && c.snapshotter && c.snapshotKey) {
          try {
            removeSnapshotRecord(tx, ctx.namespace, c.snapshotter, c.snapshotKey);
          } catch (e) {
            if (!(e instanceof CtrxError && (e.category === 'not-found' || e.category === 'failed-precondition'))) throw e;
          }
        }
      }
    },
    {},
    sns,
  );
  return { removed, missing, gc };
}

export { inherited };
