/**
 * A read-only view of /proc for tests: which processes exist, who their
 * parents are, and what their command lines say. Used to find the shims a
 * test's containerd started (by their exact `-address` argument) and to assert
 * that nothing a suite started is still alive afterwards.
 */
import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { readMounts } from './tmp.js';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** Single-letter state from /proc/<pid>/stat (Z = zombie). */
  state: string;
  /** Start time in clock ticks since boot: with the pid, identifies a process even if the pid is reused. */
  startTime: number;
  argv: string[];
}

/** Parses /proc/<pid>/stat; undefined when the process is gone. */
export function procInfo(pid: number): ProcInfo | undefined {
  let stat: string;
  let cmdline: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  // comm is in parentheses and may itself contain spaces and ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const argv = cmdline.split('\0');
  if (argv.length && argv[argv.length - 1] === '') argv.pop();
  return { pid, state: rest[0]!, ppid: Number(rest[1]), pgrp: Number(rest[2]), startTime: Number(rest[19]), argv };
}

export function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = procInfo(Number(name));
    if (p) out.push(p);
  }
  return out;
}

/** True while `pid` exists and is not a zombie (and, if given, still has the same start time). */
export function isAlive(pid: number, startTime?: number): boolean {
  const p = procInfo(pid);
  if (!p || p.state === 'Z' || p.state === 'X') return false;
  return startTime === undefined || p.startTime === startTime;
}

/** All descendants of `pid` (children first-level first), from one snapshot of /proc. */
export function descendants(pid: number, procs: ProcInfo[] = listProcesses()): ProcInfo[] {
  const byParent = new Map<number, ProcInfo[]>();
  for (const p of procs) {
    const list = byParent.get(p.ppid) ?? [];
    list.push(p);
    byParent.set(p.ppid, list);
  }
  const out: ProcInfo[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of byParent.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

/** Sends `signal` to a process only if it is still the one we identified (same start time). */
export function signalIfSame(p: Pick<ProcInfo, 'pid' | 'startTime'>, signal: NodeJS.Signals): boolean {
  if (!isAlive(p.pid, p.startTime)) return false;
  try {
    process.kill(p.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Waits until none of `procs` is alive; returns those still alive at the deadline. */
export async function waitGone(procs: Pick<ProcInfo, 'pid' | 'startTime'>[], timeoutMs: number): Promise<typeof procs> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = procs.filter((p) => isAlive(p.pid, p.startTime));
    if (!alive.length || Date.now() > deadline) return alive;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The cgroup directories (one per hierarchy) a process is in, resolved
 * through the cgroup mounts of this mount namespace (v1, v2 or hybrid).
 */
export function cgroupDirs(pid: number): string[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return [];
  }
  const mounts = readMounts().filter((m) => m.fsType === 'cgroup' || m.fsType === 'cgroup2');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const controllers = m[1] ? m[1].split(',') : [];
    const mount = controllers.length
      ? mounts.find((x) => x.fsType === 'cgroup' && controllers.every((c) => x.superOptions.split(',').includes(c)))
      : mounts.find((x) => x.fsType === 'cgroup2');
    if (mount) out.push(join(mount.mountPoint, m[2]!));
  }
  return out;
}

/**
 * Removes the cgroups that killed containers leave behind (runc never got to
 * delete them). rmdir only succeeds on an empty cgroup, and this process's
 * own cgroups and their ancestors are never touched.
 */
export function removeStaleCgroups(dirs: Iterable<string>): void {
  const mine = cgroupDirs(process.pid);
  const keep = (d: string): boolean => mine.some((m) => m === d || m.startsWith(d + '/'));
  const sorted = [...new Set(dirs)].filter((d) => !keep(d)).sort((a, b) => b.length - a.length);
  for (const d of sorted) {
    try {
      rmdirSync(d);
    } catch {
      /* busy (still used) or already gone */
    }
  }
}
