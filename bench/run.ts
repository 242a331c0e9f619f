// Running containers, side by side in one run (figures, not tests):
//   npm run build && node dist/bench/run.js [runs=10] [tasks=20]
// 1. `run --rm busybox ID echo hi`: ctrx (node, deno) vs ctr with a warm
//    containerd (its own private root, same image) vs bare `runc run` on a
//    bundle with ctrx's spec and an unpacked busybox rootfs.
// 2. Where ctrx's time goes: the verbs it chains, and one run traced
//    (strace: execve, mount, umount2) on a timeline.
// 3. `run -d` until the command returns, ctrx vs ctr.
// 4. Memory: PSS (smaps_rollup) of ctrx's shim (+ the runc it keeps in the
//    foreground) vs containerd-shim-runc-v2, at 1 and N sleeping tasks.
// Needs root, runc, containerd/ctr, docker-registry, busybox-static.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '../test/helpers/registry.js';
import { buildFixture, pushFixtures } from '../test/helpers/fixtures.js';
import { startContainerd } from '../test/helpers/containerd.js';
import { layerTars } from '../test/helpers/oci.js';
import { descendants, listProcesses } from '../test/helpers/procs.js';
import { makeShortTempDir, removeTempDir } from '../test/helpers/tmp.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const deno = path.join(root, 'node_modules/.bin/deno');
const runs = Number(process.argv[2] ?? 10);
const nTasks = Number(process.argv[3] ?? 20);

interface Timed {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}
function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Timed {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, env: env ?? process.env });
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
function must(r: Timed, what: string, stdout?: string): number {
  if (r.code !== 0 || (stdout !== undefined && r.stdout !== stdout)) throw new Error(`${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.ms;
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(0.9 * xs.length))]!;
const fmt = (n: number): string => n.toFixed(0);

function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const dir = makeShortTempDir(60);
// A snapshot of the bundle (dist/cli may be rebuilt while this runs); packages resolve through a link.
cpSync(path.join(root, 'dist/cli'), path.join(dir, 'cli'), { recursive: true });
symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json')); // Deno reads the dependencies from it
const ctrxJs = path.join(dir, 'cli', 'ctrx.js');
// An experiment, not ctrx: the same bundle with yargs' per-command help cache (rendered on every
// command, used only if a handler asks for help) turned off, to size what that costs.
const noHelpJs = patchedCopy();
const cRoot = path.join(dir, 'r');
const cState = path.join(dir, 's');
const hosts = path.join(dir, 'hosts');
const config = path.join(dir, 'config.toml');
const NS = 'ctrxbench';
const g = ['-c', config, '--root', cRoot, '--state', cState, '-n', NS];
const ctrx = (args: string[]): Timed => timed(process.execPath, [ctrxJs, ...g, ...args]);
const ctrxDeno = (args: string[]): Timed => timed(deno, ['run', '-A', '--quiet', ctrxJs, ...g, ...args]);
const hasDeno = existsSync(deno);
const ctrxNoHelp = (args: string[]): Timed => timed(process.execPath, [noHelpJs!, ...g, ...args]);

function patchedCopy(): string | undefined {
  const to = path.join(dir, 'cli-nohelp');
  cpSync(path.join(dir, 'cli'), to, { recursive: true });
  for (const f of readdirSync(path.join(to, 'chunks'))) {
    const file = path.join(to, 'chunks', f);
    const text = readFileSync(file, 'utf8');
    if (text.includes('cachedHelpMessage = this.help();')) {
      writeFileSync(file, text.replace('cachedHelpMessage = this.help();', 'cachedHelpMessage = void 0;'));
      return path.join(to, 'ctrx.js');
    }
  }
  return undefined;
}

const reg = await startRegistry();
const cd = await startContainerd();
const ctrIds: string[] = [];
const ctrxIds: string[] = [];
try {
  // --- setup: the same busybox image for all three ---
  const refs = await pushFixtures(reg, ['busybox']);
  must(timed(process.execPath, [ctrxJs, 'config', 'hosts', 'docker.io', '--mirror', reg.url, '--dir', hosts]), 'config hosts');
  writeFileSync(config, `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = ${JSON.stringify(hosts)}\n`);
  must(ctrx(['images', 'pull', 'busybox']), 'ctrx pull');
  const ctr = (args: string[]): Timed => timed('ctr', ['--address', cd.address, '-n', 'bench', ...args]);
  must(ctr(['images', 'pull', '--plain-http', refs.busybox]), 'ctr pull');

  // Bare runc: ctrx's own spec for this image, rootfs = the unpacked layer.
  must(ctrx(['containers', 'create', 'busybox', 'spec-src', 'echo', 'hi']), 'create spec-src');
  const s = JSON.parse(ctrx(['containers', 'info', 'spec-src']).stdout).Spec;
  must(ctrx(['containers', 'rm', 'spec-src']), 'rm spec-src');
  const bundle = path.join(dir, 'bundle');
  mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  const tars = layerTars(await buildFixture('busybox'));
  tars.forEach((t, i) => {
    const f = path.join(dir, `layer${i}.tar`);
    writeFileSync(f, t);
    must(timed('tar', ['-xf', f, '-C', path.join(bundle, 'rootfs')]), 'untar');
  });
  s.root = { path: 'rootfs' };
  s.linux.cgroupsPath = '/ctrx-bench/runc';
  writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(s));
  const runcRoot = path.join(dir, 'runc');
  const runcRun = (id: string): Timed => timed('runc', ['--root', runcRoot, 'run', '--bundle', bundle, id]);

  // warm-up: page cache, containerd's first task
  must(ctrx(['run', '--rm', 'busybox', 'warm', 'echo', 'hi']), 'warm ctrx', 'hi\n');
  must(ctr(['run', '--rm', '--fifo-dir', cd.fifoDir, refs.busybox, 'warm', 'echo', 'hi']), 'warm ctr', 'hi\n');
  must(runcRun('warm'), 'warm runc', 'hi\n');
  if (hasDeno) must(ctrxDeno(['run', '--rm', 'busybox', 'warm', 'echo', 'hi']), 'warm deno', 'hi\n');

  // --- 1. run --rm, interleaved so all see the same load ---
  if (noHelpJs) must(ctrxNoHelp(['run', '--rm', 'busybox', 'warm', 'echo', 'hi']), 'warm nohelp', 'hi\n');
  const t: Record<string, number[]> = { ctrx: [], ctrxDeno: [], ctrxNoHelp: [], ctr: [], runc: [] };
  for (let i = 0; i < runs; i++) {
    t.ctrx!.push(must(ctrx(['run', '--rm', 'busybox', `b${i}`, 'echo', 'hi']), 'ctrx run --rm', 'hi\n'));
    t.ctr!.push(must(ctr(['run', '--rm', '--fifo-dir', cd.fifoDir, refs.busybox, `c${i}`, 'echo', 'hi']), 'ctr run --rm', 'hi\n'));
    t.runc!.push(must(runcRun(`r${i}`), 'runc run', 'hi\n'));
    if (hasDeno) t.ctrxDeno!.push(must(ctrxDeno(['run', '--rm', 'busybox', `d${i}`, 'echo', 'hi']), 'deno ctrx run --rm', 'hi\n'));
    if (noHelpJs) t.ctrxNoHelp!.push(must(ctrxNoHelp(['run', '--rm', 'busybox', `h${i}`, 'echo', 'hi']), 'nohelp ctrx run --rm', 'hi\n'));
  }

  // --- 2. where the time goes ---
  const parts: Record<string, number[]> = {};
  const part = (name: string, fn: () => number): void => {
    (parts[name] ??= []).push(fn());
  };
  for (let i = 0; i < runs; i++) {
    part('node -e 0', () => must(timed(process.execPath, ['-e', '0']), 'node'));
    part('ctrx --version (no yargs)', () => must(timed(process.execPath, [ctrxJs, '--version']), 'version'));
    part('ctrx namespaces ls (yargs + meta.db read)', () => must(ctrx(['namespaces', 'ls']), 'ns ls'));
    part('ctrx containers ls', () => must(ctrx(['containers', 'ls']), 'c ls'));
    part('ctrx containers create', () => must(ctrx(['containers', 'create', 'busybox', `p${i}`, 'echo', 'hi']), 'create'));
    part('ctrx tasks start (foreground)', () => must(ctrx(['tasks', 'start', `p${i}`]), 'start', 'hi\n'));
    part('ctrx containers rm', () => must(ctrx(['containers', 'rm', `p${i}`]), 'rm'));
    part('runc state (missing id)', () => timed('runc', ['--root', runcRoot, 'state', 'none']).ms);
  }
  const trace = traceRun();

  // --- 3 + 4. run -d and memory ---
  const d: Record<string, number[]> = { ctrx: [], ctr: [] };
  const mem: Record<string, { shims: number; shimPlusRunc: number; perTask: number; daemon?: number; count: number }> = {};
  const ctrxSupervisors = (): { shim: number; runc: number[] }[] => {
    const procs = listProcesses();
    return ctrxIds.map((id) => {
      const sup = JSON.parse(readFileSync(path.join(cState, 'ctrx', NS, id, 'shim.json'), 'utf8')) as { pid: number };
      // the runc process the shim keeps in the foreground (its child), not the container below it
      const runc = descendants(sup.pid, procs).filter((p) => p.ppid === sup.pid && /runc$/.test(p.argv[0] ?? '')).map((p) => p.pid);
      return { shim: sup.pid, runc };
    });
  };
  const measureMem = (label: string): void => {
    const sups = ctrxSupervisors();
    const shims = sups.reduce((a, x) => a + pssKb(x.shim), 0);
    const runcs = sups.reduce((a, x) => a + x.runc.reduce((b, p) => b + pssKb(p), 0), 0);
    mem[`ctrx ${label}`] = { shims, shimPlusRunc: shims + runcs, perTask: (shims + runcs) / sups.length, count: sups.length };
    const cshims = cd.shims();
    const cs = cshims.reduce((a, p) => a + pssKb(p.pid), 0);
    mem[`containerd ${label}`] = { shims: cs, shimPlusRunc: cs, perTask: cs / cshims.length, daemon: pssKb(cd.pid()!), count: cshims.length };
  };
  for (let i = 0; i < nTasks; i++) {
    const id = `s${i}`;
    d.ctrx!.push(must(ctrx(['run', '-d', 'busybox', id, 'sleep', '3600']), 'ctrx run -d'));
    ctrxIds.push(id);
    d.ctr!.push(must(ctr(['run', '-d', '--null-io', refs.busybox, id, 'sleep', '3600']), 'ctr run -d'));
    ctrIds.push(id);
    if (i === 0) {
      await new Promise((r) => setTimeout(r, 1000));
      measureMem('1 task');
    }
  }
  await new Promise((r) => setTimeout(r, 1000));
  measureMem(`${nTasks} tasks`);

  // --- report ---
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  const out: string[] = [];
  out.push(`${runs} runs, ${nTasks} tasks; ${os.cpus().length} cpus, load ${load}; node ${process.versions.node}; ${spawnSync('runc', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}; ${spawnSync('containerd', ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ').slice(-2, -1)}`);
  out.push('', '| `run --rm busybox ID echo hi` | median ms | p90 ms |', '|---|---|---|');
  out.push(`| ctrx (node) | ${fmt(median(t.ctrx!))} | ${fmt(p90(t.ctrx!))} |`);
  if (hasDeno) out.push(`| ctrx (deno) | ${fmt(median(t.ctrxDeno!))} | ${fmt(p90(t.ctrxDeno!))} |`);
  if (noHelpJs) out.push(`| ctrx (node), experiment: yargs help cache off | ${fmt(median(t.ctrxNoHelp!))} | ${fmt(p90(t.ctrxNoHelp!))} |`);
  out.push(`| ctr + warm containerd | ${fmt(median(t.ctr!))} | ${fmt(p90(t.ctr!))} |`);
  out.push(`| bare runc run (prepared bundle) | ${fmt(median(t.runc!))} | ${fmt(p90(t.runc!))} |`);
  out.push('', '| ctrx pieces | median ms |', '|---|---|');
  for (const [k, v] of Object.entries(parts)) out.push(`| ${k} | ${fmt(median(v))} |`);
  out.push('', 'One `ctrx run --rm` traced (strace -f --seccomp-bpf, ms from the start):', '```', ...trace, '```');
  out.push('', '| `run -d busybox ID sleep` until it returns | median ms | p90 ms |', '|---|---|---|');
  out.push(`| ctrx | ${fmt(median(d.ctrx!))} | ${fmt(p90(d.ctrx!))} |`);
  out.push(`| ctr + warm containerd | ${fmt(median(d.ctr!))} | ${fmt(p90(d.ctr!))} |`);
  out.push('', '| memory (PSS) | tasks | supervisors total | per task | daemon |', '|---|---|---|---|---|');
  for (const [k, v] of Object.entries(mem)) {
    const ctrxRow = k.startsWith('ctrx');
    out.push(`| ${ctrxRow ? 'ctrx-shim + its runc' : 'containerd-shim-runc-v2'} | ${v.count} | ${(v.shimPlusRunc / 1024).toFixed(1)} MiB${ctrxRow ? ` (shims ${(v.shims / 1024).toFixed(1)})` : ''} | ${(v.perTask / 1024).toFixed(1)} MiB | ${v.daemon ? `containerd ${(v.daemon / 1024).toFixed(1)} MiB` : '-'} |`);
  }
  console.log(out.join('\n'));
} finally {
  if (ctrxIds.length) ctrx(['containers', 'rm', '-f', ...ctrxIds]);
  await cd.stop();
  await reg.stop();
  removeTempDir(dir);
  // The namespaces' parent cgroups runc leaves (rmdir only succeeds on empty ones).
  for (const c of ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'unified', '']) {
    for (const n of [NS, 'bench', 'ctrx-bench']) {
      try {
        rmdirSync(path.join('/sys/fs/cgroup', c, n));
      } catch {
        /* absent or still in use */
      }
    }
  }
}

/** One `ctrx run --rm` under strace: when node starts, each runc runs, mounts happen, and it exits. */
function traceRun(): string[] {
  const log = path.join(dir, 'trace.log');
  const r = timed('strace', ['-f', '--seccomp-bpf', '-ttt', '-e', 'trace=execve,mount,umount2,exit_group', '-o', log, process.execPath, ctrxJs, ...g, 'run', '--rm', 'busybox', 'traced', 'echo', 'hi']);
  if (r.code !== 0) return [`(strace failed: ${r.stderr.trim().split('\n').at(-1)})`];
  const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  rmSync(log, { force: true });
  const t0 = Number(lines[0]!.split(/\s+/)[1]);
  const out: string[] = [];
  const pidOf = new Map<string, string>();
  for (const l of lines) {
    const m = /^(\d+)\s+([\d.]+)\s+(.*)$/.exec(l);
    if (!m) continue;
    const [, pid, ts, call] = m;
    const at = ((Number(ts) - t0) * 1000).toFixed(1).padStart(7);
    const exec = /^execve\("([^"]+)", \[(.*?)\]/.exec(call!);
    if (exec && !/= -1/.test(call!)) {
      const argv = exec[2]!.split('", "').map((a) => a.replace(/^"|"$/g, ''));
      const name = path.basename(exec[1]!);
      const verb = name === 'runc' ? argv.find((a) => ['state', 'run', 'delete', 'create', 'start', 'init', 'kill'].includes(a)) : argv.slice(1).filter((a) => !a.startsWith('/') && !a.startsWith('-')).slice(-4).join(' ');
      pidOf.set(pid!, `${name} ${verb ?? ''}`.trim());
      out.push(`${at}  [${pid}] exec ${name} ${verb ?? ''}`);
    } else if (/^mount\(/.test(call!) && /"overlay"|MS_BIND/.test(call!) && !/= -1/.test(call!)) {
      out.push(`${at}  [${pid}] mount ${/"overlay"/.test(call!) ? 'overlay' : 'bind'}${pidOf.get(pid!)?.startsWith('runc') ? ' (runc)' : ''}`);
    } else if (/^umount2\(/.test(call!) && !pidOf.get(pid!)?.startsWith('runc')) {
      out.push(`${at}  [${pid}] umount`);
    } else if (/^exit_group/.test(call!) && pidOf.has(pid!)) {
      out.push(`${at}  [${pid}] exit ${pidOf.get(pid!)}`);
    }
  }
  out.push(`total ${r.ms.toFixed(0)} ms under strace`);
  return out;
}
