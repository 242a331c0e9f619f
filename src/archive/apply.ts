/**
 * Applying one image layer to a directory, the way containerd's archive
 * package does (applyNaive + createTarFile, 1.6), with the whiteout
 * conversion of its overlay applier. Returns the uncompressed digest, which
 * the caller checks against the image config's `rootfs.diff_ids[i]` (or pass
 * `expectedDiffID` and get the error from here).
 *
 * Modes:
 * - `overlay` (with `parents`, the lower `fs` dirs nearest first): the target
 *   is an overlay upper dir. `.wh.name` becomes a 0/0 character device owned
 *   as the header says; `.wh..wh..opq` sets `trusted.overlay.opaque=y` (or the
 *   `user.` variant) on the directory; missing parent dirs copy owner, mode,
 *   times and xattrs from the nearest lower that has them.
 *   Without parents containerd applies through a bind mount with the naive
 *   rules, and so does this: overlay with no parents behaves as `native`.
 * - `native`: the target already holds the lower layers. `.wh.name` removes
 *   the path; `.wh..wh..opq` removes everything in the dir that this layer
 *   did not create (entries before the marker survive, entries after it are
 *   created after the removal, so siblings end the same in either order).
 *
 * Containment (see paths.ts): names are cleaned, parents re-resolved inside
 * the root for every entry, hardlink targets resolved the same way, the last
 * component is never followed (an existing path is removed, never written
 * through), ownership/xattrs/times use the l* calls and chmod is skipped for
 * symlinks. Whiteout names that would leave their dir (`.wh.`, `.wh..`,
 * `.wh...`) are errors, as in containerd.
 */
import { closeSync, lchownSync, linkSync, lstatSync, openSync, readdirSync, readFileSync, symlinkSync, writeSync, constants as C } from 'node:fs';
import { userInfo } from 'node:os';
import { posix, resolve } from 'node:path';
import { CtrxError, failedPrecondition, invalidArgument } from '../errdefs.js';
import { Digester } from '../digest.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, lsetxattr, makedev, mknod } from '../platform/index.js';
import { decompress, type Compression } from './compression.js';
import { entryError, lchmod, lstatOrUndefined, mkdirMode, mkparent, removeAll, setTimes, setXattrs } from './fsops.js';
import { cleanName, cleanRel, decodeName, entryPath, isWithin } from './paths.js';
import { DEFAULT_FRAME_LIMITS } from './tar-frame.js';
import { drain, readTar, type TarEntry } from './tar.js';

export interface ApplyLimits {
  /** Largest PAX / GNU long-name header (default 1 MiB, Go's limit). */
  maxMetaBytes: number;
  /** Longest entry name after cleaning (default 4096, PATH_MAX). */
  maxPathBytes: number;
  /** Deepest entry name (default 1024 components). */
  maxDepth: number;
  /** Most entries (default unlimited). */
  maxEntries: number;
  /** Most uncompressed bytes (default unlimited). */
  maxBytes: number;
  /** Largest xattr value (default 65536, XATTR_SIZE_MAX). */
  maxXattrBytes: number;
}

export const DEFAULT_APPLY_LIMITS: ApplyLimits = {
  maxMetaBytes: DEFAULT_FRAME_LIMITS.maxMetaBytes,
  maxPathBytes: 4096,
  maxDepth: 1024,
  maxEntries: Infinity,
  maxBytes: Infinity,
  maxXattrBytes: 65536,
};

export interface ApplyOptions {
  mode: 'overlay' | 'native';
  /** overlay: lower `fs` dirs, nearest first (containerd's WithParents). */
  parents?: readonly string[];
  /** overlay: the opaque attribute (`user.overlay.opaque` for a userxattr mount). */
  opaqueXattr?: 'trusted.overlay.opaque' | 'user.overlay.opaque';
  /** lchown entries to the archive's owners (default: when running as root). */
  sameOwner?: boolean;
  /** Create block/char devices (default: as real root outside a user namespace; otherwise they are skipped, as containerd does). */
  devices?: boolean;
  /** When given, a different uncompressed digest fails the apply ("wrong diff id"). */
  expectedDiffID?: string;
  limits?: Partial<ApplyLimits>;
  signal?: AbortSignal;
}

export interface ApplyResult {
  /** sha256 of the whole uncompressed stream (trailing data after the tar end included, as containerd hashes it). */
  diffID: string;
  /** Uncompressed bytes. */
  size: number;
  /** Sum of the entries' data sizes (what containerd's archive.Apply returns). */
  contentSize: number;
  compression: Compression;
  entries: number;
  /** Entries not applied: devices without the privilege, names resolving to the root; xattrs dropped. */
  skipped: { devices: number; root: number; xattrs: number };
}

const MAX_ID = 0xfffffffen; // 2^32-1 means "unchanged" to chown; larger values wrap to real ids

/** containerd's userns.RunningInUserNS: anything but the full identity uid map. */
export function runningInUserNS(): boolean {
  try {
    const m = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    return !(m.length === 3 && m[0] === '0' && m[1] === '0' && m[2] === '4294967295');
  } catch {
    return false;
  }
}

function isRoot(): boolean {
  try {
    return userInfo().uid === 0;
  } catch {
    return false;
  }
}

function checkId(v: bigint, what: string, name: string): number {
  if (v < 0n || v > MAX_ID) throw invalidArgument(`${what} ${v} is out of range`, { subject: `layer entry ${JSON.stringify(name)}` });
  return Number(v);
}

class Applier {
  readonly root: string;
  private readonly parents: readonly string[];
  private readonly overlay: boolean;
  private readonly opaqueXattr: string;
  private readonly sameOwner: boolean;
  private readonly devices: boolean;
  private readonly limits: ApplyLimits;
  /** Host paths this layer created or merged (native opaque markers keep them). */
  private readonly unpacked = new Set<string>();
  /** Their ancestors, kept so an opaque marker after `d/x/y` does not remove `d/x`. */
  private readonly ancestors = new Set<string>();
  private readonly dirs: { rel: string; mtimeNs: bigint; atimeNs: bigint | undefined }[] = [];
  readonly skipped = { devices: 0, root: 0, xattrs: 0 };
  contentSize = 0;
  entries = 0;

  constructor(target: string, opts: ApplyOptions) {
    this.root = resolve(target);
    const st = lstatOrUndefined(this.root);
    if (!st?.isDirectory()) throw invalidArgument('target is not a directory', { subject: `directory ${this.root}` });
    this.parents = opts.parents ?? [];
    this.overlay = opts.mode === 'overlay' && this.parents.length > 0;
    this.opaqueXattr = opts.opaqueXattr ?? 'trusted.overlay.opaque';
    const root = isRoot();
    this.sameOwner = opts.sameOwner ?? root;
    this.devices = opts.devices ?? (root && !runningInUserNS());
    this.limits = { ...DEFAULT_APPLY_LIMITS, ...opts.limits };
  }

  private markUnpacked(path: string): void {
    this.unpacked.add(path);
    for (let d = posix.dirname(path); d.length > this.root.length; d = posix.dirname(d)) {
      if (this.ancestors.has(d)) break;
      this.ancestors.add(d);
    }
  }

  async entry(e: TarEntry): Promise<void> {
    if (++this.entries > this.limits.maxEntries) throw invalidArgument(`layer has more than ${this.limits.maxEntries} entries`, { subject: 'layer' });
    this.contentSize += e.size;
    const rel = cleanName(decodeName(e.name, 'name'), this.limits);
    if (!rel) {
      this.skipped.root++;
      return drain(e.body);
    }
    if ((e.typeflag === '3' || e.typeflag === '4') && !this.devices) {
      this.skipped.devices++;
      return drain(e.body);
    }
    let loc: ReturnType<typeof entryPath>;
    try {
      loc = entryPath(this.root, rel);
      if (loc.parent !== this.root) mkparent(this.root, loc.parent, this.overlay ? this.parents : [], this.sameOwner);
    } catch (err) {
      throw entryError(err, rel, 'preparing parent directory');
    }
    if (loc.base.startsWith('.wh.')) {
      await drain(e.body);
      return this.whiteout(e, rel, loc.parent, loc.base);
    }
    try {
      const existing = lstatOrUndefined(loc.path);
      if (existing && !(existing.isDirectory() && e.typeflag === '5')) removeAll(loc.path);
      await this.create(e, rel, loc.path, existing?.isDirectory() === true);
    } catch (err) {
      throw entryError(err, rel, `extracting ${describe(e.typeflag)}`);
    }
    this.markUnpacked(loc.path);
  }

  private async create(e: TarEntry, rel: string, path: string, isDir: boolean): Promise<void> {
    const perm = Number(e.mode & 0o7777n);
    const uid = checkId(e.uid, 'uid', rel);
    const gid = checkId(e.gid, 'gid', rel);
    let regOrDir = e.typeflag === '0' || e.typeflag === '5';
    switch (e.typeflag) {
      case '5':
        if (!isDir) mkdirMode(path, perm);
        await drain(e.body);
        break;
      case '0': {
        const fd = openSync(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, perm);
        try {
          for await (const chunk of e.body) {
            let off = 0;
            while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
          }
        } finally {
          closeSync(fd);
        }
        break;
      }
      case '1': {
        await drain(e.body);
        const target = this.hardlinkTarget(e, rel);
        linkSync(target, path);
        regOrDir = lstatSync(path).isFile();
        break;
      }
      case '2':
        await drain(e.body);
        symlinkSync(decodeName(e.linkname, 'symlink target'), path);
        break;
      case '3':
      case '4':
      case '6': {
        await drain(e.body);
        let dev = 0;
        if (e.typeflag !== '6') {
          if (e.devmajor < 0n || e.devmajor > 0xfffn || e.devminor < 0n || e.devminor > 0xfffffn) {
            throw invalidArgument(`device number ${e.devmajor}:${e.devminor} is out of range`, { subject: `layer entry ${JSON.stringify(rel)}` });
          }
          dev = makedev(Number(e.devmajor), Number(e.devminor));
        }
        const type = e.typeflag === '3' ? S_IFCHR : e.typeflag === '4' ? S_IFBLK : S_IFIFO;
        const rc = mknod(path, type | perm, dev);
        if (rc !== 0) throw rc;
        break;
      }
      default:
        throw invalidArgument(`unhandled tar header type ${JSON.stringify(e.typeflag)}`, { subject: `layer entry ${JSON.stringify(rel)}` });
    }
    // Owner first: chown clears setuid/setgid, so the mode comes after it.
    if (this.sameOwner) lchownSync(path, uid, gid);
    this.skipped.xattrs += setXattrs(path, rel, e.pax, regOrDir, this.limits);
    lchmod(path, perm);
    setTimes(path, rel, e.mtimeNs, e.atimeNs);
    if (e.typeflag === '5') this.dirs.push({ rel, mtimeNs: e.mtimeNs, atimeNs: e.atimeNs });
  }

  /** containerd's hardlinkRootPath: the link's parent resolved in the root, its base name literal. */
  private hardlinkTarget(e: TarEntry, rel: string): string {
    const linkRel = cleanRel(decodeName(e.linkname, 'hardlink target'));
    if (!linkRel) throw invalidArgument('hardlink to the root directory', { subject: `layer entry ${JSON.stringify(rel)}` });
    const { path } = entryPath(this.root, linkRel);
    if (!isWithin(this.root, path)) throw invalidArgument('hardlink target outside the layer root', { subject: `layer entry ${JSON.stringify(rel)}` });
    return path;
  }

  private whiteout(e: TarEntry, rel: string, dir: string, base: string): void {
    if (base === '.wh..wh..opq') {
      try {
        if (this.overlay) {
          const rc = lsetxattr(dir, this.opaqueXattr, Buffer.from('y'), 0);
          if (rc !== 0) throw rc;
        } else {
          lstatSync(dir);
          this.removeNotUnpacked(dir);
        }
      } catch (err) {
        throw entryError(err, rel, 'applying opaque whiteout');
      }
      return;
    }
    const orig = base.slice('.wh.'.length);
    if (orig === '' || orig === '.' || orig === '..') {
      throw invalidArgument(`invalid whiteout name: ${base}: invalid archive`, { subject: `layer entry ${JSON.stringify(rel)}` });
    }
    const target = dir + '/' + orig;
    try {
      if (!this.overlay) {
        removeAll(target);
        return;
      }
      if (lstatOrUndefined(target)) removeAll(target);
      const rc = mknod(target, S_IFCHR, 0);
      if (rc !== 0) throw rc;
      if (this.sameOwner) lchownSync(target, checkId(e.uid, 'uid', rel), checkId(e.gid, 'gid', rel));
    } catch (err) {
      throw entryError(err, rel, 'applying whiteout');
    }
  }

  /** Native opaque marker: removes what lower layers put in `dir`, keeping this layer's entries. */
  private removeNotUnpacked(dir: string): void {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = dir + '/' + n;
      if (this.unpacked.has(p) || this.ancestors.has(p)) {
        const st = lstatOrUndefined(p);
        if (st?.isDirectory()) this.removeNotUnpacked(p);
        continue;
      }
      removeAll(p);
    }
  }

  /** Directory times last: creating their contents changed them. */
  finishDirs(): void {
    for (const d of this.dirs) {
      try {
        const { path } = entryPath(this.root, d.rel);
        if (lstatOrUndefined(path)?.isDirectory()) setTimes(path, d.rel, d.mtimeNs, d.atimeNs);
      } catch (err) {
        if (err instanceof CtrxError) throw err;
        /* a later entry replaced the dir or its parent: nothing to date */
      }
    }
  }
}

function describe(tf: string): string {
  return ({ '0': 'file', '1': 'hardlink', '2': 'symlink', '3': 'character device', '4': 'block device', '5': 'directory', '6': 'FIFO' } as Record<string, string>)[tf] ?? 'entry';
}

/**
 * Decompresses (gzip / zstd / none by magic bytes), parses and applies one
 * layer into `targetDir`. On error the directory holds a partial layer: the
 * caller discards the snapshot, as containerd does with its `extract-…` key.
 */
export async function applyLayer(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, targetDir: string, opts: ApplyOptions): Promise<ApplyResult> {
  const a = new Applier(targetDir, opts);
  const hasher = new Digester();
  const { compression, stream } = await decompress(source);
  const limits = { ...DEFAULT_APPLY_LIMITS, ...opts.limits };
  for await (const e of readTar(stream, hasher, { frame: { maxMetaBytes: limits.maxMetaBytes }, maxBytes: limits.maxBytes })) {
    opts.signal?.throwIfAborted();
    await a.entry(e);
  }
  a.finishDirs();
  const diffID = hasher.digest();
  if (opts.expectedDiffID !== undefined && opts.expectedDiffID !== diffID) {
    throw failedPrecondition(`wrong diff id: the layer's uncompressed digest is ${diffID}, the image config says ${opts.expectedDiffID}`, { subject: 'layer' });
  }
  return { diffID, size: hasher.size, contentSize: a.contentSize, compression, entries: a.entries, skipped: a.skipped };
}
