/**
 * Processes exec'd into a running task. The process spec starts from the
 * task's own (config.json's process: env, user, capabilities, rlimits,
 * apparmor…), as ctr exec does, with args/tty/cwd/user/env replaced.
 * Each exec has a dir `<task>/execs/<execId>/` (process.json, runc.log, and
 * for a detached exec the shim's files): an exec id in use is refused.
 *
 *  - foreground: `runc exec` is our child; its status is the process's.
 *  - detached: a shim of kind "exec" supervises it; its output goes to the
 *    task's log and its status to execs/<execId>/exit.json.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { OpContext } from '../context.js';
import { alreadyExists, failedPrecondition, invalidArgument, unavailable } from '../errdefs.js';
import { validateId } from '../identifiers.js';
import { selfExec, signalName } from '../platform/index.js';
import { classifyRuncError } from '../runtime/runc/errors.js';
import type { ProcessSpec } from '../runtime/runc/types.js';
import { readJson, writeJsonAtomic } from '../shim/io.js';
import { EXECS_DIR, PID_FILE, PROC_FILE, RUNC_LOG, START_FILE, exitRecord, type ExitRecord, type ProcConfig, type StartRecord } from '../shim/layout.js';
import { execPaths } from './paths.js';
import { runcLogError } from '../shim/supervise.js';
import { removeTree } from './cleanup.js';
import { runcForeground, type ForegroundStdio } from './foreground.js';
import { paths, shimScript, taskStatus, withConsoleSize, type RuncTaskOptions } from './manager.js';
import { readProcFiles } from './state.js';
import { spawn } from 'node:child_process';

export interface ExecOptions {
  /** Generated (12 hex digits) when omitted. */
  execId?: string;
  args: string[];
  tty?: boolean;
  /** Run under a shim and return once it runs (output to the task's log). */
  detach?: boolean;
  user?: { uid: number; gid: number; additionalGids?: number[] };
  cwd?: string;
  /** KEY=VALUE entries, replacing the task's value of the same key. */
  env?: string[];
  /** Foreground stdio (default inherit); 'pipe' returns stdout/stderr in the result. */
  stdio?: ForegroundStdio;
  /** Bytes for the process's stdin (foreground). */
  input?: string | Buffer;
  runcOptions?: RuncTaskOptions;
  shimScript?: string;
}

export interface ExecResult {
  execId: string;
  /** Host pid (a detached exec). */
  pid?: number;
  /** The exit (a foreground exec). */
  exit?: ExitRecord;
  stdout?: Buffer;
  stderr?: Buffer;
}

export function mergeEnv(base: string[], over: string[]): string[] {
  const key = (e: string): string => e.slice(0, e.indexOf('=') >= 0 ? e.indexOf('=') : e.length);
  const keys = new Set(over.map(key));
  return [...base.filter((e) => !keys.has(key(e))), ...over];
}

function processSpec(bundle: string, o: ExecOptions): ProcessSpec {
  const spec = readJson<{ process?: ProcessSpec }>(path.join(bundle, 'config.json'));
  if (!spec?.process) throw failedPrecondition('the task bundle has no process spec', { subject: bundle });
  const p: ProcessSpec = { ...spec.process, args: [...o.args], terminal: Boolean(o.tty) };
  delete p.consoleSize;
  if (o.cwd) p.cwd = o.cwd;
  if (o.user) p.user = { ...o.user };
  if (o.env?.length) {
    for (const e of o.env) if (!e.includes('=') || e.startsWith('=') || e.includes('\0')) throw invalidArgument(`invalid env entry ${JSON.stringify(e)}`);
    p.env = mergeEnv(p.env ?? [], o.env);
  }
  return p;
}

export async function execInTask(ctx: OpContext, id: string, o: ExecOptions): Promise<ExecResult> {
  if (!o.args.length) throw invalidArgument('exec needs a command');
  const execId = o.execId ?? randomBytes(6).toString('hex');
  validateId(execId, 'exec id');
  const t = await taskStatus(ctx, id, o);
  if (t.owner !== 'ctrx') throw failedPrecondition(`the task is ${t.owner}'s, not ctrx's`, { subject: `task "${id}"` });
  if (t.status !== 'running') throw failedPrecondition(`task is ${t.status}, not running`, { subject: `task "${id}"` });
  const tp = paths(ctx, id);
  const files = readProcFiles(tp.dir);
  const proc = files!.proc!;
  const ep = execPaths(tp, ctx.namespace, id, execId);
  mkdirSync(path.join(tp.dir, EXECS_DIR), { recursive: true, mode: 0o711 });
  try {
    mkdirSync(ep.dir, { mode: 0o711 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists('exec id is in use', { subject: `exec "${execId}" in task "${id}"` });
    throw e;
  }
  const processFile = path.join(ep.dir, 'process.json');
  writeJsonAtomic(processFile, processSpec(proc.bundle, o), 0o600);

  if (!o.detach) {
    try {
      const s = proc.runc;
      const argv = ['--root', s.root, '--log', path.join(ep.dir, RUNC_LOG), '--log-format', 'json'];
      if (s.systemdCgroup) argv.push('--systemd-cgroup');
      argv.push('exec', '--process', processFile, '--pid-file', path.join(ep.dir, PID_FILE));
      if (o.tty) {
        argv.push('--tty');
        withConsoleSize(processFile, null);
      }
      argv.push(id);
      ctx.onDebug([s.binary, ...argv].join(' '));
      const r = await runcForeground(s.binary, argv, { tty: Boolean(o.tty), stdio: o.stdio, input: o.input, cwd: ep.dir });
      if (!existsSync(path.join(ep.dir, PID_FILE)) && r.status !== 0) {
        throw classifyRuncError(runcLogError(path.join(ep.dir, RUNC_LOG)) ?? `runc exec failed (status ${r.status})`, `task "${id}"`);
      }
      return { execId, exit: exitRecord(r.status, signalName), stdout: r.stdout, stderr: r.stderr };
    } finally {
      removeTree(ep.dir);
    }
  }

  const cfg: ProcConfig = {
    version: 1, kind: 'exec', namespace: ctx.namespace, id, execId, runc: proc.runc, bundle: proc.bundle, processFile,
    tty: Boolean(o.tty), stdin: false, logPath: proc.logPath, attachSocket: ep.attachSocket,
    consoleSocket: o.tty ? ep.consoleSocket : undefined, createdAt: new Date().toISOString(),
  };
  writeJsonAtomic(path.join(ep.dir, PROC_FILE), cfg);
  const [cmd, ...pre] = selfExec(o.shimScript ?? shimScript());
  const child = spawn(cmd!, [...pre, '--dir', ep.dir], { detached: true, stdio: 'ignore', cwd: ep.dir });
  let gone = false;
  child.on('exit', () => (gone = true));
  child.on('error', () => (gone = true));
  child.unref();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const start = readJson<StartRecord>(path.join(ep.dir, START_FILE));
    if (start?.ok) return { execId, pid: start.pid };
    if (start || gone || Date.now() > deadline) {
      for (let i = 0; i < 200 && !gone; i++) await new Promise((r) => setTimeout(r, 10));
      removeTree(ep.dir);
      if (start) throw classifyRuncError(start.error ?? 'exec failed', `task "${id}"`);
      throw unavailable(gone ? 'the exec shim exited before the process started' : 'the exec did not start in time', { subject: `task "${id}"` });
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A detached exec's exit, once recorded. */
export function execExit(ctx: OpContext, id: string, execId: string): ExitRecord | undefined {
  return readProcFiles(execPaths(paths(ctx, id), ctx.namespace, id, execId).dir)?.exit;
}
