/**
 * Containment: every name in a layer is cleaned so that `..` cannot climb
 * above the root and absolute names land root-relative, and every parent
 * directory is resolved with symlinks followed as if the root were `/`
 * (continuity's fs.RootPath, which containerd uses). Resolution reads the
 * tree each time it is asked: an earlier entry can turn a directory into a
 * symlink, so nothing is cached between entries (caching was CVE-2025-47290).
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { invalidArgument } from '../errdefs.js';

/** Symlinks followed in one resolution before giving up (continuity's limit). */
export const MAX_LINKS = 255;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface NameLimits {
  /** Longest cleaned name, in bytes (PATH_MAX). */
  maxPathBytes: number;
  /** Most components in a name. */
  maxDepth: number;
}

/** Text of a name or link target; invalid UTF-8 is refused rather than silently altered. */
export function decodeName(raw: Buffer, what: string): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw invalidArgument(`${what} is not valid UTF-8`, { subject: `layer entry ${JSON.stringify(raw.toString('latin1').slice(0, 200))}` });
  }
}

/** `..`-free, root-relative form of a path ('' is the root itself). */
export function cleanRel(p: string): string {
  return posix.normalize('/' + p).replace(/^\/+/, '').replace(/\/+$/, '');
}

export function cleanName(name: string, limits: NameLimits): string {
  const rel = cleanRel(name);
  if (Buffer.byteLength(rel) > limits.maxPathBytes) {
    throw invalidArgument(`name is longer than ${limits.maxPathBytes} bytes`, { subject: `layer entry ${JSON.stringify(rel.slice(0, 120) + '…')}` });
  }
  if (rel && rel.split('/').length > limits.maxDepth) {
    throw invalidArgument(`name is nested deeper than ${limits.maxDepth} levels`, { subject: `layer entry ${JSON.stringify(rel.slice(0, 120) + '…')}` });
  }
  return rel;
}

/** True when `p` is `root` or below it (a plain prefix test would accept `/rootx`). */
export function isWithin(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith('/') ? root : root + '/');
}

/**
 * The host path of `rel` inside `root`, with every existing symlink along it
 * followed as if `root` were `/`: absolute targets restart at the root, `..`
 * stops at the root. Components that do not exist are appended as they are.
 * The last component is followed too; callers that must not follow it resolve
 * the parent and join the base name themselves.
 */
export function resolveInRoot(root: string, rel: string): string {
  let comps = cleanRel(rel).split('/').filter(Boolean);
  let links = 0;
  restart: for (;;) {
    let cur = root;
    for (let i = 0; i < comps.length; i++) {
      const next = cur + '/' + comps[i];
      let st;
      try {
        st = lstatSync(next);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [cur, ...comps.slice(i)].join('/');
        throw e;
      }
      if (st.isSymbolicLink()) {
        if (++links > MAX_LINKS) throw invalidArgument('too many levels of symbolic links', { subject: `layer path ${JSON.stringify(rel)}` });
        const target = readlinkSync(next);
        const base = target.startsWith('/') ? '/' : '/' + comps.slice(0, i).join('/');
        comps = cleanRel(posix.join(base, target, ...comps.slice(i + 1))).split('/').filter(Boolean);
        continue restart;
      }
      cur = next;
    }
    return cur;
  }
}

/** Parent resolved in the root, base name kept literally: where an entry named `rel` goes. */
export function entryPath(root: string, rel: string): { parent: string; path: string; base: string } {
  const dir = posix.dirname(rel);
  const base = posix.basename(rel);
  const parent = dir === '.' ? root : resolveInRoot(root, dir);
  return { parent, path: parent + '/' + base, base };
}
