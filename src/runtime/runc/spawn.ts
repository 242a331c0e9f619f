/**
 * Running the runc binary: bounded output, a deadline, and errors that
 * carry runc's own words. Two shapes:
 *  - exec(): a verb that returns (state, kill, create, …): stdout kept up
 *    to a limit, stderr's tail kept, runc killed at the deadline;
 *  - foreground(): run / exec without --detach, left to the caller.
 *
 * `create` and `exec --detach` hand runc's stdio to the container's
 * process, so completion is runc's exit, never the close of its pipes (the
 * container keeps them open), and stdio of such verbs is never piped here.
 */
import { spawn, type ChildProcess, type StdioOptions as NodeStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CtrxError, internal, invalidArgument, unavailable } from '../../errdefs.js';
import { RUNC_INSTALL_HINT } from './version.js';
import { classifyRuncError, fileSize, lastLogError, readLogSince, stderrMessage } from './errors.js';
import type { ExitStatus, RuncChild, StdioOptions, StdioTarget } from './types.js';

export interface ExecRequest {
  binary: string;
  argv: string[];
  /** What the error is about, e.g. `container "web"`. */
  subject: string;
  timeoutMs: number;
  maxErrorBytes: number;
  maxOutputBytes: number;
  /** stdout is wanted (JSON verbs): piped, bounded, returned. */
  captureStdout?: boolean;
  /** Bytes written to runc's stdin (update --resources -). */
  input?: string;
  /** Stdio handed through (create, exec --detach); stderr then comes from the log only. */
  passStdio?: StdioOptions;
  /** runc's log file and its size before the call, for the error message. */
  log?: { file: string; from: number };
}

export interface ExecResult {
  stdout: string;
}

/** A bounded sink: keeps the last `max` bytes, counts what was dropped. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  dropped = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > this.max && this.chunks.length > 0) {
      const over = this.size - this.max;
      const first = this.chunks[0]!;
      if (first.length <= over) {
        this.chunks.shift();
        this.size -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.size -= over;
        this.dropped += over;
      }
    }
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function stdioOf(t: StdioTarget | undefined, dflt: 'ignore' | 'pipe' | 'inherit'): 'ignore' | 'pipe' | 'inherit' | number {
  return t ?? dflt;
}

function spawnError(err: NodeJS.ErrnoException, binary: string, subject: string): CtrxError {
  if (err.code === 'ENOENT') return unavailable(`${binary}: not found`, { subject: 'runc', hint: RUNC_INSTALL_HINT, cause: err });
  if (err.code === 'EACCES') return unavailable(`${binary}: not executable`, { subject: 'runc', hint: RUNC_INSTALL_HINT, cause: err });
  return internal(`cannot start ${binary}: ${err.message}`, { subject, cause: err });
}

/** The error for a runc that exited non-zero: log's last error, else stderr's last line. */
export function failure(req: Pick<ExecRequest, 'argv' | 'subject' | 'log' | 'maxErrorBytes'>, code: number | null, signal: string | null, stderr: string): CtrxError {
  const fromLog = req.log ? lastLogError(readLogSince(req.log.file, req.log.from, req.maxErrorBytes)) : undefined;
  const fromStderr = stderrMessage(stderr);
  const verb = verbOf(req.argv) || 'runc';
  const how = signal ? `killed by ${signal}` : `exit status ${code}`;
  const msg = fromLog ?? fromStderr ?? `runc ${verb} failed (${how})`;
  return classifyRuncError(msg, req.subject);
}

const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--rootless', '--criu']);

export function execRunc(req: ExecRequest): Promise<ExecResult> {
  const pass = req.passStdio;
  if (pass && [pass.stdin, pass.stdout, pass.stderr].includes('pipe')) {
    // Nobody would read such a pipe once runc returned: the container would block on a full pipe.
    return Promise.reject(invalidArgument("stdio of a detached process must be 'ignore', 'inherit' or an open fd, not 'pipe'", { subject: req.subject }));
  }
  return new Promise((resolve, reject) => {
    const stdio: NodeStdio = pass
      ? [stdioOf(pass.stdin, 'ignore'), stdioOf(pass.stdout, 'ignore'), stdioOf(pass.stderr, 'ignore')]
      : [req.input !== undefined ? 'pipe' : 'ignore', req.captureStdout ? 'pipe' : 'ignore', 'pipe'];
    let child: ChildProcess;
    try {
      child = spawn(req.binary, req.argv, { stdio });
    } catch (e) {
      reject(spawnError(e as NodeJS.ErrnoException, req.binary, req.subject));
      return;
    }
    const out: Buffer[] = [];
    let outSize = 0;
    let overflow = false;
    const err = new Tail(req.maxErrorBytes);
    let timedOut = false;
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, req.timeoutMs);
    if (!pass && child.stdout) {
      child.stdout.on('data', (b: Buffer) => {
        if (overflow) return;
        outSize += b.length;
        if (outSize > req.maxOutputBytes) {
          overflow = true;
          out.length = 0;
          child.kill('SIGKILL');
          return;
        }
        out.push(b);
      });
    }
    if (!pass && child.stderr) child.stderr.on('data', (b: Buffer) => err.push(b));
    if (child.stdin) {
      child.stdin.on('error', () => {
        /* runc may exit without reading */
      });
      child.stdin.end(req.input ?? '');
    }
    child.once('error', (e) => finish(() => reject(spawnError(e as NodeJS.ErrnoException, req.binary, req.subject))));
    const settle = (code: number | null, signal: NodeJS.Signals | null): void => {
      finish(() => {
        if (timedOut) {
          reject(unavailable(`runc ${verbOf(req.argv)} did not finish within ${req.timeoutMs} ms and was killed`, { subject: req.subject }));
        } else if (overflow) {
          reject(internal(`runc ${verbOf(req.argv)} printed more than ${req.maxOutputBytes} bytes`, { subject: req.subject }));
        } else if (code !== 0) {
          reject(failure(req, code, signal, err.text()));
        } else {
          resolve({ stdout: Buffer.concat(out).toString('utf8') });
        }
      });
    };
    // With passed stdio the container may hold runc's pipes: runc's exit is the end. Otherwise the pipes'
    // close is (all output read), with a short grace after exit in case something runc left behind holds them.
    if (pass) child.once('exit', settle);
    else {
      child.once('close', settle);
      child.once('exit', (code, signal) => {
        const grace = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          settle(code, signal);
        }, PIPE_GRACE_MS);
        grace.unref();
      });
    }
  });
}

const PIPE_GRACE_MS = 1000;

function verbOf(argv: string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (GLOBAL_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-')) return a;
  }
  return '';
}

const SIGNUM: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

export interface ForegroundRequest {
  binary: string;
  argv: string[];
  subject: string;
  stdio?: StdioOptions;
  log?: { file: string; from: number };
  maxErrorBytes: number;
  /** Removed once runc has exited (per-call log and process files). */
  cleanup?: () => void;
}

/**
 * runc left in the foreground. Its exit status is the container's; a
 * non-zero status with an error in runc's log (and no container started)
 * is runc's own failure and rejects.
 */
export function foreground(req: ForegroundRequest): RuncChild {
  const s = req.stdio ?? {};
  const child = spawn(req.binary, req.argv, {
    stdio: [stdioOf(s.stdin, 'pipe'), stdioOf(s.stdout, 'pipe'), stdioOf(s.stderr, 'pipe')],
  });
  const done = new Promise<ExitStatus>((resolve, reject) => {
    child.once('error', (e) => {
      req.cleanup?.();
      reject(spawnError(e as NodeJS.ErrnoException, req.binary, req.subject));
    });
    child.once('exit', (code, signal) => {
      try {
        if (signal) {
          resolve({ status: 128 + (SIGNUM[signal] ?? 0), signal });
          return;
        }
        const logErr = req.log ? lastLogError(readLogSince(req.log.file, req.log.from, req.maxErrorBytes)) : undefined;
        // runc exits 1 with an error logged when it failed itself; the container's own exit 1 logs nothing.
        if (code !== 0 && logErr) reject(classifyRuncError(logErr, req.subject));
        else resolve({ status: code ?? 1 });
      } finally {
        req.cleanup?.();
      }
    });
  });
  done.catch(() => {});
  return {
    pid: child.pid ?? -1,
    argv: [req.binary, ...req.argv],
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    wait: () => done,
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
  };
}

/** A private temp dir for one call's log or process file, and its remover. */
export function callDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctrx-runc-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export { fileSize };
