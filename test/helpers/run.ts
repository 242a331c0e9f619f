/**
 * Running external programs from tests: bounded in time, output captured,
 * and never left behind. Every child is started in its own process group so
 * a timeout can take down whatever it forked (ctr, runc, shells) without
 * touching anything this process did not start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atExit } from './exit.js';

export interface RunOptions {
  /** Milliseconds before the whole process group gets SIGKILL (default 60 s). */
  timeoutMs?: number;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Throw when the exit code is not 0 (default false: callers assert on `code`). */
  check?: boolean;
}

export interface RunResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export class RunError extends Error {
  constructor(
    readonly command: string[],
    readonly result: RunResult,
  ) {
    const why = result.timedOut ? 'timed out' : result.signal ? `killed by ${result.signal}` : `exited ${result.code}`;
    super(`${command.join(' ')} ${why}\nstdout: ${tail(result.stdout)}\nstderr: ${tail(result.stderr)}`);
  }
}

function tail(s: string, n = 2000): string {
  return s.length > n ? '…' + s.slice(-n) : s;
}

const live = new Set<ChildProcess>();

// A test file that throws or is interrupted must not leave its children running.
atExit('kill', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** Runs `cmd args…` to completion (or timeout) and returns code and output. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    live.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      live.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      const result: RunResult = {
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        durationMs: Date.now() - started,
      };
      if (opts.check && (code !== 0 || timedOut)) reject(new RunError([cmd, ...args], result));
      else resolve(result);
    });
    child.stdin!.on('error', () => {
      /* the child may exit without reading its input */
    });
    child.stdin!.end(opts.input ?? '');
  });
}

/** Like run() but throws RunError unless the exit code is 0. */
export function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(cmd, args, { ...opts, check: true });
}

let cachedRoot: string | undefined;

/** The project root: the nearest ancestor of this module holding ctrx's package.json (works from test/ and dist/test/). */
export function projectRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'ctrx') return (cachedRoot = dir);
      } catch {
        /* keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('ctrx project root not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The runtime CLI tests exercise: CTRX_TEST_RUNTIME=deno selects Deno 2, anything else Node. */
export function testRuntime(): 'node' | 'deno' {
  return process.env.CTRX_TEST_RUNTIME === 'deno' ? 'deno' : 'node';
}

/**
 * The command line of the built CLI, `[program, ...args]`; append ctrx's own
 * arguments. The script is package.json's `bin` (the bundle), falling back to
 * tsc's dist/bin/ctrx.js; Deno needs `run -A` and comes from the devDependency.
 */
export function ctrxBin(runtime: 'node' | 'deno' = testRuntime()): string[] {
  const root = projectRoot();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
  const candidates = [pkg.bin?.ctrx, 'dist/bin/ctrx.js'].filter((p): p is string => !!p).map((p) => join(root, p));
  const script = candidates.find((p) => existsSync(p)) ?? candidates[0]!;
  if (runtime === 'deno') return [join(root, 'node_modules', '.bin', 'deno'), 'run', '-A', '--quiet', script];
  return [process.execPath, script];
}

/** Runs the built CLI with `args` (see ctrxBin). */
export function runCtrx(args: readonly string[], opts: RunOptions & { runtime?: 'node' | 'deno' } = {}): Promise<RunResult> {
  const [cmd, ...pre] = ctrxBin(opts.runtime);
  return run(cmd!, [...pre, ...args], opts);
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 10_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` + (lastError ? `: ${String(lastError)}` : ''));
    }
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
