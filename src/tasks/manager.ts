/**
 * Tasks without a daemon: a detached task is supervised by its own shim
 * (bin/ctrx-shim.ts, forked detached with the same runtime), a foreground
 * one by the ctrx command that runs it. Everything a later command needs is
 * in files (layout in src/shim/layout.ts) and in runc's root, and every
 * status is derived from them (./state.ts). This module starts, signals,
 * waits for and deletes tasks; exec, logs, metrics and attach live next to it.
 */
import { spawn } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OpContext } from '../context.js';
import { CtrxError, alreadyExists, failedPrecondition, invalidArgument, isCategory, notFound, unavailable } from '../errdefs.js';
import { validateId } from '../identifiers.js';
import { getWinsize, procStartTime, selfExec, selfPid, signalName, signalProcess, signalProcessGroup } from '../platform/index.js';
import { classifyRuncError } from '../runtime/runc/errors.js';
import { Runc, runcForContext } from '../runtime/runc/runc.js';
import type { RuncState } from '../runtime/runc/types.js';
import { readJson, unlinkQuiet, writeFileAtomic, writeJsonAtomic } from '../shim/io.js';
import {
  EXIT_FILE, EXECS_DIR, MAX_SOCKET_PATH, PID_FILE, PROC_FILE, RUNC_LOG, SHIM_FILE, START_FILE,
  exitRecord, type ExitRecord, type ProcConfig, type RuncSettings, type StartRecord, type SupervisorRecord,
} from '../shim/layout.js';
import { execPaths, namespaceDir, taskPaths, type TaskPaths } from './paths.js';
import { runcLogError } from '../shim/supervise.js';
import { removeTree } from './cleanup.js';
import { runcForeground, type ForegroundStdio } from './foreground.js';
import { deriveTask, readProcFiles, supervisorAlive, taskDirIds, type TaskInfo } from './state.js';

export type { TaskInfo, TaskStatus, TaskOwner } from './state.js';
export type { ExitRecord } from '../shim/layout.js';

export interface RuncTaskOptions {
  /** runc binary (default: containerd's BinaryName, else `runc` on PATH). */
  binary?: string;
  /** runc's --root, namespace included (default `<state>/runc/<ns>`, as containerd). */
  root?: string;
  systemdCgroup?: boolean;
  noPivot?: boolean;
  noNewKeyring?: boolean;
}

export interface TaskIO {
  /** Always detached for startTask; accepted for symmetry with ctr's flags. */
  detach?: boolean;
  /** Default: the bundle's process.terminal. */
  tty?: boolean;
  /** Keep a stdin pipe for attach (no tty). */
  stdin?: boolean;
  /** Default `<root>/ctrx/<ns>/<id>/task.log`. */
  logPath?: string;
  /** Discard output (ctr's --null-io). */
  nullIO?: boolean;
}

export interface StartTaskOptions {
  id: string;
  /** Directory with config.json and the rootfs (default: the task dir, see taskBundleDir). */
  bundle?: string;
  /** Written to <bundle>/config.json when given. */
  spec?: object;
  io?: TaskIO;
  runcOptions?: RuncTaskOptions;
  /** Milliseconds to wait for the task to run (default 30 s). */
  timeoutMs?: number;
  /** The caller's cleanup (unmount its rootfs) when the start fails; runs before the task dir is removed. */
  onFailure?: () => void | Promise<void>;
  /** The shim script to fork (default: found next to this module, bundled or not). */
  shimScript?: string;
}

const subject = (id: string): string => `task "${id}"`;
const POLL_MS = 5;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** runc settings for a new task: overrides, then containerd's runc options, then defaults. */
export function runcSettings(ctx: OpContext, o: RuncTaskOptions = {}): RuncSettings {
  const r = ctx.facts.runc;
  const s: RuncSettings = {
    binary: o.binary ?? r.binaryName ?? 'runc',
    root: o.root ?? path.join(r.root ?? path.join(ctx.state, 'runc'), ctx.namespace),
  };
  if (o.systemdCgroup ?? r.systemdCgroup) s.systemdCgroup = true;
  if (o.noPivot) s.noPivot = true;
  if (o.noNewKeyring) s.noNewKeyring = true;
  return s;
}

export function runcClient(ctx: OpContext, s: RuncSettings): Runc {
  return runcForContext(ctx, { binary: s.binary, root: s.root, systemdCgroup: s.systemdCgroup });
}

export function paths(ctx: OpContext, id: string): TaskPaths {
  validateId(id, 'task id');
  const tp = taskPaths(ctx.state, ctx.root, ctx.namespace, id);
  if (Buffer.byteLength(tp.attachSocket) > MAX_SOCKET_PATH - 22) {
    throw invalidArgument(`the state directory is too long for unix sockets (${tp.attachSocket})`, { subject: ctx.state, hint: 'use a shorter --state' });
  }
  return tp;
}

/** Where a caller prepares a bundle for startTask/runForeground: the task dir (mount the rootfs at <dir>/rootfs). */
export function taskBundleDir(ctx: OpContext, id: string): string {
  const dir = paths(ctx, id).dir;
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  return dir;
}

/** The shim script: bundled (dist/cli/ctrx-shim.js) or compiled (dist/bin/ctrx-shim.js). */
export function shimScript(): string {
  for (const rel of ['../ctrx-shim.js', './ctrx-shim.js', '../../bin/ctrx-shim.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw unavailable('ctrx-shim.js not found next to the ctrx installation', { subject: 'shim' });
}

async function runcStateOf(runc: Runc, id: string, root?: string): Promise<RuncState | undefined> {
  // No root, no container: and runc would create the root dir just to say so.
  if (root !== undefined && !existsSync(root)) return undefined;
  try {
    return await runc.state(id);
  } catch (e) {
    if (isCategory(e, 'not-found')) return undefined;
    throw e;
  }
}

/** The runc settings a task was started with (its proc.json), else the context's. */
function settingsOf(ctx: OpContext, proc: ProcConfig | undefined, o?: RuncTaskOptions): RuncSettings {
  return proc?.runc && !o ? proc.runc : runcSettings(ctx, o);
}

/** A task's derived status, or undefined when there is none. */
export async function inspectTask(ctx: OpContext, id: string, o: { runcOptions?: RuncTaskOptions } = {}): Promise<TaskInfo | undefined> {
  const tp = paths(ctx, id);
  const files = readProcFiles(tp.dir);
  const settings = settingsOf(ctx, files?.proc, o.runcOptions);
  const state = await runcStateOf(runcClient(ctx, settings), id, settings.root);
  return deriveTask(id, ctx.namespace, files, state);
}

export async function taskStatus(ctx: OpContext, id: string, o: { runcOptions?: RuncTaskOptions } = {}): Promise<TaskInfo> {
  const t = await inspectTask(ctx, id, o);
  if (!t) throw notFound('no such task', { subject: subject(id) });
  return t;
}

/** ctrx's tasks in the namespace, and the other tasks in the shared runc root (containerd's marked as such). */
export async function listTasks(ctx: OpContext, o: { runcOptions?: RuncTaskOptions } = {}): Promise<TaskInfo[]> {
  const listed = runcSettings(ctx, o.runcOptions);
  const runc = runcClient(ctx, listed);
  let states: RuncState[] = [];
  try {
    // `runc list` would create a missing root: a listing must not write.
    if (existsSync(listed.root)) states = await runc.list();
  } catch (e) {
    // Without runc the files still tell what ctrx supervises.
    if (!isCategory(e, 'unavailable')) throw e;
  }
  const byId = new Map(states.map((s) => [s.id, s]));
  const ids = new Set([...taskDirIds(namespaceDir(ctx.state, ctx.namespace)), ...byId.keys()]);
  const out: TaskInfo[] = [];
  for (const id of [...ids].sort()) {
    const files = readProcFiles(path.join(namespaceDir(ctx.state, ctx.namespace), id));
    let state = byId.get(id);
    // A task started with another runc root or binary is not in this listing: ask its own runc.
    const own = files?.proc?.runc;
    if (own && (own.root !== listed.root || own.binary !== listed.binary)) state = await runcStateOf(runcClient(ctx, own), id, own.root).catch(() => undefined);
    const t = deriveTask(id, ctx.namespace, files, state);
    if (t) out.push(t);
  }
  return out;
}

function writeExclusive(file: string, data: string): void {
  const tmp = `${file}.tmp-${Math.random().toString(36).slice(2, 10)}`;
  writeFileAtomic(tmp, data);
  try {
    linkSync(tmp, file);
  } finally {
    unlinkQuiet(tmp);
  }
}

interface Claim {
  tp: TaskPaths;
  settings: RuncSettings;
  runc: Runc;
  proc: ProcConfig;
}

/** Checks that no task exists, writes config.json and claims the id with proc.json (exclusive link). */
async function claimTask(ctx: OpContext, o: StartTaskOptions, tty: boolean | undefined): Promise<Claim> {
  const id = o.id;
  const tp = paths(ctx, id);
  const settings = runcSettings(ctx, o.runcOptions);
  const runc = runcClient(ctx, settings);
  const existing = deriveTask(id, ctx.namespace, readProcFiles(tp.dir), await runcStateOf(runc, id, settings.root));
  if (existing) {
    const hint = existing.owner === 'ctrx' ? `delete it first: ctrx tasks delete ${id}` : `it is ${existing.owner === 'containerd' ? "containerd's" : "runc's"} container`;
    throw alreadyExists(`task already exists (${existing.status})`, { subject: subject(id), hint });
  }
  const bundle = o.bundle ? path.resolve(o.bundle) : tp.dir;
  // Checked before anything is written: a refused start creates nothing.
  const spec = (o.spec as { process?: { terminal?: boolean } } | undefined) ?? readJson<{ process?: { terminal?: boolean } }>(path.join(bundle, 'config.json'));
  if (!spec || typeof spec !== 'object') throw invalidArgument('no spec given and the bundle has no readable config.json', { subject: bundle });
  const specTty = Boolean(spec.process?.terminal);
  if (tty !== undefined && tty !== specTty) {
    throw invalidArgument(`tty ${tty ? 'requested' : 'not requested'} but the spec's process.terminal is ${specTty}`, { subject: subject(id) });
  }
  mkdirSync(tp.dir, { recursive: true, mode: 0o711 });
  mkdirSync(tp.socketDir, { recursive: true, mode: 0o700 });
  const proc: ProcConfig = {
    version: 1, kind: 'init', namespace: ctx.namespace, id, runc: settings, bundle, tty: specTty,
    stdin: Boolean(o.io?.stdin) && !specTty,
    logPath: o.io?.nullIO ? '/dev/null' : o.io?.logPath ?? tp.logPath,
    attachSocket: tp.attachSocket,
    consoleSocket: specTty ? tp.consoleSocket : undefined,
    createdAt: new Date().toISOString(),
  };
  // The claim: one exclusive link. Whoever loses touches nothing, not even config.json.
  try {
    writeExclusive(path.join(tp.dir, PROC_FILE), JSON.stringify(proc) + '\n');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists('task already exists (being started)', { subject: subject(id) });
    throw e;
  }
  if (o.spec) writeJsonAtomic(path.join(bundle, 'config.json'), o.spec);
  for (const f of [SHIM_FILE, START_FILE, EXIT_FILE, PID_FILE, RUNC_LOG]) unlinkQuiet(path.join(tp.dir, f));
  return { tp, settings, runc, proc };
}

/** Removes everything a task left: runc's container, the task dir (unmounting what is below), its sockets, an empty log. */
async function dropTask(ctx: OpContext, c: Pick<Claim, 'tp' | 'runc'>, id: string, o: { onCleanup?: () => void | Promise<void>; logPath?: string } = {}): Promise<void> {
  await c.runc.delete(id, { force: true }).catch((e) => {
    if (!isCategory(e, 'not-found')) throw e;
  });
  if (o.onCleanup) await o.onCleanup();
  for (const sock of socketsOf(c.tp, ctx, id)) unlinkQuiet(sock);
  removeTree(c.tp.dir);
  if (o.logPath) removeEmptyLog(o.logPath);
}

function socketsOf(tp: TaskPaths, ctx: OpContext, id: string): string[] {
  const out = [tp.attachSocket, tp.consoleSocket];
  let execs: string[] = [];
  try {
    execs = readdirSync(path.join(tp.dir, EXECS_DIR));
  } catch {
    /* none */
  }
  for (const e of execs) {
    const ep = execPaths(tp, ctx.namespace, id, e);
    out.push(ep.attachSocket, ep.consoleSocket);
  }
  return out;
}

function removeEmptyLog(file: string): void {
  try {
    if (statSync(file).isFile() && statSync(file).size === 0) unlinkSync(file);
    rmdirSync(path.dirname(file));
  } catch {
    /* not empty, not ours, or gone */
  }
}

/**
 * Starts a detached task: forks the shim, returns once runc has started the
 * process (pid file written, runc state checked), or throws runc's error
 * having removed everything it created (runc container, task dir, sockets).
 */
export async function startTask(ctx: OpContext, o: StartTaskOptions): Promise<TaskInfo> {
  const c = await claimTask(ctx, o, o.io?.tty);
  const id = o.id;
  let shimExit: { code: number | null; signal: string | null } | undefined;
  let spawnErr: Error | undefined;
  let shimPid: number | undefined;
  try {
    const script = o.shimScript ?? shimScript();
    const [cmd, ...pre] = selfExec(script);
    ctx.onDebug(`fork ${[cmd, ...pre, '--dir', c.tp.dir].join(' ')}`);
    // A new session, no inherited stdio: closing the caller's terminal never reaches the task.
    const child = spawn(cmd!, [...pre, '--dir', c.tp.dir], { detached: true, stdio: 'ignore', cwd: c.tp.dir });
    shimPid = child.pid;
    child.on('error', (e) => (spawnErr = e));
    child.on('exit', (code, signal) => (shimExit = { code, signal }));
    child.unref();
    const deadline = Date.now() + (o.timeoutMs ?? 30_000);
    let start: StartRecord | undefined;
    for (;;) {
      start = readJson<StartRecord>(path.join(c.tp.dir, START_FILE));
      if (start || shimExit || spawnErr) break;
      if (Date.now() > deadline) break;
      await sleep(POLL_MS);
    }
    if (start?.ok) {
      const info = deriveTask(id, ctx.namespace, readProcFiles(c.tp.dir), await runcStateOf(c.runc, id));
      if (info) return info;
    }
    let msg: string;
    if (start && !start.ok) msg = start.error ?? 'the task failed to start';
    else if (spawnErr) msg = `cannot start the shim: ${spawnErr.message}`;
    else if (shimExit) msg = `the shim exited (${shimExit.code ?? shimExit.signal}) before the task started${shimLogTail(c.tp.dir)}`;
    else msg = `the task did not start within ${o.timeoutMs ?? 30_000} ms`;
    throw start && !start.ok ? classifyRuncError(msg, subject(id)) : unavailable(msg, { subject: subject(id) });
  } catch (e) {
    // Nothing may be left. After a verdict the shim exits by itself; one still waiting (a hung runc)
    // is asked to stop (it forwards SIGTERM to runc), then killed with its process group.
    if (shimPid !== undefined && !shimExit) {
      const pid = shimPid;
      const st = procStartTime(pid);
      const alive = (): boolean => !shimExit && st !== undefined && procStartTime(pid) === st;
      const settle = async (ms: number): Promise<void> => {
        for (let i = 0; i < ms / 10 && alive(); i++) await sleep(10);
      };
      if (!readJson<StartRecord>(path.join(c.tp.dir, START_FILE)) && st !== undefined) signalProcess(pid, 'SIGTERM', st);
      await settle(2000);
      if (alive()) signalProcessGroup(pid, 'SIGKILL', st!);
      await settle(1000);
    }
    await dropTask(ctx, c, id, { onCleanup: o.onFailure, logPath: c.proc.logPath });
    throw e;
  }
}

function shimLogTail(dir: string): string {
  try {
    const t = readFileSync(path.join(dir, 'shim.log'), 'utf8').trim().split('\n').slice(-3).join('; ');
    return t ? `: ${t}` : '';
  } catch {
    return '';
  }
}

export interface ForegroundOptions {
  id: string;
  bundle?: string;
  spec?: object;
  tty?: boolean;
  runcOptions?: RuncTaskOptions;
  /** Default: inherit all three (the caller's terminal). */
  stdio?: ForegroundStdio;
  /** Called at the end whatever happened (the CLI's --rm: unmount and remove the container). */
  cleanup?: () => void | Promise<void>;
}

/**
 * `runc run` in the foreground, ctrx being the supervisor: the output goes
 * straight through, signals are forwarded, and the task is deleted at the
 * end as `ctr run` does (the container record is the caller's). Returns the
 * exit status; a start failure throws runc's error, after the same cleanup.
 */
export async function runForeground(ctx: OpContext, o: ForegroundOptions): Promise<ExitRecord & { stdout?: Buffer; stderr?: Buffer }> {
  const c = await claimTask(ctx, { id: o.id, bundle: o.bundle, spec: o.spec, runcOptions: o.runcOptions, io: { logPath: '/dev/null' } }, o.tty);
  const id = o.id;
  let failure: unknown;
  try {
    const me: SupervisorRecord = { pid: selfPid(), startTime: procStartTime(selfPid()) ?? 0, kind: 'foreground' };
    writeJsonAtomic(path.join(c.tp.dir, SHIM_FILE), me);
    if (c.proc.tty) withConsoleSize(path.join(c.proc.bundle, 'config.json'), 'process');
    const s = c.settings;
    const argv = ['--root', s.root, '--log', path.join(c.tp.dir, RUNC_LOG), '--log-format', 'json'];
    if (s.systemdCgroup) argv.push('--systemd-cgroup');
    argv.push('run', '--bundle', c.proc.bundle, '--pid-file', path.join(c.tp.dir, PID_FILE));
    if (s.noPivot) argv.push('--no-pivot');
    if (s.noNewKeyring) argv.push('--no-new-keyring');
    argv.push(id);
    ctx.onDebug([s.binary, ...argv].join(' '));
    const r = await runcForeground(s.binary, argv, { tty: c.proc.tty, stdio: o.stdio, cwd: c.tp.dir });
    const started = existsSync(path.join(c.tp.dir, PID_FILE));
    const logErr = runcLogError(path.join(c.tp.dir, RUNC_LOG));
    if (!started && r.status !== 0) {
      throw classifyRuncError(logErr ?? `runc run failed (status ${r.status})`, subject(id));
    }
    const rec = exitRecord(r.status, signalName);
    writeJsonAtomic(path.join(c.tp.dir, EXIT_FILE), rec);
    return { ...rec, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    failure = e;
    throw e;
  } finally {
    try {
      await dropTask(ctx, c, id, { onCleanup: o.cleanup });
    } catch (e) {
      if (!failure) throw e;
    }
  }
}

/**
 * runc sizes a foreground pty only after the process has started, so a
 * first `stty size` can see 0x0: the caller's terminal size goes into the
 * spec's consoleSize instead (as containerd does), applied before exec.
 */
export function withConsoleSize(file: string, key: 'process' | null): void {
  const ws = getWinsize(0) ?? getWinsize(1);
  if (!ws || !ws.rows || !ws.cols) return;
  const doc = readJson<Record<string, unknown>>(file);
  if (!doc) return;
  const p = (key ? doc[key] : doc) as Record<string, unknown> | undefined;
  if (!p) return;
  p.consoleSize = { height: ws.rows, width: ws.cols };
  writeJsonAtomic(file, doc);
}

/** Sends a signal through runc (runc checks the init's start time: a recycled pid is never hit). */
export async function killTask(ctx: OpContext, id: string, signal: string | number = 'SIGTERM', o: { all?: boolean; force?: boolean; runcOptions?: RuncTaskOptions } = {}): Promise<void> {
  const t = await taskStatus(ctx, id, o);
  notForeign(t, o.force, 'kill');
  if (t.status === 'stopped') throw notFound('process already finished', { subject: subject(id) });
  const files = readProcFiles(paths(ctx, id).dir);
  await runcClient(ctx, settingsOf(ctx, files?.proc, o.runcOptions)).kill(id, signal, { all: o.all });
}

function notForeign(t: TaskInfo, force: boolean | undefined, verb: string): void {
  if (t.owner !== 'ctrx' && !force) {
    throw failedPrecondition(`the task is ${t.owner === 'containerd' ? "containerd's" : "runc's, not ctrx's"}; refusing to ${verb} it`, {
      subject: subject(t.id),
      hint: t.owner === 'containerd' ? 'use ctr, or --force' : 'use --force',
    });
  }
}

export async function pauseTask(ctx: OpContext, id: string, o: { runcOptions?: RuncTaskOptions; force?: boolean } = {}): Promise<void> {
  const t = await taskStatus(ctx, id, o);
  notForeign(t, o.force, 'pause');
  if (t.status !== 'running') throw failedPrecondition(`task is ${t.status}, not running`, { subject: subject(id) });
  await runcClient(ctx, settingsOf(ctx, readProcFiles(paths(ctx, id).dir)?.proc, o.runcOptions)).pause(id);
}

export async function resumeTask(ctx: OpContext, id: string, o: { runcOptions?: RuncTaskOptions; force?: boolean } = {}): Promise<void> {
  const t = await taskStatus(ctx, id, o);
  notForeign(t, o.force, 'resume');
  if (t.status !== 'paused') throw failedPrecondition(`task is ${t.status}, not paused`, { subject: subject(id) });
  await runcClient(ctx, settingsOf(ctx, readProcFiles(paths(ctx, id).dir)?.proc, o.runcOptions)).resume(id);
}

/**
 * Deletes a task: refuses one that is not stopped unless `force` (then runc
 * kills it). Waits for its supervisor to finish, removes runc's container,
 * the task dir (unmounting anything still mounted below it, e.g. the
 * rootfs, after the caller's `onCleanup`) and the sockets. The log stays
 * (it belongs with the container; see removeTaskLogs). Returns the exit
 * status when one was recorded.
 */
export async function deleteTask(
  ctx: OpContext,
  id: string,
  o: { force?: boolean; runcOptions?: RuncTaskOptions; onCleanup?: () => void | Promise<void> } = {},
): Promise<ExitRecord | undefined> {
  const t = await taskStatus(ctx, id, o);
  const tp = paths(ctx, id);
  const files = readProcFiles(tp.dir);
  const runc = runcClient(ctx, settingsOf(ctx, files?.proc, o.runcOptions));
  if (t.owner !== 'ctrx') {
    notForeign(t, o.force, 'delete');
    await runc.delete(id, { force: true });
    return undefined;
  }
  const live = t.status !== 'stopped' || (t.supervised && !t.exit);
  if (live && !o.force) {
    throw failedPrecondition(`task is ${t.status}${t.status === 'stopped' ? ' (exit being recorded)' : ''}`, { subject: subject(id), hint: 'stop it first, or use --force' });
  }
  if (t.runc) {
    await runc.delete(id, { force: Boolean(o.force) || t.status === 'created' }).catch((e) => {
      if (!isCategory(e, 'not-found')) throw e;
    });
  }
  // The supervisors (task shim, exec shims) end once their process is gone; a shim that does not is ours to kill.
  const sups = [files, ...execDirs(tp).map((d) => readProcFiles(d))].map((f) => f?.supervisor).filter((s): s is SupervisorRecord => Boolean(s));
  // A start still under way (a shim, no runc container yet) would go on to start the task: stop it now.
  const starting = Boolean(o.force) && !t.runc && t.status === 'created';
  for (let i = 0; i < 300 && !starting && sups.some((s) => supervisorAlive(s)); i++) await sleep(10);
  // Its process group: the shim and the runc it runs (a start still under way has no runc container to delete yet).
  for (const s of sups) if (s.kind === 'shim' && supervisorAlive(s)) signalProcessGroup(s.pid, 'SIGKILL', s.startTime);
  for (let i = 0; i < 100 && sups.some((s) => s.kind === 'shim' && supervisorAlive(s)); i++) await sleep(10);
  // A start that was under way may have created the container meanwhile.
  if (o.force && (await runcStateOf(runc, id))) {
    await runc.delete(id, { force: true }).catch((e) => {
      if (!isCategory(e, 'not-found')) throw e;
    });
  }
  const exit = readProcFiles(tp.dir)?.exit ?? t.exit;
  if (o.onCleanup) await o.onCleanup();
  for (const sock of socketsOf(tp, ctx, id)) unlinkQuiet(sock);
  removeTree(tp.dir);
  return exit;
}

function execDirs(tp: TaskPaths): string[] {
  try {
    return readdirSync(path.join(tp.dir, EXECS_DIR)).map((e) => path.join(tp.dir, EXECS_DIR, e));
  } catch {
    return [];
  }
}

/** Removes a task's log (for the container's removal). */
export function removeTaskLogs(ctx: OpContext, id: string): void {
  const tp = paths(ctx, id);
  removeTree(path.dirname(tp.logPath));
}

/**
 * Waits for the task to end. A supervised task's exit file is polled; an
 * unsupervised one's init pid is watched (with its start time) and the
 * status is then unknown (255, `unknown: true`).
 */
export async function waitTask(ctx: OpContext, id: string, o: { signal?: AbortSignal; pollMs?: number; runcOptions?: RuncTaskOptions } = {}): Promise<ExitRecord> {
  const tp = paths(ctx, id);
  const poll = o.pollMs ?? 50;
  for (;;) {
    if (o.signal?.aborted) throw unavailable('wait was cancelled', { subject: subject(id) });
    const files = readProcFiles(tp.dir);
    if (files?.exit) return files.exit;
    if (files && supervisorAlive(files.supervisor)) {
      await sleep(poll);
      continue;
    }
    const t = await taskStatus(ctx, id, o);
    if (t.exit) return t.exit;
    if (t.status === 'stopped' && !t.supervised) return exitRecord(255, signalName, true);
    if (t.supervised) {
      await sleep(poll);
      continue;
    }
    // Unsupervised: watch the init itself.
    const pid = t.pid;
    const st = procStartTime(pid);
    while (st !== undefined && procStartTime(pid) === st) {
      if (o.signal?.aborted) throw unavailable('wait was cancelled', { subject: subject(id) });
      await sleep(poll);
    }
    const after = await inspectTask(ctx, id, o);
    if (after?.exit) return after.exit;
    if (after && after.status !== 'stopped' && after.pid !== pid) {
      await sleep(poll);
      continue;
    }
    return exitRecord(255, signalName, true);
  }
}

/** The stop signal, then SIGKILL to every process once `timeoutMs` has passed (default 10 s). */
export async function stopTask(ctx: OpContext, id: string, o: { timeoutMs?: number; signal?: string; runcOptions?: RuncTaskOptions; force?: boolean } = {}): Promise<ExitRecord> {
  const t = await taskStatus(ctx, id, o);
  if (t.status === 'stopped') return t.exit ?? exitRecord(255, signalName, true);
  if (t.status === 'paused') await resumeTask(ctx, id, o).catch(() => {});
  await killTask(ctx, id, o.signal ?? 'SIGTERM', o).catch((e) => {
    if (!isCategory(e, 'not-found')) throw e;
  });
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), o.timeoutMs ?? 10_000);
  try {
    return await waitTask(ctx, id, { signal: ac.signal, runcOptions: o.runcOptions });
  } catch (e) {
    if (!(e instanceof CtrxError) || !ac.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
  }
  await killTask(ctx, id, 'SIGKILL', { ...o, all: true }).catch((e) => {
    if (!isCategory(e, 'not-found')) throw e;
  });
  return waitTask(ctx, id, { runcOptions: o.runcOptions });
}

/** Host pids of the task's processes (`runc ps`), with their command lines. */
export async function taskProcesses(ctx: OpContext, id: string, o: { runcOptions?: RuncTaskOptions } = {}): Promise<Array<{ pid: number; command: string }>> {
  const t = await taskStatus(ctx, id, o);
  if (t.status === 'stopped') return [];
  const files = readProcFiles(paths(ctx, id).dir);
  const pids = await runcClient(ctx, settingsOf(ctx, files?.proc, o.runcOptions)).ps(id);
  return pids.map((pid) => {
    let command = '';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    } catch {
      /* exited meanwhile */
    }
    return { pid, command };
  });
}
