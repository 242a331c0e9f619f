/**
 * In-memory, writable form of a page (bbolt's "node"). A write transaction
 * materializes nodes only along the paths it changes; everything else stays
 * on its old page and keeps its pgid at commit.
 */
import { Buffer } from 'node:buffer';
import {
  BRANCH_PAGE,
  BUCKET_HEADER_SIZE,
  ELEMENT_SIZE,
  FILL_PERCENT,
  LEAF_PAGE,
  MIN_KEYS_PER_PAGE,
  PAGE_HEADER_SIZE,
  checkKeyOrder,
  writePgid,
  type Page,
} from './page.js';

export interface Inode {
  flags: number;
  key: Buffer;
  /** Leaf value (bucket header + inline page for buckets); empty for branch inodes. */
  value: Buffer;
  /** Branch child; 0 for leaf inodes. */
  pgid: number;
}

const EMPTY = Buffer.alloc(0);

export class Node {
  isLeaf: boolean;
  inodes: Inode[];
  /** Page this node was read from (0 = new, or an inline bucket's root). */
  pgid: number;
  /** Overflow of that page, so the whole run is freed when the node is rewritten. */
  overflow: number;
  parent: Node | null;
  unbalanced = false;
  /** Removed by a merge; its page is freed and it must not be touched again. */
  dropped = false;
  /** Written out at commit (guards against cycles in damaged files). */
  spilled = false;

  constructor(isLeaf: boolean, inodes: Inode[], pgid: number, overflow: number, parent: Node | null) {
    this.isLeaf = isLeaf;
    this.inodes = inodes;
    this.pgid = pgid;
    this.overflow = overflow;
    this.parent = parent;
  }

  static fromPage(p: Page, parent: Node | null, subject?: string): Node {
    checkKeyOrder(p, subject);
    const inodes: Inode[] = new Array(p.count);
    const leaf = p.isLeaf;
    for (let i = 0; i < p.count; i++) {
      inodes[i] = leaf
        ? { flags: p.leafFlags(i), key: p.key(i), value: p.value(i), pgid: 0 }
        : { flags: 0, key: p.key(i), value: EMPTY, pgid: p.childPgid(i) ?? -1 };
    }
    return new Node(leaf, inodes, p.id, p.overflow, parent);
  }

  get minKeys(): number {
    return this.isLeaf ? 1 : 2;
  }

  size(): number {
    return inodesSize(this.inodes);
  }

  /** First index whose key is >= key. */
  lowerBound(key: Buffer): number {
    let lo = 0;
    let hi = this.inodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(this.inodes[mid]!.key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Insert or replace a leaf entry. */
  put(key: Buffer, value: Buffer, flags: number): void {
    const i = this.lowerBound(key);
    const inode: Inode = { flags, key, value, pgid: 0 };
    if (i < this.inodes.length && this.inodes[i]!.key.equals(key)) this.inodes[i] = inode;
    else this.inodes.splice(i, 0, inode);
  }

  del(key: Buffer): boolean {
    const i = this.lowerBound(key);
    if (i >= this.inodes.length || !this.inodes[i]!.key.equals(key)) return false;
    this.inodes.splice(i, 1);
    this.unbalanced = true;
    return true;
  }

  childIndexOf(pgid: number): number {
    return this.inodes.findIndex((x) => x.pgid === pgid);
  }
}

export function inodesSize(inodes: Inode[]): number {
  let sz = PAGE_HEADER_SIZE;
  for (const n of inodes) sz += ELEMENT_SIZE + n.key.length + n.value.length;
  return sz;
}

/**
 * bbolt's split: a node stays whole when it fits a page or has at most 4
 * elements; otherwise cut at pageSize × fill percent, each part keeping at
 * least 2 elements.
 */
export function splitInodes(inodes: Inode[], pageSize: number): Inode[][] {
  const parts: Inode[][] = [];
  let rest = inodes;
  for (;;) {
    if (rest.length <= MIN_KEYS_PER_PAGE * 2 || inodesSize(rest) < pageSize) {
      parts.push(rest);
      return parts;
    }
    const threshold = Math.floor(pageSize * FILL_PERCENT);
    let sz = PAGE_HEADER_SIZE;
    let index = 0;
    for (let i = 0; i < rest.length - MIN_KEYS_PER_PAGE; i++) {
      index = i;
      const n = rest[i]!;
      const el = ELEMENT_SIZE + n.key.length + n.value.length;
      if (i >= MIN_KEYS_PER_PAGE && sz + el > threshold) break;
      sz += el;
    }
    parts.push(rest.slice(0, index));
    rest = rest.slice(index);
  }
}

/** Serialize elements into buf (which already holds room for them) after a page header at `base`. */
function writeElements(buf: Buffer, base: number, inodes: Inode[], isLeaf: boolean): void {
  let data = base + PAGE_HEADER_SIZE + ELEMENT_SIZE * inodes.length;
  for (let i = 0; i < inodes.length; i++) {
    const n = inodes[i]!;
    const e = base + PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
    if (isLeaf) {
      buf.writeUInt32LE(n.flags, e);
      buf.writeUInt32LE(data - e, e + 4);
      buf.writeUInt32LE(n.key.length, e + 8);
      buf.writeUInt32LE(n.value.length, e + 12);
    } else {
      buf.writeUInt32LE(data - e, e);
      buf.writeUInt32LE(n.key.length, e + 4);
      writePgid(buf, e + 8, n.pgid);
    }
    data += n.key.copy(buf, data);
    data += n.value.copy(buf, data);
  }
}

/** A full page run for these inodes at pgid (overflow = pages − 1). */
export function encodeTreePage(pgid: number, pages: number, pageSize: number, inodes: Inode[], isLeaf: boolean): Buffer {
  const buf = Buffer.alloc(pages * pageSize);
  writePgid(buf, 0, pgid);
  buf.writeUInt16LE(isLeaf ? LEAF_PAGE : BRANCH_PAGE, 8);
  buf.writeUInt16LE(inodes.length, 10);
  buf.writeUInt32LE(pages - 1, 12);
  writeElements(buf, 0, inodes, isLeaf);
  return buf;
}

/** An inline bucket value: header with root 0, then a fake leaf page (id 0) holding the entries. */
export function encodeInlineBucket(sequence: bigint, inodes: Inode[]): Buffer {
  const buf = Buffer.alloc(BUCKET_HEADER_SIZE + inodesSize(inodes));
  buf.writeBigUInt64LE(sequence, 8);
  const base = BUCKET_HEADER_SIZE;
  buf.writeUInt16LE(LEAF_PAGE, base + 8);
  buf.writeUInt16LE(inodes.length, base + 10);
  writeElements(buf, base, inodes, true);
  return buf;
}

export function encodeBucketHeader(root: number, sequence: bigint): Buffer {
  const buf = Buffer.alloc(BUCKET_HEADER_SIZE);
  writePgid(buf, 0, root);
  buf.writeBigUInt64LE(sequence, 8);
  return buf;
}
