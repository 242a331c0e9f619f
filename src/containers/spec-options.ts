/**
 * The typed options of a container spec (ctr's container flags) and the
 * checks that run before anything is created: a bad or conflicting option
 * is an InvalidArgument, never a runc failure halfway through.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { invalidArgument } from '../errdefs.js';
import { KNOWN_CAPS, defaultCaps } from './spec-defaults.js';
import type { Mount } from './spec-types.js';

/** The part of an OCI image config a container runs (`config` of the image config blob). */
export interface ImageRunConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  StopSignal?: string;
  Labels?: Record<string, string> | null;
}

/** What the host looks like, for --privileged and --net-host (injectable in tests). */
export interface HostFacts {
  hostname(): string;
  /** The calling process's effective capabilities (what --privileged grants, as ctr's cap.Current()). */
  currentCaps(): string[];
  /** Device nodes under /dev, as containerd's oci.HostDevices lists them. */
  devices(): import('./spec-types.js').LinuxDevice[];
}

export interface SpecOptions {
  /** containerd namespace and container id: cgroupsPath `/<ns>/<id>`. */
  namespace: string;
  id: string;
  /** The image's config; absent for a plain rootfs (ctr --rootfs). */
  image?: ImageRunConfig;
  /** Host directory of the container's root filesystem, where users and groups are looked up. */
  rootfs?: string;
  /** `root.path` in the spec (default `rootfs`, relative to the bundle). */
  rootPath?: string;
  /** Replaces the image's Cmd (the Entrypoint stays; see `entrypoint`). */
  args?: string[];
  /** Replaces the image's Entrypoint (`[]` clears it). */
  entrypoint?: string[];
  /** --env KEY=VALUE; `KEY` alone unsets KEY. */
  env?: string[];
  /** --env-file: host path, one KEY=VALUE a line. */
  envFile?: string;
  cwd?: string;
  /** --user user[:group] | uid[:gid], resolved in the rootfs. */
  user?: string;
  hostname?: string;
  /** --mount, already parsed (mounts.ts). */
  mounts?: Mount[];
  netHost?: boolean;
  readOnly?: boolean;
  privileged?: boolean;
  /** Capability names with or without CAP_, any case; `ALL`. */
  capAdd?: string[];
  capDrop?: string[];
  /** Bytes. */
  memoryLimit?: number;
  /** CFS quota as a number of CPUs (period 100 ms). */
  cpus?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  /** Default 1024, as `ctr run` (`ctr c create` sets none: pass 0 for that). */
  cpuShares?: number;
  pidsLimit?: number;
  tty?: boolean;
  annotations?: Record<string, string>;
  /** Container labels; ctr also copies them into the spec's annotations. */
  labels?: Record<string, string>;
  /** --allow-new-privs: noNewPrivileges false. */
  allowNewPrivileges?: boolean;
  /** --seccomp-profile: a JSON file with the LinuxSeccomp section. */
  seccompProfile?: string;
  /** --seccomp without a profile (containerd's built-in profile). */
  seccomp?: boolean;
  /** --cgroup: cgroupsPath; '' runs without one. */
  cgroup?: string;
  /** runc uses the systemd driver: cgroupsPath must be `slice:prefix:name`. */
  systemdCgroup?: boolean;
  host?: Partial<HostFacts>;
}

const MAX_STRING = 128 * 1024; // MAX_ARG_STRLEN: the kernel refuses longer single args or env entries
const MAX_TOTAL = 1024 * 1024;
const MAX_ENV_FILE = 1024 * 1024;

/** Normalises one capability name: any case, with or without CAP_. */
export function capName(raw: string): string {
  const up = raw.trim().toUpperCase();
  if (up === 'ALL') return 'ALL';
  const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!KNOWN_CAPS.includes(name)) throw invalidArgument(`unknown capability ${JSON.stringify(raw)}`);
  return name;
}

/**
 * The capability set after --cap-add/--cap-drop. Docker's rule for ALL:
 * `--cap-drop ALL --cap-add X` keeps only X; otherwise adds then drops, and
 * the same cap in both lists is a conflict.
 */
export function applyCaps(base: string[], add: string[] = [], drop: string[] = []): string[] {
  const a = add.map(capName);
  const d = drop.map(capName);
  if (d.includes('ALL') && a.includes('ALL')) throw invalidArgument('--cap-add ALL and --cap-drop ALL conflict');
  const both = a.filter((c) => c !== 'ALL' && d.includes(c));
  if (both.length) throw invalidArgument(`capabilities both added and dropped: ${both.join(', ')}`);
  let caps = d.includes('ALL') ? [] : [...base];
  for (const c of a.includes('ALL') ? KNOWN_CAPS : a) if (!caps.includes(c)) caps.push(c);
  if (!d.includes('ALL')) caps = caps.filter((c) => !d.includes(c));
  return caps;
}

/** Checks an env entry (`KEY=VALUE` or `KEY`): no NUL, a non-empty name. */
export function checkEnv(e: string, where: string): string {
  if (e.includes('\0')) throw invalidArgument(`${where}: environment entry contains NUL`);
  const name = e.split('=', 1)[0]!;
  if (name === '') throw invalidArgument(`${where}: environment entry ${JSON.stringify(e.slice(0, 40))} has an empty name`);
  if (Buffer.byteLength(e) > MAX_STRING) throw invalidArgument(`${where}: environment entry ${name} is longer than ${MAX_STRING} bytes`);
  return e;
}

/** Reads --env-file: bounded, a regular file, lines without CR; blank lines and `#` comments skipped. */
export function readEnvFile(file: string): string[] {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw invalidArgument(`cannot read env file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { subject: file });
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw invalidArgument('env file is not a regular file', { subject: file });
    if (st.size > MAX_ENV_FILE) throw invalidArgument(`env file is larger than ${MAX_ENV_FILE} bytes`, { subject: file });
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n <= 0) break;
      off += n;
    }
    text = buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))
    .map((l, i) => checkEnv(l, `${file} line ${i + 1}`));
}

/**
 * containerd's replaceOrAppendEnvValues: overrides replace entries with the
 * same name or are appended; an override without `=` removes the name.
 * Unlike containerd, a name set twice by the overrides is kept once (the
 * later value): containerd appends both and most programs then see the first.
 */
export function mergeEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const out: Array<string | undefined> = [...defaults];
  const index = new Map<string, number>();
  defaults.forEach((e, i) => index.set(e.split('=', 1)[0]!, i));
  for (const o of overrides) {
    if (!o.includes('=')) {
      const i = index.get(o);
      if (i !== undefined) out[i] = undefined;
      continue;
    }
    const k = o.split('=', 1)[0]!;
    const i = index.get(k);
    if (i !== undefined) out[i] = o;
    else {
      index.set(k, out.length);
      out.push(o);
    }
  }
  return out.filter((e): e is string => e !== undefined && e !== '');
}

/** Args and env together must fit the kernel's limits; each string must be NUL-free. */
export function checkArgv(args: readonly string[], env: readonly string[]): void {
  let total = 0;
  for (const a of args) {
    if (a.includes('\0')) throw invalidArgument('command argument contains NUL');
    const n = Buffer.byteLength(a);
    if (n > MAX_STRING) throw invalidArgument(`command argument longer than ${MAX_STRING} bytes`);
    total += n + 1;
  }
  for (const e of env) total += Buffer.byteLength(e) + 1;
  if (total > MAX_TOTAL) throw invalidArgument(`command and environment are ${total} bytes, more than ${MAX_TOTAL}`);
}

function positiveInt(v: number | undefined, what: string, min = 1): void {
  if (v === undefined) return;
  if (!Number.isSafeInteger(v) || v < min) throw invalidArgument(`${what} must be an integer ≥ ${min}, got ${v}`);
}

/** Checks every option that does not need the rootfs; throws InvalidArgument. */
export function validateOptions(o: SpecOptions): void {
  positiveInt(o.memoryLimit, '--memory-limit');
  positiveInt(o.pidsLimit, '--pids-limit');
  if (o.cpuShares !== 0) positiveInt(o.cpuShares, '--cpu-shares', 2);
  positiveInt(o.cpuPeriod, '--cpu-period', 1000);
  if (o.cpuQuota !== undefined && (!Number.isSafeInteger(o.cpuQuota) || (o.cpuQuota < 1000 && o.cpuQuota !== -1))) {
    throw invalidArgument(`--cpu-quota must be -1 or an integer ≥ 1000, got ${o.cpuQuota}`);
  }
  if (o.cpus !== undefined) {
    if (!Number.isFinite(o.cpus) || o.cpus <= 0 || o.cpus > 1024) throw invalidArgument(`--cpus must be a number in (0, 1024], got ${o.cpus}`);
    if (o.cpuQuota !== undefined || o.cpuPeriod !== undefined) throw invalidArgument('--cpus and --cpu-quota/--cpu-period should be used separately');
  }
  if (o.seccompProfile !== undefined && o.seccomp === false) throw invalidArgument('--seccomp-profile needs --seccomp');
  if (o.cwd !== undefined && (!o.cwd.startsWith('/') || o.cwd.includes('\0'))) {
    throw invalidArgument(`--cwd ${JSON.stringify(o.cwd)} must be an absolute path`);
  }
  if (o.hostname !== undefined && (o.hostname === '' || o.hostname.length > 64 || !/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(o.hostname))) {
    throw invalidArgument(`invalid hostname ${JSON.stringify(o.hostname)}: letters, digits, '.' and '-', at most 64`);
  }
  if (o.rootPath !== undefined && (o.rootPath === '' || o.rootPath.includes('\0') || (!o.rootPath.startsWith('/') && o.rootPath.split('/').includes('..')))) {
    throw invalidArgument(`invalid root path ${JSON.stringify(o.rootPath)}`);
  }
  if (o.systemdCgroup && !o.cgroup) {
    throw invalidArgument('the systemd cgroup driver needs an explicit cgroup', { hint: `e.g. --cgroup "system.slice:ctrx-${o.namespace}:${o.id}"` });
  }
  if (o.systemdCgroup && o.cgroup && !/^[^:/]*\.slice:[^:/]*:[^:/]+$|^:[^:/]*:[^:/]+$/.test(o.cgroup)) {
    throw invalidArgument(`cgroup ${JSON.stringify(o.cgroup)} must be "slice:prefix:name" with the systemd driver`);
  }
  if (o.cgroup && !o.systemdCgroup && (!o.cgroup.startsWith('/') || o.cgroup.split('/').includes('..'))) {
    throw invalidArgument(`cgroup ${JSON.stringify(o.cgroup)} must be an absolute path without ".."`);
  }
  for (const [k, v] of Object.entries(o.annotations ?? {})) {
    if (!k || k.includes('\0') || v.includes('\0')) throw invalidArgument(`invalid annotation ${JSON.stringify(k)}`);
  }
  for (const e of o.env ?? []) checkEnv(e, '--env');
  applyCaps(defaultCaps(), o.capAdd, o.capDrop);
}
