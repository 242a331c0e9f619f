/**
 * What runc prints (state, list, ps, events --stats) and what it reads
 * (--process, update --resources), as runc 1.1 writes and parses them.
 * Field names are runc's JSON names so values pass through untouched.
 */
import type { LinuxResources, ProcessSpec } from '../../containers/spec-types.js';

export type { LinuxResources, ProcessSpec };

export type RuncStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** `runc state <id>`. */
export interface RuncState {
  ociVersion: string;
  id: string;
  /** 0 once stopped. */
  pid: number;
  status: RuncStatus;
  bundle: string;
  rootfs: string;
  /** RFC 3339 with nanoseconds. */
  created: string;
  owner?: string;
  annotations?: Record<string, string>;
}

/** One entry of `runc list --format json`. */
export type RuncContainer = RuncState;

/** Global flags, given before the verb. */
export interface RuncGlobalOptions {
  /** Program to run: a name on PATH or a path (containerd's BinaryName, ctr's --runc-binary). Default `runc`. */
  binary?: string;
  /** --root: where runc keeps container state. */
  root?: string;
  /** --log: runc's own log file. */
  log?: string;
  /** --log-format (json lets errors be read back from the log). */
  logFormat?: 'text' | 'json';
  /** --systemd-cgroup: cgroupsPath is `slice:prefix:name`. */
  systemdCgroup?: boolean;
  /** --debug */
  debug?: boolean;
  /** --rootless true|false|auto */
  rootless?: boolean | 'auto';
}

export interface RuncClientOptions extends RuncGlobalOptions {
  /** Milliseconds after which a verb other than run/exec-in-foreground is killed (default 30 000). */
  timeoutMs?: number;
  /** Bytes of stderr (and log tail) kept for error messages (default 64 KiB). */
  maxErrorBytes?: number;
  /** Bytes of stdout accepted from JSON-printing verbs (default 16 MiB). */
  maxOutputBytes?: number;
  /** Called with each runc command line (the OpContext's onDebug when --debug is on). */
  onDebug?: (line: string) => void;
}

/** Where a foreground process's stdio goes: piped to the caller, inherited, discarded, or an open fd. */
export type StdioTarget = 'pipe' | 'inherit' | 'ignore' | number;

export interface StdioOptions {
  stdin?: StdioTarget;
  stdout?: StdioTarget;
  stderr?: StdioTarget;
}

export interface CreateOptions {
  /** --bundle: the directory holding config.json. */
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** Stdio of the container's init (runc create hands its own stdio to the container). */
  stdio?: StdioOptions;
}

export interface RunOptions extends CreateOptions {
  /** --detach: runc returns once the container has started. */
  detach?: boolean;
  /** --no-subreaper */
  noSubreaper?: boolean;
}

export interface ExecOptions {
  pidFile?: string;
  consoleSocket?: string;
  /** --tty (the process spec's terminal must agree). */
  tty?: boolean;
  stdio?: StdioOptions;
}

export interface KillOptions {
  /** --all: signal every process in the container. */
  all?: boolean;
}

export interface DeleteOptions {
  /** --force: kill a running container first. */
  force?: boolean;
}

/** How a foreground runc ended: its exit code (the container's, for run), or 128+n when killed by signal n. */
export interface ExitStatus {
  status: number;
  signal?: string;
}

/** A runc process left in the foreground (run, exec without --detach). */
export interface RuncChild {
  readonly pid: number;
  readonly argv: readonly string[];
  readonly stdin: NodeJS.WritableStream | null;
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  /** Resolves when runc exits; rejects (CtrxError) when runc itself could not start or reported an error before the container ran. */
  wait(): Promise<ExitStatus>;
  /** Signals runc itself (it forwards to the container in foreground mode). */
  signal(sig: NodeJS.Signals): void;
}

/** `runc events --stats <id>`: one sample. Fields absent on a host without the controller. */
export interface RuncStats {
  type: 'stats';
  id: string;
  data: StatsData;
}

export interface StatsData {
  cpu?: {
    usage?: { total?: number; percpu?: number[]; percpu_kernel?: number[]; percpu_user?: number[]; kernel?: number; user?: number };
    throttling?: { periods?: number; throttledPeriods?: number; throttledTime?: number };
  };
  cpuset?: Record<string, unknown>;
  memory?: {
    cache?: number;
    usage?: MemoryEntry;
    swap?: MemoryEntry;
    kernel?: MemoryEntry;
    kernelTCP?: MemoryEntry;
    raw?: Record<string, number>;
  };
  pids?: { current?: number; limit?: number };
  blkio?: Record<string, BlkioEntry[] | undefined>;
  hugetlb?: Record<string, { usage?: number; max?: number; failcnt: number }>;
  intel_rdt?: Record<string, unknown>;
  network_interfaces?: Array<Record<string, number | string>> | null;
}

export interface MemoryEntry {
  limit: number;
  usage?: number;
  max?: number;
  failcnt: number;
}

export interface BlkioEntry {
  major?: number;
  minor?: number;
  op?: string;
  value?: number;
}

/** `runc --version`. */
export interface RuncVersionInfo {
  version: string;
  commit?: string;
  spec?: string;
}
