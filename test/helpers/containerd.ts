/**
 * A private containerd (Debian's 1.6) for tests: its own root, state and
 * socket in temp dirs, a generated config, and a stop() that leaves nothing
 * behind (tasks, shims, container processes, mounts, dirs).
 *
 * containerd 1.6 and its runc shim hard-code a few paths under
 * /run/containerd (shim sockets in /run/containerd/s, runc's default root
 * /run/containerd/runc). So that no test ever touches the host's
 * /run/containerd, containerd runs by default in a private mount namespace
 * where /run is a tmpfs and /run/containerd is a bind of this instance's state
 * dir. Inside, the layout is exactly the default one (runc root
 * `<state>/runc/<ns>`, shim sockets `<state>/s`), and every file lands on the
 * shared filesystem where the test (and ctrx) can read it. Mounts made by
 * containerd and its shims (container rootfs, unpack) live in that namespace
 * and vanish with it.
 *
 * Dirs of one instance:
 *   <base>/root   --root   (unless given)
 *   <base>/state  --state  (unless given)
 *   <base>/config.toml, <base>/containerd.log
 *   <short>/c.sock (+ c.sock.ttrpc)   short path: sun_path is 108 bytes
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { atExit } from './exit.js';
import {
  cgroupDirs, descendants, isAlive, listProcesses, removeStaleCgroups, signalIfSame, waitGone, type ProcInfo,
} from './procs.js';
import { run, RunError, type RunOptions, type RunResult } from './run.js';
import { makeShortTempDir, makeTempDir, removeTempDir, unmountUnder } from './tmp.js';

export interface ContainerdOptions {
  /** Reuse an existing root (not removed by stop()). */
  root?: string;
  /** Reuse an existing state dir (not removed by stop()). */
  state?: string;
  /** Socket path; default a fresh short temp dir's `c.sock`. */
  address?: string;
  /** Extra TOML appended to the generated config (plugin tables etc.). */
  extraConfig?: string;
  /** Plugins disabled in addition to CRI, aufs, btrfs, zfs, devmapper and opt. */
  disabledPlugins?: string[];
  /** Run in a private mount namespace (default true; see the module comment). */
  privateMountNamespace?: boolean;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  startTimeoutMs?: number;
}

export interface CtrOptions extends Omit<RunOptions, 'check'> {
  namespace?: string;
  /** Pass args untouched (no --fifo-dir/--runc-root injection). */
  raw?: boolean;
}

export interface StopOptions {
  /** Keep root, state, socket dir and config (for start() again, or for ctrx to read). */
  keepDirs?: boolean;
  /** Kill tasks and shims (default true). False leaves containers running for a restart to reconnect to; only with keepDirs. */
  killShims?: boolean;
}

export interface Containerd {
  root: string;
  state: string;
  address: string;
  /** runc's --root as the shims use it: tasks are in `<runcRoot>/<namespace>/<id>`. */
  runcRoot: string;
  /** Where ctr() puts IO FIFOs. */
  fifoDir: string;
  configPath: string;
  logPath: string;
  /** The daemon's pid while running. */
  pid(): number | undefined;
  running(): boolean;
  /** Runs `ctr --address A --namespace N args…` (injects --fifo-dir for run/task start/task exec). */
  ctr(args: readonly string[], opts?: CtrOptions): Promise<RunResult>;
  /** Like ctr() but throws RunError on a non-zero exit. */
  ctrOk(args: readonly string[], opts?: CtrOptions): Promise<RunResult>;
  /** Live shim processes started for this instance (matched on their exact -address argument). */
  shims(): ProcInfo[];
  stop(opts?: StopOptions): Promise<void>;
  /** Starts the daemon again after stop({ keepDirs: true }). */
  start(): Promise<void>;
  /** stop({ keepDirs: true, killShims }) then start(). */
  restart(opts?: { killShims?: boolean }): Promise<void>;
  log(): string;
}

const DISABLED = [
  'io.containerd.grpc.v1.cri',
  // would create /opt/containerd on the host
  'io.containerd.internal.v1.opt',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.snapshotter.v1.devmapper',
];

const toml = (s: string): string => JSON.stringify(s);

function configToml(o: { root: string; state: string; address: string; disabled: string[]; logLevel: string; extra?: string }): string {
  return [
    'version = 2',
    `root = ${toml(o.root)}`,
    `state = ${toml(o.state)}`,
    `disabled_plugins = [${o.disabled.map(toml).join(', ')}]`,
    '',
    '[grpc]',
    `  address = ${toml(o.address)}`,
    '',
    '[ttrpc]',
    `  address = ${toml(o.address + '.ttrpc')}`,
    '',
    '[debug]',
    `  level = ${toml(o.logLevel)}`,
    '',
    o.extra ?? '',
    '',
  ].join('\n');
}

// Daemons of this process, killed if the test process exits without stop().
const daemons = new Set<{ child: ChildProcess; address: string }>();
atExit('kill', () => {
  const victims: ProcInfo[] = [];
  const cgroups: string[] = [];
  for (const d of daemons) {
    try {
      d.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
    const k = killShimTrees(d.address);
    victims.push(...k.victims);
    cgroups.push(...k.cgroups);
  }
  // Synchronous: the exit path cannot await. Dirs are removed right after, so give the kernel a moment.
  const deadline = Date.now() + 2000;
  while (victims.some((p) => isAlive(p.pid, p.startTime)) && Date.now() < deadline) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  removeStaleCgroups(cgroups);
});

function isShimOf(p: ProcInfo, address: string): boolean {
  if (!/(^|\/)containerd-shim[^/]*$/.test(p.argv[0] ?? '')) return false;
  const i = p.argv.indexOf('-address');
  return i >= 0 && p.argv[i + 1] === address;
}

/** Shims whose argv carries `-address <address>` exactly. */
function shimsOf(address: string): ProcInfo[] {
  return listProcesses().filter((p) => isShimOf(p, address));
}

/**
 * SIGKILLs this instance's shims and everything below them (the containers),
 * returning them and the containers' cgroups, which nobody will delete now.
 */
function killShimTrees(address: string): { victims: ProcInfo[]; cgroups: string[] } {
  const procs = listProcesses();
  const victims: ProcInfo[] = [];
  const cgroups: string[] = [];
  for (const shim of procs.filter((p) => isShimOf(p, address))) {
    for (const d of descendants(shim.pid, procs)) {
      cgroups.push(...cgroupDirs(d.pid));
      victims.push(d);
    }
    victims.push(shim);
  }
  // Shims first, so none of them reacts to its container dying.
  for (const p of [...victims].reverse()) signalIfSame(p, 'SIGKILL');
  return { victims, cgroups };
}

const FIFO_COMMANDS: string[][] = [['run'], ['task', 'start'], ['t', 'start'], ['tasks', 'start'], ['task', 'exec'], ['t', 'exec'], ['tasks', 'exec']];

/** Starts a private containerd and waits until `ctr version` answers. */
export async function startContainerd(opts: ContainerdOptions = {}): Promise<Containerd> {
  const base = makeTempDir('ctrx-containerd-');
  const sockDir = opts.address ? undefined : makeShortTempDir(20);
  const root = opts.root ?? join(base, 'root');
  const state = opts.state ?? join(base, 'state');
  const address = opts.address ?? join(sockDir!, 'c.sock');
  const isolate = opts.privateMountNamespace ?? true;
  mkdirSync(root, { recursive: true, mode: 0o711 });
  mkdirSync(state, { recursive: true, mode: 0o711 });
  const fifoDir = join(state, 'fifo');
  const runcRoot = join(state, 'runc');
  const configPath = join(base, 'config.toml');
  const logPath = join(base, 'containerd.log');
  writeFileSync(
    configPath,
    configToml({ root, state, address, disabled: [...DISABLED, ...(opts.disabledPlugins ?? [])], logLevel: opts.logLevel ?? 'info', extra: opts.extraConfig }),
  );

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let entry: { child: ChildProcess; address: string } | undefined;

  const readLog = (): string => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };

  const ctr = (args: readonly string[], o: CtrOptions = {}): Promise<RunResult> => {
    const a = [...args];
    if (!o.raw) {
      const cmd = FIFO_COMMANDS.find((c) => c.every((w, i) => a[i] === w));
      if (cmd) {
        const extra: string[] = [];
        if (!a.includes('--fifo-dir')) extra.push('--fifo-dir', fifoDir);
        // Outside a private namespace only `ctr run` can move runc's root off /run/containerd.
        if (!isolate && cmd[0] === 'run' && !a.includes('--runc-root')) extra.push('--runc-root', runcRoot);
        a.splice(cmd.length, 0, ...extra);
      }
    }
    return run('ctr', ['--address', address, '--namespace', o.namespace ?? 'default', ...a], { timeoutMs: 60_000, ...o });
  };

  const start = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) throw new Error('containerd is already running');
    mkdirSync(fifoDir, { recursive: true });
    const logFd = openSync(logPath, 'a');
    try {
      const argv = isolate
        ? [
            'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
            'mount -t tmpfs -o mode=755 ctrx-test-run /run && mkdir /run/containerd && ' +
              'mount --bind "$1" /run/containerd && exec containerd --config "$2"',
            'ctrx-containerd', state, configPath,
          ]
        : ['containerd', '--config', configPath];
      child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', logFd, logFd], cwd: base });
    } finally {
      closeSync(logFd);
    }
    const c = child;
    entry = { child: c, address };
    daemons.add(entry);
    exited = new Promise((r) => c.once('exit', () => r()));
    c.once('error', () => {});
    const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`containerd exited during startup (${c.exitCode ?? c.signalCode}):\n${readLog().slice(-3000)}`);
      }
      if (existsSync(address)) {
        const r = await ctr(['version'], { timeoutMs: 5000 });
        if (r.code === 0) return;
      }
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        await exited;
        throw new Error(`containerd did not answer on ${address}:\n${readLog().slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const killTasks = async (): Promise<void> => {
    const ns = await ctr(['namespaces', 'ls', '-q'], { timeoutMs: 10_000 });
    if (ns.code !== 0) return;
    for (const n of ns.stdout.split('\n').filter(Boolean)) {
      const tasks = await ctr(['tasks', 'ls', '-q'], { namespace: n, timeoutMs: 10_000 });
      for (const id of tasks.stdout.split('\n').filter(Boolean)) {
        await ctr(['tasks', 'rm', '-f', id], { namespace: n, timeoutMs: 15_000 });
      }
    }
  };

  const stopDaemon = async (killShims: boolean): Promise<void> => {
    const c = child;
    if (c && c.exitCode === null && c.signalCode === null) {
      // Deleting tasks through containerd lets runc remove cgroups and the shims exit cleanly.
      if (killShims) await killTasks().catch(() => {});
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    if (entry) daemons.delete(entry);
    if (killShims) {
      const { victims, cgroups } = killShimTrees(address);
      const still = await waitGone(victims, 5000);
      removeStaleCgroups(cgroups);
      if (still.length) throw new Error(`processes of containerd ${address} survived SIGKILL: ${still.map((p) => p.pid).join(', ')}`);
    }
  };

  let stopped = false;
  const handle: Containerd = {
    root, state, address, runcRoot, fifoDir, configPath, logPath,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    ctr,
    ctrOk: async (args, o) => {
      const r = await ctr(args, o);
      if (r.code !== 0) throw new RunError(['ctr', ...args], r);
      return r;
    },
    shims: () => shimsOf(address),
    start,
    restart: async (o = {}) => {
      await stopDaemon(o.killShims ?? true);
      await start();
    },
    stop: async (o = {}) => {
      if (stopped) return;
      // Shims must not outlive the dirs their containers run from.
      const killShims = o.keepDirs ? (o.killShims ?? true) : true;
      await stopDaemon(killShims);
      if (o.keepDirs) return;
      stopped = true;
      // Mounts made in the host namespace (e.g. by ctrx or `ctr snapshot mount`) under our dirs.
      unmountUnder(root);
      unmountUnder(state);
      // base holds root and state unless they were given: those belong to the caller.
      removeTempDir(base);
      if (sockDir) removeTempDir(sockDir);
    },
    log: readLog,
  };
  try {
    await start();
  } catch (e) {
    await handle.stop().catch(() => {});
    throw e;
  }
  return handle;
}
