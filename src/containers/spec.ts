/**
 * The OCI runtime spec of a container, built as `ctr run` builds it
 * (containerd 1.6: WithDefaultSpec, WithDefaultUnixDevices, env file, env,
 * mounts, WithImageConfig, then the flags in ctr's order), plus the
 * container labels ctr derives from the image (stop signal, config labels).
 *
 * Deliberate differences from ctr are listed in docs and in the
 * differential test (test/integration/runtime/spec-diff.test.ts); each is
 * marked "ctr:" below.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { invalidArgument, notImplemented } from '../errdefs.js';
import { validateLabel } from '../identifiers.js';
import { hostFacts } from './host-facts.js';
import { normalizeMount } from './mounts.js';
import { DEFAULT_CPU_SHARES, DEFAULT_PATH_ENV, defaultCaps, defaultSpec } from './spec-defaults.js';
import { applyCaps, checkArgv, checkEnv, mergeEnv, readEnvFile, validateOptions, type SpecOptions } from './spec-options.js';
import type { LinuxSeccomp, Spec } from './spec-types.js';
import { resolveUser } from './user.js';

export type { SpecOptions, ImageRunConfig, HostFacts } from './spec-options.js';
export type { Spec } from './spec-types.js';

/** containerd's label for the image's StopSignal (containerd.StopSignalLabel). */
export const STOP_SIGNAL_LABEL = 'io.containerd.image.config.stop-signal';

export interface GeneratedSpec {
  spec: Spec;
  /** Labels for the container record: image config labels (minus containerd.io/*), the stop signal, then options.labels. */
  labels: Record<string, string>;
}

const MAX_SECCOMP = 1024 * 1024;

function readSeccompProfile(file: string): LinuxSeccomp {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw invalidArgument(`cannot read seccomp profile: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { subject: file });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_SECCOMP) throw invalidArgument(`seccomp profile must be a regular file of at most ${MAX_SECCOMP} bytes`, { subject: file });
    const buf = Buffer.alloc(st.size);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const v = JSON.parse(buf.subarray(0, n).toString('utf8')) as LinuxSeccomp;
    if (!v || typeof v !== 'object' || typeof v.defaultAction !== 'string') throw new Error('no defaultAction');
    return v;
  } catch (e) {
    if (e instanceof Error && e.name === 'CtrxError') throw e;
    throw invalidArgument(`invalid seccomp profile: ${(e as Error).message}`, { subject: file });
  } finally {
    closeSync(fd);
  }
}

function imageLabels(o: SpecOptions): Record<string, string> {
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(o.image?.Labels ?? {})) {
    // An image must not be able to set containerd's own labels (GC references, snapshotter hints).
    if (k.startsWith('containerd.io/') || typeof v !== 'string') continue;
    try {
      validateLabel(k, v);
    } catch {
      continue;
    }
    labels[k] = v;
  }
  if (o.image) labels[STOP_SIGNAL_LABEL] = o.image.StopSignal || 'SIGTERM';
  for (const [k, v] of Object.entries(o.labels ?? {})) {
    validateLabel(k, v);
    labels[k] = v;
  }
  return { ...labels };
}

const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** An image config comes from the registry: its fields are checked for type before use. */
function checkImageConfig(c: unknown): void {
  if (c === undefined) return;
  if (c === null || typeof c !== 'object' || Array.isArray(c)) throw invalidArgument('image config: "config" is not an object');
  const v = c as Record<string, unknown>;
  for (const k of ['Env', 'Entrypoint', 'Cmd'] as const) {
    if (v[k] !== undefined && v[k] !== null && !isStrings(v[k])) throw invalidArgument(`image config: ${k} must be an array of strings`);
  }
  for (const k of ['User', 'WorkingDir', 'StopSignal'] as const) {
    if (v[k] !== undefined && typeof v[k] !== 'string') throw invalidArgument(`image config: ${k} must be a string`);
  }
  if (v.Labels !== undefined && v.Labels !== null && (typeof v.Labels !== 'object' || Array.isArray(v.Labels))) {
    throw invalidArgument('image config: Labels must be an object');
  }
}

/** Builds the spec; throws InvalidArgument for bad options before touching anything. */
export function generateSpec(o: SpecOptions): GeneratedSpec {
  validateOptions(o);
  checkImageConfig(o.image);
  const host = hostFacts(o.host);
  const s = defaultSpec(o.namespace, o.id);
  const proc = s.process!;
  const linux = s.linux!;
  const res = linux.resources!;

  // Env from --env-file then --env, later applied over the image's env.
  // ctr: `--env KEY` (no '=') is dropped before it meets the image's env; here it unsets KEY, as containerd's merge intends.
  const userEnv = [...(o.envFile ? readEnvFile(o.envFile) : []), ...(o.env ?? []).map((e) => checkEnv(e, '--env'))];
  s.mounts!.push(...(o.mounts ?? []).map(normalizeMount));

  const img = o.image;
  const imageEnv = img?.Env ?? [];
  for (const e of imageEnv) if (e.includes('\0')) throw invalidArgument('image config: environment entry contains NUL');
  // ctr: without an image (--rootfs) the process gets no PATH at all.
  proc.env = mergeEnv(imageEnv.length ? imageEnv : [DEFAULT_PATH_ENV], userEnv);
  // ctr: command-line args replace Entrypoint and Cmd; here they replace Cmd only (docker run's rule).
  const entrypoint = o.entrypoint ?? img?.Entrypoint ?? [];
  const cmd = o.args?.length ? o.args : (img?.Cmd ?? []);
  proc.args = [...entrypoint, ...cmd];
  if (!proc.args.length) {
    throw invalidArgument('no command to run: the image has no Entrypoint or Cmd', { subject: `container "${o.id}"`, hint: 'give the command after the image and container id' });
  }
  // ctr: a relative WorkingDir is passed on and runc fails; it is taken relative to / here.
  const wd = img?.WorkingDir ?? '';
  if (wd.includes('\0')) throw invalidArgument('image config: WorkingDir contains NUL');
  proc.cwd = wd === '' ? '/' : wd.startsWith('/') ? wd : `/${wd}`;

  const u = resolveUser(o.user ?? img?.User ?? '', o.rootfs);
  proc.user = { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids };

  if (o.rootPath) s.root!.path = o.rootPath;
  if (o.readOnly) s.root!.readonly = true;
  if (o.cwd) proc.cwd = o.cwd;
  if (o.tty) {
    proc.terminal = true;
    proc.env.push('TERM=xterm');
  }
  if (o.privileged) {
    const caps = host.currentCaps();
    proc.capabilities = { bounding: [...caps], effective: [...caps], permitted: [...caps] };
    delete linux.maskedPaths;
    delete linux.readonlyPaths;
    for (const m of s.mounts!) {
      if (m.type === 'sysfs' || m.type === 'cgroup') m.options = m.options?.map((x) => (x === 'ro' ? 'rw' : x));
    }
    delete linux.seccomp;
    res.devices = [{ allow: true, access: 'rwm' }];
    const devs = host.devices();
    if (devs.length) linux.devices = devs;
  }
  if (o.netHost) {
    linux.namespaces = linux.namespaces!.filter((n) => n.type !== 'network');
    s.mounts!.push(
      { destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro'] },
    );
    proc.env = mergeEnv(proc.env, [`HOSTNAME=${host.hostname()}`]);
  }
  if (o.hostname) s.hostname = o.hostname;
  if (o.annotations && Object.keys(o.annotations).length) s.annotations = { ...s.annotations, ...o.annotations };

  if (o.capAdd?.length || o.capDrop?.length) {
    const c = proc.capabilities!;
    const caps = applyCaps(c.bounding ?? defaultCaps(), o.capAdd, o.capDrop);
    proc.capabilities = { bounding: caps, effective: [...caps], permitted: [...caps] };
  }
  if (o.seccompProfile) linux.seccomp = readSeccompProfile(o.seccompProfile);
  else if (o.seccomp) {
    throw notImplemented("containerd's built-in seccomp profile is not bundled", { hint: 'pass a profile file with --seccomp-profile' });
  }

  if (o.cpus !== undefined) res.cpu = { ...res.cpu, quota: Math.trunc(o.cpus * 100000), period: 100000 };
  const shares = o.cpuShares ?? DEFAULT_CPU_SHARES;
  if (shares > 0) res.cpu = { shares, ...res.cpu };
  if (o.cpuQuota !== undefined || o.cpuPeriod !== undefined) res.cpu = { ...res.cpu, quota: o.cpuQuota ?? -1, period: o.cpuPeriod ?? 0 };
  // Absent is false; containerd's JSON (Go omitempty) never carries an explicit false.
  if (o.allowNewPrivileges) delete proc.noNewPrivileges;
  if (o.cgroup !== undefined) {
    if (o.cgroup === '') delete linux.cgroupsPath;
    else linux.cgroupsPath = o.cgroup;
  }
  if (o.memoryLimit !== undefined) res.memory = { limit: o.memoryLimit };
  if (o.pidsLimit !== undefined) res.pids = { limit: o.pidsLimit };
  // ctr copies --label into the spec's annotations too.
  if (o.labels && Object.keys(o.labels).length) s.annotations = { ...s.annotations, ...o.labels };

  checkArgv(proc.args, proc.env);
  return { spec: s, labels: imageLabels(o) };
}
