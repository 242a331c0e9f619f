/**
 * The overlayfs and native snapshotters, as containerd's: the metadata side
 * (meta.db records, per-namespace keys) and the backend side (metadata.db
 * records and the directories) move together in one write session.
 *
 *   <snapshotter root>/
 *     metadata.db                       backend records (src/snapshots/storage.ts)
 *     snapshots/<id>/fs, work           overlayfs: upper dir and overlay workdir (Active)
 *     snapshots/<id>/                   native: the tree itself
 *
 * A new snapshot's directory is built as snapshots/new-XXXX and renamed to
 * its id inside the transaction that creates its records; if the process
 * dies before the commit, the directory has no record and containerd's (and
 * ctrx's) cleanup removes it.
 */
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Tx } from '../bolt/types.js';
import type { OpContext } from '../context.js';
import { invalidArgument, notFound, internal } from '../errdefs.js';
import { commitSnapshotRecord, createSnapshotRecord, getSnapshotRecord } from '../metadata/snapshots.js';
import { snapshotterRoot, viewMeta, viewSnapshotter, writeWith } from '../metadata/db.js';
import { diskUsage } from '../metadata/api.js';
import type { Labels } from '../metadata/buckets.js';
import { commitBackend, createBackend, getBackend } from './storage.js';
import type { Mount } from './mount.js';

export const SNAPSHOTTERS = ['overlayfs', 'native'] as const;
export type SnapshotterName = (typeof SNAPSHOTTERS)[number];

export function checkSnapshotter(name: string): SnapshotterName {
  if ((SNAPSHOTTERS as readonly string[]).includes(name)) return name as SnapshotterName;
  throw invalidArgument(`unknown or unsupported snapshotter (ctrx drives ${SNAPSHOTTERS.join(', ')})`, { subject: `snapshotter ${JSON.stringify(name)}` });
}

type Ctx = Pick<OpContext, 'root' | 'facts' | 'namespace'>;

export interface PrepareOptions {
  kind?: 'Active' | 'View';
  labels?: Labels;
}

const snapshotsDir = (ctx: Ctx, sn: SnapshotterName) => path.join(snapshotterRoot(ctx, sn), 'snapshots');
const idDir = (ctx: Ctx, sn: SnapshotterName, id: bigint | string) => path.join(snapshotsDir(ctx, sn), String(id));

/** Backend ids from the immediate parent down to the base layer. */
function parentIds(stx: Tx, backendParent: string | undefined): bigint[] {
  const ids: bigint[] = [];
  let p = backendParent;
  for (let depth = 0; p; depth++) {
    if (depth > 4096) throw internal('snapshot parent chain too long or cyclic');
    const b = getBackend(stx, p);
    if (!b) throw notFound('parent missing in the snapshotter database', { subject: `snapshot ${p}` });
    ids.push(b.id);
    p = b.parent;
  }
  return ids;
}

/** The mounts for a backend snapshot, as containerd's overlayfs and native snapshotters compute them. */
function backendMounts(ctx: Ctx, sn: SnapshotterName, stx: Tx, backendKey: string): Mount[] {
  const b = getBackend(stx, backendKey);
  if (!b) throw notFound('missing in the snapshotter database', { subject: `snapshot ${backendKey}` });
  const parents = parentIds(stx, b.parent);
  const view = b.kind === 'View';
  if (sn === 'native') {
    if (view && parents.length > 0) return [{ type: 'bind', source: idDir(ctx, sn, parents[0]!), options: ['ro', 'rbind'] }];
    return [{ type: 'bind', source: idDir(ctx, sn, b.id), options: [view || b.kind === 'Committed' ? 'ro' : 'rw', 'rbind'] }];
  }
  if (parents.length === 0) {
    return [{ type: 'bind', source: path.join(idDir(ctx, sn, b.id), 'fs'), options: [view || b.kind === 'Committed' ? 'ro' : 'rw', 'rbind'] }];
  }
  const lower = parents.map((id) => path.join(idDir(ctx, sn, id), 'fs')).join(':');
  const opts: string[] = [];
  // containerd adds index=off when the overlay module exposes the parameter.
  if (existsSync('/sys/module/overlay/parameters/index')) opts.push('index=off');
  if (view || b.kind === 'Committed') {
    if (parents.length === 1 && b.kind === 'View') return [{ type: 'bind', source: path.join(idDir(ctx, sn, parents[0]!), 'fs'), options: ['ro', 'rbind'] }];
    return [{ type: 'overlay', source: 'overlay', options: [...opts, `lowerdir=${view ? lower : [path.join(idDir(ctx, sn, b.id), 'fs'), lower].join(':')}`] }];
  }
  return [{ type: 'overlay', source: 'overlay', options: [...opts, `workdir=${path.join(idDir(ctx, sn, b.id), 'work')}`, `upperdir=${path.join(idDir(ctx, sn, b.id), 'fs')}`, `lowerdir=${lower}`] }];
}

/**
 * Prepare (Active) or View inside a caller's write session (meta.db and the
 * snapshotter's metadata.db both open for writing). Returns the mounts.
 */
export function prepareIn(ctx: Ctx, meta: Tx, stx: Tx, sn: SnapshotterName, key: string, parent: string | undefined, opts: PrepareOptions = {}): Mount[] {
  const kind = opts.kind ?? 'Active';
  const labels = opts.labels ?? {};
  const rec = createSnapshotRecord(meta, ctx.namespace, sn, key, parent, labels);
  const parentBackend = parent ? getSnapshotRecord(meta, ctx.namespace, sn, parent).name : undefined;
  const dir = snapshotsDir(ctx, sn);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = mkdtempSync(path.join(dir, 'new-'));
  let final: string | undefined;
  try {
    const b = createBackend(stx, rec.name, kind, parentBackend, labels);
    const parentDir = b.parent ? idDir(ctx, sn, getBackend(stx, b.parent)!.id) : undefined;
    if (sn === 'overlayfs') {
      mkdirSync(path.join(tmp, 'fs'), { mode: 0o755 });
      if (kind === 'Active') mkdirSync(path.join(tmp, 'work'), { mode: 0o711 });
      if (parentDir) {
        // The upper dir takes the owner of the parent's root, as containerd does.
        const st = lstatSync(path.join(parentDir, 'fs'));
        chownSync(path.join(tmp, 'fs'), st.uid, st.gid);
      }
    } else if (parentDir && kind === 'Active') {
      // native: an active child is a full copy of its parent (ownership, modes, xattrs, links kept).
      execFileSync('cp', ['-a', '--', `${parentDir}/.`, tmp], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
    final = idDir(ctx, sn, b.id);
    // A directory already named by a fresh id has no record: a leftover of a killed process.
    if (existsSync(final)) rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    return backendMounts(ctx, sn, stx, rec.name);
  } catch (err) {
    rmSync(final ?? tmp, { recursive: true, force: true });
    if (final) rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Commit an active snapshot under `name`, inside a caller's write session. */
export function commitIn(ctx: Ctx, meta: Tx, stx: Tx, sn: SnapshotterName, name: string, key: string, labels: Labels = {}): void {
  const active = getSnapshotRecord(meta, ctx.namespace, sn, key);
  const b = getBackend(stx, active.name);
  if (!b) throw notFound('missing in the snapshotter database', { subject: `snapshot ${key}` });
  const dir = idDir(ctx, sn, b.id);
  const usage = diskUsage(sn === 'overlayfs' ? path.join(dir, 'fs') : dir);
  const { activeBackend, record } = commitSnapshotRecord(meta, ctx.namespace, sn, name, key, labels);
  commitBackend(stx, activeBackend, record.name, usage, labels);
}

/** Prepare or View in a session of its own. */
export function prepare(ctx: Ctx, sn: SnapshotterName, key: string, parent: string | undefined, opts: PrepareOptions = {}): Mount[] {
  return writeWith(ctx, [sn], (meta, s) => prepareIn(ctx, meta, s[sn]!, sn, key, parent, opts), { create: true });
}

export function commit(ctx: Ctx, sn: SnapshotterName, name: string, key: string, labels: Labels = {}): void {
  writeWith(ctx, [sn], (meta, s) => commitIn(ctx, meta, s[sn]!, sn, name, key, labels), { create: true });
}

/**
 * The mounts of a snapshot (read-only: works while containerd runs). Unlike
 * containerd this also answers for a committed snapshot (its chain,
 * read-only): ctrx reads images that way (users, diffs) without a view;
 * `snapshots mounts` refuses committed keys as ctr does.
 */
export function mounts(ctx: Ctx, sn: SnapshotterName, key: string): Mount[] {
  const backendKey = viewMeta(ctx, (meta) => {
    if (!meta) throw notFound('does not exist', { subject: `snapshot ${key}` });
    return getSnapshotRecord(meta, ctx.namespace, sn, key).name;
  });
  return viewSnapshotter(ctx, sn, (stx) => {
    if (!stx) throw notFound('missing in the snapshotter database', { subject: `snapshot ${key}` });
    return backendMounts(ctx, sn, stx, backendKey);
  });
}

/** The directory a snapshot's changes live in (overlayfs upper dir, native tree). */
export function upperDir(ctx: Ctx, sn: SnapshotterName, stx: Tx, backendKey: string): string {
  const b = getBackend(stx, backendKey);
  if (!b) throw notFound('missing in the snapshotter database', { subject: `snapshot ${backendKey}` });
  return sn === 'overlayfs' ? path.join(idDir(ctx, sn, b.id), 'fs') : idDir(ctx, sn, b.id);
}
