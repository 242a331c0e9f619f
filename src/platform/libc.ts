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

// ---- unix sockets and fd passing (console sockets), pty window size ----
//
// Node and Deno cannot receive a file descriptor over a unix socket, and
// runc hands a container's pty master to its `--console-socket` only that
// way (SCM_RIGHTS). These calls build the socket in C so the fd can be
// taken out of the control message. Every fd is CLOEXEC and non-blocking;
// callers poll (EAGAIN) from a timer instead of blocking the event loop.
// Layouts are the LP64 ones (x86_64, aarch64).

export const EAGAIN = 11;
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_CMSG_CLOEXEC = 0x40000000;
const MSG_DONTWAIT = 0x40;
const TIOCSWINSZ = 0x5414;
const TIOCGWINSZ = 0x5413;
const SUN_PATH_MAX = 108;

interface SockLibc {
  koffi: {
    alloc: (t: string, n: number) => bigint;
    free: (p: bigint) => void;
    view: (p: bigint, n: number) => ArrayBuffer;
    errno: () => number;
  };
  socket: Fn;
  bind: Fn;
  listen: Fn;
  accept4: Fn;
  connect: Fn;
  recvmsg: Fn;
  sendmsg: Fn;
  close: Fn;
  ioctl: Fn;
}

let sock: SockLibc | undefined;

function loadSock(): SockLibc {
  if (sock) return sock;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi');
  const lib = koffi.load('libc.so.6');
  sock = {
    koffi,
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    bind: lib.func('int bind(int fd, void *addr, uint32_t len)'),
    listen: lib.func('int listen(int fd, int backlog)'),
    accept4: lib.func('int accept4(int fd, void *addr, void *len, int flags)'),
    connect: lib.func('int connect(int fd, void *addr, uint32_t len)'),
    recvmsg: lib.func('intptr_t recvmsg(int fd, void *msg, int flags)'),
    sendmsg: lib.func('intptr_t sendmsg(int fd, void *msg, int flags)'),
    close: lib.func('int close(int fd)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long req, void *arg)'),
  };
  return sock;
}

/** A result of a non-blocking libc call: a value, or the errno. */
export type Errno<T> = { ok: true; value: T } | { ok: false; errno: number };

function sockaddrUn(path: string): Buffer {
  const p = Buffer.from(path);
  if (p.length >= SUN_PATH_MAX) throw new RangeError(`unix socket path is ${p.length} bytes, the limit is ${SUN_PATH_MAX - 1}: ${path}`);
  const b = Buffer.alloc(2 + SUN_PATH_MAX);
  b.writeUInt16LE(AF_UNIX, 0);
  p.copy(b, 2);
  return b;
}

function newSocket(l: SockLibc): Errno<number> {
  const fd = l.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd < 0 ? { ok: false, errno: l.koffi.errno() } : { ok: true, value: fd };
}

/** socket + bind + listen on a path (the caller removes a stale file first). */
export function unixListen(path: string, backlog = 4): Errno<number> {
  const l = loadSock();
  const s = newSocket(l);
  if (!s.ok) return s;
  const addr = sockaddrUn(path);
  if (l.bind(s.value, addr, addr.length) < 0 || l.listen(s.value, backlog) < 0) {
    const errno = l.koffi.errno();
    l.close(s.value);
    return { ok: false, errno };
  }
  return s;
}

/** accept4 without blocking: EAGAIN while nobody has connected. */
export function unixAccept(fd: number): Errno<number> {
  const l = loadSock();
  const c = l.accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
  return c < 0 ? { ok: false, errno: l.koffi.errno() } : { ok: true, value: c };
}

/** connect (EINPROGRESS/EAGAIN are not expected for a local listener with room in its backlog). */
export function unixConnect(path: string): Errno<number> {
  const l = loadSock();
  const s = newSocket(l);
  if (!s.ok) return s;
  const addr = sockaddrUn(path);
  if (l.connect(s.value, addr, addr.length) < 0) {
    const errno = l.koffi.errno();
    l.close(s.value);
    return { ok: false, errno };
  }
  return s;
}

export function closeFd(fd: number): number {
  const l = loadSock();
  return l.close(fd) < 0 ? l.koffi.errno() : 0;
}

// struct msghdr (56 bytes) | struct iovec (16) | cmsg (16 header + 8 data) | data
const MSG = 0;
const IOV = 56;
const CMSG = 72;
const CMSG_SPACE = 24;
const DATA = CMSG + CMSG_SPACE;

function withMsg<T>(l: SockLibc, dataLen: number, fn: (base: bigint, dv: DataView, u8: Uint8Array) => T): T {
  const size = DATA + dataLen;
  const base = l.koffi.alloc('uint8_t', size);
  try {
    const ab = l.koffi.view(base, size);
    const dv = new DataView(ab);
    const u8 = new Uint8Array(ab);
    u8.fill(0);
    dv.setBigUint64(MSG + 16, base + BigInt(IOV), true); // msg_iov
    dv.setBigUint64(MSG + 24, 1n, true); // msg_iovlen
    dv.setBigUint64(MSG + 32, base + BigInt(CMSG), true); // msg_control
    dv.setBigUint64(MSG + 40, BigInt(CMSG_SPACE), true); // msg_controllen
    dv.setBigUint64(IOV, base + BigInt(DATA), true); // iov_base
    dv.setBigUint64(IOV + 8, BigInt(dataLen), true); // iov_len
    return fn(base, dv, u8);
  } finally {
    l.koffi.free(base);
  }
}

/**
 * recvmsg one SCM_RIGHTS fd without blocking. `data` is what came with it
 * (runc sends the pty's name). EAGAIN until the sender has written.
 */
export function recvFd(fd: number, maxData = 4096): Errno<{ fd: number; data: Buffer }> {
  const l = loadSock();
  return withMsg(l, maxData, (base, dv, u8) => {
    const n = Number(l.recvmsg(fd, base, MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
    if (n < 0) return { ok: false, errno: l.koffi.errno() } as const;
    const controllen = Number(dv.getBigUint64(MSG + 40, true));
    const cmsgLen = Number(dv.getBigUint64(CMSG, true));
    const level = dv.getInt32(CMSG + 8, true);
    const type = dv.getInt32(CMSG + 12, true);
    if (controllen < 20 || cmsgLen < 20 || level !== SOL_SOCKET || type !== SCM_RIGHTS) {
      return { ok: false, errno: 22 /* EINVAL: no fd in the message */ } as const;
    }
    const got = dv.getInt32(CMSG + 16, true);
    return { ok: true, value: { fd: got, data: Buffer.from(u8.subarray(DATA, DATA + n)) } } as const;
  });
}

/** sendmsg one fd with SCM_RIGHTS (the sending side of recvFd; runc's role, used in tests). */
export function sendFd(sockFd: number, fdToSend: number, data: Buffer): Errno<number> {
  const l = loadSock();
  const payload = data.length ? data : Buffer.from([0]);
  return withMsg(l, payload.length, (base, dv, u8) => {
    u8.set(payload, DATA);
    dv.setBigUint64(CMSG, 20n, true); // CMSG_LEN(sizeof(int))
    dv.setInt32(CMSG + 8, SOL_SOCKET, true);
    dv.setInt32(CMSG + 12, SCM_RIGHTS, true);
    dv.setInt32(CMSG + 16, fdToSend, true);
    const n = Number(l.sendmsg(sockFd, base, 0));
    return n < 0 ? { ok: false, errno: l.koffi.errno() } : { ok: true, value: n };
  });
}

/** TIOCSWINSZ on a terminal fd (a pty master: the container sees the new size and gets SIGWINCH). */
export function setWinsize(fd: number, rows: number, cols: number): number {
  const l = loadSock();
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows & 0xffff, 0);
  ws.writeUInt16LE(cols & 0xffff, 2);
  return l.ioctl(fd, TIOCSWINSZ, ws) < 0 ? l.koffi.errno() : 0;
}

/** TIOCGWINSZ: the size of a terminal fd, or undefined when it is not a terminal. */
export function getWinsize(fd: number): { rows: number; cols: number } | undefined {
  const l = loadSock();
  const ws = Buffer.alloc(8);
  if (l.ioctl(fd, TIOCGWINSZ, ws) < 0) return undefined;
  return { rows: ws.readUInt16LE(0), cols: ws.readUInt16LE(2) };
}

// ---- reaping a reparented child ----
//
// A shim that is the child subreaper inherits the container's init once
// `runc create` exits. libuv only waits for the children it spawned, so the
// shim reaps that one pid itself, without blocking (WNOHANG).

const WNOHANG = 1;
let waitLib: { waitpid: Fn; koffi: { errno: () => number } } | undefined;

/**
 * waitpid(pid, WNOHANG): undefined while it runs; its exit code, or
 * `signal` when it was killed; `{ errno }` when it is not our child.
 */
export function waitpidNoHang(pid: number): { code?: number; signal?: number; errno?: number } | undefined {
  if (!waitLib) {
    const require = createRequire(import.meta.url);
    const koffi = require('koffi');
    const lib = koffi.load('libc.so.6');
    waitLib = { waitpid: lib.func('int waitpid(int pid, _Out_ int *status, int options)'), koffi };
  }
  const st = [0];
  const rc = waitLib.waitpid(pid, st, WNOHANG);
  if (rc === 0) return undefined;
  if (rc < 0) return { errno: waitLib.koffi.errno() };
  const s = st[0]!;
  if ((s & 0x7f) === 0) return { code: (s >> 8) & 0xff };
  return { signal: s & 0x7f };
}

// ---- file metadata Node lacks: device nodes and FIFOs, extended attributes, ns timestamps ----
//
// Layer extraction needs mknod (devices, FIFOs, overlay whiteouts), the l*xattr
// family (never following symlinks) and utimensat with nanoseconds and
// AT_SYMLINK_NOFOLLOW. Each returns 0 or the errno, like the calls above.

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const XATTR_CREATE = 1;
export const ENODATA = 61;
const ERANGE = 34;
const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;

let fsLib: { mknod: Fn; lsetxattr: Fn; lgetxattr: Fn; llistxattr: Fn; utimensat: Fn; errno: () => number } | undefined;

function loadFs(): NonNullable<typeof fsLib> {
  if (fsLib) return fsLib;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi');
  const lib = koffi.load('libc.so.6');
  fsLib = {
    mknod: lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    lsetxattr: lib.func('int lsetxattr(const char *path, const char *name, const uint8_t *value, size_t size, int flags)'),
    lgetxattr: lib.func('intptr_t lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)'),
    llistxattr: lib.func('intptr_t llistxattr(const char *path, _Out_ uint8_t *list, size_t size)'),
    utimensat: lib.func('int utimensat(int dirfd, const char *path, const uint8_t *times, int flags)'),
    errno: () => koffi.errno() as number,
  };
  return fsLib;
}

/** glibc's makedev for major < 2^12 and minor < 2^20 (the kernel's dev_t range). */
export function makedev(major: number, minor: number): number {
  return (minor & 0xff) + (major & 0xfff) * 0x100 + (minor >>> 8) * 0x100000;
}

/** mknod(2): `mode` carries the file type (S_IFCHR, S_IFBLK, S_IFIFO) and permission bits. */
export function mknod(path: string, mode: number, dev: number): number {
  const l = loadFs();
  return l.mknod(path, mode >>> 0, dev) === 0 ? 0 : l.errno();
}

/** lsetxattr(2) (flags: 0 or XATTR_CREATE). */
export function lsetxattr(path: string, name: string, value: Uint8Array, flags = 0): number {
  const l = loadFs();
  return l.lsetxattr(path, name, value, value.byteLength, flags) === 0 ? 0 : l.errno();
}

/** lgetxattr(2): the value, or the errno (ENODATA when absent). */
export function lgetxattr(path: string, name: string): Buffer | number {
  const l = loadFs();
  for (let size = 256; size <= 1 << 24; size *= 4) {
    const buf = Buffer.alloc(size);
    const n = Number(l.lgetxattr(path, name, buf, size));
    if (n >= 0) return buf.subarray(0, n);
    const e = l.errno();
    if (e !== ERANGE) return e;
  }
  return ERANGE;
}

/** llistxattr(2): the names, or the errno. */
export function llistxattr(path: string): string[] | number {
  const l = loadFs();
  for (let size = 1024; size <= 1 << 24; size *= 4) {
    const buf = Buffer.alloc(size);
    const n = Number(l.llistxattr(path, buf, size));
    if (n >= 0) return buf.subarray(0, n).toString('utf8').split('\0').filter(Boolean);
    const e = l.errno();
    if (e !== ERANGE) return e;
  }
  return ERANGE;
}

/** utimensat(AT_FDCWD, path, [atime, mtime], AT_SYMLINK_NOFOLLOW) with nanoseconds since the epoch. */
export function lutimesNs(path: string, atimeNs: bigint, mtimeNs: bigint): number {
  const l = loadFs();
  const t = Buffer.alloc(32);
  const put = (off: number, ns: bigint) => {
    let s = ns / 1_000_000_000n;
    let n = ns % 1_000_000_000n;
    if (n < 0n) {
      n += 1_000_000_000n;
      s -= 1n;
    }
    t.writeBigInt64LE(s, off);
    t.writeBigInt64LE(n, off + 8);
  };
  put(0, atimeNs);
  put(16, mtimeNs);
  return l.utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW) === 0 ? 0 : l.errno();
}

// ---- reading and writing an fd received by FFI ----
//
// Deno's node:fs only accepts fds it opened itself, so an fd that arrived
// over SCM_RIGHTS is read and written with libc on koffi's worker threads
// (a blocking read there never stalls the event loop).

let ioLib: { read: { async: (...a: unknown[]) => void }; write: { async: (...a: unknown[]) => void } } | undefined;

function loadIo(): NonNullable<typeof ioLib> {
  if (ioLib) return ioLib;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi');
  const lib = koffi.load('libc.so.6');
  ioLib = { read: lib.func('intptr_t read(int fd, _Out_ uint8_t *buf, size_t n)'), write: lib.func('intptr_t write(int fd, const uint8_t *buf, size_t n)') };
  return ioLib;
}

/** read(2) off the event loop: bytes read, 0 at EOF, -1 on error (EIO: a pty without slaves). */
export function readFdFfi(fd: number, buf: Buffer): Promise<number> {
  const l = loadIo();
  return new Promise((resolve) => l.read.async(fd, buf, buf.length, (err: unknown, n: number | bigint) => resolve(err ? -1 : Number(n))));
}

/** write(2) off the event loop: bytes written or -1. */
export function writeFdFfi(fd: number, buf: Buffer): Promise<number> {
  const l = loadIo();
  return new Promise((resolve) => l.write.async(fd, buf, buf.length, (err: unknown, n: number | bigint) => resolve(err ? -1 : Number(n))));
}
