/**
 * Free-page bookkeeping for one write transaction.
 *
 * The free set at the start of a write transaction is computed by
 * reachability in both freelist modes: every pgid in [2, meta.pgid) that the
 * current tree (and freelist page, if any) does not reach. Only that starting
 * set is ever allocated from: pages this transaction frees are still part of
 * the committed tree (the crash fallback) until the new meta is durable.
 */
import type { Buffer } from 'node:buffer';
import { BUCKET_HEADER_SIZE, BUCKET_LEAF_FLAG, corrupt, decodeBucketHeader, parsePage, type Page } from './page.js';
import type { PageSource } from './file.js';

/**
 * Visit every page run reachable from a bucket: its B+tree and, when
 * `nested`, every sub-bucket's tree (inline buckets own no pages). Throws
 * when a page is reached twice, which also stops cycles.
 */
export function walkBucketPages(
  src: PageSource,
  root: number,
  inline: Page | null,
  nested: boolean,
  visit: (id: number, overflow: number) => void,
  seen: Uint8Array,
): void {
  const path = src.file.path;
  const pending: number[] = [];
  const inlinePages: Page[] = [];
  if (root !== 0) pending.push(root);
  else if (inline) inlinePages.push(inline);

  const scanLeaf = (p: Page): void => {
    for (let i = 0; i < p.count; i++) {
      if ((p.leafFlags(i) & BUCKET_LEAF_FLAG) === 0) continue;
      const v = p.value(i);
      const h = decodeBucketHeader(v, path);
      if (h.root !== 0) pending.push(h.root);
      else inlinePages.push(parseInline(v, path));
    }
  };

  for (;;) {
    const ip = inlinePages.pop();
    if (ip) {
      if (nested && ip.isLeaf) scanLeaf(ip);
      continue;
    }
    const id = pending.pop();
    if (id === undefined) return;
    const p = src.page(id);
    for (let k = 0; k <= p.overflow; k++) {
      const at = id + k;
      if (seen[at]) throw corrupt(`page ${at} is referenced twice`, path);
      seen[at] = 1;
    }
    visit(id, p.overflow);
    if (p.isLeaf) {
      if (nested) scanLeaf(p);
    } else {
      for (let i = 0; i < p.count; i++) {
        const c = p.childPgid(i);
        if (c === null) throw corrupt(`page ${id}: child pgid out of range`, path);
        pending.push(c);
      }
    }
  }
}

export function parseInline(v: Buffer, subject?: string): Page {
  const p = parsePage(v.subarray(BUCKET_HEADER_SIZE), 0, subject);
  if (!p.isLeaf) throw corrupt('inline bucket page is not a leaf', subject);
  return p;
}

/** Pages in [2, meta.pgid) not reachable from the current root (plus the freelist page, if any, counted as used). */
export function freeByReachability(src: PageSource): number[] {
  const m = src.meta;
  src.preload();
  const seen = new Uint8Array(m.pgid);
  seen[0] = 1;
  seen[1] = 1;
  if (m.freelist !== null) {
    const run = src.run(m.freelist, 'freelist');
    const ov = run.readUInt32LE(12);
    for (let k = 0; k <= ov; k++) seen[m.freelist + k] = 1;
  }
  walkBucketPages(src, m.root, null, true, () => {}, seen);
  const free: number[] = [];
  for (let i = 2; i < m.pgid; i++) if (!seen[i]) free.push(i);
  return free;
}

/** Sorted set of allocatable pgids with bbolt's first-fit run search. */
export class FreeSet {
  ids: number[];

  constructor(sortedIds: number[]) {
    this.ids = sortedIds;
  }

  has(id: number): boolean {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.ids.length && this.ids[lo] === id;
  }

  /** Take the first run of n consecutive ids; -1 when there is none. */
  take(n: number): number {
    const ids = this.ids;
    let runStart = 0;
    for (let i = 0; i < ids.length; i++) {
      if (i > 0 && ids[i] !== ids[i - 1]! + 1) runStart = i;
      if (i - runStart + 1 === n) {
        const first = ids[runStart]!;
        ids.splice(runStart, n);
        return first;
      }
    }
    return -1;
  }
}
