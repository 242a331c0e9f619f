/**
 * Commit-time work on a write transaction's materialized nodes, as bbolt
 * does it: rebalance (merge underfull nodes, drop empty ones, collapse a
 * one-child root), then spill (decide inline or not for each changed
 * sub-bucket, split nodes larger than a page, write every node into freshly
 * allocated pages, bottom-up, and point parents at the new pages).
 */
import { Buffer } from 'node:buffer';
import { failedPrecondition } from '../errdefs.js';
import { BUCKET_LEAF_FLAG } from './page.js';
import { isBucketEntry, RawCursor } from './cursor.js';
import { encodeBucketHeader, encodeInlineBucket, inodesSize, Node } from './node.js';
import type { BucketImpl } from './bucket.js';

const EMPTY = Buffer.alloc(0);

// ------------------------------------------------------------ rebalance

export function rebalanceBucket(b: BucketImpl): void {
  for (;;) {
    let any = false;
    const roots = b.rootNode && b.rootNode.pgid === 0 ? [b.rootNode] : [];
    for (const n of [...b.nodes.values(), ...roots]) {
      if (n.unbalanced && !n.dropped) {
        rebalance(b, n);
        any = true;
      }
    }
    if (!any) break;
  }
  for (const child of b.buckets.values()) rebalanceBucket(child);
}

function dropNode(b: BucketImpl, n: Node): void {
  n.dropped = true;
  n.unbalanced = false;
  if (n.pgid !== 0) {
    b.nodes.delete(n.pgid);
    b.tx.freePages(n.pgid, n.overflow);
  }
}

function reparent(b: BucketImpl, inodes: { pgid: number }[], to: Node): void {
  for (const x of inodes) {
    const c = b.nodes.get(x.pgid);
    if (c) c.parent = to;
  }
}

function rebalance(b: BucketImpl, n: Node): void {
  if (!n.unbalanced || n.dropped) return;
  n.unbalanced = false;
  const threshold = b.tx.pageSize / 4;
  if (n.size() > threshold && n.inodes.length > n.minKeys) return;

  const parent = n.parent;
  if (parent === null) {
    // A root branch with one child collapses into that child.
    if (!n.isLeaf && n.inodes.length === 1) {
      const child = b.node(n.inodes[0]!.pgid, n);
      n.isLeaf = child.isLeaf;
      n.inodes = child.inodes;
      reparent(b, n.inodes, n);
      dropNode(b, child);
      n.unbalanced = true; // the collapsed root may itself be a one-child branch
    } else if (!n.isLeaf && n.inodes.length === 0) {
      n.isLeaf = true;
    }
    return;
  }

  const idx = parent.childIndexOf(n.pgid);
  if (n.inodes.length === 0) {
    parent.inodes.splice(idx, 1);
    dropNode(b, n);
    parent.unbalanced = true;
    rebalance(b, parent);
    return;
  }
  if (parent.inodes.length < 2) return; // no sibling to merge with (only in odd files)

  // Merge with the right sibling when first, else into the left sibling.
  if (idx === 0) {
    const target = b.node(parent.inodes[1]!.pgid, parent);
    reparent(b, target.inodes, n);
    n.inodes = n.inodes.concat(target.inodes);
    parent.inodes.splice(1, 1);
    dropNode(b, target);
  } else {
    const target = b.node(parent.inodes[idx - 1]!.pgid, parent);
    reparent(b, n.inodes, target);
    target.inodes = target.inodes.concat(n.inodes);
    parent.inodes.splice(idx, 1);
    dropNode(b, n);
  }
  parent.unbalanced = true;
  rebalance(b, parent);
}

// ------------------------------------------------------------ spill

/** Go's rule: a single leaf, no sub-buckets, and 16 + Σ(16 + key + value) ≤ pageSize/4. */
function inlineable(b: BucketImpl): boolean {
  const n = b.rootNode;
  if (!n || !n.isLeaf) return false;
  if (n.inodes.some((x) => (x.flags & BUCKET_LEAF_FLAG) !== 0)) return false;
  return inodesSize(n.inodes) <= b.tx.pageSize / 4;
}

/** Write changed sub-buckets into b's nodes, then b's nodes into pages; updates b.root. */
export function spillBucket(b: BucketImpl): void {
  for (const [cacheKey, child] of b.buckets) {
    let value: Buffer;
    if (inlineable(child)) {
      if (child.root !== 0) b.tx.freeBucketTree(child.root, null, false);
      child.root = 0;
      value = encodeInlineBucket(child.seq, child.rootNode!.inodes);
    } else {
      spillBucket(child);
      if (!child.rootNode) continue; // untouched: its header in b is still right
      value = encodeBucketHeader(child.root, child.seq);
    }
    const k = Buffer.from(cacheKey, 'latin1');
    const c = new RawCursor(b);
    const e = c.find(k);
    if (!e || !isBucketEntry(e)) throw failedPrecondition(`internal: bucket header 0x${k.toString('hex')} vanished before commit`);
    b.leafNode(c).put(e.key, value, BUCKET_LEAF_FLAG);
  }
  if (!b.rootNode) return;
  let parts = spillNode(b, b.rootNode, true);
  while (parts.length > 1) {
    // The root split: a new branch above it, which may split in turn.
    const top = new Node(false, parts.map((p) => ({ flags: 0, key: p.key, value: EMPTY, pgid: p.pgid })), 0, 0, null);
    parts = spillNode(b, top, true);
  }
  b.root = parts[0]!.pgid;
}

function spillNode(b: BucketImpl, n: Node, isRoot: boolean): { key: Buffer; pgid: number }[] {
  if (n.spilled) throw failedPrecondition('database file is corrupt: a node is its own descendant', { subject: b.path });
  n.spilled = true;
  if (!n.isLeaf) {
    const inodes = [];
    for (const x of n.inodes) {
      const child = b.nodes.get(x.pgid);
      if (!child) {
        inodes.push(x); // untouched subtree keeps its page
        continue;
      }
      for (const p of spillNode(b, child, false)) inodes.push({ flags: 0, key: p.key, value: EMPTY, pgid: p.pgid });
    }
    n.inodes = inodes;
  }
  if (n.pgid !== 0) {
    b.nodes.delete(n.pgid);
    b.tx.freePages(n.pgid, n.overflow);
  }
  if (n.inodes.length === 0 && !isRoot) return [];
  if (!n.isLeaf && n.inodes.length === 0) n.isLeaf = true;
  const out = [];
  for (const part of b.tx.split(n.inodes)) {
    const pgid = b.tx.writeNode(part, n.isLeaf);
    out.push({ key: part[0]?.key ?? EMPTY, pgid });
  }
  return out;
}
