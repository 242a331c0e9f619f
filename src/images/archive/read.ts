/**
 * Reading an image archive into the content store, streamed: every regular
 * file goes through an ingest (ref `tar-<name>`, as containerd's importer
 * names them) inside the import's lease and is committed only once its size
 * and digest check out; a file named `blobs/<alg>/<hex>` must hash to that
 * name. Nothing is written outside the content store, so entry names are
 * never paths on this host; still, names that are absolute, climb with
 * `..`, or lie under a symlink of the archive are refused, so an archive
 * cannot mean different things to ctrx and to a tool that extracts it.
 *
 * `oci-layout`, `index.json` and `manifest.json` are read into memory
 * through a 20 MiB bound (containerd's limit since CVE-2023-25153) and
 * refused above it before any byte is read.
 */
import { posix } from 'node:path';
import type { OpContext } from '../../context.js';
import { CtrxError, invalidArgument } from '../../errdefs.js';
import { Digester, parseDigest } from '../../digest.js';
import { readTar, drain } from '../../archive/tar.js';
import { decompress } from '../../archive/compression.js';
import { haveBlob, openIngest, recordBlob, storeFor } from '../content-records.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts'>;

/** JSON documents inside an archive (containerd's jsonLimit). */
export const MAX_JSON_BYTES = 20 << 20;
/** Regular files in one archive: each is a blob record and two metadata commits. */
export const MAX_FILES = 20_000;
/** Headers of any kind, directories and ignored types included. */
export const MAX_ENTRIES = 100_000;
const MAX_NAME_BYTES = 4096;
/** Symlink hops followed when a docker manifest.json names a linked layer. */
const MAX_LINK_HOPS = 16;

export interface ArchiveBlob {
  digest: string;
  size: number;
}

export interface ArchiveContents {
  /** oci-layout, parsed. */
  layout?: unknown;
  indexJson?: Buffer;
  manifestJson?: Buffer;
  /** Regular files by cleaned name. */
  files: Map<string, ArchiveBlob>;
  /** Symlinks by cleaned name → cleaned target name. */
  symlinks: Map<string, string>;
}

export type ArchiveProgress = { kind: 'file'; name: string; size: number; offset: number; status: 'reading' | 'exists' | 'done' };

export interface ReadOptions {
  /** What errors name, e.g. `archive "x.tar"`. */
  subject: string;
  onProgress?: (p: ArchiveProgress) => void;
  signal?: AbortSignal;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Errors from the shared tar and decompression readers name a layer; here they concern the archive. */
export function asArchiveError(e: unknown, subject: string): unknown {
  if (e instanceof CtrxError && (e.subject === 'layer' || e.subject === undefined || e.subject.startsWith('layer entry'))) {
    return new CtrxError(e.category, e.message, { subject, ...(e.hint ? { hint: e.hint } : {}), cause: e });
  }
  return e;
}

/** The name an archive entry stands for, relative to the archive root; refuses names that leave it. */
export function archiveName(raw: Buffer, subject: string): string {
  let name: string;
  try {
    name = utf8.decode(raw);
  } catch {
    throw invalidArgument(`an entry name is not valid UTF-8 (${JSON.stringify(raw.toString('latin1').slice(0, 80))})`, { subject });
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw invalidArgument(`an entry name is longer than ${MAX_NAME_BYTES} bytes`, { subject });
  if (name.includes('\0')) throw invalidArgument('an entry name contains NUL', { subject });
  if (name.startsWith('/')) throw invalidArgument(`entry ${JSON.stringify(name.slice(0, 200))} has an absolute name`, { subject });
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalidArgument(`entry ${JSON.stringify(name.slice(0, 200))} climbs out of the archive with ".."`, { subject });
  return parts.join('/');
}

/** Where a symlink entry points, as an archive name; refuses targets outside the archive. */
function linkTarget(name: string, raw: Buffer, subject: string): string {
  const target = raw.toString('utf8');
  const what = `symlink ${JSON.stringify(name)} → ${JSON.stringify(target.slice(0, 200))}`;
  if (target.startsWith('/')) throw invalidArgument(`${what} points outside the archive`, { subject });
  const joined = posix.normalize(posix.join(posix.dirname(name), target));
  if (joined === '..' || joined.startsWith('../')) throw invalidArgument(`${what} points outside the archive`, { subject });
  return joined === '.' ? '' : joined.replace(/\/+$/, '');
}

async function readBounded(body: AsyncIterable<Buffer>, size: number): Promise<Buffer> {
  const out = Buffer.alloc(size);
  let off = 0;
  for await (const c of body) {
    c.copy(out, off);
    off += c.length;
  }
  return out.subarray(0, off);
}

/** A blob name under blobs/: `blobs/<alg>/<hex>` → digest (validated), or an error for anything else there. */
function blobDigest(name: string, subject: string): string | undefined {
  if (!name.startsWith('blobs/')) return undefined;
  const m = /^blobs\/([^/]+)\/([^/]+)$/.exec(name);
  const digest = m ? `${m[1]}:${m[2]}` : '';
  try {
    parseDigest(digest);
  } catch {
    throw invalidArgument(`${JSON.stringify(name.slice(0, 200))} under blobs/ is not named <algorithm>/<hex digest>`, { subject });
  }
  return digest;
}

/** Hashes an entry that is not copied (the store has it) and checks it against its name. */
async function verifyDrain(body: AsyncIterable<Buffer>, digest: string, name: string, subject: string): Promise<void> {
  const h = new Digester(parseDigest(digest).algorithm);
  for await (const c of body) h.update(c);
  const got = h.digest();
  if (got !== digest) throw invalidArgument(`${JSON.stringify(name)} does not hash to its name (its bytes are ${got})`, { subject });
}

/** One regular file into the store under the lease; returns its digest. */
async function ingestFile(ctx: Ctx, lease: string, name: string, size: number, body: AsyncIterable<Buffer>, opts: ReadOptions): Promise<ArchiveBlob> {
  const expected = blobDigest(name, opts.subject);
  const report = (offset: number, status: ArchiveProgress['status']) => opts.onProgress?.({ kind: 'file', name, size, offset, status });
  if (expected && haveBlob(ctx, expected)) {
    await verifyDrain(body, expected, name, opts.subject);
    recordBlob(ctx, lease, { mediaType: '', digest: expected, size }, {});
    report(size, 'exists');
    return { digest: expected, size };
  }
  const ref = `tar-${name}`;
  const backend = openIngest(ctx, lease, ref);
  const w = await storeFor(ctx).writer(backend, { total: size, ...(expected ? { expected } : {}), waitMs: 60_000, ...(opts.signal ? { signal: opts.signal } : {}) });
  let result: ArchiveBlob;
  try {
    if (w.existing) {
      await verifyDrain(body, expected!, name, opts.subject);
    } else {
      // An ingest left by a killed import cannot be resumed from a stream: start over.
      if (w.offset > 0) await w.reset();
      report(0, 'reading');
      let last = Date.now();
      for await (const c of body) {
        await w.write(c);
        if (Date.now() - last > 100) {
          last = Date.now();
          report(w.offset, 'reading');
        }
      }
    }
    try {
      const c = await w.commit(size, expected);
      result = { digest: c.digest, size: c.size };
    } catch (e) {
      if (e instanceof CtrxError && /unexpected commit digest (\S+)/.test(e.message)) {
        const got = /unexpected commit digest (\S+)/.exec(e.message)![1];
        throw invalidArgument(`${JSON.stringify(name)} does not hash to its name (its bytes are ${got})`, { subject: opts.subject });
      }
      if (e instanceof CtrxError && /unexpected commit size/.test(e.message)) throw invalidArgument(`${JSON.stringify(name)} is shorter than its header says (truncated archive?)`, { subject: opts.subject });
      throw e;
    }
  } catch (e) {
    await w.abort().catch(() => {});
    throw e;
  }
  recordBlob(ctx, lease, { mediaType: '', digest: result.digest, size: result.size }, {}, ref);
  report(size, 'done');
  return result;
}

/** Streams the archive into the store; returns what the importer needs to interpret it. */
export async function readArchive(ctx: Ctx, lease: string, source: AsyncIterable<Uint8Array>, opts: ReadOptions): Promise<ArchiveContents> {
  const out: ArchiveContents = { files: new Map(), symlinks: new Map() };
  const subject = opts.subject;
  let entries = 0;
  try {
    const { stream } = await decompress(source);
    for await (const e of readTar(stream, new Digester())) {
      if (opts.signal?.aborted) throw invalidArgument('import interrupted', { subject });
      if (++entries > MAX_ENTRIES) throw invalidArgument(`the archive has more than ${MAX_ENTRIES} entries`, { subject });
      const name = archiveName(e.name, subject);
      if (e.typeflag === '2') {
        out.symlinks.set(name, linkTarget(name, e.linkname, subject));
        await drain(e.body);
        continue;
      }
      if (e.typeflag !== '0') {
        // Directories, hardlinks, devices: nothing an image archive needs (containerd skips them too).
        await drain(e.body);
        continue;
      }
      if (name === '' ) throw invalidArgument('a regular file entry has an empty name', { subject });
      if (name === 'oci-layout' || name === 'index.json' || name === 'manifest.json') {
        if (e.size > MAX_JSON_BYTES) {
          throw invalidArgument(`${name} is ${e.size} bytes, more than the ${MAX_JSON_BYTES >> 20} MiB allowed for JSON in an archive`, { subject });
        }
        const bytes = await readBounded(e.body, e.size);
        if (name === 'oci-layout') {
          const { parseArchiveJson } = await import('./json.js');
          out.layout = parseArchiveJson(bytes, 'oci-layout', subject);
        } else if (name === 'index.json') out.indexJson = bytes;
        else out.manifestJson = bytes;
        continue;
      }
      if (name === 'repositories') {
        // docker save's legacy tag file: manifest.json says the same.
        await drain(e.body);
        continue;
      }
      if (out.files.size >= MAX_FILES && !out.files.has(name)) throw invalidArgument(`the archive has more than ${MAX_FILES} files`, { subject });
      out.files.set(name, await ingestFile(ctx, lease, name, e.size, e.body, opts));
    }
  } catch (e) {
    throw asArchiveError(e, subject);
  }
  checkSymlinkParents(out, subject);
  return out;
}

/** No file may lie under a name the archive made a symlink (a symlinked `blobs/` would redirect a tool that extracts). */
function checkSymlinkParents(c: ArchiveContents, subject: string): void {
  if (c.symlinks.size === 0) return;
  for (const name of c.files.keys()) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (c.symlinks.has(dir)) throw invalidArgument(`${JSON.stringify(name)} lies under the symlink ${JSON.stringify(dir)}`, { subject });
    }
  }
  for (const [name] of c.symlinks) {
    if (name === 'blobs' || name.startsWith('blobs/')) throw invalidArgument(`symlink ${JSON.stringify(name)} under blobs/: an OCI layout's blobs are regular files`, { subject });
  }
}

/** The blob a docker manifest.json name stands for, following the archive's own symlinks. */
export function lookupFile(c: ArchiveContents, rawName: string): ArchiveBlob | undefined {
  let name = rawName.split('/').filter((p) => p !== '' && p !== '.').join('/');
  for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
    const f = c.files.get(name);
    if (f) return f;
    const t = c.symlinks.get(name);
    if (t === undefined) return undefined;
    name = t;
  }
  return undefined;
}
