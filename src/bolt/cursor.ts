/**
 * Cursor over one bucket: a stack of (page or node, index) from the bucket
 * root to a leaf. Reads nodes where the transaction materialized them and
 * pages elsewhere, so a write transaction sees its own changes.
 *
 * Defences against corrupt files: descent depth is capped, each move may
 * touch at most (high-water mark + depth) pages, and keys must come out
 * strictly ordered; any violation is a CtrxError, never a hang.
 */
import type { Buffer } from 'node:buffer';
import { BUCKET_LEAF_FLAG, corrupt, type Page } from './page.js';
import type { Node } from './node.js';

export const MAX_DEPTH = 64;

export interface Ref {
  page: Page | null;
  node: Node | null;
  index: number;
}

/** What a cursor needs from its bucket. */
export interface CursorHost {
  /** Bumped on every change to the bucket, so cursors re-seek before moving. */
  readonly gen: number;
  rootRef(): Ref;
  childRef(parent: Ref, index: number): Ref;
  /** Upper bound on pages one move may visit (the snapshot's high-water mark). */
  readonly pageBudget: number;
  readonly path: string;
}

export function refCount(r: Ref): number {
  return r.node ? r.node.inodes.length : r.page!.count;
}
export function refIsLeaf(r: Ref): boolean {
  return r.node ? r.node.isLeaf : r.page!.isLeaf;
}
export function refKey(r: Ref, i: number): Buffer {
  return r.node ? r.node.inodes[i]!.key : r.page!.key(i);
}
export function refFlags(r: Ref, i: number): number {
  return r.node ? r.node.inodes[i]!.flags : r.page!.leafFlags(i);
}
export function refValue(r: Ref, i: number): Buffer {
  return r.node ? r.node.inodes[i]!.value : r.page!.value(i);
}
function refLowerBound(r: Ref, key: Buffer): number {
  return r.node ? r.node.lowerBound(key) : r.page!.lowerBound(key);
}

export interface RawEntry {
  key: Buffer;
  value: Buffer;
  flags: number;
}

type State = 'unset' | 'valid' | 'end' | 'start';

export class RawCursor {
  readonly host: CursorHost;
  stack: Ref[] = [];
  private state: State = 'unset';
  private gen = -1;
  private curKey: Buffer | null = null;

  constructor(host: CursorHost) {
    this.host = host;
  }

  private push(r: Ref): void {
    if (this.stack.length >= MAX_DEPTH) throw corrupt(`tree deeper than ${MAX_DEPTH} levels`, this.host.path);
    this.stack.push(r);
  }

  private top(): Ref {
    return this.stack[this.stack.length - 1]!;
  }

  /** Descend from the top of the stack to the first (or last) leaf element. */
  private descend(toLast: boolean): void {
    for (;;) {
      const t = this.top();
      if (refIsLeaf(t) || refCount(t) === 0) return;
      const child = this.host.childRef(t, t.index);
      child.index = toLast ? Math.max(refCount(child) - 1, 0) : 0;
      this.push(child);
    }
  }

  private atLeafElement(): boolean {
    const t = this.top();
    return refIsLeaf(t) && t.index < refCount(t);
  }

  private settle(): RawEntry | null {
    const t = this.top();
    const e = { key: refKey(t, t.index), value: refValue(t, t.index), flags: refFlags(t, t.index) };
    this.state = 'valid';
    this.gen = this.host.gen;
    this.curKey = e.key;
    return e;
  }

  private ended(state: 'end' | 'start'): null {
    this.state = state;
    this.gen = this.host.gen;
    this.curKey = null;
    return null;
  }

  first(): RawEntry | null {
    this.stack = [];
    const root = this.host.rootRef();
    root.index = 0;
    this.push(root);
    this.descend(false);
    if (this.atLeafElement()) return this.settle();
    return this.moveNext() ?? this.ended('end');
  }

  last(): RawEntry | null {
    this.stack = [];
    const root = this.host.rootRef();
    root.index = Math.max(refCount(root) - 1, 0);
    this.push(root);
    this.descend(true);
    if (this.atLeafElement()) return this.settle();
    return this.movePrev() ?? this.ended('start');
  }

  /** Position at the first key >= key (leaf index may equal count). */
  private search(key: Buffer): void {
    this.stack = [];
    let r = this.host.rootRef();
    for (;;) {
      const n = refCount(r);
      if (refIsLeaf(r) || n === 0) {
        r.index = refLowerBound(r, key);
        this.push(r);
        return;
      }
      let i = refLowerBound(r, key);
      if (i >= n || (i > 0 && refKey(r, i).compare(key) !== 0)) i--;
      r.index = i;
      this.push(r);
      r = this.host.childRef(r, i);
    }
  }

  seek(key: Buffer): RawEntry | null {
    this.search(key);
    if (this.atLeafElement()) return this.settle();
    return this.moveNext() ?? this.ended('end');
  }

  /** Exact lookup: the stack ends at the key's leaf position either way. */
  find(key: Buffer): RawEntry | null {
    this.search(key);
    if (!this.atLeafElement()) return null;
    const t = this.top();
    if (refKey(t, t.index).compare(key) !== 0) return null;
    return { key: refKey(t, t.index), value: refValue(t, t.index), flags: refFlags(t, t.index) };
  }

  next(): RawEntry | null {
    if (this.state === 'unset' || this.state === 'start') return this.first();
    if (this.state === 'end') return null;
    const prevKey = this.curKey!;
    if (this.gen !== this.host.gen) {
      // The bucket changed under us: find our key again; if it is gone, its successor is next.
      this.search(prevKey);
      if (this.atLeafElement()) {
        const t = this.top();
        if (refKey(t, t.index).compare(prevKey) !== 0) return this.settle();
      }
    }
    const e = this.moveNext();
    if (!e) return this.ended('end');
    if (e.key.compare(prevKey) <= 0) throw corrupt('keys out of order across pages', this.host.path);
    return e;
  }

  prev(): RawEntry | null {
    if (this.state === 'unset' || this.state === 'end') return this.last();
    if (this.state === 'start') return null;
    const prevKey = this.curKey!;
    if (this.gen !== this.host.gen) this.search(prevKey);
    const e = this.movePrev();
    if (!e) return this.ended('start');
    if (e.key.compare(prevKey) >= 0) throw corrupt('keys out of order across pages', this.host.path);
    return e;
  }

  private moveNext(): RawEntry | null {
    let budget = this.host.pageBudget + MAX_DEPTH;
    for (;;) {
      if (--budget < 0) throw corrupt('cursor walked more pages than the file has', this.host.path);
      let i = this.stack.length - 1;
      for (; i >= 0; i--) {
        const r = this.stack[i]!;
        if (r.index < refCount(r) - 1) {
          r.index++;
          break;
        }
      }
      if (i < 0) return null;
      this.stack.length = i + 1;
      this.descend(false);
      if (this.atLeafElement()) return this.settle();
    }
  }

  private movePrev(): RawEntry | null {
    let budget = this.host.pageBudget + MAX_DEPTH;
    for (;;) {
      if (--budget < 0) throw corrupt('cursor walked more pages than the file has', this.host.path);
      let i = this.stack.length - 1;
      for (; i >= 0; i--) {
        const r = this.stack[i]!;
        if (r.index > 0) {
          r.index = Math.min(r.index - 1, refCount(r) - 1);
          break;
        }
      }
      if (i < 0) return null;
      this.stack.length = i + 1;
      this.descend(true);
      if (this.atLeafElement()) return this.settle();
    }
  }

  /** The current entry's key, when positioned on one. */
  current(): Buffer | null {
    return this.state === 'valid' ? this.curKey : null;
  }
}

export function isBucketEntry(e: RawEntry): boolean {
  return (e.flags & BUCKET_LEAF_FLAG) !== 0;
}
