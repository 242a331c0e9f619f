import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cgroupPathsFrom, cgroupPathsOf, readCgroupMetrics } from '../../../src/tasks/metrics.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ctrx-metrics-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// This project's build hosts: v1 controllers plus an empty v2 "unified" mount.
const HYBRID_MOUNTINFO = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;
const HYBRID_CGROUP = `9:name=systemd:/default/web
8:pids:/default/web
4:memory:/default/web
2:cpuacct:/default/web
1:cpu:/default/web
0::/default/web`;

test('hybrid host: every v1 controller and the v2 dir resolved through their mounts', () => {
  const p = cgroupPathsFrom(HYBRID_CGROUP, HYBRID_MOUNTINFO);
  assert.equal(p.v1.memory, '/sys/fs/cgroup/memory/default/web');
  assert.equal(p.v1.pids, '/sys/fs/cgroup/pids/default/web');
  assert.equal(p.v1.cpuacct, '/sys/fs/cgroup/cpuacct/default/web');
  assert.equal(p.v1.systemd, '/sys/fs/cgroup/systemd/default/web');
  assert.equal(p.v2, '/sys/fs/cgroup/unified/default/web');
});

test('combined controllers (cpu,cpuacct) and a mount root other than / (cgroup namespace, nested mount)', () => {
  const mi = `50 1 0:40 /kubepods /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
51 1 0:41 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory`;
  const p = cgroupPathsFrom('3:cpu,cpuacct:/kubepods/pod1/c\n2:memory:/kubepods/pod1/c\n', mi);
  assert.equal(p.v1.cpu, '/sys/fs/cgroup/cpu,cpuacct/pod1/c');
  assert.equal(p.v1.cpuacct, '/sys/fs/cgroup/cpu,cpuacct/pod1/c');
  assert.equal(p.v1.memory, '/sys/fs/cgroup/memory/kubepods/pod1/c');
  assert.equal(p.v2, undefined);
  // A cgroup outside what is mounted is not resolved to a wrong path.
  assert.equal(cgroupPathsFrom('3:cpu,cpuacct:/other/x\n', mi).v1.cpu, undefined);
});

function files(dir: string, f: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries(f)) writeFileSync(path.join(dir, k), v);
  return dir;
}

test('v1 readers: cpuacct, memory (working set = usage - inactive file, no limit = undefined), pids', () => {
  const m = readCgroupMetrics({
    v1: {
      cpuacct: files(path.join(tmp, 'v1', 'cpuacct'), { 'cpuacct.usage': '123456789\n', 'cpuacct.stat': 'user 10\nsystem 5\n' }),
      memory: files(path.join(tmp, 'v1', 'memory'), {
        'memory.usage_in_bytes': '1048576\n', 'memory.limit_in_bytes': '9223372036854771712\n',
        'memory.stat': 'cache 4096\nrss 8192\ntotal_cache 40960\ntotal_rss 81920\ntotal_inactive_file 24576\n',
      }),
      pids: files(path.join(tmp, 'v1', 'pids'), { 'pids.current': '3\n', 'pids.max': 'max\n' }),
    },
  });
  assert.deepEqual(m.cpu, { usageNs: 123456789, userNs: 100_000_000, systemNs: 50_000_000, source: 'v1' });
  assert.deepEqual(m.memory, { usage: 1048576, workingSet: 1048576 - 24576, limit: undefined, rss: 81920, cache: 40960, source: 'v1' });
  assert.deepEqual(m.pids, { current: 3, limit: undefined, source: 'v1' });
});

test('v2 readers, and v1 winning over v2 where both exist', () => {
  const v2 = files(path.join(tmp, 'v2'), {
    'cpu.stat': 'usage_usec 2000\nuser_usec 1500\nsystem_usec 500\n', 'memory.current': '65536\n', 'memory.max': '268435456\n',
    'memory.stat': 'anon 32768\nfile 16384\ninactive_file 8192\n', 'pids.current': '2\n', 'pids.max': '100\n',
  });
  const m = readCgroupMetrics({ v1: {}, v2 });
  assert.deepEqual(m.cpu, { usageNs: 2_000_000, userNs: 1_500_000, systemNs: 500_000, source: 'v2' });
  assert.deepEqual(m.memory, { usage: 65536, workingSet: 65536 - 8192, limit: 268435456, rss: 32768, cache: 16384, source: 'v2' });
  assert.deepEqual(m.pids, { current: 2, limit: 100, source: 'v2' });
  const hybrid = readCgroupMetrics({ v1: { pids: files(path.join(tmp, 'v1b'), { 'pids.current': '7\n', 'pids.max': '50\n' }) }, v2 });
  assert.equal(hybrid.pids.source, 'v1');
  assert.equal(hybrid.pids.current, 7);
  assert.equal(hybrid.memory.source, 'v2', 'no v1 memory mount: v2 fills in');
});

test('missing files give no numbers, not zeros', () => {
  const m = readCgroupMetrics({ v1: { memory: path.join(tmp, 'nowhere') }, v2: path.join(tmp, 'nowhere2') });
  assert.deepEqual(m, { cpu: {}, memory: {}, pids: {} });
});

test('this process\'s own cgroups resolve to existing dirs', () => {
  const p = cgroupPathsOf(process.pid);
  assert.ok(Object.keys(p.v1).length > 0 || p.v2 !== undefined);
});
