/**
 * containerd's local content store, file side only: blobs under
 * `<root>/io.containerd.content.v1.content/blobs/<alg>/<hex>` (dirs 0755,
 * files 0444) and in-progress writes under `ingest/`. Records in meta.db (blob
 * and ingest records, leases) are the caller's: a writer's CommitResult says
 * what to record, `listIngests` what `content active` shows.
 *
 * The writer's cross-process lock files live in a ctrx-owned directory
 * (default `<root>/ctrx/locks/content`), never inside `blobs/` or `ingest/`.
 */
import { lstatSync, readdirSync, unlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fromSystemError, notFound } from '../errdefs.js';
import { parseDigest, DIGEST_ALGORITHMS } from '../digest.js';
import { ingestDirName, readStatus, validateBackendRef, type IngestStatus } from './ingest.js';
import { lockRef } from './lock.js';
import { openBlob, readBlob, blobStream, type BlobHandle, type ReadAllOptions, type StreamOptions } from './reader.js';
import { IngestWriter, type WriterOptions } from './writer.js';
import type { Readable } from 'node:stream';

export const CONTENT_PLUGIN_DIR = 'io.containerd.content.v1.content';

export interface BlobInfo {
  digest: string;
  size: number;
  /** mtime of the blob file: the commit time (containerd's CreatedAt). */
  createdAt: Date;
  /** atime of the blob file (containerd's UpdatedAt for the file store). */
  updatedAt: Date;
}

export interface StoreOptions {
  /** Where writer locks live; default `<containerd root>/ctrx/locks/content` for forRoot, `<content root>/../ctrx/locks/content` otherwise. */
  lockDir?: string;
}

export class ContentStore {
  readonly lockDir: string;

  /** `contentRoot` is the plugin dir itself (`…/io.containerd.content.v1.content`). */
  constructor(
    readonly contentRoot: string,
    opts: StoreOptions = {},
  ) {
    this.lockDir = opts.lockDir ?? join(contentRoot, '..', 'ctrx', 'locks', 'content');
  }

  /** The store of a containerd root directory. */
  static forRoot(root: string, opts: StoreOptions = {}): ContentStore {
    return new ContentStore(join(root, CONTENT_PLUGIN_DIR), { lockDir: opts.lockDir ?? join(root, 'ctrx', 'locks', 'content') });
  }

  /** `blobs/<alg>/<hex>` for a validated digest. */
  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.contentRoot, 'blobs', algorithm, hex);
  }

  ingestRoot(): string {
    return join(this.contentRoot, 'ingest');
  }

  /** `ingest/<hex(sha256(backendRef))>`. */
  ingestDir(backendRef: string): string {
    validateBackendRef(backendRef);
    return join(this.ingestRoot(), ingestDirName(backendRef));
  }

  // ---- reading ----

  info(digest: string): BlobInfo {
    const p = this.blobPath(digest);
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('not found', { subject: `content digest ${digest}` });
      throw fromSystemError(e, `content digest ${digest}`);
    }
    if (!st.isFile()) throw notFound('not a regular file', { subject: `content digest ${digest}` });
    return { digest, size: st.size, createdAt: st.mtime, updatedAt: st.atime };
  }

  has(digest: string): boolean {
    try {
      return lstatSync(this.blobPath(digest)).isFile();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  /** Random access to one blob (closing is the caller's). */
  open(digest: string): Promise<BlobHandle> {
    return openBlob(this.blobPath(digest), digest);
  }

  /** The whole blob in memory, refused above `maxSize`, verified against its digest unless `verify: false`. */
  readAll(digest: string, opts: ReadAllOptions): Promise<Buffer> {
    return readBlob(this.blobPath(digest), digest, opts);
  }

  /** A stream of the blob that hashes while reading and fails at the end when the bytes do not match the digest. */
  stream(digest: string, opts: StreamOptions = {}): Readable {
    return blobStream(this.blobPath(digest), digest, opts);
  }

  /** Every blob file with a valid name, algorithm by algorithm (symlinks and odd names are skipped). */
  *walk(): Generator<BlobInfo> {
    const blobs = join(this.contentRoot, 'blobs');
    let algs: string[];
    try {
      algs = readdirSync(blobs).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw fromSystemError(e, blobs);
    }
    for (const alg of algs) {
      if (!Object.hasOwn(DIGEST_ALGORITHMS, alg)) continue;
      let names: string[];
      try {
        names = readdirSync(join(blobs, alg)).sort();
      } catch {
        continue;
      }
      for (const hex of names) {
        const digest = `${alg}:${hex}`;
        let st;
        try {
          parseDigest(digest);
          st = lstatSync(join(blobs, alg, hex));
        } catch {
          continue;
        }
        if (!st.isFile()) continue;
        yield { digest, size: st.size, createdAt: st.mtime, updatedAt: st.atime };
      }
    }
  }

  /** Removes a blob file (records are the caller's). */
  delete(digest: string): void {
    const p = this.blobPath(digest);
    try {
      unlinkSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('not found', { subject: `content digest ${digest}` });
      throw fromSystemError(e, `content digest ${digest}`);
    }
  }

  // ---- ingests ----

  /** Opens (or resumes) the ingest for a backend ref ("<ns>/<N>/<ref>"). */
  writer(backendRef: string, opts: WriterOptions = {}): Promise<IngestWriter> {
    return IngestWriter.open({ blobPath: (d) => this.blobPath(d), ingestDir: (r) => this.ingestDir(r), lockDir: this.lockDir }, backendRef, opts);
  }

  /** Status of one ingest, or not-found. */
  ingestStatus(backendRef: string): IngestStatus {
    const dir = this.ingestDir(backendRef);
    const st = readStatus(dir);
    if (st.ref !== backendRef) throw notFound('ingest belongs to another ref', { subject: `ref ${JSON.stringify(backendRef)}` });
    return st;
  }

  /** Every readable ingest (ones without data or ref are skipped, as containerd's ListStatuses does). */
  listIngests(): IngestStatus[] {
    const root = this.ingestRoot();
    let names: string[];
    try {
      names = readdirSync(root).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fromSystemError(e, root);
    }
    const out: IngestStatus[] = [];
    for (const name of names) {
      // Ingest dirs are named by a sha256; anything else (a writer's dir being built) is not one.
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const dir = join(root, name);
      try {
        if (!lstatSync(dir).isDirectory()) continue;
        out.push(readStatus(dir));
      } catch {
        /* half-written or being committed right now */
      }
    }
    return out;
  }

  /** Removes an ingest (containerd's Abort), under its writer lock. */
  async abort(backendRef: string, opts: { waitMs?: number } = {}): Promise<void> {
    const dir = this.ingestDir(backendRef);
    const lock = await lockRef(this.lockDir, backendRef, opts);
    try {
      try {
        lstatSync(dir);
      } catch {
        throw notFound('no ingest', { subject: `ref ${JSON.stringify(backendRef)}` });
      }
      rmSync(dir, { recursive: true, force: true });
    } finally {
      lock.release();
    }
  }
}

export type { IngestStatus, WriterOptions };
export type { CommitResult } from './writer.js';
export { IngestWriter };
