/**
 * Buckets: lookups and cursors for both transaction kinds; for write
 * transactions also the node bookkeeping (materialize, rebalance, spill)
 * that turns changes into new pages at commit.
 */
import { Buffer } from 'node:buffer';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../errdefs.js';
import type { Bucket, Bytes, Cursor, Entry, Key } from './types.js';
import { BUCKET_LEAF_FLAG, decodeBucketHeader, MAX_KEY_SIZE, MAX_VALUE_SIZE, type Page } from './page.js';
import { isBucketEntry, RawCursor, type CursorHost, type RawEntry, type Ref } from './cursor.js';
import { encodeInlineBucket, Node } from './node.js';
import { parseInline } from './freelist.js';
import type { TxImpl } from './tx.js';

/** An empty inline bucket: header (root 0, sequence 0) + empty leaf page. */
const EMPTY_INLINE = encodeInlineBucket(0n, []);
const MAX_SEQUENCE = 0xffff_ffff_ffff_ffffn;

export function toBytes(k: Key | Bytes, what: string): Buffer {
  if (typeof k === 'string') return Buffer.from(k, 'utf8');
  if (k instanceof Uint8Array) return Buffer.from(k.buffer, k.byteOffset, k.byteLength);
  throw invalidArgument(`${what} must be a string or Uint8Array`);
}

function checkKey(k: Key): Buffer {
  const b = toBytes(k, 'key');
  if (b.length === 0) throw invalidArgument('key must not be empty');
  if (b.length > MAX_KEY_SIZE) throw invalidArgument(`key is ${b.length} bytes; the limit is ${MAX_KEY_SIZE}`);
  return b;
}

function copy(b: Buffer): Buffer {
  return Buffer.from(b);
}

function label(k: Buffer): string {
  const s = k.toString('utf8');
  return /^[\x20-\x7e]*$/.test(s) ? JSON.stringify(s) : `0x${k.toString('hex')}`;
}

export class BucketImpl implements Bucket, CursorHost {
  readonly tx: TxImpl;
  root: number;
  seq: bigint;
  /** Inline bucket's fake page (root = 0 and not yet materialized). */
  inlinePage: Page | null;
  rootNode: Node | null = null;
  readonly nodes = new Map<number, Node>();
  readonly buckets = new Map<string, BucketImpl>();
  gen = 0;
  deleted = false;
  private readonly rawName: Buffer | null;

  constructor(tx: TxImpl, root: number, seq: bigint, inlinePage: Page | null, rawName: Buffer | null) {
    this.tx = tx;
    this.root = root;
    this.seq = seq;
    this.inlinePage = inlinePage;
    this.rawName = rawName;
  }

  /** For messages only: computed on demand, bucket opens are hot. */
  get name(): string {
    return this.rawName ? label(this.rawName) : '(root)';
  }

  get writable(): boolean {
    return this.tx.writable;
  }
  get pageBudget(): number {
    return this.tx.source.meta.pgid;
  }
  get path(): string {
    return this.tx.source.file.path;
  }

  private live(): void {
    this.tx.checkOpen();
    if (this.deleted) throw failedPrecondition('bucket was deleted in this transaction', { subject: `bucket ${this.name}` });
  }

  private writableLive(): void {
    this.live();
    if (!this.tx.writable) throw failedPrecondition('transaction is read-only', { subject: `bucket ${this.name}` });
  }

  // ------------------------------------------------------------ cursor host

  rootRef(): Ref {
    if (this.rootNode) return { page: null, node: this.rootNode, index: 0 };
    if (this.root === 0) return { page: this.inlinePage!, node: null, index: 0 };
    const n = this.nodes.get(this.root);
    if (n) return { page: null, node: n, index: 0 };
    return { page: this.tx.source.page(this.root), node: null, index: 0 };
  }

  childRef(parent: Ref, index: number): Ref {
    let pgid: number;
    if (parent.node) pgid = parent.node.inodes[index]!.pgid;
    else {
      const c = parent.page!.childPgid(index);
      if (c === null) throw failedPrecondition('database file is corrupt: child pgid out of range', { subject: this.path });
      pgid = c;
    }
    const n = this.nodes.get(pgid);
    if (n) return { page: null, node: n, index: 0 };
    if (this.root === 0) throw failedPrecondition('database file is corrupt: inline bucket with a branch page', { subject: this.path });
    return { page: this.tx.source.page(pgid), node: null, index: 0 };
  }

  // ------------------------------------------------------------ nodes

  /** Materialize (or fetch) the node for pgid under parent; pgid 0 is an inline root. */
  node(pgid: number, parent: Node | null): Node {
    if (parent === null && this.rootNode) return this.rootNode;
    const hit = pgid !== 0 ? this.nodes.get(pgid) : undefined;
    if (hit) return hit;
    this.tx.touched = true;
    let n: Node;
    if (pgid === 0) {
      n = Node.fromPage(this.inlinePage!, null, this.path);
      n.pgid = 0;
    } else {
      n = Node.fromPage(this.tx.source.page(pgid), parent, this.path);
      this.nodes.set(pgid, n);
    }
    if (parent === null) this.rootNode = n;
    return n;
  }

  /** Materialize the nodes along a cursor's stack and return the leaf node. */
  leafNode(c: RawCursor): Node {
    const st = c.stack;
    let n = st[0]!.node ?? this.node(this.root, null);
    for (let i = 0; i < st.length - 1; i++) {
      n = this.node(n.inodes[st[i]!.index]!.pgid, n);
    }
    return n;
  }

  // ------------------------------------------------------------ reads

  get(key: Key): Bytes | null {
    this.live();
    const e = new RawCursor(this).find(checkKey(key));
    if (!e || isBucketEntry(e)) return null;
    return copy(e.value);
  }

  bucket(name: Key): Bucket | null {
    this.live();
    return this.openBucket(checkKey(name));
  }

  openBucket(k: Buffer): BucketImpl | null {
    const cacheKey = k.toString('latin1');
    const hit = this.buckets.get(cacheKey);
    if (hit) return hit;
    const e = new RawCursor(this).find(k);
    if (!e || !isBucketEntry(e)) return null;
    const h = decodeBucketHeader(e.value, this.path);
    const inline = h.root === 0 ? parseInline(e.value, this.path) : null;
    const b = new BucketImpl(this.tx, h.root, h.sequence, inline, k);
    this.buckets.set(cacheKey, b);
    return b;
  }

  cursor(): Cursor {
    this.live();
    return new PublicCursor(this);
  }

  forEach(fn: (key: Bytes, value: Bytes | null) => void): void {
    this.live();
    const c = new RawCursor(this);
    for (let e = c.first(); e; e = c.next()) fn(copy(e.key), isBucketEntry(e) ? null : copy(e.value));
  }

  sequence(): bigint {
    this.live();
    return this.seq;
  }

  // ------------------------------------------------------------ writes

  put(key: Key, value: Bytes | string): void {
    this.writableLive();
    const k = checkKey(key);
    const v = toBytes(value, 'value');
    if (v.length > MAX_VALUE_SIZE) throw invalidArgument(`value is ${v.length} bytes; the limit is ${MAX_VALUE_SIZE}`);
    const c = new RawCursor(this);
    const e = c.find(k);
    if (e && isBucketEntry(e)) throw invalidArgument('key is a bucket, not a value', { subject: `key ${label(k)}` });
    this.leafNode(c).put(copy(k), copy(v), 0);
    this.gen++;
  }

  delete(key: Key): void {
    this.writableLive();
    const k = checkKey(key);
    const c = new RawCursor(this);
    const e = c.find(k);
    if (!e) return;
    if (isBucketEntry(e)) throw invalidArgument('key is a bucket; use deleteBucket', { subject: `key ${label(k)}` });
    this.leafNode(c).del(k);
    this.gen++;
  }

  createBucket(name: Key): Bucket {
    this.writableLive();
    const k = checkKey(name);
    const c = new RawCursor(this);
    const e = c.find(k);
    if (e) {
      if (isBucketEntry(e)) throw alreadyExists('bucket already exists', { subject: `bucket ${label(k)}` });
      throw invalidArgument('key exists and is not a bucket', { subject: `key ${label(k)}` });
    }
    this.leafNode(c).put(copy(k), EMPTY_INLINE, BUCKET_LEAF_FLAG);
    this.gen++;
    return this.openBucket(k)!;
  }

  createBucketIfNotExists(name: Key): Bucket {
    this.writableLive();
    const k = checkKey(name);
    const c = new RawCursor(this);
    const e = c.find(k);
    if (e) {
      if (!isBucketEntry(e)) throw invalidArgument('key exists and is not a bucket', { subject: `key ${label(k)}` });
      return this.openBucket(k)!;
    }
    return this.createBucket(k);
  }

  deleteBucket(name: Key): void {
    this.writableLive();
    const k = checkKey(name);
    const c = new RawCursor(this);
    const e = c.find(k);
    if (!e) throw notFound('bucket not found', { subject: `bucket ${label(k)}` });
    if (!isBucketEntry(e)) throw invalidArgument('key is not a bucket', { subject: `key ${label(k)}` });
    const child = this.openBucket(k)!;
    // The child's pages as committed: nodes it materialized in this tx came from these pages too.
    this.tx.freeBucketTree(child.root, child.inlinePage, true);
    child.markDeleted();
    this.buckets.delete(k.toString('latin1'));
    const c2 = new RawCursor(this);
    c2.find(k);
    this.leafNode(c2).del(k);
    this.gen++;
  }

  private markDeleted(): void {
    this.deleted = true;
    for (const b of this.buckets.values()) b.markDeleted();
    this.buckets.clear();
    this.nodes.clear();
    this.rootNode = null;
  }

  setSequence(n: bigint): void {
    this.writableLive();
    if (typeof n !== 'bigint' || n < 0n || n > MAX_SEQUENCE) throw invalidArgument('sequence must be a bigint in [0, 2^64)');
    this.node(this.root, null); // so the header is rewritten at commit
    this.seq = n;
  }

  nextSequence(): bigint {
    this.writableLive();
    if (this.seq === MAX_SEQUENCE) throw failedPrecondition('bucket sequence overflow', { subject: `bucket ${this.name}` });
    this.node(this.root, null);
    this.seq += 1n;
    return this.seq;
  }

  /** Cursor delete: the key the cursor sits on. */
  deleteAt(c: RawCursor): void {
    this.writableLive();
    const k = c.current();
    if (!k) throw failedPrecondition('cursor is not positioned on an entry');
    const key = copy(k);
    const f = new RawCursor(this);
    const e = f.find(key);
    if (!e) return;
    if (isBucketEntry(e)) throw invalidArgument('key is a bucket; use deleteBucket', { subject: `key ${label(key)}` });
    this.leafNode(f).del(key);
    this.gen++;
  }
}

/** The public cursor: copies out keys and values, hides bucket headers. */
class PublicCursor implements Cursor {
  private readonly c: RawCursor;
  private readonly b: BucketImpl;

  constructor(b: BucketImpl) {
    this.b = b;
    this.c = new RawCursor(b);
  }

  private out(e: RawEntry | null): Entry | null {
    if (!e) return null;
    return [copy(e.key), isBucketEntry(e) ? null : copy(e.value)];
  }

  private live(): void {
    this.b.tx.checkOpen();
    if (this.b.deleted) throw failedPrecondition('bucket was deleted in this transaction');
  }

  first(): Entry | null {
    this.live();
    return this.out(this.c.first());
  }
  last(): Entry | null {
    this.live();
    return this.out(this.c.last());
  }
  next(): Entry | null {
    this.live();
    return this.out(this.c.next());
  }
  prev(): Entry | null {
    this.live();
    return this.out(this.c.prev());
  }
  seek(key: Key): Entry | null {
    this.live();
    return this.out(this.c.seek(toBytes(key, 'key')));
  }
  delete(): void {
    this.live();
    this.b.deleteAt(this.c);
  }
}

