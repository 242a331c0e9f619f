/**
 * Where a task lives on disk, shared by the task manager (which writes
 * proc.json and forks the shim) and the shim (which reads it).
 *
 *   <state>/ctrx/<ns>/<id>/            the task's process dir (0711), also the default bundle
 *     proc.json     what to run: written by the manager before the fork
 *     shim.json     {pid, startTime} of the supervisor (shim, or a foreground ctrx)
 *     init.pid      runc's --pid-file (written by runc once the process runs)
 *     start.json    the shim's verdict on the start: {ok:true,pid} | {ok:false,error}
 *     exit.json     {status, signal?, exitedAt}: written once, atomically, when the process ended
 *     runc.log      runc's --log (json): its own errors, never the container's output
 *     shim.log      the shim's own diagnostics
 *     execs/<execId>/  the same files for an exec'd process
 *   <state>/ctrx/_s/<hash>.a | .c      attach and console sockets (dir 0700; short: sun_path is 108 bytes)
 *   <root>/ctrx/<ns>/<id>/task.log     the output log; under root so it survives a reboot-wiped state
 *
 * runc's own root is `<state>/runc/<ns>` (containerd's layout), so `runc list`
 * and containerd's tasks are visible both ways. The paths are computed by
 * the manager (src/tasks/paths.ts): the shim reads them from proc.json and
 * loads nothing it does not need (node:crypto among them).
 */

export const PROC_FILE = 'proc.json';
export const SHIM_FILE = 'shim.json';
export const PID_FILE = 'init.pid';
export const START_FILE = 'start.json';
export const EXIT_FILE = 'exit.json';
export const RUNC_LOG = 'runc.log';
export const SHIM_LOG = 'shim.log';
export const EXECS_DIR = 'execs';
export const LOG_NAME = 'task.log';

/** Longest unix socket path (sun_path is 108 bytes including the NUL). */
export const MAX_SOCKET_PATH = 107;

export interface RuncSettings {
  binary: string;
  /** runc's --root (already including the namespace). */
  root: string;
  systemdCgroup?: boolean;
  noPivot?: boolean;
  noNewKeyring?: boolean;
}

/** proc.json: everything the shim needs, so its command line is only `--dir`. */
export interface ProcConfig {
  version: 1;
  kind: 'init' | 'exec';
  namespace: string;
  id: string;
  execId?: string;
  runc: RuncSettings;
  bundle: string;
  /** exec only: the OCI process JSON handed to `runc exec --process`. */
  processFile?: string;
  tty: boolean;
  /** Keep a stdin pipe open for attach (non-tty); a tty always takes input. */
  stdin: boolean;
  logPath: string;
  attachSocket: string;
  consoleSocket?: string;
  createdAt: string;
}

export interface SupervisorRecord {
  pid: number;
  startTime: number;
  kind: 'shim' | 'foreground';
}

export interface StartRecord {
  ok: boolean;
  pid?: number;
  error?: string;
}

export interface ExitRecord {
  /** The exit status as runc reports it: the code, or 128+N for a process killed by signal N. */
  status: number;
  /** Inferred from status > 128 (runc reports a signal death as 128+N), absent otherwise. */
  signal?: string;
  exitedAt: string;
  /** Set when the status could not be observed (supervisor gone): status is then 255. */
  unknown?: boolean;
}


/** runc reports a process killed by signal N as status 128+N. */
export function exitRecord(status: number, signalName: (n: number) => string | undefined, unknown = false): ExitRecord {
  const rec: ExitRecord = { status, exitedAt: new Date().toISOString() };
  if (status > 128 && status < 128 + 65) {
    const s = signalName(status - 128);
    if (s) rec.signal = s;
  }
  if (unknown) rec.unknown = true;
  return rec;
}
