/**
 * The database file: synchronous positional I/O on one descriptor, meta
 * selection, and a per-transaction page cache with bounds checks. The file is
 * only ever modified in place (never replaced), so a daemon holding the old
 * inode open keeps seeing the same file.
 */
import * as fs from 'node:fs';
import { Buffer } from 'node:buffer';
import { failedPrecondition, fromSystemError } from '../errdefs.js';
import { corrupt, decodeMeta, metaSane, PAGE_HEADER_SIZE, parsePage, pageHeader, type Meta, type Page } from './page.js';

const MIN_PAGE_SIZE = 512;
const MAX_PAGE_SIZE = 1 << 20;
/** Page sizes to try for meta page 1 when meta page 0 (which carries the page size) is unreadable. */
const CANDIDATE_PAGE_SIZES = [4096, 16384, 65536, 8192, 32768, 2048, 1024, 512];

export interface MetaPair {
  metas: [Meta | null, Meta | null];
  current: Meta;
}

export class DBFile {
  readonly fd: number;
  readonly path: string;
  pageSize = 0;

  constructor(fd: number, path: string) {
    this.fd = fd;
    this.path = path;
  }

  size(): number {
    try {
      return fs.fstatSync(this.fd).size;
    } catch (e) {
      throw fromSystemError(e, this.path);
    }
  }

  inode(): number {
    return fs.fstatSync(this.fd).ino;
  }

  /** Read up to len bytes at off; the tail past EOF stays zero. */
  readAt(off: number, len: number): Buffer {
    const buf = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      let n: number;
      try {
        n = fs.readSync(this.fd, buf, done, len - done, off + done);
      } catch (e) {
        throw fromSystemError(e, this.path);
      }
      if (n === 0) {
        buf.fill(0, done);
        break;
      }
      done += n;
    }
    return buf;
  }

  writeAt(buf: Buffer, off: number): void {
    let done = 0;
    while (done < buf.length) {
      try {
        done += fs.writeSync(this.fd, buf, done, buf.length - done, off + done);
      } catch (e) {
        throw fromSystemError(e, this.path);
      }
    }
  }

  sync(): void {
    try {
      fs.fdatasyncSync(this.fd);
    } catch (e) {
      throw fromSystemError(e, this.path);
    }
  }

  truncate(size: number): void {
    try {
      fs.ftruncateSync(this.fd, size);
    } catch (e) {
      throw fromSystemError(e, this.path);
    }
  }

  /** Learn the page size from whichever meta page is valid (bbolt writes it into both). */
  detectPageSize(): void {
    const head = this.readAt(0, 4096 + 128);
    const m0 = decodeMeta(head, PAGE_HEADER_SIZE);
    if (m0 && m0.pageSize >= MIN_PAGE_SIZE && m0.pageSize <= MAX_PAGE_SIZE) {
      this.pageSize = m0.pageSize;
      return;
    }
    for (const ps of CANDIDATE_PAGE_SIZES) {
      const m1 = decodeMeta(this.readAt(ps, 128), PAGE_HEADER_SIZE);
      if (m1 && m1.pageSize === ps) {
        this.pageSize = ps;
        return;
      }
    }
    throw failedPrecondition('not a bbolt database, or both meta pages are corrupt', {
      subject: this.path,
      hint: 'neither meta page has a valid magic, version and checksum',
    });
  }

  /** Both metas and the current one: the valid one with the higher txid, else the other. */
  readMetas(): MetaPair {
    const ps = this.pageSize;
    const buf = this.readAt(0, ps + PAGE_HEADER_SIZE + 64);
    const metas: [Meta | null, Meta | null] = [decodeMeta(buf, PAGE_HEADER_SIZE), decodeMeta(buf, ps + PAGE_HEADER_SIZE)];
    const ok = metas.map((m) => (m && metaSane(m, ps) ? m : null));
    let current: Meta | null = null;
    for (const m of ok) if (m && (!current || m.txid > current.txid)) current = m;
    if (!current) {
      throw failedPrecondition('database file is corrupt: both meta pages are invalid', {
        subject: this.path,
        hint: 'neither meta page has a valid checksum and a usable root; restore the file from a backup',
      });
    }
    return { metas, current };
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed: nothing left to release
    }
  }
}

/**
 * Pages of one snapshot (one meta). Every id is checked against the meta's
 * high-water mark and the file size before it is read, and every page's
 * header against the id it was fetched as.
 */
export class PageSource {
  readonly file: DBFile;
  readonly meta: Meta;
  readonly fileSize: number;
  private readonly cache = new Map<number, Page>();
  /** The file's first bytes in one buffer, when a whole-tree walk is coming (see preload). */
  private bulk: Buffer | null = null;

  constructor(file: DBFile, meta: Meta, fileSize: number) {
    this.file = file;
    this.meta = meta;
    this.fileSize = fileSize;
  }

  get pageSize(): number {
    return this.file.pageSize;
  }

  /**
   * Read [0, high-water mark) in one call before walking the whole tree:
   * one large read beats a syscall and an allocation per page. Skipped for
   * files too big to hold in memory comfortably.
   */
  preload(maxBytes = 64 * 1024 * 1024): void {
    const len = Math.min(this.meta.pgid * this.file.pageSize, this.fileSize);
    if (this.bulk || len > maxBytes) return;
    this.bulk = this.file.readAt(0, len);
  }

  private bytes(off: number, len: number): Buffer {
    const b = this.bulk;
    if (b && off + len <= b.length) return b.subarray(off, off + len);
    return this.file.readAt(off, len);
  }

  /** Raw run (all overflow pages) of page id, header-checked for id only. */
  run(id: number, what: string): Buffer {
    const ps = this.file.pageSize;
    if (!Number.isInteger(id) || id < 2 || id >= this.meta.pgid) {
      throw corrupt(`${what} page id ${id} outside [2, ${this.meta.pgid})`, this.file.path);
    }
    if ((id + 1) * ps > this.fileSize) throw corrupt(`${what} page ${id} lies past the end of the file`, this.file.path);
    const first = this.bytes(id * ps, ps);
    const h = pageHeader(first);
    if (h.id !== id) throw corrupt(`${what} page ${id}: header says id ${h.id ?? 'out of range'}`, this.file.path);
    if (h.overflow === 0) return first;
    const last = id + h.overflow;
    if (last >= this.meta.pgid || (last + 1) * ps > this.fileSize) {
      throw corrupt(`${what} page ${id}: overflow run of ${h.overflow} pages runs past the end`, this.file.path);
    }
    if (this.bulk && (last + 1) * ps <= this.bulk.length) return this.bulk.subarray(id * ps, (last + 1) * ps);
    const buf = Buffer.allocUnsafe((h.overflow + 1) * ps);
    first.copy(buf, 0);
    const rest = this.file.readAt((id + 1) * ps, h.overflow * ps);
    rest.copy(buf, ps);
    return buf;
  }

  /** A branch or leaf page, parsed and validated; cached for the snapshot's lifetime. */
  page(id: number): Page {
    const hit = this.cache.get(id);
    if (hit) return hit;
    const p = parsePage(this.run(id, 'tree'), id, this.file.path);
    this.cache.set(id, p);
    return p;
  }

}

/** bbolt's growth steps: double from 32 KiB up to 16 MiB, then whole 16 MiB steps. */
export function grownSize(required: number, pageSize: number): number {
  const MiB16 = 16 * 1024 * 1024;
  let sz: number;
  if (required <= MiB16) {
    sz = 32 * 1024;
    while (sz < required) sz *= 2;
  } else {
    sz = Math.ceil(required / MiB16) * MiB16;
  }
  return Math.ceil(sz / pageSize) * pageSize;
}
