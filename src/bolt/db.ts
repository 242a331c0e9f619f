/**
 * openDB and the DB handle: lock-free snapshot reads, flock-guarded writes.
 */
import * as fs from 'node:fs';
import { Buffer } from 'node:buffer';
import { CtrxError, failedPrecondition, fromSystemError, internal, invalidArgument, notFound, unavailable } from '../errdefs.js';
import { flock, flockHolders, LOCK_EX, LOCK_NB, LOCK_UN, EWOULDBLOCK, processName } from '../platform/index.js';
import type { DB, OpenOptions, Tx } from './types.js';
import { DBFile, type PageSource } from './file.js';
import { TxImpl } from './tx.js';
import { encodeMetaPage, FREELIST_PAGE, LEAF_PAGE, writePgid, type Meta } from './page.js';

/** How often view() re-runs when writers keep committing under it. */
const VIEW_RETRIES = 20;
/** How long create waits for another process that is initializing the same empty file. */
const INIT_WAIT_MS = 2000;

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Our pid without touching `process` (only src/platform may). */
function ownPid(): number | undefined {
  try {
    return Number(fs.readlinkSync('/proc/self'));
  } catch {
    return undefined;
  }
}

function isThenable(v: unknown): boolean {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/** bbolt's initial file: metas at txid 0 and 1, an empty freelist at page 2, an empty root leaf at page 3. */
function initialFile(pageSize: number): Buffer {
  const buf = Buffer.alloc(4 * pageSize);
  for (const txid of [0n, 1n]) {
    const m: Meta = { pageSize, flags: 0, root: 3, sequence: 0n, freelist: 2, pgid: 4, txid };
    encodeMetaPage(m, pageSize).copy(buf, Number(txid) * pageSize);
  }
  writePgid(buf, 2 * pageSize, 2);
  buf.writeUInt16LE(FREELIST_PAGE, 2 * pageSize + 8);
  writePgid(buf, 3 * pageSize, 3);
  buf.writeUInt16LE(LEAF_PAGE, 3 * pageSize + 8);
  return buf;
}

class DBImpl implements DB {
  readonly path: string;
  private readonly file: DBFile;
  private readonly readOnly: boolean;
  private closed = false;
  private inUpdate = false;

  constructor(file: DBFile, readOnly: boolean) {
    this.file = file;
    this.path = file.path;
    this.readOnly = readOnly;
  }

  get pageSize(): number {
    return this.file.pageSize;
  }

  private checkOpen(): void {
    if (this.closed) throw failedPrecondition('database is closed', { subject: this.path });
  }

  view<T>(fn: (tx: Tx) => T): T {
    this.checkOpen();
    for (let attempt = 0; attempt < VIEW_RETRIES; attempt++) {
      const { current } = this.file.readMetas();
      const tx = new TxImpl(this.file, current, this.file.size(), false);
      let result: T | undefined;
      let error: unknown;
      let failed = false;
      try {
        result = fn(tx);
        if (isThenable(result)) throw invalidArgument('view callback must be synchronous');
      } catch (e) {
        failed = true;
        error = e;
      } finally {
        tx.close();
      }
      // A writer may have reused pages of this snapshot only if a newer meta exists now.
      let after: bigint;
      try {
        after = this.file.readMetas().current.txid;
      } catch (e) {
        if (failed) throw error;
        throw e;
      }
      if (after === current.txid) {
        if (failed) throw error;
        return result as T;
      }
    }
    throw unavailable(`database kept changing during ${VIEW_RETRIES} read attempts`, { subject: this.path });
  }

  /** For check.ts: the current snapshot's pages, with view()'s retry. */
  withSnapshot<T>(fn: (src: PageSource) => T): T {
    return this.view((tx) => fn((tx as TxImpl).source));
  }

  update<T>(fn: (tx: Tx) => T): T {
    this.checkOpen();
    if (this.readOnly) throw failedPrecondition('database is open read-only', { subject: this.path });
    if (this.inUpdate) throw failedPrecondition('update() called inside update() on the same database', { subject: this.path });
    this.lock();
    this.inUpdate = true;
    let tx: TxImpl | null = null;
    try {
      const { current } = this.file.readMetas();
      tx = new TxImpl(this.file, current, this.file.size(), true);
      const result = fn(tx);
      if (isThenable(result)) throw invalidArgument('update callback must be synchronous');
      tx.commit();
      return result;
    } finally {
      tx?.close();
      this.inUpdate = false;
      flock(this.file.fd, LOCK_UN);
    }
  }

  private lock(): void {
    const rc = flock(this.file.fd, LOCK_EX | LOCK_NB);
    if (rc === 0) return;
    if (rc !== EWOULDBLOCK) throw internal(`flock failed with errno ${rc}`, { subject: this.path });
    const who = this.holder();
    const by = who.pid !== undefined ? `${who.name ?? 'process'} (pid ${who.pid})` : 'another process';
    throw unavailable(`database is locked by ${by}: ${this.path}`, {
      subject: this.path,
      hint: who.name === 'containerd' ? 'containerd is running; stop it to write, or use containerd itself' : 'retry when the other writer is done',
    });
  }

  private holder(): { pid?: number; name?: string } {
    let ino: number;
    try {
      ino = this.file.inode();
    } catch {
      return {};
    }
    const pids = flockHolders(ino);
    const self = ownPid();
    const pid = pids.find((p) => p !== self) ?? pids[0];
    if (pid === undefined) return {};
    return { pid, name: processName(pid) };
  }

  lockedBy(): { locked: boolean; pid?: number; name?: string } {
    this.checkOpen();
    if (this.inUpdate) return { locked: false };
    const rc = flock(this.file.fd, LOCK_EX | LOCK_NB);
    if (rc === 0) {
      flock(this.file.fd, LOCK_UN);
      return { locked: false };
    }
    return { locked: true, ...this.holder() };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
  }
}

/** Open (and with create, initialize) a bbolt file. Reads only the two meta pages. */
export function openDB(path: string, opts: OpenOptions = {}): DB {
  const readOnly = opts.readOnly === true;
  const pageSize = opts.pageSize ?? 4096;
  if (opts.create && (!Number.isInteger(pageSize) || pageSize < 1024 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0)) {
    throw invalidArgument(`page size ${pageSize} must be a power of two between 1024 and 65536`);
  }
  const c = fs.constants;
  let fd: number;
  try {
    const flags = readOnly ? c.O_RDONLY : c.O_RDWR | (opts.create ? c.O_CREAT : 0);
    fd = fs.openSync(path, flags, opts.mode ?? 0o644);
  } catch (e) {
    const err = fromSystemError(e, path);
    if (err.category === 'not-found') throw notFound('database file does not exist', { subject: path, cause: e });
    throw err;
  }
  const file = new DBFile(fd, path);
  try {
    const creating = opts.create === true && !readOnly;
    if (creating && unborn(file, pageSize)) initialize(file, pageSize);
    else if (file.size() === 0) throw failedPrecondition('database file is empty', { subject: path });
    file.detectPageSize();
    file.readMetas();
    return new DBImpl(file, readOnly);
  } catch (e) {
    file.close();
    throw e instanceof CtrxError ? e : fromSystemError(e, path);
  }
}

/**
 * Empty, or an initialization that was cut short: no more than four pages
 * and both meta pages still zero. initialize() writes the meta pages last,
 * so a creator killed part-way leaves exactly this, and the next create
 * finishes the job instead of finding a file it cannot open.
 */
function unborn(file: DBFile, pageSize: number): boolean {
  const size = file.size();
  if (size === 0) return true;
  // A file that ever had a commit has grown past its first four pages.
  if (size > 4 * pageSize) return false;
  return file.readAt(0, Math.min(size, 2 * pageSize)).every((b) => b === 0);
}

/** Write the initial layout under the write lock, unless another process got there first. */
function initialize(file: DBFile, pageSize: number): void {
  const deadline = Date.now() + INIT_WAIT_MS;
  for (;;) {
    const rc = flock(file.fd, LOCK_EX | LOCK_NB);
    if (rc === 0) break;
    if (rc !== EWOULDBLOCK || Date.now() > deadline) {
      throw unavailable('database file is empty and locked by another process', { subject: file.path });
    }
    sleepMs(20);
  }
  try {
    if (!unborn(file, pageSize)) return;
    // Freelist and root leaf first, metas last (each a single-page write): a kill
    // at any point leaves either a usable file or one unborn() recognizes.
    const init = initialFile(pageSize);
    file.writeAt(init.subarray(2 * pageSize), 2 * pageSize);
    file.sync();
    file.writeAt(init.subarray(pageSize, 2 * pageSize), pageSize);
    file.writeAt(init.subarray(0, pageSize), 0);
    file.sync();
  } finally {
    flock(file.fd, LOCK_UN);
  }
}
