/**
 * Writing one blob through an ingest, the way containerd's local store does
 * (content/local/writer.go), plus a cross-process lock per ref.
 *
 * Open: lock the ref; if the expected blob is already in `blobs/`, report
 * that and touch nothing. Otherwise create or resume `ingest/<hex>/`: an
 * existing `data` is re-hashed from the start so the digest continues, and
 * `offset` tells the caller where to resume (HTTP Range). An ingest that does
 * not belong to this ref, or was started with another total, is restarted.
 *
 * Commit: fdatasync data, check size and digest, chmod 0444 and set the mtime,
 * rename into blobs/ (under a per-digest lock, so of several writers holding
 * the same bytes exactly one renames), remove the ingest dir, fsync the blob
 * dir. Nothing is ever written under `blobs/` except by that rename. A wrong digest (or more
 * bytes than expected) resets the ingest so the next attempt starts at 0; too
 * few bytes keep it for a resume.
 *
 * Write errors (ENOSPC, EIO) leave the ingest as it is on disk and make this
 * writer unusable; reopening re-hashes `data` and continues from its size.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, rmSync, chmodSync, renameSync, truncateSync, utimesSync, constants as C } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CtrxError, failedPrecondition, internal, invalidArgument, unavailable } from '../errdefs.js';
import { CANONICAL_ALGORITHM, Digester, parseDigest } from '../digest.js';
import { ingestFiles, readStatus, readTotal, validateBackendRef, writeSmallFile, writeTimestamp } from './ingest.js';
import { lockRef, type RefLock } from './lock.js';

export interface WriterOptions {
  /** Expected size in bytes when known (> 0); recorded in `total`. */
  total?: number;
  /** Expected digest: if that blob exists the writer reports alreadyExists and writes nothing. */
  expected?: string;
  /** Wait this long (ms) for another process's writer on the same ref; default 0 = fail with "ingest in use". */
  waitMs?: number;
  signal?: AbortSignal;
}

export interface CommitResult {
  digest: string;
  size: number;
  /** The blob was already in the store: nothing was copied (the caller may still need the blob record). */
  alreadyExists: boolean;
}

/** Paths a writer needs from its store. */
export interface WriterPaths {
  blobPath(digest: string): string;
  ingestDir(backendRef: string): string;
  lockDir: string;
}

const READ_CHUNK = 1 << 20;

/** Turns an fs error during a write step into a CtrxError that says the ingest survives. */
export function ioError(e: unknown, what: string, ref: string): CtrxError {
  if (e instanceof CtrxError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  const subject = `ref ${JSON.stringify(ref)}`;
  const msg = (e as Error)?.message ?? String(e);
  const kept = 'the ingest is kept; retrying resumes from what reached the disk';
  if (code === 'ENOSPC' || code === 'EDQUOT') return unavailable(`${what}: no space left on device`, { subject, hint: kept, cause: e });
  if (code === 'EIO') return internal(`${what}: I/O error`, { subject, hint: kept, cause: e });
  if (code === 'EROFS') return unavailable(`${what}: read-only file system`, { subject, cause: e });
  if (code === 'EACCES' || code === 'EPERM') return new CtrxError('permission-denied', `${what}: permission denied`, { subject, cause: e });
  return internal(`${what}: ${msg}`, { subject, hint: kept, cause: e });
}

export class IngestWriter {
  private fh: FileHandle | undefined;
  private digester = new Digester(CANONICAL_ALGORITHM);
  private _offset = 0;
  private broken: CtrxError | undefined;
  private done = false;

  private constructor(
    private readonly paths: WriterPaths,
    /** Backend ref ("<ns>/<N>/<ref>"). */
    readonly ref: string,
    private readonly lock: RefLock,
    readonly dir: string,
    /** Expected size, 0 when unknown. */
    readonly total: number,
    readonly startedAt: Date,
    private _updatedAt: Date,
    /** Set when the expected blob already exists: commit() reports it without copying. */
    readonly existing: { digest: string; size: number } | undefined,
  ) {}

  /** Bytes written so far, including what an earlier process left: resume the download here. */
  get offset(): number {
    return this._offset;
  }
  get updatedAt(): Date {
    return this._updatedAt;
  }
  /** Digest of the bytes so far. */
  digest(): string {
    return this.digester.digest();
  }

  static async open(paths: WriterPaths, ref: string, opts: WriterOptions = {}): Promise<IngestWriter> {
    validateBackendRef(ref);
    if (opts.expected !== undefined) parseDigest(opts.expected);
    const total = opts.total ?? 0;
    if (!Number.isSafeInteger(total) || total < 0) throw invalidArgument(`invalid total size ${total}`, { subject: `ref ${JSON.stringify(ref)}` });
    const lock = await lockRef(paths.lockDir, ref, { waitMs: opts.waitMs, signal: opts.signal });
    try {
      return await IngestWriter.openLocked(paths, ref, lock, total, opts.expected);
    } catch (e) {
      lock.release();
      throw ioError(e, 'opening ingest', ref);
    }
  }

  private static async openLocked(paths: WriterPaths, ref: string, lock: RefLock, total: number, expected?: string): Promise<IngestWriter> {
    const dir = paths.ingestDir(ref);
    if (expected) {
      try {
        const st = lstatSync(paths.blobPath(expected));
        if (st.isFile()) {
          const now = new Date();
          return new IngestWriter(paths, ref, lock, dir, total, now, now, { digest: expected, size: st.size });
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    const files = ingestFiles(dir);
    mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
    sweepStaleTemps(dirname(dir));
    let resumed = false;
    let fresh = false;
    let startedAt = new Date();
    let updatedAt = startedAt;
    let haveTotal = total;
    if (!existsSync(dir)) {
      // Built aside and renamed into place, so the ingest dir never exists without its `ref`
      // (containerd's GC would leave such a dir alone forever).
      const tmp = join(dirname(dir), `${TEMP_PREFIX}${basename(dir).slice(0, 16)}-${randomBytes(6).toString('hex')}`);
      mkdirSync(tmp, { mode: 0o755 });
      try {
        chmodSync(tmp, 0o755);
        const t = ingestFiles(tmp);
        writeSmallFile(t.ref, ref);
        writeTimestamp(t.startedat, startedAt);
        writeTimestamp(t.updatedat, startedAt);
        if (total > 0) writeSmallFile(t.total, String(total));
        renameSync(tmp, dir);
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        throw e;
      }
      fresh = true;
    } else {
      try {
        const st = readStatus(dir);
        const stTotal = readTotal(dir);
        if (st.ref === ref && !(total > 0 && stTotal > 0 && total !== stTotal) && !(stTotal > 0 && st.offset > stTotal)) {
          resumed = true;
          startedAt = st.startedAt;
          updatedAt = st.updatedAt;
          haveTotal = total > 0 ? total : stTotal;
        }
      } catch {
        /* not resumable: start over below */
      }
    }
    if (!resumed && !fresh) {
      // An existing dir that cannot be resumed is rewritten in place; `ref` first, as above.
      writeSmallFile(files.ref, ref);
      try {
        truncateSync(files.data, 0);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      writeTimestamp(files.startedat, startedAt);
      writeTimestamp(files.updatedat, startedAt);
      if (haveTotal > 0) writeSmallFile(files.total, String(haveTotal));
      else rmSync(files.total, { force: true });
    } else if (total > 0 && readTotal(dir) === 0) {
      writeSmallFile(files.total, String(total));
    }
    const w = new IngestWriter(paths, ref, lock, dir, haveTotal, startedAt, updatedAt, undefined);
    w.fh = await open(files.data, C.O_WRONLY | C.O_CREAT | C.O_NOFOLLOW, 0o666);
    if (resumed) await w.rehash();
    return w;
  }

  /** Re-reads `data` from the start so the digest covers what is already there. */
  private async rehash(): Promise<void> {
    const fh = await open(ingestFiles(this.dir).data, C.O_RDONLY | C.O_NOFOLLOW);
    try {
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.byteLength, this._offset);
        if (bytesRead === 0) break;
        this.digester.update(buf.subarray(0, bytesRead));
        this._offset += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }

  private usable(): FileHandle {
    if (this.done) throw failedPrecondition('writer is closed', { subject: `ref ${JSON.stringify(this.ref)}` });
    if (this.broken) throw this.broken;
    if (!this.fh) throw failedPrecondition('content already exists: nothing to write', { subject: `ref ${JSON.stringify(this.ref)}` });
    return this.fh;
  }

  /** Appends a chunk. Refuses to go past a known total (a body longer than its descriptor). */
  async write(chunk: Uint8Array): Promise<void> {
    const fh = this.usable();
    if (chunk.byteLength === 0) return;
    if (this.total > 0 && this._offset + chunk.byteLength > this.total) {
      throw failedPrecondition(`more data than expected: ${this._offset + chunk.byteLength} bytes, total is ${this.total}`, { subject: `ref ${JSON.stringify(this.ref)}` });
    }
    let off = 0;
    try {
      while (off < chunk.byteLength) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off, this._offset + off);
        if (bytesWritten <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
        off += bytesWritten;
      }
    } catch (e) {
      this.broken = ioError(e, 'writing ingest data', this.ref);
      throw this.broken;
    }
    this.digester.update(chunk);
    this._offset += chunk.byteLength;
    this._updatedAt = new Date();
  }

  /** Drops everything written so far; the next write starts at 0. */
  async reset(): Promise<void> {
    const fh = this.usable();
    await fh.truncate(0);
    this.digester = new Digester(CANONICAL_ALGORITHM);
    this._offset = 0;
    this._updatedAt = new Date();
    writeTimestamp(ingestFiles(this.dir).updatedat, this._updatedAt);
  }

  /**
   * Verifies and moves the data into blobs/. `size` 0 and `expected` undefined
   * skip the respective check. Releases the ref in every case.
   */
  async commit(size: number, expected?: string): Promise<CommitResult> {
    const subject = `ref ${JSON.stringify(this.ref)}`;
    if (expected !== undefined) parseDigest(expected);
    if (this.done) throw failedPrecondition('cannot commit on closed writer', { subject });
    try {
      if (this.existing) {
        if (expected && expected !== this.existing.digest) throw failedPrecondition(`unexpected commit digest ${this.existing.digest}, expected ${expected}`, { subject });
        if (size > 0 && size !== this.existing.size) {
          throw failedPrecondition(`existing blob ${this.existing.digest} has ${this.existing.size} bytes, expected ${size}`, { subject });
        }
        return { digest: this.existing.digest, size: this.existing.size, alreadyExists: true };
      }
      const fh = this.usable();
      try {
        // fdatasync: the bytes and the size, which is what a blob needs to be durable.
        await fh.datasync();
      } catch (e) {
        throw ioError(e, 'syncing ingest data', this.ref);
      }
      const st = await fh.stat();
      this.fh = undefined;
      await fh.close().catch(() => {});
      const data = ingestFiles(this.dir).data;
      if (size > 0 && st.size !== size) {
        if (st.size > size) this.resetOnDisk();
        const what = st.size > size ? 'the ingest was reset' : 'the ingest is kept for a resume';
        throw failedPrecondition(`unexpected commit size ${st.size}, expected ${size} (${what})`, { subject });
      }
      const got = this.digester.digest();
      if (st.size !== this._offset) {
        this.resetOnDisk();
        throw internal(`ingest data changed under the writer (${st.size} bytes on disk, ${this._offset} written); the ingest was reset`, { subject });
      }
      if (expected && expected !== got) {
        this.resetOnDisk();
        throw failedPrecondition(`unexpected commit digest ${got}, expected ${expected} (the ingest was reset)`, { subject });
      }
      const target = this.paths.blobPath(got);
      mkdirSync(dirname(dirname(dirname(target))), { recursive: true, mode: 0o755 });
      ensureDir(dirname(dirname(target)));
      ensureDir(dirname(target));
      // Writers of other refs may hold the same bytes: one lock per digest makes exactly one of them rename.
      const blobLock = await lockRef(this.paths.lockDir, `blob/${got}`, { waitMs: 60_000 });
      try {
        return this.moveIntoPlace(data, target, got, st.size);
      } finally {
        blobLock.release();
      }
    } finally {
      await this.finish(false);
    }
  }

  private moveIntoPlace(data: string, target: string, got: string, size: number): CommitResult {
    try {
      lstatSync(target);
      rmSync(this.dir, { recursive: true, force: true });
      return { digest: got, size, alreadyExists: true };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, 'checking blob', this.ref);
    }
    // Mode and mtime before the rename (containerd sets them after): the blob appears in its final form.
    const now = new Date();
    try {
      chmodSync(data, 0o444);
      utimesSync(data, now, now);
      renameSync(data, target);
    } catch (e) {
      try {
        chmodSync(data, 0o644);
      } catch {
        /* data may be gone; the next open starts over */
      }
      throw ioError(e, 'moving ingest into blobs', this.ref);
    }
    rmSync(this.dir, { recursive: true, force: true });
    try {
      fsyncDir(dirname(target));
    } catch (e) {
      // The blob is complete and verified in blobs/, only the rename's durability is in doubt.
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw internal(`blob ${got} is in place, but syncing its directory failed (${code})`, { subject: `ref ${JSON.stringify(this.ref)}`, cause: e });
    }
    return { digest: got, size, alreadyExists: false };
  }


  private resetOnDisk(): void {
    const f = ingestFiles(this.dir);
    rmSync(f.data, { force: true });
    try {
      writeTimestamp(f.updatedat, new Date());
    } catch {
      /* the missing data file already makes the next open start over */
    }
    this.digester = new Digester(CANONICAL_ALGORITHM);
    this._offset = 0;
  }

  /** Stops writing and keeps the ingest for a later resume (writes `updatedat`). */
  async close(): Promise<void> {
    await this.finish(true);
  }

  /** Removes the ingest entirely. */
  async abort(): Promise<void> {
    if (this.done) return;
    await this.fh?.close().catch(() => {});
    this.fh = undefined;
    rmSync(this.dir, { recursive: true, force: true });
    await this.finish(false);
  }

  private async finish(stamp: boolean): Promise<void> {
    if (this.done) return;
    this.done = true;
    const fh = this.fh;
    this.fh = undefined;
    try {
      if (fh) {
        await fh.datasync().catch(() => {});
        await fh.close().catch(() => {});
        if (stamp && !this.existing) writeTimestamp(ingestFiles(this.dir).updatedat, this._updatedAt);
      }
    } catch {
      /* the ingest stays resumable without a fresh updatedat */
    } finally {
      this.lock.release();
    }
  }
}

/** Prefix of ingest dirs being built; never a valid ingest name (those are 64 hex digits). */
export const TEMP_PREFIX = '.ctrx-new-';
const STALE_TEMP_MS = 3_600_000;

/** Removes ingest dirs a crashed writer left half-built (older than an hour). */
function sweepStaleTemps(ingestRoot: string): void {
  let names: string[];
  try {
    names = readdirSync(ingestRoot);
  } catch {
    return;
  }
  const cutoff = Date.now() - STALE_TEMP_MS;
  for (const n of names) {
    if (!n.startsWith(TEMP_PREFIX)) continue;
    try {
      const p = join(ingestRoot, n);
      if (lstatSync(p).mtimeMs < cutoff) rmSync(p, { recursive: true, force: true });
    } catch {
      /* another process swept it */
    }
  }
}

function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, C.O_RDONLY | C.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
