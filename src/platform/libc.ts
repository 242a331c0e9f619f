/**
 * The one FFI module: the few libc calls that neither Node nor Deno exposes.
 * koffi is loaded lazily, on the first call, so commands that never lock or
 * prctl never pay for it.
 */
import { createRequire } from 'node:module';

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

export const EWOULDBLOCK = 11; // == EAGAIN on Linux
export const EINTR = 4;

type Fn = (...args: unknown[]) => number;
interface Libc {
  flock: Fn;
  prctl: Fn;
  mount: Fn;
  umount2: Fn;
  errno: () => number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi');
  const lib = koffi.load('libc.so.6');
  libc = {
    flock: lib.func('int flock(int fd, int op)'),
    prctl: lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
    mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: lib.func('int umount2(const char *target, int flags)'),
    errno: () => koffi.errno() as number,
  };
  return libc;
}

/** flock(2). Returns 0 on success or the errno (EWOULDBLOCK when LOCK_NB and held elsewhere). */
export function flock(fd: number, op: number): number {
  const l = load();
  for (;;) {
    const rc = l.flock(fd, op);
    if (rc === 0) return 0;
    const errno = l.errno();
    if (errno !== EINTR) return errno;
  }
}

export const PR_SET_CHILD_SUBREAPER = 36;
export const PR_SET_PDEATHSIG = 1;

/** prctl(2) with integer arguments. Returns 0 or the errno. */
export function prctl(option: number, a2 = 0): number {
  const l = load();
  const rc = l.prctl(option, a2, 0, 0, 0);
  return rc === 0 ? 0 : l.errno();
}

export const MNT_DETACH = 2;
export const MS_RDONLY = 1;
export const MS_BIND = 4096;
export const MS_REC = 16384;

/** mount(2). Returns 0 or the errno. */
export function mount(source: string, target: string, fstype: string | null, flags: number, data: string | null): number {
  const l = load();
  const rc = l.mount(source, target, fstype, flags, data);
  return rc === 0 ? 0 : l.errno();
}

/** umount2(2). Returns 0 or the errno. */
export function umount2(target: string, flags = 0): number {
  const l = load();
  const rc = l.umount2(target, flags);
  return rc === 0 ? 0 : l.errno();
}
