/**
 * One writer per ingest ref across processes. containerd only locks refs
 * inside its own process; ctrx runs as many processes, so each ref gets a
 * flock on `<lockDir>/<hex(sha256(ref))>.lock`.
 *
 * The lock file lives outside the ingest dir on purpose: a commit removes the
 * ingest dir while the lock is held, and a waiter must then find the ingest
 * gone (or the blob present) instead of locking a file in a deleted dir. The
 * holder unlinks the lock file before unlocking; whoever locks a file checks
 * that the path still names the inode it locked and retries otherwise, so two
 * processes can never both believe they hold the same ref.
 *
 * The lock is never taken with a blocking flock: FFI calls run on the main
 * thread, so waiting is LOCK_NB polling with a timer.
 */
import { closeSync, fstatSync, mkdirSync, openSync, statSync, unlinkSync, constants as C } from 'node:fs';
import { join } from 'node:path';
import { internal, unavailable } from '../errdefs.js';
import { EWOULDBLOCK, LOCK_EX, LOCK_NB, LOCK_UN, flock, flockHolders, errnoName } from '../platform/index.js';
import { ingestDirName } from './ingest.js';

export interface RefLock {
  readonly ref: string;
  /** Unlocks; the lock file is removed first so it never accumulates. Idempotent. */
  release(): void;
}

export interface LockOptions {
  /** Milliseconds to keep trying while another process holds the ref (default 0: fail at once). */
  waitMs?: number;
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function tryLockOnce(path: string): { fd: number } | 'busy' | 'stale' {
  const fd = openSync(path, C.O_RDWR | C.O_CREAT | C.O_NOFOLLOW, 0o600);
  let ok = false;
  try {
    const rc = flock(fd, LOCK_EX | LOCK_NB);
    if (rc === EWOULDBLOCK) return 'busy';
    if (rc !== 0) throw internal(`flock failed: ${errnoName(rc)}`, { subject: path });
    const held = fstatSync(fd);
    let now;
    try {
      now = statSync(path);
    } catch {
      return 'stale';
    }
    if (now.ino !== held.ino || now.dev !== held.dev) return 'stale';
    ok = true;
    return { fd };
  } finally {
    if (!ok) closeSync(fd);
  }
}

function holderText(path: string): string {
  try {
    const pids = flockHolders(statSync(path).ino);
    return pids.length ? ` (held by pid ${pids.join(', ')})` : '';
  } catch {
    return '';
  }
}

/** Locks `ref` (a backend ref) in `lockDir`; throws unavailable ("ingest in use") when it stays busy. */
export async function lockRef(lockDir: string, ref: string, opts: LockOptions = {}): Promise<RefLock> {
  mkdirSync(lockDir, { recursive: true, mode: 0o700 });
  const path = join(lockDir, `${ingestDirName(ref)}.lock`);
  const deadline = Date.now() + Math.max(0, opts.waitMs ?? 0);
  let delay = 2;
  for (;;) {
    opts.signal?.throwIfAborted();
    const r = tryLockOnce(path);
    if (typeof r === 'object') {
      let released = false;
      return {
        ref,
        release() {
          if (released) return;
          released = true;
          try {
            unlinkSync(path);
          } catch {
            /* already gone: nobody else can have it locked, they check the inode */
          }
          flock(r.fd, LOCK_UN);
          closeSync(r.fd);
        },
      };
    }
    if (r === 'stale') continue;
    if (Date.now() >= deadline) {
      throw unavailable(`ingest in use: another writer holds it${holderText(path)}`, {
        subject: `ref ${JSON.stringify(ref)}`,
        hint: 'wait for the other download to finish, or retry later',
      });
    }
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
    delay = Math.min(delay * 2, 100);
  }
}
