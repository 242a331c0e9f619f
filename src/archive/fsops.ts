/**
 * The filesystem steps of extraction, each one that never follows a symlink
 * at the path it is given: lchown, lsetxattr, utimensat(AT_SYMLINK_NOFOLLOW),
 * chmod only after lstat says "not a symlink", removal that unlinks links
 * instead of descending through them.
 */
import { chmodSync, lchownSync, lstatSync, mkdirSync, rmSync, type BigIntStats } from 'node:fs';
import { posix } from 'node:path';
import { CtrxError, internal, invalidArgument, unavailable } from '../errdefs.js';
import { ENODATA, XATTR_CREATE, errnoName, lgetxattr, llistxattr, lsetxattr, lutimesNs } from '../platform/index.js';
import { resolveInRoot } from './paths.js';

const ENOTSUP = 95;
const EPERM = 1;
const EEXIST = 17;

/** Turns an error of one step into a CtrxError naming the layer entry. */
export function entryError(e: unknown, name: string, what: string): CtrxError {
  if (e instanceof CtrxError) return e;
  const code = (e as NodeJS.ErrnoException)?.code ?? (typeof e === 'number' ? errnoName(e) : undefined);
  const subject = `layer entry ${JSON.stringify(name)}`;
  const msg = `${what}: ${code ?? (e as Error)?.message ?? String(e)}`;
  if (code === 'ENOSPC' || code === 'EDQUOT') return unavailable(`${what}: no space left on device`, { subject, cause: e });
  if (code === 'EIO') return internal(msg, { subject, cause: e });
  return invalidArgument(msg, { subject, cause: e });
}

function errnoError(errno: number, name: string, what: string): CtrxError {
  return entryError(Object.assign(new Error(errnoName(errno)), { code: errnoName(errno) }), name, what);
}

/** rm -rf that unlinks a symlink rather than following it. */
export function removeAll(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

export function lstatOrUndefined(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw e;
  }
}

/** chmod unless `path` is a symlink (Linux has no lchmod; chmod would follow it). */
export function lchmod(path: string, mode: number): void {
  const st = lstatSync(path);
  if (!st.isSymbolicLink()) chmodSync(path, mode);
}

const MAX_NS = (1n << 63n) - 1n;

/** containerd's boundTime: before the epoch or beyond 2262 becomes the epoch. */
export function boundTime(ns: bigint): bigint {
  return ns < 0n || ns > MAX_NS ? 0n : ns;
}

/** atime is the later of atime and mtime (latestTime), both bounded, set without following symlinks. */
export function setTimes(path: string, name: string, mtimeNs: bigint, atimeNs: bigint | undefined): void {
  const a = atimeNs !== undefined && atimeNs > mtimeNs ? atimeNs : mtimeNs;
  const rc = lutimesNs(path, boundTime(a), boundTime(mtimeNs));
  if (rc !== 0) throw errnoError(rc, name, 'setting times');
}

/**
 * Applies `SCHILY.xattr.*` records. `trusted.*` from an archive is dropped
 * (containerd refuses admin attributes: ENOTSUP, ignored) and so is
 * `user.overlay.*` (a layer must not forge overlay metadata under userxattr).
 */
export function setXattrs(path: string, name: string, pax: Map<string, Buffer>, isRegOrDir: boolean, limits: { maxXattrBytes: number }): number {
  let dropped = 0;
  for (const [key, value] of pax) {
    if (!key.startsWith('SCHILY.xattr.')) continue;
    const attr = key.slice('SCHILY.xattr.'.length);
    if (attr.startsWith('trusted.') || attr.startsWith('user.overlay.')) {
      dropped++;
      continue;
    }
    if (!attr || Buffer.byteLength(attr) > 255) throw invalidArgument(`bad xattr name ${JSON.stringify(attr.slice(0, 80))}`, { subject: `layer entry ${JSON.stringify(name)}` });
    if (value.length > limits.maxXattrBytes) throw invalidArgument(`xattr ${attr} is ${value.length} bytes, more than ${limits.maxXattrBytes}`, { subject: `layer entry ${JSON.stringify(name)}` });
    const rc = lsetxattr(path, attr, value, 0);
    if (rc === 0) continue;
    if (rc === ENOTSUP) {
      dropped++;
      continue;
    }
    // user.* cannot be set on symlinks and devices; containerd ignores that case too.
    if (rc === EPERM && attr.startsWith('user.') && !isRegOrDir) {
      dropped++;
      continue;
    }
    throw errnoError(rc, name, `setting xattr ${attr}`);
  }
  return dropped;
}

/** containerd's copyUpXAttrs: every attribute but trusted.*, without replacing existing ones. */
function copyUpXattrs(dst: string, src: string): void {
  const names = llistxattr(src);
  if (typeof names === 'number') {
    if (names === ENOTSUP || names === ENODATA) return;
    throw errnoError(names, dst, `listing xattrs of ${src}`);
  }
  for (const n of names) {
    if (n.startsWith('trusted.')) continue;
    const v = lgetxattr(src, n);
    if (typeof v === 'number') {
      if (v === ENOTSUP || v === ENODATA) continue;
      throw errnoError(v, dst, `reading xattr ${n} of ${src}`);
    }
    const rc = lsetxattr(dst, n, v, XATTR_CREATE);
    if (rc !== 0 && rc !== ENOTSUP && rc !== ENODATA && rc !== EEXIST) throw errnoError(rc, dst, `copying xattr ${n}`);
  }
}

/** A new directory with exactly `mode` (umask does not apply). */
export function mkdirMode(path: string, mode: number): void {
  mkdirSync(path, { mode });
  chmodSync(path, mode);
}

/**
 * containerd's mkparent: creates `path` and its missing ancestors below
 * `root`. With `parents` (overlay lower dirs, nearest first), a created dir
 * takes owner, mode, times and xattrs from the first lower that has it as a
 * directory; otherwise 0755.
 */
export function mkparent(root: string, path: string, parents: readonly string[], sameOwner: boolean): void {
  const st = lstatOrUndefined(path);
  if (st) {
    if (st.isDirectory()) return;
    throw invalidArgument(`parent ${JSON.stringify('/' + path.slice(root.length + 1))} is not a directory`, { subject: 'layer' });
  }
  const up = posix.dirname(path);
  if (up !== root && up.length > root.length) mkparent(root, up, parents, sameOwner);
  try {
    mkdirMode(path, 0o755);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && lstatSync(path).isDirectory()) return;
    throw e;
  }
  const rel = path.slice(root.length);
  for (const p of parents) {
    const lower = resolveInRoot(p, rel);
    const lst = lstatOrUndefined(lower);
    if (!lst) continue;
    if (!lst.isDirectory()) break; // replaced in a lower layer: keep the defaults
    if (sameOwner) lchownSync(path, Number(lst.uid), Number(lst.gid));
    chmodSync(path, Number(lst.mode & 0o7777n));
    const rc = lutimesNs(path, lst.atimeNs, lst.mtimeNs);
    if (rc !== 0) throw errnoError(rc, rel, 'copying directory times');
    copyUpXattrs(path, lower);
    return;
  }
}
