/**
 * Temporary directories that clean up after themselves even when a test left
 * overlay or bind mounts inside them. The removal walks the tree itself and
 * refuses to descend into anything mounted (a leftover rbind of `/` under a
 * rootfs must never turn cleanup into `rm -rf /`).
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { atExit } from './exit.js';

export interface MountEntry {
  id: number;
  parentId: number;
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function readMounts(): MountEntry[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-');
    out.push({
      id: Number(f[0]),
      parentId: Number(f[1]),
      mountPoint: unescapeMount(f[4]!),
      fsType: f[sep + 1]!,
      source: unescapeMount(f[sep + 2] ?? ''),
      superOptions: f[sep + 3] ?? '',
    });
  }
  return out;
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : dir + '/');
}

/** Mount points at or below `dir`, deepest (and most recently mounted) first. */
export function mountsUnder(dir: string): MountEntry[] {
  let abs = resolve(dir);
  try {
    // mountinfo shows resolved paths: a symlinked TMPDIR must not hide mounts.
    abs = realpathSync(abs);
  } catch {
    /* gone: match the path as given */
  }
  return readMounts()
    .filter((m) => isUnder(m.mountPoint, abs))
    .sort((a, b) => b.mountPoint.split('/').length - a.mountPoint.split('/').length || b.id - a.id);
}

function umount(target: string, lazy: boolean): { ok: boolean; err: string } {
  const r = spawnSync('umount', lazy ? ['-l', target] : [target], { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, err: (r.stderr || r.error?.message || '').trim() };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Unmounts everything at or below `dir`, deepest first. A busy mount is
 * retried for `graceMs` (a dying shim may still hold it) and only then
 * detached lazily. Returns what had to be detached lazily.
 */
export function unmountUnder(dir: string, { graceMs = 1000 }: { graceMs?: number } = {}): string[] {
  const lazy: string[] = [];
  let stuckSince = Date.now();
  for (let guard = 0; guard < 10_000; guard++) {
    const mounts = mountsUnder(dir);
    if (!mounts.length) return lazy;
    let progressed = false;
    for (const m of mounts) {
      if (umount(m.mountPoint, false).ok) progressed = true;
    }
    if (progressed) {
      stuckSince = Date.now();
      continue;
    }
    if (Date.now() - stuckSince < graceMs) {
      sleepSync(50);
      continue;
    }
    const deepest = mounts[0]!;
    const r = umount(deepest.mountPoint, true);
    if (!r.ok) throw new Error(`cannot unmount ${deepest.mountPoint}: ${r.err}`);
    lazy.push(deepest.mountPoint);
    stuckSince = Date.now();
  }
  const left = mountsUnder(dir);
  if (left.length) throw new Error(`mounts remain under ${dir}: ${left.map((m) => m.mountPoint).join(', ')}`);
  return lazy;
}

/**
 * `rm -rf dir` that never crosses a mount point: it fails if anything below
 * `dir` is mounted or lives on another device instead of deleting through it.
 */
export function guardedRemove(dir: string): void {
  const abs = resolve(dir);
  let top;
  try {
    top = lstatSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const mounted = new Set(mountsUnder(abs).map((m) => m.mountPoint));
  if (mounted.size) throw new Error(`refusing to remove ${abs}: mounted below it: ${[...mounted].join(', ')}`);
  if (!top.isDirectory()) {
    unlinkSync(abs);
    return;
  }
  const walk = (path: string): void => {
    for (const name of readdirSync(path)) {
      const child = join(path, name);
      const st = lstatSync(child);
      if (st.isDirectory()) {
        if (st.dev !== top.dev || mounted.has(child)) throw new Error(`refusing to cross a mount point at ${child}`);
        walk(child);
        rmdirSync(child);
      } else {
        unlinkSync(child);
      }
    }
  };
  walk(abs);
  rmdirSync(abs);
}

/** Unmount everything below `dir`, then remove it without crossing mounts. */
export function cleanupDir(dir: string): void {
  unmountUnder(dir);
  guardedRemove(dir);
}

const owned = new Set<string>();

/** A fresh directory under os.tmpdir(), removed by cleanupTempDirs() or at process exit. */
export function makeTempDir(prefix = 'ctrx-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  owned.add(dir);
  return dir;
}

/**
 * A temp dir with a short path, for unix sockets (108-byte sun_path limit):
 * `room` is how many bytes the caller will append below it.
 */
export function makeShortTempDir(room = 40): string {
  const dir = makeTempDir('cx-');
  if (Buffer.byteLength(dir) + 1 + room > 107) {
    removeTempDir(dir);
    throw new Error(`os.tmpdir() is too long for unix sockets (${dir}); set TMPDIR to a shorter directory`);
  }
  return dir;
}

/** Cleans one directory made by makeTempDir (mounts first). */
export function removeTempDir(dir: string): void {
  cleanupDir(dir);
  owned.delete(dir);
}

/** Cleans every directory this process made with makeTempDir and has not removed yet. */
export function cleanupTempDirs(): void {
  const errors: unknown[] = [];
  for (const dir of [...owned]) {
    try {
      removeTempDir(dir);
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length) throw new AggregateError(errors, 'temp dir cleanup failed');
}

/** Temp dirs made by this process that still exist. */
export function liveTempDirs(): string[] {
  return [...owned];
}

atExit('cleanup', cleanupTempDirs);
