/**
 * A private world for end-to-end `ctrx run` tests: a registry holding the
 * fixture images (busybox, redis, and redis tagged `alpine`), configured as
 * the docker.io mirror through a hosts.toml that `ctrx config hosts` writes,
 * a config.toml pointing containerd's `config_path` at it, and root/state in
 * a short temp dir (unix sockets). `cx()` runs the built CLI with those
 * globals; `leftovers()` lists what a test must not leave (runc containers,
 * task dirs, mounts, processes); `close()` kills and removes it all.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ctrxBin, run, type RunOptions, type RunResult } from '../../helpers/run.js';
import { startRegistry, type Registry } from '../../helpers/registry.js';
import { fixtureUnavailable, pushFixtures } from '../../helpers/fixtures.js';
import { guardedRemove, makeShortTempDir, mountsUnder, removeTempDir, unmountUnder } from '../../helpers/tmp.js';
import { atExit } from '../../helpers/exit.js';
import { isAlive, listProcesses, signalIfSame, waitGone, type ProcInfo } from '../../helpers/procs.js';

export function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (spawnSync('runc', ['--version']).status !== 0) return 'runc is not installed';
  if (spawnSync('docker-registry', ['--version']).error) return 'docker-registry is not installed';
  return fixtureUnavailable('redis');
}

export interface World {
  dir: string;
  root: string;
  state: string;
  hostsDir: string;
  config: string;
  /** The namespace `cx` uses unless the args carry -n. */
  ns: string;
  reg: Registry;
  /** Global flags: -c config --root --state -n ns. */
  g(ns?: string): string[];
  /** Runs the built CLI with the world's globals (and `-n ns` unless `opts.ns`). */
  cx(args: string[], opts?: RunOptions & { ns?: string }): Promise<RunResult>;
  /** Like cx but asserts exit 0 and returns stdout. */
  ok(args: string[], opts?: RunOptions & { ns?: string }): Promise<string>;
  runcRoot(ns?: string): string;
  /** `runc --root <state>/runc/<ns> list` ids. */
  runcIds(ns?: string): string[];
  /** Everything a finished test may not leave behind, as readable strings (empty = clean). */
  leftovers(ns?: string): string[];
  /** Namespaces whose cgroups close() removes (the world's own is there already). */
  namespaces: Set<string>;
  /** Kills and removes every task (runc containers, shims, task dirs, mounts) when something is left. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

function cgroupMounts(): string[] {
  const out: string[] = [];
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = l.split(' ');
    const sep = f.indexOf('-');
    if (sep > 0 && (f[sep + 1] === 'cgroup' || f[sep + 1] === 'cgroup2')) out.push(f[4]!);
  }
  return out;
}

/** Processes whose command line names a path under dir (shims, runc, ctrx itself). */
export function processesUnder(dir: string): ProcInfo[] {
  return listProcesses().filter((p) => p.pid !== process.pid && p.state !== 'Z' && p.argv.some((a) => a.includes(dir)));
}

export async function makeWorld(label: string, o: { ns?: string } = {}): Promise<World> {
  const dir = makeShortTempDir(50);
  const root = path.join(dir, 'r');
  const state = path.join(dir, 's');
  const hostsDir = path.join(dir, 'hosts');
  const config = path.join(dir, 'config.toml');
  const ns = o.ns ?? `r${label}${Math.random().toString(36).slice(2, 7)}`;
  const namespaces = new Set([ns]);
  const reg = await startRegistry();
  let closed = false;

  const g = (n = ns): string[] => ['-c', config, '--root', root, '--state', state, '-n', n];
  const cx = async (args: string[], opts: RunOptions & { ns?: string } = {}): Promise<RunResult> => {
    const [cmd, ...pre] = ctrxBin();
    for (let attempt = 0; ; attempt++) {
      const r = await run(cmd!, [...pre, ...g(opts.ns), ...args], { timeoutMs: 60_000, ...opts });
      // Others rebuild dist/cli in this checkout while tests run: a chunk missing for a moment is not ctrx's failure.
      if (attempt < 3 && r.code !== 0 && /ERR_MODULE_NOT_FOUND|Cannot find module/.test(r.stderr)) {
        await new Promise((res) => setTimeout(res, 5000));
        continue;
      }
      return r;
    }
  };
  const ok = async (args: string[], opts: RunOptions & { ns?: string } = {}): Promise<string> => {
    const r = await cx(args, opts);
    if (r.code !== 0) throw new Error(`ctrx ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  };
  const runcRoot = (n = ns): string => path.join(state, 'runc', n);
  const runcIds = (n = ns): string[] => {
    const r = spawnSync('runc', ['--root', runcRoot(n), 'list', '--format', 'json'], { encoding: 'utf8' });
    const v = JSON.parse(r.stdout || 'null') as Array<{ id: string }> | null;
    return (v ?? []).map((c) => c.id);
  };
  const leftovers = (n = ns): string[] => {
    const out: string[] = [];
    for (const id of runcIds(n)) out.push(`runc container ${id}`);
    const nsDir = path.join(state, 'ctrx', n);
    if (existsSync(nsDir)) for (const d of readdirSync(nsDir)) out.push(`task dir ${d}`);
    for (const m of mountsUnder(dir)) out.push(`mount ${m.mountPoint}`);
    for (const p of processesUnder(dir)) out.push(`process ${p.pid} ${p.argv.join(' ')}`);
    return out;
  };

  // Containers first (runc delete -f kills them), then any supervisor of ours still alive.
  const killAll = (): void => {
    for (const n of namespaces) {
      try {
        for (const id of runcIds(n)) spawnSync('runc', ['--root', runcRoot(n), 'delete', '--force', id]);
      } catch {
        /* no runc root */
      }
    }
    for (const p of processesUnder(dir)) signalIfSame(p, 'SIGKILL');
  };
  atExit('kill', killAll);

  const removeCgroups = (): void => {
    // Only this world's namespaces; rmdir succeeds on empty cgroups only, so nothing in use is touched.
    for (let i = 0; i < 40; i++) {
      let busy = false;
      for (const m of cgroupMounts()) {
        for (const n of namespaces) {
          const base = path.join(m, n);
          if (!existsSync(base)) continue;
          for (const e of readdirSync(base, { withFileTypes: true })) {
            if (!e.isDirectory()) continue;
            try {
              rmdirSync(path.join(base, e.name));
            } catch {
              busy = true;
            }
          }
          try {
            rmdirSync(base);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'ENOENT') busy = true;
          }
        }
      }
      if (!busy) return;
      sleepSync(50);
    }
  };

  // After a failed test: what it left must not fail the next one too.
  const reset = async (): Promise<void> => {
    if (!leftovers().length) return;
    const procs = processesUnder(dir);
    killAll();
    await waitGone(procs, 5000);
    unmountUnder(path.join(state, 'ctrx'));
    guardedRemove(path.join(state, 'ctrx'));
    for (const n of namespaces) rmSync(runcRoot(n), { recursive: true, force: true });
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    const procs = processesUnder(dir);
    killAll();
    await waitGone(procs, 5000);
    removeCgroups();
    await reg.stop();
    removeTempDir(dir);
  };

  try {
    const refs = await pushFixtures(reg, ['busybox', 'redis']);
    await pushFixtures(reg, ['redis'], { tag: 'alpine' });
    if (!refs.busybox) throw new Error('fixtures not pushed');
    const [cmd, ...pre] = ctrxBin();
    // The mirror is configured as a user would: ctrx writes the hosts.toml.
    await run(cmd!, [...pre, 'config', 'hosts', 'docker.io', '--mirror', reg.url, '--dir', hostsDir], { check: true });
    writeFileSync(config, `version = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = ${JSON.stringify(hostsDir)}\n`);
  } catch (e) {
    await close();
    throw e;
  }
  return { dir, root, state, hostsDir, config, ns, reg, g, cx, ok, runcRoot, runcIds, leftovers, namespaces, reset, close };
}

/** Polls until probe returns something truthy. */
export async function until<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The `tasks ls` row of id as [TASK, PID, STATUS…], or undefined. */
export function taskRow(lsOut: string, id: string): string[] | undefined {
  return lsOut
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[0] === id);
}

export { isAlive };
