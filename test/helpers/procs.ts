/**
 * A read-only view of /proc for tests: which processes exist, who their
 * parents are, and what their command lines say. Used to find the shims a
 * test's containerd started (by their exact `-address` argument) and to assert
 * that nothing a suite started is still alive afterwards.
 */
import { readdirSync, readFileSync } from 'node:fs';

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
