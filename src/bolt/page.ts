/**
 * bbolt on-disk layout (format version 2): page headers, branch/leaf
 * elements, meta pages and freelist pages. Everything here is pure byte
 * handling; I/O lives in file.ts.
 */
import { Buffer } from 'node:buffer';
import { failedPrecondition } from '../errdefs.js';

export const MAGIC = 0xed0cdaed;
export const VERSION = 2;
export const PAGE_HEADER_SIZE = 16;
export const ELEMENT_SIZE = 16; // leaf and branch elements are both 16 bytes
export const BUCKET_HEADER_SIZE = 16;
export const META_SIZE = 64;

export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const META_PAGE = 0x04;
export const FREELIST_PAGE = 0x10;
export const BUCKET_LEAF_FLAG = 0x01;

export const MAX_KEY_SIZE = 32768;
/** bbolt allows 2^31-2; a ctrx value is at most a few KB, so cap well below what one write call can move. */
export const MAX_VALUE_SIZE = 256 * 1024 * 1024;
/** No page count or page size in a real file gets near this; pgids above it cannot be file offsets. */
const MAX_SAFE_PGID = 2 ** 40;

export const MIN_KEYS_PER_PAGE = 2;
export const FILL_PERCENT = 0.5;

/** Thrown for anything in the file that a correct bbolt writer cannot have produced. */
export function corrupt(what: string, subject?: string): Error {
  return failedPrecondition(`database file is corrupt: ${what}`, { subject });
}

/** u64 as a JS number; null when it does not fit a plausible pgid (the caller decides if that is corruption). */
export function readPgid(buf: Buffer, off: number): number | null {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  const v = hi * 0x1_0000_0000 + lo;
  return v < MAX_SAFE_PGID ? v : null;
}

export function writePgid(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE(v % 0x1_0000_0000, off);
  buf.writeUInt32LE(Math.floor(v / 0x1_0000_0000), off + 4);
}

export function compareKeys(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}

/**
 * A branch or leaf page (or an inline bucket's fake page). `buf` holds the
 * whole run (all overflow pages) or the inline value from its page header on.
 * Element offsets are validated at construction so accessors cannot read
 * out of bounds.
 */
export class Page {
  readonly id: number;
  readonly flags: number;
  readonly count: number;
  readonly overflow: number;
  readonly buf: Buffer;

  constructor(buf: Buffer, id: number, flags: number, count: number, overflow: number) {
    this.buf = buf;
    this.id = id;
    this.flags = flags;
    this.count = count;
    this.overflow = overflow;
  }

  get isLeaf(): boolean {
    return this.flags === LEAF_PAGE;
  }

  keyOffset(i: number): number {
    const e = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
    return e + this.buf.readUInt32LE(this.isLeaf ? e + 4 : e);
  }

  keyLength(i: number): number {
    const e = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
    return this.buf.readUInt32LE(this.isLeaf ? e + 8 : e + 4);
  }

  key(i: number): Buffer {
    const off = this.keyOffset(i);
    return this.buf.subarray(off, off + this.keyLength(i));
  }

  /** Leaf only. */
  leafFlags(i: number): number {
    return this.buf.readUInt32LE(PAGE_HEADER_SIZE + ELEMENT_SIZE * i);
  }

  /** Leaf only. */
  value(i: number): Buffer {
    const e = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
    const off = e + this.buf.readUInt32LE(e + 4) + this.buf.readUInt32LE(e + 8);
    return this.buf.subarray(off, off + this.buf.readUInt32LE(e + 12));
  }

  /** Branch only: the child pgid, unchecked against the high-water mark (the reader does that). */
  childPgid(i: number): number | null {
    return readPgid(this.buf, PAGE_HEADER_SIZE + ELEMENT_SIZE * i + 8);
  }

  /** Compare element i's key with `key`. */
  compareKey(i: number, key: Buffer): number {
    // Not buf.compare(key, 0, n, off, end): Deno 2 checks the source range against the target's length.
    const off = this.keyOffset(i);
    return Buffer.compare(this.buf.subarray(off, off + this.keyLength(i)), key);
  }

  /** First index whose key is >= key (count when none). */
  lowerBound(key: Buffer): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareKey(mid, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * Parse and bounds-check a branch/leaf page. `expectId` is the pgid the page
 * was fetched as (0 for inline pages, whose header id is 0 by format).
 */
export function parsePage(buf: Buffer, expectId: number, subject?: string): Page {
  if (buf.length < PAGE_HEADER_SIZE) throw corrupt(`page ${expectId}: truncated`, subject);
  const id = readPgid(buf, 0);
  const flags = buf.readUInt16LE(8);
  const count = buf.readUInt16LE(10);
  const overflow = buf.readUInt32LE(12);
  if (id !== expectId) throw corrupt(`page ${expectId}: header says id ${id ?? 'out of range'}`, subject);
  if (flags !== BRANCH_PAGE && flags !== LEAF_PAGE) {
    throw corrupt(`page ${expectId}: flags 0x${flags.toString(16)} is not a branch or leaf page`, subject);
  }
  const end = buf.length;
  if (PAGE_HEADER_SIZE + ELEMENT_SIZE * count > end) throw corrupt(`page ${expectId}: ${count} elements do not fit`, subject);
  const leaf = flags === LEAF_PAGE;
  for (let i = 0; i < count; i++) {
    const e = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
    let koff: number;
    let klen: number;
    if (leaf) {
      koff = e + buf.readUInt32LE(e + 4);
      klen = buf.readUInt32LE(e + 8);
      const vlen = buf.readUInt32LE(e + 12);
      if (koff + klen + vlen > end) throw corrupt(`page ${expectId}: element ${i} runs past the page`, subject);
    } else {
      koff = e + buf.readUInt32LE(e);
      klen = buf.readUInt32LE(e + 4);
      if (koff + klen > end) throw corrupt(`page ${expectId}: element ${i} runs past the page`, subject);
    }
  }
  // Key order is not checked here (it costs a compare per element on every read); cursors
  // reject keys that do not strictly increase, and nodes check it before anything is rewritten.
  return new Page(buf, expectId, flags, count, overflow);
}

/** Throws unless the page's keys strictly increase (done before a page is rewritten). */
export function checkKeyOrder(p: Page, subject?: string): void {
  for (let i = 1; i < p.count; i++) {
    if (Buffer.compare(p.key(i - 1), p.key(i)) >= 0) {
      throw corrupt(`page ${p.id}: keys out of order at element ${i}`, subject);
    }
  }
}

/** Read only the 16-byte header fields (used by the reachability walk for overflow runs). */
export function pageHeader(buf: Buffer): { id: number | null; flags: number; count: number; overflow: number } {
  return { id: readPgid(buf, 0), flags: buf.readUInt16LE(8), count: buf.readUInt16LE(10), overflow: buf.readUInt32LE(12) };
}

// ---------------------------------------------------------------- meta

export interface Meta {
  pageSize: number;
  flags: number;
  root: number;
  sequence: bigint;
  /** null = the "no freelist" sentinel (NoFreelistSync). */
  freelist: number | null;
  pgid: number;
  txid: bigint;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;

export function fnv1a64(buf: Buffer, start: number, end: number): bigint {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) {
    h = BigInt.asUintN(64, (h ^ BigInt(buf[i]!)) * FNV_PRIME);
  }
  return h;
}

/** Decode the meta struct at `off` (page offset + 16). Returns null when magic, version or checksum is wrong. */
export function decodeMeta(buf: Buffer, off: number): Meta | null {
  if (buf.length < off + META_SIZE) return null;
  if (buf.readUInt32LE(off) !== MAGIC || buf.readUInt32LE(off + 4) !== VERSION) return null;
  if (fnv1a64(buf, off, off + 56) !== buf.readBigUInt64LE(off + 56)) return null;
  const root = readPgid(buf, off + 16);
  const pgid = readPgid(buf, off + 40);
  const fl = buf.readBigUInt64LE(off + 32);
  if (root === null || pgid === null) return null;
  let freelist: number | null = null;
  if (fl !== 0xffff_ffff_ffff_ffffn) {
    freelist = readPgid(buf, off + 32);
    if (freelist === null) return null;
  }
  return {
    pageSize: buf.readUInt32LE(off + 8),
    flags: buf.readUInt32LE(off + 12),
    root,
    sequence: buf.readBigUInt64LE(off + 24),
    freelist,
    pgid,
    txid: buf.readBigUInt64LE(off + 48),
  };
}

/** Whether a checksum-valid meta also describes a usable tree (Go would panic or read garbage otherwise). */
export function metaSane(m: Meta, pageSize: number): boolean {
  if (m.pageSize !== pageSize) return false;
  if (m.root < 2 || m.root >= m.pgid) return false;
  if (m.freelist !== null && (m.freelist < 2 || m.freelist >= m.pgid)) return false;
  return true;
}

/** A full meta page for slot txid % 2. */
export function encodeMetaPage(m: Meta, pageSize: number): Buffer {
  const buf = Buffer.alloc(pageSize);
  const slot = Number(m.txid % 2n);
  writePgid(buf, 0, slot);
  buf.writeUInt16LE(META_PAGE, 8);
  const o = PAGE_HEADER_SIZE;
  buf.writeUInt32LE(MAGIC, o);
  buf.writeUInt32LE(VERSION, o + 4);
  buf.writeUInt32LE(pageSize, o + 8);
  buf.writeUInt32LE(m.flags, o + 12);
  writePgid(buf, o + 16, m.root);
  buf.writeBigUInt64LE(m.sequence, o + 24);
  if (m.freelist === null) buf.writeBigUInt64LE(0xffff_ffff_ffff_ffffn, o + 32);
  else writePgid(buf, o + 32, m.freelist);
  writePgid(buf, o + 40, m.pgid);
  buf.writeBigUInt64LE(m.txid, o + 48);
  buf.writeBigUInt64LE(fnv1a64(buf, o, o + 56), o + 56);
  return buf;
}

// ---------------------------------------------------------------- freelist page

/** Decode a freelist page run; ids validated against [2, pgid) and for duplicates. */
export function decodeFreelist(buf: Buffer, expectId: number, pgid: number, subject?: string): number[] {
  const h = pageHeader(buf);
  if (h.id !== expectId) throw corrupt(`freelist page ${expectId}: header says id ${h.id ?? 'out of range'}`, subject);
  if (h.flags !== FREELIST_PAGE) throw corrupt(`freelist page ${expectId}: flags 0x${h.flags.toString(16)}`, subject);
  let start = PAGE_HEADER_SIZE;
  let n = h.count;
  if (n === 0xffff) {
    const real = readPgid(buf, PAGE_HEADER_SIZE);
    if (real === null) throw corrupt(`freelist page ${expectId}: bad count`, subject);
    n = real;
    start += 8;
  }
  if (start + 8 * n > buf.length) throw corrupt(`freelist page ${expectId}: ${n} ids do not fit`, subject);
  const ids: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const id = readPgid(buf, start + 8 * i);
    if (id === null || id < 2 || id >= pgid) throw corrupt(`freelist page ${expectId}: id ${id ?? 'huge'} out of range`, subject);
    ids[i] = id;
  }
  ids.sort((a, b) => a - b);
  for (let i = 1; i < n; i++) if (ids[i] === ids[i - 1]) throw corrupt(`freelist page ${expectId}: page ${ids[i]} listed twice`, subject);
  return ids;
}

export function freelistSize(n: number): number {
  return PAGE_HEADER_SIZE + 8 * n + (n >= 0xffff ? 8 : 0);
}

/** Write a freelist page run (ids sorted) into buf, which spans overflow+1 pages. */
export function encodeFreelist(buf: Buffer, id: number, overflow: number, ids: number[]): void {
  writePgid(buf, 0, id);
  buf.writeUInt16LE(FREELIST_PAGE, 8);
  buf.writeUInt32LE(overflow, 12);
  let start = PAGE_HEADER_SIZE;
  if (ids.length >= 0xffff) {
    buf.writeUInt16LE(0xffff, 10);
    writePgid(buf, start, ids.length);
    start += 8;
  } else {
    buf.writeUInt16LE(ids.length, 10);
  }
  for (let i = 0; i < ids.length; i++) writePgid(buf, start + 8 * i, ids[i]!);
}

// ---------------------------------------------------------------- bucket header

export interface BucketHeader {
  root: number;
  sequence: bigint;
}

export function decodeBucketHeader(v: Buffer, subject?: string): BucketHeader {
  if (v.length < BUCKET_HEADER_SIZE) throw corrupt(`bucket value of ${v.length} bytes is shorter than a bucket header`, subject);
  const root = readPgid(v, 0);
  if (root === null) throw corrupt('bucket root page id out of range', subject);
  return { root, sequence: v.readBigUInt64LE(8) };
}
