/**
 * Tree snapshots for the archive tests: every path below a directory with
 * its type, mode, owner, size, mtime, content hash, link target, xattrs and
 * inode, so two trees (or one tree before and after) can be compared.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { getXattr, listXattrs } from '../../helpers/xattr.js';

export interface Node {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  ino: bigint;
  nlink: number;
  rdev: number;
  target?: string;
  sha256?: string;
  xattrs: Record<string, string>;
}

function typeOf(st: ReturnType<typeof lstatSync>): Node['type'] {
  if (st!.isFile()) return 'file';
  if (st!.isDirectory()) return 'dir';
  if (st!.isSymbolicLink()) return 'symlink';
  if (st!.isCharacterDevice()) return 'char';
  if (st!.isBlockDevice()) return 'block';
  if (st!.isFIFO()) return 'fifo';
  return 'socket';
}

export function nodeOf(p: string, opts: { xattrs?: boolean } = {}): Node {
  const st = lstatSync(p, { bigint: true });
  const type = typeOf(lstatSync(p));
  const n: Node = {
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: type === 'dir' ? 0 : Number(st.size),
    mtimeNs: st.mtimeNs,
    ino: st.ino,
    nlink: Number(st.nlink),
    rdev: Number(st.rdev),
    xattrs: {},
  };
  if (type === 'symlink') n.target = readlinkSync(p);
  if (type === 'file') n.sha256 = createHash('sha256').update(readFileSync(p)).digest('hex');
  if (opts.xattrs !== false) {
    for (const x of listXattrs(p).sort()) {
      const v = getXattr(p, x);
      if (v) n.xattrs[x] = v.toString('base64');
    }
  }
  return n;
}

/** Every path below `dir` ('' is dir itself), not following symlinks. */
export function snapshot(dir: string, opts: { xattrs?: boolean } = {}): Map<string, Node> {
  const out = new Map<string, Node>();
  const walk = (rel: string): void => {
    const p = rel ? join(dir, rel) : dir;
    const n = nodeOf(p, opts);
    out.set(rel, n);
    if (n.type === 'dir') for (const name of readdirSync(p).sort()) walk(rel ? `${rel}/${name}` : name);
  };
  walk('');
  return out;
}

/** Human-readable differences between two snapshots (empty when equal); `ignore` drops fields. */
export function diffTrees(a: Map<string, Node>, b: Map<string, Node>, ignore: (keyof Node)[] = ['ino']): string[] {
  const out: string[] = [];
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  for (const k of keys) {
    const x = a.get(k);
    const y = b.get(k);
    if (!x || !y) {
      out.push(`${k || '.'}: ${x ? 'only in first' : 'only in second'}`);
      continue;
    }
    for (const f of Object.keys(x) as (keyof Node)[]) {
      if (ignore.includes(f)) continue;
      const xv = JSON.stringify(x[f], (_, v) => (typeof v === 'bigint' ? v.toString() : v));
      const yv = JSON.stringify(y[f], (_, v) => (typeof v === 'bigint' ? v.toString() : v));
      if (xv !== yv) out.push(`${k || '.'}: ${f} ${xv} != ${yv}`);
    }
  }
  return out;
}

/** Groups of paths sharing an inode (hardlinks), as sorted path lists. */
export function linkGroups(s: Map<string, Node>): string[][] {
  const by = new Map<bigint, string[]>();
  for (const [k, n] of s) {
    if (n.type === 'dir' || n.nlink < 2) continue;
    const g = by.get(n.ino) ?? [];
    g.push(k);
    by.set(n.ino, g);
  }
  return [...by.values()].map((g) => g.sort()).sort((p, q) => p[0]!.localeCompare(q[0]!));
}
