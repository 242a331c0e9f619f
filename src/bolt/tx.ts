/**
 * Transactions. A read transaction is a PageSource over one meta. A write
 * transaction additionally collects materialized nodes and commits them the
 * way bbolt does: rebalance, spill into freshly allocated pages, write the
 * pages sorted by id, fdatasync, write the meta into slot txid % 2,
 * fdatasync. Nothing reachable from the current meta is overwritten.
 */
import { Buffer } from 'node:buffer';
import { failedPrecondition, internal } from '../errdefs.js';
import type { Bucket, Bytes, Cursor, Key, Tx } from './types.js';
import { BucketImpl } from './bucket.js';
import { rebalanceBucket, spillBucket } from './spill.js';
import { DBFile, grownSize, PageSource } from './file.js';
import { FreeSet, freeByReachability, walkBucketPages } from './freelist.js';
import { encodeTreePage, inodesSize, splitInodes, type Inode } from './node.js';
import { corrupt, encodeFreelist, encodeMetaPage, freelistSize, type Meta, type Page } from './page.js';

export class TxImpl implements Tx {
  readonly writable: boolean;
  readonly txid: bigint;
  readonly source: PageSource;
  readonly root: BucketImpl;
  private closed = false;

  // Write state.
  private free: FreeSet | null = null;
  private readonly freed = new Set<number>();
  private highWater: number;
  private readonly dirty = new Map<number, Buffer>();
  /** Set when any bucket materializes a node: every change goes through one. */
  touched = false;

  constructor(file: DBFile, meta: Meta, fileSize: number, writable: boolean) {
    this.writable = writable;
    this.txid = writable ? meta.txid + 1n : meta.txid;
    this.source = new PageSource(file, meta, fileSize);
    this.highWater = meta.pgid;
    this.root = new BucketImpl(this, meta.root, meta.sequence, null, null);
  }

  get pageSize(): number {
    return this.source.pageSize;
  }

  checkOpen(): void {
    if (this.closed) throw failedPrecondition('transaction is closed');
  }

  close(): void {
    this.closed = true;
  }

  // ------------------------------------------------------------ Tx API

  bucket(name: Key): Bucket | null {
    return this.root.bucket(name);
  }
  createBucket(name: Key): Bucket {
    return this.root.createBucket(name);
  }
  createBucketIfNotExists(name: Key): Bucket {
    return this.root.createBucketIfNotExists(name);
  }
  deleteBucket(name: Key): void {
    this.root.deleteBucket(name);
  }
  cursor(): Cursor {
    return this.root.cursor();
  }
  forEach(fn: (key: Bytes, value: Bytes | null) => void): void {
    this.root.forEach(fn);
  }

  // ------------------------------------------------------------ page accounting

  freePages(id: number, overflow: number): void {
    for (let k = 0; k <= overflow; k++) this.freed.add(id + k);
  }

  /** Free every page of a committed bucket tree (and, when nested, its sub-buckets'). */
  freeBucketTree(root: number, inline: Page | null, nested: boolean): void {
    const seen = new Uint8Array(this.source.meta.pgid);
    walkBucketPages(this.source, root, inline, nested, (id, ov) => this.freePages(id, ov), seen);
  }

  /**
   * Allocatable pages, recomputed by reachability even when the file has a
   * freelist page: a freelist that lists a live page (a damaged file, or a
   * buggy writer) can then never make us overwrite it, pages it leaked are
   * recovered, and a tree that reaches a page twice is refused before
   * anything is written. For a healthy file the result equals the freelist.
   */
  private freeSet(): FreeSet {
    if (this.free) return this.free;
    this.free = new FreeSet(freeByReachability(this.source));
    return this.free;
  }

  private allocate(n: number): number {
    const id = this.freeSet().take(n);
    if (id >= 0) return id;
    const at = this.highWater;
    this.highWater += n;
    return at;
  }

  split(inodes: Inode[]): Inode[][] {
    return splitInodes(inodes, this.pageSize);
  }

  /** Allocate pages for one node and render it; returns its pgid. */
  writeNode(inodes: Inode[], isLeaf: boolean): number {
    if (inodes.length >= 0xffff) throw internal(`node with ${inodes.length} elements cannot be written`);
    const ps = this.pageSize;
    const pages = Math.ceil(inodesSize(inodes) / ps);
    const pgid = this.allocate(pages);
    this.dirty.set(pgid, encodeTreePage(pgid, pages, ps, inodes, isLeaf));
    return pgid;
  }

  // ------------------------------------------------------------ commit

  /** Returns false when the transaction changed nothing (no pages, no meta written). */
  commit(): boolean {
    this.checkOpen();
    const file = this.source.file;
    const m = this.source.meta;
    const ps = this.pageSize;
    if (!this.touched) return false; // nothing materialized, so nothing changed: no pages, no meta
    // Walk the committed tree before touching anything: a damaged tree (a
    // page reached twice, a cycle) is refused here, before nodes built from
    // it are rebalanced or spilled.
    const free = this.freeSet();
    rebalanceBucket(this.root);
    spillBucket(this.root);
    for (const id of this.freed) {
      if (free.has(id)) throw corrupt(`page ${id} is both in use and listed free; refusing to write`, file.path);
    }

    // Keep the file in the mode it was found in. With a freelist page, Go
    // openers (containerd 1.6 opens meta.db and every snapshotter opens
    // metadata.db with default options) read it instead of walking the whole
    // tree, and do not commit an extra transaction at startup to create one;
    // without one, containerd 1.7's NoFreelistSync opener expects none.
    let freelist: number | null = null;
    if (m.freelist !== null) {
      const old = this.source.run(m.freelist, 'freelist');
      this.freePages(m.freelist, old.readUInt32LE(12));
      const pending = [...this.freed].sort((a, b) => a - b);
      const pages = Math.ceil(freelistSize(free.ids.length + pending.length) / ps);
      freelist = this.allocate(pages);
      const ids = mergeSorted(free.ids, pending);
      const buf = Buffer.alloc(pages * ps);
      encodeFreelist(buf, freelist, pages - 1, ids);
      this.dirty.set(freelist, buf);
    }

    const next: Meta = {
      pageSize: ps,
      flags: m.flags,
      root: this.root.root,
      sequence: this.root.seq,
      freelist,
      pgid: this.highWater,
      txid: this.txid,
    };
    if (next.root < 2 || next.root >= next.pgid) throw internal(`commit would write root ${next.root} with high-water mark ${next.pgid}`);

    const required = this.highWater * ps;
    if (file.size() < required) file.truncate(grownSize(required, ps));

    const ids = [...this.dirty.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      if (id < 2 || id >= this.highWater) throw internal(`page ${id} outside [2, ${this.highWater})`);
      file.writeAt(this.dirty.get(id)!, id * ps);
    }
    file.sync();
    file.writeAt(encodeMetaPage(next, ps), Number(this.txid % 2n) * ps);
    file.sync();
    return true;
  }
}

function mergeSorted(a: number[], b: number[]): number[] {
  const out: number[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i]! < b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}
