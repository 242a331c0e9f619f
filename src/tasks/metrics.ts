/**
 * CPU, memory and pids numbers of a task, read from its cgroups (v1, v2 or
 * a hybrid host where v1 controllers sit next to an empty v2 mount: a v1
 * controller wins, v2 files fill in what v1 does not mount).
 *
 * The task's cgroups come from /proc/<init>/cgroup resolved through this
 * mount namespace's cgroup mounts (mount root subtracted, so it also works
 * inside a cgroup namespace). Paths are parameters so the readers can be
 * tested on fake trees.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { OpContext } from '../context.js';
import { failedPrecondition } from '../errdefs.js';
import { taskStatus, type RuncTaskOptions } from './manager.js';

export interface CgroupPaths {
  /** v1 controller → directory (cpu, cpuacct, memory, pids, …). */
  v1: Record<string, string>;
  /** The v2 (unified) directory, when the process is in a mounted v2 hierarchy. */
  v2?: string;
}

export interface TaskMetrics {
  cpu: {
    /** Total CPU time in nanoseconds. */
    usageNs?: number;
    userNs?: number;
    systemNs?: number;
    source?: 'v1' | 'v2';
  };
  memory: {
    /** Bytes charged to the cgroup (page cache included). */
    usage?: number;
    /** usage minus inactive file pages, what docker and kubelet call the working set. */
    workingSet?: number;
    /** undefined when unlimited. */
    limit?: number;
    rss?: number;
    cache?: number;
    source?: 'v1' | 'v2';
  };
  pids: {
    current?: number;
    /** undefined when unlimited. */
    limit?: number;
    source?: 'v1' | 'v2';
  };
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Pure: the cgroup dirs of a process from its /proc/<pid>/cgroup and a mountinfo text. */
export function cgroupPathsFrom(cgroupFile: string, mountinfo: string): CgroupPaths {
  interface M { root: string; mountPoint: string; fsType: string; superOpts: string[] }
  const mounts: M[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0) continue;
    const fsType = f[sep + 1]!;
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({ root: unescapeMount(f[3]!), mountPoint: unescapeMount(f[4]!), fsType, superOpts: (f[sep + 3] ?? '').split(',') });
  }
  const resolve = (m: M, cg: string): string | undefined => {
    const rel = path.posix.relative(m.root, cg);
    if (rel.startsWith('..')) return undefined;
    return path.join(m.mountPoint, rel);
  };
  const out: CgroupPaths = { v1: {} };
  for (const line of cgroupFile.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, hier, ctrls, cg] = m;
    if (hier === '0' && ctrls === '') {
      const mt = mounts.find((x) => x.fsType === 'cgroup2');
      const d = mt && resolve(mt, cg!);
      if (d) out.v2 = d;
      continue;
    }
    for (const c of ctrls!.split(',').filter(Boolean)) {
      const mt = mounts.find((x) => x.fsType === 'cgroup' && x.superOpts.includes(c));
      const d = mt && resolve(mt, cg!);
      if (d) out.v1[c.replace(/^name=/, '')] = d;
    }
  }
  return out;
}

export function cgroupPathsOf(pid: number, procRoot = '/proc'): CgroupPaths {
  return cgroupPathsFrom(readFileSync(path.join(procRoot, String(pid), 'cgroup'), 'utf8'), readFileSync(path.join(procRoot, 'self', 'mountinfo'), 'utf8'));
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function readNum(file: string): number | undefined {
  const t = readText(file);
  if (t === undefined || t === '' || t === 'max') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat). */
function readKeyed(file: string): Record<string, number> | undefined {
  const t = readText(file);
  if (t === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const line of t.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

// v1 reports "no limit" as a page-rounded 2^63-1 (9223372036854771712).
const UNLIMITED = 2 ** 62;
const limitOf = (n: number | undefined): number | undefined => (n === undefined || n >= UNLIMITED ? undefined : n);
// cpuacct.stat is in USER_HZ ticks, which Linux fixes at 100 for userspace.
const TICK_NS = 10_000_000;

export function readCgroupMetrics(p: CgroupPaths): TaskMetrics {
  const m: TaskMetrics = { cpu: {}, memory: {}, pids: {} };

  const acct = p.v1.cpuacct ?? p.v1.cpu;
  const v1Usage = acct ? readNum(path.join(acct, 'cpuacct.usage')) : undefined;
  if (v1Usage !== undefined) {
    const st = readKeyed(path.join(acct!, 'cpuacct.stat')) ?? {};
    m.cpu = { usageNs: v1Usage, userNs: st.user !== undefined ? st.user * TICK_NS : undefined, systemNs: st.system !== undefined ? st.system * TICK_NS : undefined, source: 'v1' };
  } else if (p.v2) {
    const st = readKeyed(path.join(p.v2, 'cpu.stat'));
    if (st?.usage_usec !== undefined) {
      m.cpu = { usageNs: st.usage_usec * 1000, userNs: st.user_usec !== undefined ? st.user_usec * 1000 : undefined, systemNs: st.system_usec !== undefined ? st.system_usec * 1000 : undefined, source: 'v2' };
    }
  }

  const mem = p.v1.memory;
  const v1Mem = mem ? readNum(path.join(mem, 'memory.usage_in_bytes')) : undefined;
  if (v1Mem !== undefined) {
    const st = readKeyed(path.join(mem!, 'memory.stat')) ?? {};
    const inactive = st.total_inactive_file ?? st.inactive_file ?? 0;
    m.memory = {
      usage: v1Mem, workingSet: Math.max(0, v1Mem - inactive), limit: limitOf(readNum(path.join(mem!, 'memory.limit_in_bytes'))),
      rss: st.total_rss ?? st.rss, cache: st.total_cache ?? st.cache, source: 'v1',
    };
  } else if (p.v2) {
    const cur = readNum(path.join(p.v2, 'memory.current'));
    if (cur !== undefined) {
      const st = readKeyed(path.join(p.v2, 'memory.stat')) ?? {};
      m.memory = {
        usage: cur, workingSet: Math.max(0, cur - (st.inactive_file ?? 0)), limit: limitOf(readNum(path.join(p.v2, 'memory.max'))),
        rss: st.anon, cache: st.file, source: 'v2',
      };
    }
  }

  const pids = p.v1.pids;
  const v1Pids = pids ? readNum(path.join(pids, 'pids.current')) : undefined;
  if (v1Pids !== undefined) {
    m.pids = { current: v1Pids, limit: readNum(path.join(pids!, 'pids.max')), source: 'v1' };
  } else if (p.v2) {
    const cur = readNum(path.join(p.v2, 'pids.current'));
    if (cur !== undefined) m.pids = { current: cur, limit: readNum(path.join(p.v2, 'pids.max')), source: 'v2' };
  }
  return m;
}

/** One sample of a running (or paused) task's metrics. */
export async function taskMetrics(ctx: OpContext, id: string, o: { runcOptions?: RuncTaskOptions } = {}): Promise<TaskMetrics & { id: string; pid: number; timestamp: string; cgroups: CgroupPaths }> {
  const t = await taskStatus(ctx, id, o);
  if (t.status === 'stopped' || !t.pid) throw failedPrecondition(`task is ${t.status}: no metrics`, { subject: `task "${id}"` });
  const cgroups = cgroupPathsOf(t.pid);
  return { id, pid: t.pid, timestamp: new Date().toISOString(), cgroups, ...readCgroupMetrics(cgroups) };
}
