/**
 * A private world for task tests: short temp dir (unix sockets), root and
 * state under it, a unique namespace (so parallel test files never share
 * runc roots or cgroups), a busybox rootfs shared read-only by every
 * container, and specs from the spec generator's defaults. `close()` (and
 * a last-chance exit hook) kills what the tests started and removes it all.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolveContext, type OpContext } from '../../../src/context.js';
import { defaultSpec } from '../../../src/containers/spec-defaults.js';
import type { Spec } from '../../../src/containers/spec-types.js';
import { readJson } from '../../../src/shim/io.js';
import type { SupervisorRecord } from '../../../src/shim/layout.js';
import { makeShortTempDir, removeTempDir } from '../../helpers/tmp.js';
import { atExit } from '../../helpers/exit.js';
import { cgroupDirs, isAlive, removeStaleCgroups } from '../../helpers/procs.js';

export const BUSYBOX = '/bin/busybox';

export function runcAvailable(): string | undefined {
  if (spawnSync('runc', ['--version']).status !== 0) return 'runc is not installed';
  if (!existsSync(BUSYBOX)) return 'busybox-static is not installed';
  if (process.getuid?.() !== 0) return 'needs root';
  return undefined;
}

export function makeRootfs(dir: string): string {
  const rootfs = path.join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) mkdirSync(path.join(rootfs, d), { recursive: true });
  copyFileSync(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
  const applets = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const a of applets) if (a !== 'busybox') symlinkSync('busybox', path.join(rootfs, 'bin', a));
  writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  return rootfs;
}

export interface World {
  dir: string;
  root: string;
  state: string;
  ns: string;
  ctx: OpContext;
  rootfs: string;
  runcRoot: string;
  spec(id: string, args: string[], o?: { tty?: boolean; env?: string[] }): Spec;
  /** `runc --root <runcRoot> list` ids. */
  runcIds(): string[];
  close(): void;
}

export async function makeWorld(label: string): Promise<World> {
  const dir = makeShortTempDir(60);
  const root = path.join(dir, 'root');
  const state = path.join(dir, 'state');
  const ns = `t${label}${Math.random().toString(36).slice(2, 7)}`;
  const rootfs = makeRootfs(dir);
  const ctx = await resolveContext({ namespace: ns, root, state, config: path.join(dir, 'missing.toml') });
  const runcRoot = path.join(state, 'runc', ns);
  const cgroups = new Set<string>();
  let closed = false;

  const runcIds = (): string[] => {
    const r = spawnSync('runc', ['--root', runcRoot, 'list', '--format', 'json'], { encoding: 'utf8' });
    const v = JSON.parse(r.stdout || 'null') as Array<{ id: string; pid: number }> | null;
    for (const c of v ?? []) if (c.pid) for (const d of cgroupDirs(c.pid)) cgroups.add(d);
    return (v ?? []).map((c) => c.id);
  };
  const killAll = (): void => {
    // After close() there is nothing left; calling runc now would recreate its root dir.
    if (closed || !existsSync(dir)) return;
    // Containers first (runc delete -f kills and removes cgroups), then any supervisor still recorded.
    try {
      for (const id of runcIds()) spawnSync('runc', ['--root', runcRoot, 'delete', '--force', id]);
    } catch {
      /* no runc root */
    }
    const nsDir = path.join(state, 'ctrx', ns);
    const sups: SupervisorRecord[] = [];
    const collect = (d: string): void => {
      const s = readJson<SupervisorRecord>(path.join(d, 'shim.json'));
      if (s && s.kind === 'shim') sups.push(s);
      const ex = path.join(d, 'execs');
      if (existsSync(ex)) for (const e of readdirSync(ex)) collect(path.join(ex, e));
    };
    if (existsSync(nsDir)) for (const id of readdirSync(nsDir)) collect(path.join(nsDir, id));
    for (const s of sups) if (isAlive(s.pid, s.startTime)) process.kill(s.pid, 'SIGKILL');
  };
  const cgroupParents = (): string[] => {
    const mi = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
    const out: string[] = [];
    for (const l of mi) {
      const f = l.split(' ');
      const sep = f.indexOf('-');
      if (sep > 0 && (f[sep + 1] === 'cgroup' || f[sep + 1] === 'cgroup2')) out.push(path.join(f[4]!, ns));
    }
    return out;
  };
  atExit('kill', killAll);
  const removeCgroupParents = (): void => {
    // A cgroup runc is still tearing down keeps its parent busy for a moment: retry briefly.
    for (let i = 0; i < 100; i++) {
      removeStaleCgroups([...cgroups, ...cgroupParents()]);
      let busy = false;
      for (const p of cgroupParents()) {
        try {
          rmdirSync(p);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') busy = true;
        }
      }
      if (!busy) return;
      sleepSync(50);
    }
  };
  const world: World = {
    dir, root, state, ns, ctx, rootfs, runcRoot, runcIds,
    spec(id, args, o = {}) {
      const s = defaultSpec(ns, id);
      s.root = { path: rootfs, readonly: true };
      s.process!.args = args;
      s.process!.env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...(o.tty ? ['TERM=xterm'] : []), ...(o.env ?? [])];
      s.process!.terminal = Boolean(o.tty);
      s.mounts = [...(s.mounts ?? []), { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] }];
      return s;
    },
    // Synchronous on purpose: Deno's node:test does not wait for a promise an after() hook returns.
    close() {
      if (closed) return;
      killAll();
      closed = true;
      sleepSync(100);
      removeCgroupParents();
      removeTempDir(dir);
    },
  };
  // Deno's node:test skips top-level after() hooks in a file that has a skipped test, and emits no
  // process 'exit' under `deno test`; its 'unload' event does come (Node has no such global listener).
  (globalThis as { addEventListener?: (type: string, fn: () => void) => void }).addEventListener?.('unload', () => world.close());
  return world;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or the timeout passes. */
export async function until<T>(fn: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
