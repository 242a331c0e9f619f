/**
 * Read-only inspection of a database's page structure: every bucket's shape
 * and page accounting (reachable, free, leaked), with the problems bbolt's
 * own check would report. For diagnostics and tests; never modifies the file.
 */
import type { Buffer } from 'node:buffer';
import { invalidArgument } from '../errdefs.js';
import type { DB } from './types.js';
import type { PageSource } from './file.js';
import { parseInline } from './freelist.js';
import { BUCKET_LEAF_FLAG, decodeBucketHeader, decodeFreelist, type Page } from './page.js';

export interface BucketInfo {
  /** Hex-encoded names from the root; [] is the root bucket. */
  path: string[];
  inline: boolean;
  /** Root pgid (0 when inline). */
  root: number;
  /** Levels of the B+tree (1 = a single leaf). */
  depth: number;
  /** Pages owned by this bucket's own tree, overflow pages included. */
  pages: number;
  /** Entries in the bucket (values and sub-buckets). */
  entries: number;
  sequence: bigint;
}

export interface Inspection {
  txid: bigint;
  pageSize: number;
  /** meta.pgid: pages the file accounts for. */
  highWater: number;
  freelistPage: number | null;
  /** Pages reachable from the current meta: both metas, the freelist run, every tree page. */
  reachable: number;
  /** Pages listed free (freelist mode) or unreachable (no-freelist mode). */
  free: number;
  buckets: BucketInfo[];
  /** Empty when the file is consistent. */
  problems: string[];
}

/** Internal hook implemented by the DB handle: run fn over the current snapshot's pages. */
export interface Snapshotter {
  withSnapshot<T>(fn: (src: PageSource) => T): T;
}

export function inspect(db: DB): Inspection {
  const s = db as unknown as Partial<Snapshotter>;
  if (typeof s.withSnapshot !== 'function') throw invalidArgument('inspect() needs a DB from openDB()');
  return s.withSnapshot(inspectSnapshot);
}

function inspectSnapshot(src: PageSource): Inspection {
  const m = src.meta;
  const problems: string[] = [];
  const owner = new Uint8Array(m.pgid); // 1 = reachable
  owner[0] = 1;
  owner[1] = 1;
  let free = new Set<number>();
  if (m.freelist !== null) {
    try {
      const run = src.run(m.freelist, 'freelist');
      for (let k = 0; k <= run.readUInt32LE(12); k++) owner[m.freelist + k] = 1;
      free = new Set(decodeFreelist(run, m.freelist, m.pgid, src.file.path));
    } catch (e) {
      problems.push(`freelist: ${(e as Error).message}`);
    }
  }

  const buckets: BucketInfo[] = [];
  const queue: { path: string[]; root: number; inline: Page | null; sequence: bigint }[] = [
    { path: [], root: m.root, inline: null, sequence: m.sequence },
  ];
  while (queue.length) {
    const q = queue.shift()!;
    const info: BucketInfo = { path: q.path, inline: q.root === 0, root: q.root, depth: 0, pages: 0, entries: 0, sequence: q.sequence };
    buckets.push(info);
    const leaf = (p: Page): void => {
      info.entries += p.count;
      for (let i = 0; i < p.count; i++) {
        if ((p.leafFlags(i) & BUCKET_LEAF_FLAG) === 0) continue;
        const name = p.key(i).toString('hex');
        const v: Buffer = p.value(i);
        try {
          const h = decodeBucketHeader(v, src.file.path);
          const inline = h.root === 0 ? parseInline(v, src.file.path) : null;
          if (q.root === 0) problems.push(`bucket ${[...q.path, name].join('/')}: inside an inline bucket`);
          queue.push({ path: [...q.path, name], root: h.root, inline, sequence: h.sequence });
        } catch (e) {
          problems.push(`bucket ${[...q.path, name].join('/')}: ${(e as Error).message}`);
        }
      }
    };
    if (q.inline) {
      info.depth = 1;
      leaf(q.inline);
      continue;
    }
    const stack: { id: number; level: number }[] = [{ id: q.root, level: 1 }];
    while (stack.length) {
      const { id, level } = stack.pop()!;
      let p: Page;
      try {
        p = src.page(id);
      } catch (e) {
        problems.push(`bucket ${q.path.join('/') || '(root)'}: ${(e as Error).message}`);
        continue;
      }
      info.depth = Math.max(info.depth, level);
      let shared = false;
      for (let k = 0; k <= p.overflow; k++) {
        if (owner[id + k]) {
          problems.push(`page ${id + k}: multiple references`);
          shared = true;
        }
        if (free.has(id + k)) problems.push(`page ${id + k}: reachable and listed free`);
        owner[id + k] = 1;
      }
      if (shared) continue;
      info.pages += p.overflow + 1;
      if (p.isLeaf) leaf(p);
      else for (let i = 0; i < p.count; i++) stack.push({ id: p.childPgid(i) ?? -1, level: level + 1 });
    }
  }

  let reachable = 0;
  let unaccounted = 0;
  for (let i = 0; i < m.pgid; i++) {
    if (owner[i]) reachable++;
    else if (m.freelist !== null && !free.has(i)) unaccounted++;
  }
  if (unaccounted) problems.push(`${unaccounted} pages are neither reachable nor free`);
  return {
    txid: m.txid,
    pageSize: src.pageSize,
    highWater: m.pgid,
    freelistPage: m.freelist,
    reachable,
    free: m.freelist !== null ? free.size : m.pgid - reachable,
    buckets,
    problems,
  };
}
