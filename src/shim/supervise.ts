/**
 * The shim's one job: run the task's process, copy its output into the log
 * and to attach clients, and report the start (start.json) and the end
 * (exit.json), both atomically. Two ways to run it, chosen by reality:
 *
 *  - no tty: `runc run` (or `runc exec`) stays in the foreground as our
 *    child. runc is then the subreaper, forwards signals and exits with the
 *    process's status (128+N for signal N); runc copies stdio through our
 *    pipes. Start verdict: runc writes --pid-file only once the process
 *    runs; runc exiting first is a failed start.
 *  - tty: runc only accepts --console-socket when it detaches ("cannot use
 *    console socket if runc will not detach or allocate tty"), so, as
 *    containerd's shim does: become the child subreaper, `runc create
 *    --console-socket` (the init is re-parented to us when runc exits),
 *    receive the pty master, `runc start`, reap the init ourselves with
 *    waitpid (libuv only reaps what it spawned), then `runc delete`.
 *    `runc exec --detach` the same way for an exec.
 *
 * runc's own errors are read back from runc.log (json), else its stderr.
 * Before the start verdict stderr is held back: it is runc's until the
 * container runs, the container's after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  PR_SET_CHILD_SUBREAPER, closeFd, getWinsize, onSignals, prctl, procStartTime, selfPid, setWinsize, signalName,
  signalNumber, signalProcess, waitpidNoHang,
} from '../platform/index.js';
import { AttachServer, JsonLogWriter, readJson, writeJsonAtomic, type Stream } from './io.js';
import { MasterWriter, listenConsole, pumpMaster } from './console.js';
import { FRAME } from './protocol.js';
import {
  EXIT_FILE, PID_FILE, PROC_FILE, RUNC_LOG, SHIM_FILE, START_FILE,
  exitRecord, type ProcConfig, type StartRecord, type SupervisorRecord,
} from './layout.js';

const POLL_MS = 5;
const REAP_POLL_MS = 250;
const DRAIN_MS = 2000;
const PRESTART_STDERR_MAX = 64 * 1024;

function globalArgs(cfg: ProcConfig, dir: string): string[] {
  const a = ['--root', cfg.runc.root, '--log', path.join(dir, RUNC_LOG), '--log-format', 'json'];
  if (cfg.runc.systemdCgroup) a.push('--systemd-cgroup');
  return a;
}

/** The foreground command line (no tty): `runc run` or `runc exec`. */
export function foregroundArgv(cfg: ProcConfig, dir: string): string[] {
  const a = globalArgs(cfg, dir);
  if (cfg.kind === 'init') {
    a.push('run', '--bundle', cfg.bundle, '--pid-file', path.join(dir, PID_FILE));
    if (cfg.runc.noPivot) a.push('--no-pivot');
    if (cfg.runc.noNewKeyring) a.push('--no-new-keyring');
  } else {
    a.push('exec', '--process', cfg.processFile!, '--pid-file', path.join(dir, PID_FILE));
  }
  a.push(cfg.id);
  return a;
}

/** The detaching command line (tty): `runc create` or `runc exec --detach`, with the console socket. */
export function detachArgv(cfg: ProcConfig, dir: string): string[] {
  const a = globalArgs(cfg, dir);
  if (cfg.kind === 'init') {
    a.push('create', '--bundle', cfg.bundle, '--pid-file', path.join(dir, PID_FILE));
    if (cfg.runc.noPivot) a.push('--no-pivot');
    if (cfg.runc.noNewKeyring) a.push('--no-new-keyring');
  } else {
    a.push('exec', '--detach', '--process', cfg.processFile!, '--pid-file', path.join(dir, PID_FILE));
  }
  a.push('--console-socket', cfg.consoleSocket!, cfg.id);
  return a;
}

/** The last error runc wrote to its json log. */
export function runcLogError(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let found: string | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const v = JSON.parse(line) as { level?: string; msg?: string };
      if ((v.level === 'error' || v.level === 'fatal') && typeof v.msg === 'string') found = v.msg;
    } catch {
      /* torn line */
    }
  }
  return found;
}

function lastLine(s: string): string | undefined {
  const l = s.split('\n').map((x) => x.trim()).filter(Boolean).at(-1);
  return l?.replace(/^time="[^"]*"\s+level=\w+\s+msg=/, '').replace(/^"(.*)"$/, '$1');
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A short runc command (create, start, delete, exec -d): resolves on exit, with its stderr. */
function runcOnce(cfg: ProcConfig, dir: string, argv: string[], diag: (l: string) => void): Promise<Exit & { stderr: string; error?: Error }> {
  diag(`exec ${cfg.runc.binary} ${argv.join(' ')}`);
  return new Promise((resolve) => {
    const c = spawn(cfg.runc.binary, argv, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    c.stderr!.on('data', (b: Buffer) => {
      if (err.length < 64) err.push(b);
    });
    c.on('error', (e) => resolve({ code: null, signal: null, stderr: '', error: e }));
    // Not 'close': whatever runc's stderr was handed to may outlive runc.
    c.on('exit', (code, signal) => setTimeout(() => resolve({ code, signal, stderr: Buffer.concat(err).toString('utf8') }), 10));
  });
}

function failure(cfg: ProcConfig, dir: string, r: { code: number | null; signal: string | null; stderr: string; error?: Error }): string {
  if (r.error) return `cannot run ${cfg.runc.binary}: ${r.error.message}`;
  return runcLogError(path.join(dir, RUNC_LOG)) ?? lastLine(r.stderr) ?? `runc exited with status ${r.code ?? r.signal}`;
}

export async function supervise(dir: string, diag: (line: string) => void): Promise<number> {
  const cfg = readJson<ProcConfig>(path.join(dir, PROC_FILE));
  if (!cfg || cfg.version !== 1) throw new Error(`${path.join(dir, PROC_FILE)}: missing or not a ctrx process config`);
  if (cfg.kind === 'exec' && !cfg.processFile) throw new Error('exec without a process file');
  const me: SupervisorRecord = { pid: selfPid(), startTime: procStartTime(selfPid()) ?? 0, kind: 'shim' };
  writeJsonAtomic(path.join(dir, SHIM_FILE), me);

  // Who gets the shim's own SIGTERM: runc (foreground) or the process itself (tty path).
  let forward: (signal: string) => void = () => {};
  // The shim has its own session; a hangup or ^C meant for whoever started it is not for the task.
  onSignals(['SIGHUP', 'SIGINT'], () => {});
  onSignals(['SIGTERM', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'], (s) => forward(s));

  mkdirSync(path.dirname(cfg.attachSocket), { recursive: true, mode: 0o700 });
  const log = new JsonLogWriter(cfg.logPath);
  log.onDrop = (e) => diag(`log write failed, dropping output until it works again: ${e.message}`);
  let started = false;
  let preStderr: Buffer[] = [];
  let preStderrSize = 0;
  let masterFd: number | undefined;
  let master: MasterWriter | undefined;
  let child: ChildProcess | undefined;

  // Listening happens while runc starts; output before that only goes to the log (nobody can be attached yet).
  let attach: AttachServer | undefined;
  const attachReady = AttachServer.listen(cfg.attachSocket, {
    onInput: (d) => {
      if (master) master.write(d);
      else if (child?.stdin && !child.stdin.destroyed) child.stdin.write(d);
    },
    onResize: (rows, cols) => {
      if (masterFd !== undefined) setWinsize(masterFd, rows, cols);
    },
    onCloseStdin: () => child?.stdin?.end(),
  }).then((a) => (attach = a));
  const sink = (stream: Stream, b: Buffer): void => {
    log.write(stream, b);
    attach?.send(stream === 'stdout' ? FRAME.STDOUT : FRAME.STDERR, b);
  };
  const pidFile = path.join(dir, PID_FILE);

  const fail = async (error: string): Promise<number> => {
    diag(`start failed: ${error}`);
    writeJsonAtomic(path.join(dir, START_FILE), { ok: false, error } satisfies StartRecord);
    log.close();
    await (await attachReady).close();
    if (masterFd !== undefined) closeFd(masterFd);
    return 1;
  };
  // Attach must work as soon as ctrx reports the start: the socket listens before start.json says so.
  const begin = async (pid: number): Promise<void> => {
    await attachReady;
    started = true;
    for (const b of preStderr) sink('stderr', b);
    preStderr = [];
    writeJsonAtomic(path.join(dir, START_FILE), { ok: true, pid } satisfies StartRecord);
    diag(`started pid ${pid}`);
  };

  let status: number;
  let ptyDone: Promise<void> = Promise.resolve();

  if (!cfg.tty) {
    const argv = foregroundArgv(cfg, dir);
    diag(`exec ${cfg.runc.binary} ${argv.join(' ')}`);
    child = spawn(cfg.runc.binary, argv, { cwd: dir, stdio: [cfg.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    // By pid, not child.kill(): Deno would then report the signal as runc's exit. Our child: not recyclable before its exit.
    forward = (s) => {
      if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) signalProcess(child.pid, s);
    };
    child.stdin?.on('error', () => {});
    let exit: Exit | undefined;
    let spawnError: Error | undefined;
    const closed = new Promise<void>((resolve) => {
      child!.on('error', (e) => {
        spawnError = e;
        resolve();
      });
      child!.on('exit', (code, signal) => {
        exit = { code, signal };
      });
      child!.on('close', (code, signal) => {
        exit ??= { code, signal };
        resolve();
      });
    });
    child.stdout!.on('data', (b: Buffer) => sink('stdout', b));
    child.stderr!.on('data', (b: Buffer) => {
      if (started) return sink('stderr', b);
      if (preStderrSize < PRESTART_STDERR_MAX) {
        preStderr.push(b);
        preStderrSize += b.length;
      }
    });
    // The pid file appearing is the start; runc exiting without one is a failure.
    const pid = await new Promise<number | undefined>((resolve) => {
      const tick = (): void => {
        const p = existsSync(pidFile) ? readPid(pidFile) : undefined;
        if (p !== undefined || exit || spawnError) {
          clearInterval(t);
          resolve(p);
        }
      };
      const t = setInterval(tick, POLL_MS);
      tick();
    });
    if (pid === undefined) {
      await Promise.race([closed, sleep(DRAIN_MS)]);
      const stderr = Buffer.concat(preStderr).toString('utf8');
      return fail(failure(cfg, dir, { code: exit?.code ?? null, signal: exit?.signal ?? null, stderr, error: spawnError }));
    }
    await begin(pid);
    await closed;
    const e = exit ?? { code: null, signal: null };
    status = e.code ?? 128 + (e.signal ? signalNumber(e.signal) ?? 0 : 0);
  } else {
    const rc = prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (rc !== 0) return fail(`cannot become the child subreaper (errno ${rc})`);
    const cons = listenConsole(cfg.consoleSocket!);
    let creatorDone = false;
    const masterP = cons.master(() => creatorDone);
    const created = await runcOnce(cfg, dir, detachArgv(cfg, dir), diag);
    creatorDone = true;
    const m = await masterP.catch((e: Error) => e);
    if (created.code !== 0 || created.error) {
      if (!(m instanceof Error)) closeFd(m.fd);
      if (cfg.kind === 'init') await runcOnce(cfg, dir, [...globalArgs(cfg, dir), 'delete', '--force', cfg.id], diag);
      return fail(failure(cfg, dir, created));
    }
    const pid = readPid(pidFile);
    if (m instanceof Error || pid === undefined) {
      if (!(m instanceof Error)) closeFd(m.fd);
      if (pid) signalProcess(pid, 'SIGKILL');
      if (cfg.kind === 'init') await runcOnce(cfg, dir, [...globalArgs(cfg, dir), 'delete', '--force', cfg.id], diag);
      return fail(m instanceof Error ? m.message : 'runc wrote no pid file');
    }
    masterFd = m.fd;
    master = new MasterWriter(m.fd);
    const ws = getWinsize(m.fd);
    if (!ws || ws.rows === 0) setWinsize(m.fd, 24, 80);
    ptyDone = new Promise<void>((resolve) => pumpMaster(m.fd, (b) => sink('stdout', b), resolve));
    if (cfg.kind === 'init') {
      const s = await runcOnce(cfg, dir, [...globalArgs(cfg, dir), 'start', cfg.id], diag);
      if (s.code !== 0 || s.error) {
        await runcOnce(cfg, dir, [...globalArgs(cfg, dir), 'delete', '--force', cfg.id], diag);
        return fail(failure(cfg, dir, s));
      }
    }
    forward = (s) => signalProcess(pid, s);
    await begin(pid);
    status = await reap(pid, diag);
    if (cfg.kind === 'init') {
      // The exit status is ours; keep runc's root free of stopped containers, as `runc run` does.
      await runcOnce(cfg, dir, [...globalArgs(cfg, dir), 'delete', '--force', cfg.id], diag);
    }
  }

  const drained = await Promise.race([ptyDone.then(() => true), sleep(DRAIN_MS).then(() => false)]);
  if (!drained) diag('pty output did not end within the drain time');
  const rec = exitRecord(status, signalName);
  log.close();
  writeJsonAtomic(path.join(dir, EXIT_FILE), rec);
  diag(`exited status ${status}`);
  await (await attachReady).close(rec);
  if (masterFd !== undefined) closeFd(masterFd);
  return status;
}

/** Waits for a re-parented child (SIGCHLD, with a slow poll as a safety net). */
function reap(pid: number, diag: (l: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const check = (): void => {
      const r = waitpidNoHang(pid);
      if (r === undefined) return;
      if (r.errno !== undefined) {
        // Not our child after all (no subreaper?): all we can do is watch it go.
        if (procStartTime(pid) !== undefined) return;
        diag(`waitpid ${pid}: errno ${r.errno}; exit status unknown`);
        return done(255);
      }
      done(r.code ?? 128 + (r.signal ?? 0));
    };
    const done = (s: number): void => {
      clearInterval(t);
      off();
      resolve(s);
    };
    const off = onSignals(['SIGCHLD'], check);
    const t = setInterval(check, REAP_POLL_MS);
    check();
  });
}
