/**
 * Host facts for `version`, `plugins ls` and `info`: cgroup mode, runc,
 * whether overlay really mounts under the root, and whether containerd holds
 * the metadata database. Probes report; they never throw for a broken host.
 */
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, fstatSync, rmSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { flock, flockHolders, processName, selfPid, LOCK_SH, LOCK_NB, LOCK_UN, mount, umount2, errnoName, MNT_DETACH } from '../platform/index.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface CgroupFacts {
  version: 1 | 2;
  /** v1 controllers plus a v2 "unified" mount: what runc calls hybrid. */
  hybrid: boolean;
  describe: string;
}

export function cgroupFacts(): CgroupFacts {
  try {
    if (statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC) return { version: 2, hybrid: false, describe: 'v2 (unified)' };
  } catch {
    /* no cgroupfs: report v1 */
  }
  const hybrid = existsSync('/sys/fs/cgroup/unified');
  return { version: 1, hybrid, describe: hybrid ? 'v1 (hybrid: v1 controllers, empty v2 unified mount)' : 'v1' };
}

export interface ProbeResult {
  status: 'ok' | 'skip' | 'error';
  reason?: string;
}

/** The nearest existing directory at or above p. */
function existingAncestor(p: string): string {
  let d = path.resolve(p);
  while (!existsSync(d)) d = path.dirname(d);
  return d;
}

/**
 * Really mount an overlay (two lowers) in a scratch dir on the filesystem
 * that holds the overlay snapshotter's root, as containerd's own check does:
 * some filesystems (overlay on overlay, some NFS) refuse it.
 */
export function probeOverlay(snapshotterRoot: string): ProbeResult {
  if (!existsSync('/proc/filesystems')) return { status: 'skip', reason: 'no /proc/filesystems' };
  const base = existsSync(snapshotterRoot) ? snapshotterRoot : existingAncestor(snapshotterRoot);
  let dir: string | undefined;
  try {
    dir = mkdtempSync(path.join(base, '.ctrx-overlay-check-'));
    for (const d of ['l1', 'l2', 'upper', 'work', 'merged']) mkdirSync(path.join(dir, d));
    const data = `lowerdir=${dir}/l2:${dir}/l1,upperdir=${dir}/upper,workdir=${dir}/work`;
    const rc = mount('overlay', path.join(dir, 'merged'), 'overlay', 0, data);
    if (rc !== 0) return { status: 'skip', reason: `overlay mount on ${base} failed: ${errnoName(rc)}` };
    umount2(path.join(dir, 'merged'), MNT_DETACH);
    return { status: 'ok' };
  } catch (err) {
    return { status: 'skip', reason: `cannot probe overlay under ${base}: ${(err as Error).message}` };
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

export interface LockFacts {
  exists: boolean;
  locked: boolean;
  pid?: number;
  holder?: string;
}

/** Whether another process (containerd) holds meta.db's flock: a shared non-blocking probe, released at once. */
export function metadataLock(metaDB: string): LockFacts {
  if (!existsSync(metaDB)) return { exists: false, locked: false };
  let fd: number | undefined;
  try {
    fd = openSync(metaDB, 'r');
    const rc = flock(fd, LOCK_SH | LOCK_NB);
    if (rc === 0) {
      flock(fd, LOCK_UN);
      return { exists: true, locked: false };
    }
    const pid = flockHolders(fstatSync(fd).ino).find((p) => p !== selfPid());
    return { exists: true, locked: true, pid, holder: pid ? processName(pid) : undefined };
  } catch {
    return { exists: true, locked: false };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
