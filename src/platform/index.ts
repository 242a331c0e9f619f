/**
 * The only place that knows Node from Deno. Everything else uses node:
 * built-ins that both runtimes provide, plus what this module exports.
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

declare const Deno: { version: { deno: string; v8: string; typescript: string } } | undefined;

export interface RuntimeInfo {
  name: 'node' | 'deno';
  version: string;
}

export function runtime(): RuntimeInfo {
  if (typeof Deno !== 'undefined') return { name: 'deno', version: Deno.version.deno };
  return { name: 'node', version: process.versions.node };
}

/** argv after the script path, identical on both runtimes. */
export function args(): string[] {
  return process.argv.slice(2);
}

export function env(name: string): string | undefined {
  return process.env[name];
}

export function exit(code: number): never {
  process.exit(code);
}

export function setExitCode(code: number): void {
  process.exitCode = code;
}

export const stdout = {
  isTTY: (): boolean => Boolean(process.stdout.isTTY),
  columns: (): number => process.stdout.columns ?? 80,
  write: (s: string): void => void process.stdout.write(s),
};
export const stderr = {
  isTTY: (): boolean => Boolean(process.stderr.isTTY),
  write: (s: string): void => void process.stderr.write(s),
};

/** The command line that starts this runtime on a script (for forking the shim with the same runtime). */
export function selfExec(script: string): string[] {
  if (typeof Deno !== 'undefined') return [process.execPath, 'run', '-A', script];
  return [process.execPath, script];
}

/**
 * Who holds a flock on the file with this inode: pids from /proc/locks
 * ("FLOCK ADVISORY WRITE <pid> <maj>:<min>:<inode> ...").
 */
export function flockHolders(ino: number | bigint): number[] {
  let text: string;
  try {
    text = readFileSync('/proc/locks', 'utf8');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (blocked waiters have "->")
    if (f[1] !== 'FLOCK' || f[2] === '->') continue;
    const dev = f[5]?.split(':');
    if (dev && dev[2] === String(ino)) pids.push(Number(f[4]));
  }
  return pids;
}

/** The command name of a pid, or undefined if it is gone. */
export function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export { flock, prctl, mount, umount2, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, EWOULDBLOCK, MNT_DETACH, MS_BIND, MS_REC, MS_RDONLY } from './libc.js';

/** errno number → symbolic name, for messages. */
export function errnoName(errno: number): string {
  const names: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 11: 'EAGAIN', 13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 20: 'ENOTDIR', 22: 'EINVAL', 28: 'ENOSPC', 95: 'EOPNOTSUPP' };
  return names[errno] ?? `errno ${errno}`;
}

/** The host's platform as OCI writes it (linux/amd64, linux/arm64/v8). */
export function hostPlatform(): { os: string; architecture: string; variant?: string } {
  const arch = process.arch;
  if (arch === 'x64') return { os: 'linux', architecture: 'amd64' };
  if (arch === 'arm64') return { os: 'linux', architecture: 'arm64', variant: 'v8' };
  if (arch === 'arm') return { os: 'linux', architecture: 'arm', variant: 'v7' };
  if (arch === 'ia32') return { os: 'linux', architecture: '386' };
  return { os: 'linux', architecture: arch };
}

export function selfPid(): number {
  return process.pid;
}

export { unixListen, unixAccept, unixConnect, recvFd, sendFd, closeFd, setWinsize, getWinsize, EAGAIN, type Errno } from './libc.js';

/**
 * Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or
 * undefined when the pid is gone. With the pid it names one process: a pid
 * recycled by another process has another start time.
 */
export function procStartTime(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) is in parentheses and may contain spaces and ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  const t = Number(rest[19]);
  return Number.isFinite(t) ? t : undefined;
}

/** True when `pid` is alive (not a zombie) and is the same process: same start time. */
export function sameProcess(pid: number, startTime: number): boolean {
  return procStartTime(pid) === startTime;
}

/**
 * Signals `pid` only if it is still the process that started at `startTime`
 * (the check and the kill are microseconds apart; a pid is not recycled that fast).
 * Returns false when it is gone or was recycled.
 */
export function signalProcess(pid: number, signal: string | number, startTime?: number): boolean {
  if (startTime !== undefined && !sameProcess(pid, startTime)) return false;
  try {
    process.kill(pid, signal as NodeJS.Signals);
    return true;
  } catch {
    return false;
  }
}

/** Installs one handler for several signals; returns the function that removes it. */
export function onSignals(signals: string[], handler: (signal: string) => void): () => void {
  const fns = signals.map((s) => {
    const fn = (): void => handler(s);
    process.on(s as NodeJS.Signals, fn);
    return [s, fn] as const;
  });
  return () => {
    for (const [s, fn] of fns) process.off(s as NodeJS.Signals, fn);
  };
}

/** Signal name → number on this platform (SIGTERM → 15), or undefined. */
export function signalNumber(name: string): number | undefined {
  const n = name.toUpperCase();
  const key = (n.startsWith('SIG') ? n : `SIG${n}`) as keyof typeof constants.signals;
  return constants.signals[key];
}

/** Signal number → name (15 → SIGTERM), or undefined. */
export function signalName(num: number): string | undefined {
  for (const [name, n] of Object.entries(constants.signals)) if (n === num) return name;
  return undefined;
}

export { waitpidNoHang, PR_SET_CHILD_SUBREAPER } from './libc.js';

export { mknod, makedev, lsetxattr, lgetxattr, llistxattr, lutimesNs, S_IFIFO, S_IFCHR, S_IFBLK, XATTR_CREATE, ENODATA } from './libc.js';

/**
 * Signals the process group led by `pgid` (a shim is its session's and its
 * group's leader), only if the leader is still the process that started at
 * `leaderStartTime`.
 */
export function signalProcessGroup(pgid: number, signal: string | number, leaderStartTime: number): boolean {
  if (pgid <= 1 || !sameProcess(pgid, leaderStartTime)) return false;
  try {
    process.kill(-pgid, signal as NodeJS.Signals);
    return true;
  } catch {
    return false;
  }
}

/**
 * read(2)/write(2) on an fd this process did not open through node:fs (one
 * received over a unix socket): node:fs on Node, libc via koffi on Deno
 * (whose node:fs refuses foreign fds). Resolve to the byte count, 0 at EOF,
 * -1 on error (EIO from a pty master once no slave is open).
 */
export async function fdRead(fd: number, buf: Buffer): Promise<number> {
  if (runtime().name === 'deno') return (await import('./libc.js')).readFdFfi(fd, buf);
  const { read } = await import('node:fs');
  return new Promise((resolve) => read(fd, buf, 0, buf.length, null, (err, n) => resolve(err ? ((err as NodeJS.ErrnoException).code === 'EAGAIN' ? -2 : -1) : n)));
}

export async function fdWrite(fd: number, buf: Buffer): Promise<number> {
  if (runtime().name === 'deno') return (await import('./libc.js')).writeFdFfi(fd, buf);
  const { write } = await import('node:fs');
  return new Promise((resolve) => write(fd, buf, 0, buf.length, null, (err, n) => resolve(err ? ((err as NodeJS.ErrnoException).code === 'EAGAIN' ? -2 : -1) : n)));
}

/** The process's standard streams, for code that needs the stream objects themselves (spinners, prompts, piping). */
export function stdioStreams(): { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream } {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}
