/**
 * A task's status, derived from what can be checked, never remembered:
 * runc's state (runc verifies the init's pid against its start time), the
 * supervisor's pid checked against the start time recorded next to it (a
 * recycled pid is never taken for the shim, never signalled), and the exit
 * file the shim writes atomically. The cases:
 *
 *   exit.json                          stopped, with the recorded status
 *   runc has it, supervisor alive      runc's status (created/running/paused/stopped)
 *   runc has it, supervisor gone       runc's status, `supervised: false` and a note:
 *                                      nothing logs its output or records its exit;
 *                                      kill / rm -f still work through runc
 *   no runc container, shim alive      starting (created) or just exited (stopped, status pending)
 *   no runc container, no shim         stopped, exit status unknown
 *   no task dir, runc has it           a task of containerd's (bundle under
 *                                      io.containerd.runtime.v2.task) or of plain runc
 *   neither                            no task (as after a reboot wiped `state`)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sameProcess } from '../platform/index.js';
import { readJson } from '../shim/io.js';
import {
  EXIT_FILE, PID_FILE, PROC_FILE, SHIM_FILE, START_FILE,
  type ExitRecord, type ProcConfig, type StartRecord, type SupervisorRecord,
} from '../shim/layout.js';
import type { RuncState } from '../runtime/runc/types.js';

export type TaskStatus = 'created' | 'running' | 'paused' | 'pausing' | 'stopped' | 'unknown';
export type TaskOwner = 'ctrx' | 'containerd' | 'runc';

export interface TaskInfo {
  id: string;
  namespace: string;
  owner: TaskOwner;
  status: TaskStatus;
  /** The init's host pid; 0 once stopped. */
  pid: number;
  /** A live supervisor (ctrx's shim, or the ctrx running it in the foreground) is watching; undefined for tasks not ctrx's. */
  supervised?: boolean;
  supervisor?: SupervisorRecord;
  exit?: ExitRecord;
  bundle?: string;
  tty?: boolean;
  /** Why the status is what it is, when that is not obvious (unsupervised, unknown exit). */
  note?: string;
  createdAt?: string;
  /** runc's view, when runc has the container. */
  runc?: RuncState;
}

/** What lies in a task's (or exec's) process dir. */
export interface ProcFiles {
  dir: string;
  proc?: ProcConfig;
  supervisor?: SupervisorRecord;
  start?: StartRecord;
  exit?: ExitRecord;
  pid?: number;
}

export function readProcFiles(dir: string): ProcFiles | undefined {
  if (!existsSync(dir)) return undefined;
  let pid: number | undefined;
  try {
    const n = Number(readFileSync(path.join(dir, PID_FILE), 'utf8').trim());
    if (Number.isInteger(n) && n > 0) pid = n;
  } catch {
    /* not started */
  }
  return {
    dir,
    proc: readJson<ProcConfig>(path.join(dir, PROC_FILE)),
    supervisor: readJson<SupervisorRecord>(path.join(dir, SHIM_FILE)),
    start: readJson<StartRecord>(path.join(dir, START_FILE)),
    exit: readJson<ExitRecord>(path.join(dir, EXIT_FILE)),
    pid,
  };
}

/** True when the recorded supervisor is alive and is the same process (pid + start time). */
export function supervisorAlive(s: SupervisorRecord | undefined, same: (pid: number, start: number) => boolean = sameProcess): boolean {
  return Boolean(s && s.pid > 0 && same(s.pid, s.startTime));
}

const CONTAINERD_BUNDLE = /\/io\.containerd\.runtime\.v[12]\.(task|linux)\//;

export function ownerOfBundle(bundle: string | undefined): TaskOwner {
  return bundle && CONTAINERD_BUNDLE.test(bundle + '/') ? 'containerd' : 'runc';
}

/** ctrx's task dir for a task is `<state>/ctrx/<ns>/<id>` (see paths.ts); the bundle of every task ctrx starts for a container. */
function isOwnTaskDir(bundle: string | undefined, namespace: string, id: string): boolean {
  return Boolean(bundle && path.posix.normalize(bundle).endsWith(`/ctrx/${namespace}/${id}`));
}

const TASK_DIR_GONE = "ctrx's state for this task is gone (wiped state dir): nothing logs its output or records its exit; kill and rm -f still work";

const UNSUPERVISED = "the task's shim is gone: its output is no longer logged and its exit status will not be recorded; kill and rm -f still work";

export function deriveTask(
  id: string,
  namespace: string,
  files: ProcFiles | undefined,
  runc: RuncState | undefined,
  alive: (s: SupervisorRecord | undefined) => boolean = (s) => supervisorAlive(s),
): TaskInfo | undefined {
  if (!files) {
    if (!runc) return undefined;
    // runc still has a container whose bundle is ctrx's own task dir, gone (a wiped state dir): ctrx's, unsupervised.
    const own = isOwnTaskDir(runc.bundle, namespace, id);
    return {
      id, namespace, owner: own ? 'ctrx' : ownerOfBundle(runc.bundle), status: runcStatus(runc), pid: runc.status === 'stopped' ? 0 : runc.pid,
      bundle: runc.bundle, createdAt: runc.created, runc, ...(own ? { supervised: false, note: TASK_DIR_GONE } : {}),
    };
  }
  // A bundle prepared in the task dir before any start (no proc.json) is not a task yet.
  if (!files.proc && !files.supervisor && !runc) return undefined;
  const proc = files.proc;
  const supervised = alive(files.supervisor);
  const base: TaskInfo = {
    id, namespace, owner: 'ctrx', status: 'unknown', pid: 0, supervised,
    supervisor: files.supervisor, exit: files.exit, bundle: proc?.bundle, tty: proc?.tty, createdAt: proc?.createdAt, runc,
  };
  if (runc && runc.status !== 'stopped') {
    base.status = runcStatus(runc);
    base.pid = runc.pid;
    if (!supervised) base.note = UNSUPERVISED;
    return base;
  }
  base.status = 'stopped';
  if (files.exit) return base;
  if (supervised) {
    if (!files.start) {
      base.status = 'created';
      base.note = 'starting';
    } else if (!files.start.ok) {
      base.note = `failed to start: ${files.start.error ?? 'unknown error'}`;
    } else {
      base.note = 'exited; the shim is recording the exit status';
    }
    return base;
  }
  if (files.start && !files.start.ok) base.note = `failed to start: ${files.start.error ?? 'unknown error'}`;
  else if (!proc) base.note = 'incomplete task state (no proc.json)';
  else base.note = 'the supervisor is gone and no exit status was recorded';
  return base;
}

function runcStatus(s: RuncState): TaskStatus {
  switch (s.status) {
    case 'creating':
    case 'created':
      return 'created';
    case 'running':
    case 'paused':
    case 'stopped':
      return s.status;
    default:
      return 'unknown';
  }
}

/** Task ids with a dir under `<state>/ctrx/<ns>/` (socket dir and stray files skipped). */
export function taskDirIds(nsDir: string): string[] {
  try {
    return readdirSync(nsDir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}
