/**
 * Layer diffs: the changes from a lower tree to an upper tree as an OCI
 * layer tar, the way containerd 1.6 computes them for `ctr snapshots diff`
 * and image commits (continuity's double-walk fs.Changes feeding archive's
 * ChangeWriter). Both roots are plain directory trees (mounted views of two
 * snapshots, or native snapshot dirs); without a lower every path is added.
 *
 * - Both trees are walked in filepath.Walk order (names sorted bytewise,
 *   parents first) and merged with '/' sorting before every other byte.
 * - A path only in the lower is deleted (once for a whole deleted dir): a
 *   `.wh.<name>` regular file dated when the diff started.
 * - A path in both is unchanged when mode, owner and device number, the
 *   security.capability xattr and, for non-directories, size and mtime
 *   seconds match; equal whole-second mtimes fall back to comparing contents
 *   (or symlink targets); nanoseconds decide otherwise.
 * - Every written entry is preceded by its parent dirs (from the upper, each
 *   once); mtimes are truncated to seconds; the only xattr carried is
 *   security.capability; sockets are skipped; hardlinked files are written
 *   once and linked after, including unchanged paths that share the inode of
 *   a changed one.
 */
import { lstatSync, readdirSync, readlinkSync, statSync, type BigIntStats } from 'node:fs';
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import { internal } from '../errdefs.js';
import { lgetxattr } from '../platform/index.js';
import { END_OF_ARCHIVE, encodeHeader, padding, type TarHeader } from './tar-write.js';

export type ChangeKind = 'add' | 'modify' | 'delete' | 'unmodified';

export interface Change {
  kind: ChangeKind;
  /** Absolute inside the tree: '/etc/passwd'. */
  path: string;
  /** lstat of the upper path (undefined for deletions). */
  st?: BigIntStats;
}

interface Walked {
  path: string;
  full: string;
  st: BigIntStats;
}

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** filepath.Walk: the root's descendants, each dir before its children, names in byte order. */
function* walk(root: string, rel = ''): Generator<Walked> {
  for (const name of readdirSync(root + rel).sort(byBytes)) {
    const path = `${rel}/${name}`;
    const full = root + path;
    const st = lstatSync(full, { bigint: true });
    yield { path, full, st };
    if (st.isDirectory()) yield* walk(root, path);
  }
}

/** continuity's directoryCompare: bytewise, with '/' lower than any other byte. */
export function directoryCompare(a: string, b: string): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  const l = Math.min(x.length, y.length);
  for (let i = 0; i < l; i++) {
    const c1 = x[i] === 0x2f ? 0 : x[i]!;
    const c2 = y[i] === 0x2f ? 0 : y[i]!;
    if (c1 !== c2) return c1 < c2 ? -1 : 1;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

function capability(p: string): Buffer {
  const v = lgetxattr(p, 'security.capability');
  return typeof v === 'number' ? Buffer.alloc(0) : v;
}

async function sameContent(p1: string, p2: string): Promise<boolean> {
  const [a, b] = await Promise.all([open(p1, 'r'), open(p2, 'r')]);
  try {
    const b1 = Buffer.alloc(32 * 1024);
    const b2 = Buffer.alloc(32 * 1024);
    for (let pos = 0; ; ) {
      const [r1, r2] = await Promise.all([a.read(b1, 0, b1.length, pos), b.read(b2, 0, b2.length, pos)]);
      if (r1.bytesRead !== r2.bytesRead || !b1.subarray(0, r1.bytesRead).equals(b2.subarray(0, r2.bytesRead))) return false;
      if (r1.bytesRead === 0) return true;
      pos += r1.bytesRead;
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

/** continuity's sameFile. */
async function sameFile(f1: Walked, f2: Walked): Promise<boolean> {
  const s1 = f1.st;
  const s2 = f2.st;
  if (s1.dev === s2.dev && s1.ino === s2.ino) return true;
  if (s1.mode !== s2.mode || s1.uid !== s2.uid || s1.gid !== s2.gid || s1.rdev !== s2.rdev) return false;
  if (!capability(f1.full).equals(capability(f2.full))) return false;
  if (s1.isDirectory()) return true;
  if (s1.size !== s2.size) return false;
  const sec1 = s1.mtimeNs / 1_000_000_000n;
  const sec2 = s2.mtimeNs / 1_000_000_000n;
  if (sec1 !== sec2) return false;
  const ns1 = s1.mtimeNs % 1_000_000_000n;
  const ns2 = s2.mtimeNs % 1_000_000_000n;
  if (ns1 === 0n && ns2 === 0n) {
    if (s1.isSymbolicLink()) return readlinkSync(f1.full) === readlinkSync(f2.full);
    if (s1.size === 0n) return true;
    return sameContent(f1.full, f2.full);
  }
  return ns1 === ns2;
}

const isLinked = (st: BigIntStats) => !st.isDirectory() && st.nlink > 1n;

/** continuity's fs.Changes: addDirChanges without a lower, doubleWalkDiff with one. */
export async function* changes(lower: string | undefined, upper: string): AsyncGenerator<Change> {
  if (lower === undefined) {
    for (const w of walk(upper)) yield { kind: 'add', path: w.path, st: w.st };
    return;
  }
  const a = walk(lower);
  const b = walk(upper);
  let f1: Walked | undefined = a.next().value ?? undefined;
  let f2: Walked | undefined = b.next().value ?? undefined;
  let rmdir = '';
  const nextA = () => (f1 = a.next().value ?? undefined);
  const nextB = () => (f2 = b.next().value ?? undefined);
  while (f1 || f2) {
    const cmp = !f1 ? 1 : !f2 ? -1 : directoryCompare(f1.path, f2.path);
    if (cmp > 0) {
      rmdir = '';
      const w = f2!;
      nextB();
      yield { kind: 'add', path: w.path, st: w.st };
    } else if (cmp < 0) {
      const w = f1!;
      nextA();
      if (rmdir && w.path.startsWith(rmdir)) continue;
      if (w.st.isDirectory()) rmdir = w.path + '/';
      else rmdir = '';
      yield { kind: 'delete', path: w.path };
    } else {
      const x = f1!;
      const y = f2!;
      const same = await sameFile(x, y);
      rmdir = x.st.isDirectory() && !y.st.isDirectory() ? x.path + '/' : '';
      nextA();
      nextB();
      if (same) {
        if (!isLinked(y.st)) continue;
        yield { kind: 'unmodified', path: y.path, st: y.st };
      } else yield { kind: 'modify', path: y.path, st: y.st };
    }
  }
}

function typeflagOf(st: BigIntStats): string | undefined {
  if (st.isFile()) return '0';
  if (st.isDirectory()) return '5';
  if (st.isSymbolicLink()) return '2';
  if (st.isCharacterDevice()) return '3';
  if (st.isBlockDevice()) return '4';
  if (st.isFIFO()) return '6';
  return undefined; // socket
}

export interface DiffOptions {
  /** The whiteouts' mtime (default: now, like containerd). */
  whiteoutTime?: Date;
  signal?: AbortSignal;
}

/** containerd's ChangeWriter over `changes(lower, upper)`: yields the uncompressed layer tar. */
export async function* writeDiff(lower: string | undefined, upper: string, opts: DiffOptions = {}): AsyncGenerator<Buffer> {
  const whiteoutSec = Math.floor((opts.whiteoutTime ?? new Date()).getTime() / 1000);
  const inodeSrc = new Map<bigint, string>();
  const inodeRefs = new Map<bigint, string[]>();
  const addedDirs = new Set<string>();
  const out: Buffer[] = [];

  function includeParents(name: string, isDir: boolean): void {
    const trimmed = name.replace(/\/+$/, '');
    const parent = posix.dirname(trimmed);
    if (trimmed !== '' && parent !== '.' && !addedDirs.has(parent)) {
      addedDirs.add(parent);
      handle('modify', '/' + parent, statSync(upper + '/' + parent, { bigint: true }));
    }
    if (isDir) addedDirs.add(trimmed);
  }

  /**
   * Queues the headers of one change (its parents first) in `out`; a regular
   * file's data and the links to it are left to the caller in `pending`.
   */
  let pending: { file: string; size: number; after: Buffer[] } | undefined;
  function handle(kind: ChangeKind, path: string, st: BigIntStats | undefined): void {
    if (kind === 'delete') {
      const name = posix.join(posix.dirname(path), '.wh.' + posix.basename(path)).slice(1);
      includeParents(name, false);
      out.push(encodeHeader({ name, typeflag: '0', mode: 0, uid: 0, gid: 0, size: 0, mtimeSec: whiteoutSec }));
      return;
    }
    const tf = typeflagOf(st!);
    if (!tf) return;
    const source = upper + path;
    let name = path.slice(1);
    if (tf === '5') name += '/';
    const h: TarHeader = {
      name,
      typeflag: tf,
      mode: Number(st!.mode & 0o7777n),
      uid: Number(st!.uid),
      gid: Number(st!.gid),
      size: tf === '0' ? Number(st!.size) : 0,
      mtimeSec: Number(st!.mtimeNs / 1_000_000_000n) - (st!.mtimeNs < 0n && st!.mtimeNs % 1_000_000_000n !== 0n ? 1 : 0),
    };
    if (tf === '2') h.linkname = readlinkSync(source);
    if (tf === '3' || tf === '4') {
      const rdev = Number(st!.rdev);
      h.devmajor = ((rdev >>> 8) & 0xfff) | Math.floor(rdev / 2 ** 32) & ~0xfff;
      h.devminor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
    }
    let additional: string[] | undefined;
    if (isLinked(st!)) {
      const src = inodeSrc.get(st!.ino);
      if (src !== undefined) {
        h.typeflag = '1';
        h.linkname = src;
        h.size = 0;
      } else {
        if (kind === 'unmodified') {
          inodeRefs.set(st!.ino, [...(inodeRefs.get(st!.ino) ?? []), name]);
          return;
        }
        inodeSrc.set(st!.ino, name);
        additional = inodeRefs.get(st!.ino);
        inodeRefs.delete(st!.ino);
      }
    } else if (kind === 'unmodified') return;
    const cap = capability(source);
    if (cap.length) h.pax = new Map([['SCHILY.xattr.security.capability', cap]]);
    includeParents(h.name, h.typeflag === '5');
    out.push(encodeHeader(h));
    const after: Buffer[] = [];
    if (additional) {
      // The links go after the data; their parents are queued now, as containerd writes them.
      for (const extra of additional) {
        const mark = out.length;
        includeParents(extra, false);
        after.push(...out.splice(mark), encodeHeader({ ...h, name: extra, typeflag: '1', linkname: h.name, size: 0 }));
      }
    }
    if (h.typeflag === '0' && h.size > 0) pending = { file: source, size: h.size, after };
    else out.push(...after);
  }

  for await (const c of changes(lower, upper)) {
    opts.signal?.throwIfAborted();
    handle(c.kind, c.path, c.st);
    yield* out.splice(0, out.length);
    if (pending) {
      const p = pending;
      pending = undefined;
      yield* fileData(p.file, p.size);
      yield* p.after;
    }
  }
  yield END_OF_ARCHIVE;
}

async function* fileData(file: string, size: number): AsyncGenerator<Buffer> {
  const fh = await open(file, 'r');
  try {
    let pos = 0;
    while (pos < size) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, size - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) throw internal(`short read copying ${file}: ${pos} of ${size} bytes (changed while diffing?)`);
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
  yield padding(size);
}
