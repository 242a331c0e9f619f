/**
 * runc in the foreground of a ctrx command (`run` without -d, `exec`
 * without -d): runc's status is the process's (128+N for signal N).
 *
 * Without a tty runc gets a session of its own, so a ^C from the terminal
 * reaches only ctrx, which forwards it once (were runc in our process group
 * it would get the terminal's SIGINT too and forward it a second time).
 * With a tty runc must stay in our session: it opens /dev/tty, puts it in
 * raw mode (so the terminal sends no SIGINT at all) and forwards SIGWINCH
 * itself; ctrx then forwards only what a terminal does not send.
 */
import { spawn } from 'node:child_process';
import { onSignals, signalNumber, signalProcess } from '../platform/index.js';
import { unavailable, internal } from '../errdefs.js';
import type { StdioTarget } from '../runtime/runc/types.js';

export interface ForegroundStdio {
  stdin?: StdioTarget;
  stdout?: StdioTarget;
  stderr?: StdioTarget;
}

export interface ForegroundResult {
  status: number;
  /** Set when runc itself was killed by a signal. */
  runcSignal?: string;
  stdout?: Buffer;
  stderr?: Buffer;
}

const FORWARD_NO_TTY = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];
const FORWARD_TTY = ['SIGTERM', 'SIGUSR1', 'SIGUSR2'];
// With a tty these come from the terminal to runc directly; ctrx must only survive them.
const IGNORE_TTY = ['SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGWINCH'];

const OUTPUT_MAX = 16 * 1024 * 1024;

export function runcForeground(
  binary: string,
  argv: string[],
  o: { tty: boolean; stdio?: ForegroundStdio; input?: string | Buffer; cwd?: string; onSpawn?: (pid: number) => void },
): Promise<ForegroundResult> {
  const s = o.stdio ?? {};
  const stdin = o.input !== undefined ? 'pipe' : s.stdin ?? 'inherit';
  const child = spawn(binary, argv, {
    cwd: o.cwd,
    stdio: [stdin, s.stdout ?? 'inherit', s.stderr ?? 'inherit'],
    detached: !o.tty,
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let size = 0;
  const keep = (arr: Buffer[]) => (b: Buffer) => {
    size += b.length;
    if (size <= OUTPUT_MAX) arr.push(b);
  };
  child.stdout?.on('data', keep(out));
  child.stderr?.on('data', keep(err));
  if (child.stdin) {
    child.stdin.on('error', () => {});
    if (o.input !== undefined) child.stdin.end(o.input);
  }
  // By pid, not child.kill(): Deno then reports the signal as the exit even when runc exited with a code.
  // The pid cannot be recycled before we have seen the exit (we are the parent).
  const offForward = onSignals(o.tty ? FORWARD_TTY : FORWARD_NO_TTY, (sig) => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) signalProcess(child.pid, sig);
  });
  const offIgnore = o.tty ? onSignals(IGNORE_TTY, () => {}) : () => {};
  if (child.pid !== undefined) o.onSpawn?.(child.pid);
  return new Promise((resolve, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) => {
      offForward();
      offIgnore();
      reject(e.code === 'ENOENT' ? unavailable(`${binary}: not found`, { subject: 'runc' }) : internal(`cannot run ${binary}: ${e.message}`, { cause: e }));
    });
    child.once('close', (code, signal) => {
      offForward();
      offIgnore();
      const r: ForegroundResult = { status: code ?? 128 + (signal ? signalNumber(signal) ?? 0 : 0) };
      if (signal) r.runcSignal = signal;
      if (child.stdout) r.stdout = Buffer.concat(out);
      if (child.stderr) r.stderr = Buffer.concat(err);
      resolve(r);
    });
  });
}
