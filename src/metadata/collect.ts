/**
 * A full GC pass as containerd runs it, under one write session: mark and
 * sweep meta.db, then clean each dirtied snapshotter (backend records not
 * named by any metadata record, children first; overlayfs dirs not in its
 * DB) and the content store (blob files with no record anywhere, ingest dirs
 * no record refers to). Filesystem deletions happen while meta.db's lock is
 * held, before meta.db commits: if that commit failed, the records left
 * behind are ones the next GC sweeps anyway.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Tx } from '../bolt/types.js';
import type { OpContext } from '../context.js';
import { CtrxError } from '../errdefs.js';
import { getBackend, idSet, listBackend, removeBackend, type BackendSnapshot } from '../snapshots/storage.js';
import { bucketNames, path } from './buckets.js';
import { contentRoot, ingestRoot } from './content.js';
import { snapshotterRoot, viewMeta, writeWith } from './db.js';
import { backendKeysInUse, contentInUse, mark, sweep, type GcNode } from './gc.js';
import { K } from './schema.js';
import { isValidDigest } from './validate.js';

export interface GcOptions {
  /** Clean backends and files even when the sweep removed no record (content prune). */
  full?: boolean;
  /** Reference time for expiry (tests). */
  now?: number;
}

export interface GcReport {
  removed: GcNode[];
  backend: Array<{ snapshotter: string; key: string }>;
  snapshotDirs: string[];
  blobs: string[];
  ingestDirs: string[];
}

/** Snapshotters with cleanup ctrx knows how to do (their dir layout). */
export const KNOWN_BACKENDS = ['overlayfs', 'native'];

/** Every snapshotter named in meta.db, plus the known ones with a DB on disk. */
function snapshotterCandidates(ctx: Pick<OpContext, 'root' | 'facts'>): string[] {
  const named = viewMeta(ctx, (tx) => {
    const out = new Set<string>();
    const v1 = tx?.bucket(K.v1) ?? null;
    for (const ns of bucketNames(v1)) for (const sn of bucketNames(path(v1!, ns, K.snapshots))) out.add(sn);
    return out;
  });
  return [...new Set([...named, ...KNOWN_BACKENDS])].filter((n) => KNOWN_BACKENDS.includes(n));
}

/**
 * Run a mutation and then GC in the same session (what containerd's
 * deletion-triggered GC achieves); `mutate` may be omitted for a plain GC.
 */
export function collectGarbage<T>(
  ctx: Pick<OpContext, 'root' | 'facts'>,
  mutate: ((meta: Tx, sn: Record<string, Tx>) => T) | null,
  opts: GcOptions = {},
  extraSnapshotters: string[] = [],
): { result: T | undefined; gc: GcReport } {
  const names = [...new Set([...snapshotterCandidates(ctx), ...extraSnapshotters])];
  return writeWith(ctx, names, (meta, sn) => {
    const result = mutate ? mutate(meta, sn) : undefined;
    const gc = gcInSession(ctx, meta, sn, opts);
    return { result, gc };
  });
}

export function gcInSession(ctx: Pick<OpContext, 'root' | 'facts'>, meta: Tx, sn: Record<string, Tx>, opts: GcOptions = {}): GcReport {
  const marked = mark(meta, opts.now ?? Date.now());
  const swept = sweep(meta, marked);
  const report: GcReport = { removed: swept.removed, backend: [], snapshotDirs: [], blobs: [], ingestDirs: [] };
  for (const [name, stx] of Object.entries(sn)) {
    if (!opts.full && !swept.dirtySnapshotters.has(name)) continue;
    if (!KNOWN_BACKENDS.includes(name)) continue;
    cleanupSnapshotter(ctx, meta, stx, name, report);
  }
  if (opts.full || swept.dirtyContent) cleanupContent(ctx.root, meta, report);
  return report;
}

interface TreeNode {
  info?: BackendSnapshot;
  remove: boolean;
  children: TreeNode[];
}

function cleanupSnapshotter(ctx: Pick<OpContext, 'root' | 'facts'>, meta: Tx, stx: Tx, name: string, report: GcReport): void {
  const seen = backendKeysInUse(meta, name);
  const nodes = new Map<string, TreeNode>();
  const tops: TreeNode[] = [];
  const node = (k: string) => nodes.get(k) ?? (nodes.set(k, { remove: false, children: [] }), nodes.get(k)!);
  for (const s of listBackend(stx)) {
    const n = node(s.key);
    n.info = s;
    n.remove = !seen.has(s.key);
    if (!s.parent) tops.push(n);
    else node(s.parent).children.push(n);
  }
  const root = snapshotterRoot(ctx, name);
  const prune = (n: TreeNode): void => {
    for (const c of n.children) prune(c);
    if (!n.remove || !n.info || !getBackend(stx, n.info.key)) return;
    try {
      const gone = removeBackend(stx, n.info.key);
      report.backend.push({ snapshotter: name, key: n.info.key });
      if (name === 'native') removeDir(join(root, 'snapshots', String(gone.id)), report);
    } catch (e) {
      // containerd logs FailedPrecondition (a kept child) and goes on
      if (!(e instanceof CtrxError && e.category === 'failed-precondition')) throw e;
    }
  };
  for (const t of tops) prune(t);
  if (name === 'overlayfs') {
    const dir = join(root, 'snapshots');
    if (!existsSync(dir)) return;
    const ids = idSet(stx);
    for (const d of readdirSync(dir)) if (!ids.has(d)) removeDir(join(dir, d), report);
  }
}

function removeDir(dir: string, report: GcReport): void {
  if (!existsSync(dir)) return;
  rmSync(dir, { recursive: true, force: true });
  report.snapshotDirs.push(dir);
}

function cleanupContent(root: string, meta: Tx, report: GcReport): void {
  const { blobs, ingestRefs } = contentInUse(meta);
  const blobsDir = join(contentRoot(root), 'blobs');
  if (existsSync(blobsDir)) {
    for (const alg of readdirSync(blobsDir)) {
      if (!['sha256', 'sha384', 'sha512'].includes(alg)) continue;
      for (const hex of readdirSync(join(blobsDir, alg))) {
        const d = `${alg}:${hex}`;
        // containerd's Walk would fail on a bad name; ctrx leaves such files alone
        if (!isValidDigest(d) || blobs.has(d)) continue;
        rmSync(join(blobsDir, alg, hex), { force: true });
        report.blobs.push(d);
      }
    }
  }
  const ingDir = ingestRoot(root);
  if (existsSync(ingDir)) {
    for (const d of readdirSync(ingDir)) {
      let ref: string;
      try {
        ref = readFileSync(join(ingDir, d, 'ref'), 'utf8');
      } catch {
        continue;
      }
      if (ingestRefs.has(ref)) continue;
      rmSync(join(ingDir, d), { recursive: true, force: true });
      report.ingestDirs.push(d);
    }
  }
}
