/**
 * A typed client for the runc binary (go-runc's shape): one method per
 * verb, options that become argv, JSON output parsed into types, errors as
 * CtrxError with runc's own message and a category.
 *
 * Every verb that can start a container process (create, run, exec) runs
 * with `--log <file> --log-format json` — the client's log when one is
 * configured, else a per-call file — because those verbs hand their stdio
 * to the container, so runc's error can only be read back from its log.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { internal, invalidArgument } from '../../errdefs.js';
import type { OpContext } from '../../context.js';
import { validateId } from '../../identifiers.js';
import { callDir, execRunc, fileSize, foreground, type ExecRequest } from './spawn.js';
import { parseRuncVersion } from './version.js';
import type {
  CreateOptions, DeleteOptions, ExecOptions, KillOptions, LinuxResources, ProcessSpec, RunOptions,
  RuncChild, RuncClientOptions, RuncContainer, RuncState, RuncStats, RuncVersionInfo,
} from './types.js';

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_ERROR = 64 * 1024;
const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

const SIGNAL = /^(SIG[A-Z0-9+-]+|[A-Z0-9+-]+|\d{1,2})$/;

/** Quote one argv word for a debug line. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export class Runc {
  readonly binary: string;
  private readonly o: RuncClientOptions;

  constructor(opts: RuncClientOptions = {}) {
    this.o = opts;
    this.binary = opts.binary || 'runc';
  }

  /** Global flags, in runc's order. `logOverride` replaces the client's log for one call. */
  globalArgs(logOverride?: string): string[] {
    const a: string[] = [];
    if (this.o.root) a.push('--root', this.o.root);
    const log = logOverride ?? this.o.log;
    if (log) a.push('--log', log);
    const fmt = logOverride && logOverride !== this.o.log ? 'json' : this.o.logFormat;
    if (log && fmt) a.push('--log-format', fmt);
    if (this.o.systemdCgroup) a.push('--systemd-cgroup');
    if (this.o.debug) a.push('--debug');
    if (this.o.rootless !== undefined) a.push('--rootless', String(this.o.rootless));
    return a;
  }

  private debugLine(argv: string[]): void {
    this.o.onDebug?.([this.binary, ...argv].map(shellWord).join(' '));
  }

  private request(argv: string[], subject: string, extra: Partial<ExecRequest> = {}): ExecRequest {
    this.debugLine(argv);
    return {
      binary: this.binary,
      argv,
      subject,
      timeoutMs: this.o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxErrorBytes: this.o.maxErrorBytes ?? DEFAULT_MAX_ERROR,
      maxOutputBytes: this.o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
      log: this.o.log ? { file: this.o.log, from: fileSize(this.o.log) } : undefined,
      ...extra,
    };
  }

  /** A log to read errors back from: the client's, or a fresh per-call one. */
  private callLog(): { file: string; from: number; remove: () => void } {
    if (this.o.log) return { file: this.o.log, from: fileSize(this.o.log), remove: () => {} };
    const d = callDir();
    return { file: path.join(d.dir, 'log.json'), from: 0, remove: d.remove };
  }

  private async simple(argv: string[], id: string): Promise<void> {
    await execRunc(this.request([...this.globalArgs(), ...argv, id], subjectOf(id)));
  }

  private async json<T>(argv: string[], subject: string): Promise<T> {
    const { stdout } = await execRunc(this.request([...this.globalArgs(), ...argv], subject, { captureStdout: true }));
    try {
      return JSON.parse(stdout) as T;
    } catch {
      throw internal(`runc ${argv[0]} printed invalid JSON: ${JSON.stringify(stdout.slice(0, 200))}`, { subject });
    }
  }

  private containerArgs(o: CreateOptions): string[] {
    if (!o.bundle) throw invalidArgument('bundle is required');
    const a = ['--bundle', o.bundle];
    if (o.pidFile) a.push('--pid-file', o.pidFile);
    if (o.consoleSocket) a.push('--console-socket', o.consoleSocket);
    if (o.noPivot) a.push('--no-pivot');
    if (o.noNewKeyring) a.push('--no-new-keyring');
    return a;
  }

  /** `runc create`: the container's init waits for start. Its stdio is `opts.stdio` (default /dev/null). */
  async create(id: string, opts: CreateOptions): Promise<void> {
    checkId(id);
    const log = this.callLog();
    try {
      const argv = [...this.globalArgs(log.file), 'create', ...this.containerArgs(opts), id];
      await execRunc(this.request(argv, subjectOf(id), { passStdio: opts.stdio ?? {}, log }));
    } finally {
      log.remove();
    }
  }

  async start(id: string): Promise<void> {
    checkId(id);
    await this.simple(['start'], id);
  }

  /**
   * `runc run` in the foreground: the returned child's exit status is the
   * container's (runc forwards signals and reaps as subreaper). Never timed out.
   */
  run(id: string, opts: RunOptions & { keep?: boolean }): RuncChild {
    checkId(id);
    const containerArgs = this.containerArgs(opts);
    const log = this.callLog();
    const a = [...this.globalArgs(log.file), 'run', ...containerArgs];
    if (opts.detach) a.push('--detach');
    if (opts.keep) a.push('--keep');
    if (opts.noSubreaper) a.push('--no-subreaper');
    a.push(id);
    this.debugLine(a);
    return foreground({
      binary: this.binary, argv: a, subject: subjectOf(id), stdio: opts.stdio, log,
      maxErrorBytes: this.o.maxErrorBytes ?? DEFAULT_MAX_ERROR, cleanup: log.remove,
    });
  }

  async state(id: string): Promise<RuncState> {
    checkId(id);
    const s = await this.json<RuncState>(['state', id], subjectOf(id));
    if (!s || typeof s !== 'object' || typeof s.id !== 'string' || typeof s.status !== 'string') {
      throw internal('runc state printed an unexpected document', { subject: subjectOf(id) });
    }
    return s;
  }

  /** `runc list --format json` (runc prints `null` when there are none). */
  async list(): Promise<RuncContainer[]> {
    const v = await this.json<RuncContainer[] | null>(['list', '--format', 'json'], 'runc list');
    if (v === null) return [];
    if (!Array.isArray(v)) throw internal('runc list printed an unexpected document', { subject: 'runc list' });
    return v;
  }

  async kill(id: string, signal: string | number = 'SIGTERM', opts: KillOptions = {}): Promise<void> {
    checkId(id);
    const sig = String(signal);
    if (!SIGNAL.test(sig)) throw invalidArgument(`invalid signal ${JSON.stringify(sig)}`);
    const argv = [...this.globalArgs(), 'kill', ...(opts.all ? ['--all'] : []), id, sig];
    await execRunc(this.request(argv, subjectOf(id)));
  }

  async delete(id: string, opts: DeleteOptions = {}): Promise<void> {
    checkId(id);
    await this.simple(['delete', ...(opts.force ? ['--force'] : [])], id);
  }

  async pause(id: string): Promise<void> {
    checkId(id);
    await this.simple(['pause'], id);
  }

  async resume(id: string): Promise<void> {
    checkId(id);
    await this.simple(['resume'], id);
  }

  /** Host pids of the container's processes. */
  async ps(id: string): Promise<number[]> {
    checkId(id);
    const v = await this.json<number[] | null>(['ps', '--format', 'json', id], subjectOf(id));
    if (v === null) return [];
    if (!Array.isArray(v) || !v.every((p) => Number.isInteger(p))) throw internal('runc ps printed an unexpected document', { subject: subjectOf(id) });
    return v;
  }

  /** `runc exec --detach`: returns once the process runs (pid in `opts.pidFile`). Stdio default /dev/null. */
  async exec(id: string, proc: ProcessSpec, opts: ExecOptions = {}): Promise<void> {
    checkId(id);
    checkProcess(proc, opts);
    const log = this.callLog();
    const d = callDir();
    try {
      const argv = [...this.globalArgs(log.file), 'exec', '--detach', ...this.execArgs(d.dir, proc, opts), id];
      await execRunc(this.request(argv, subjectOf(id), { passStdio: opts.stdio ?? {}, log }));
    } finally {
      d.remove();
      log.remove();
    }
  }

  /** `runc exec` in the foreground: the child's exit status is the process's. */
  execForeground(id: string, proc: ProcessSpec, opts: ExecOptions = {}): RuncChild {
    checkId(id);
    checkProcess(proc, opts);
    const log = this.callLog();
    const d = callDir();
    const argv = [...this.globalArgs(log.file), 'exec', ...this.execArgs(d.dir, proc, opts), id];
    this.debugLine(argv);
    return foreground({
      binary: this.binary, argv, subject: subjectOf(id), stdio: opts.stdio, log,
      maxErrorBytes: this.o.maxErrorBytes ?? DEFAULT_MAX_ERROR,
      cleanup: () => {
        d.remove();
        log.remove();
      },
    });
  }

  private execArgs(dir: string, proc: ProcessSpec, opts: ExecOptions): string[] {
    const file = path.join(dir, 'process.json');
    writeFileSync(file, JSON.stringify(proc), { mode: 0o600 });
    const a = ['--process', file];
    if (opts.pidFile) a.push('--pid-file', opts.pidFile);
    if (opts.consoleSocket) a.push('--console-socket', opts.consoleSocket);
    if (opts.tty) a.push('--tty');
    return a;
  }

  /** One metrics sample: `runc events --stats`. */
  async stats(id: string): Promise<RuncStats> {
    checkId(id);
    const v = await this.json<RuncStats>(['events', '--stats', id], subjectOf(id));
    if (!v || typeof v !== 'object' || v.type !== 'stats' || typeof v.data !== 'object') {
      throw internal('runc events --stats printed an unexpected document', { subject: subjectOf(id) });
    }
    return v;
  }

  /** `runc update --resources -`: new cgroup limits for a running container. */
  async update(id: string, resources: LinuxResources): Promise<void> {
    checkId(id);
    await execRunc(this.request([...this.globalArgs(), 'update', '--resources', '-', id], subjectOf(id), { input: JSON.stringify(resources) }));
  }

  async version(): Promise<RuncVersionInfo> {
    const { stdout } = await execRunc(this.request(['--version'], 'runc', { captureStdout: true }));
    const v = parseRuncVersion(stdout);
    if (!v) throw internal(`${this.binary}: unexpected --version output`, { subject: 'runc' });
    return v;
  }
}

function checkProcess(proc: ProcessSpec, opts: ExecOptions): void {
  if (!proc.args?.length) throw invalidArgument('exec: process args must not be empty');
  if (opts.tty !== undefined && Boolean(proc.terminal) !== opts.tty) {
    throw invalidArgument('exec: --tty and the process terminal setting disagree');
  }
}

function subjectOf(id: string): string {
  return `container "${id}"`;
}

/** runc takes ids as path components; containerd's rule is stricter and keeps `..`, `/` and flags out. */
function checkId(id: string): void {
  validateId(id, 'container id');
}

/**
 * The client for a context: binary and systemd cgroups from containerd's
 * runc options (config facts) unless overridden, runc's root
 * `<state>/runc/<namespace>` as containerd's shim uses it, and runc
 * command lines reported through `onDebug` when --debug is on.
 */
export function runcForContext(
  ctx: Pick<OpContext, 'debug' | 'onDebug' | 'namespace' | 'state' | 'facts'>,
  overrides: RuncClientOptions = {},
): Runc {
  const r = ctx.facts.runc;
  return new Runc({
    binary: r.binaryName,
    systemdCgroup: r.systemdCgroup || undefined,
    root: path.join(r.root ?? path.join(ctx.state, 'runc'), ctx.namespace),
    onDebug: ctx.debug ? ctx.onDebug : undefined,
    ...overrides,
  });
}
