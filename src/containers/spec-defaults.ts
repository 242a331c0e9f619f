/**
 * containerd 1.6's default Linux spec (oci.populateDefaultUnixSpec plus
 * oci.WithDefaultUnixDevices), which `ctr run` starts from. Values are
 * containerd's, element for element, so a container created by ctrx reads
 * the same in `ctr c info` as one created by ctr; the differential test in
 * test/integration/runtime compares them against the installed ctr.
 */
import path from 'node:path';
import type { LinuxDeviceCgroup, Mount, Spec } from './spec-types.js';

/** runtime-spec version containerd 1.6 and runc 1.1 write. */
export const OCI_VERSION = '1.0.2-dev';

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The rootfs directory inside a bundle. */
export const DEFAULT_ROOTFS = 'rootfs';

/** ctr's --cpu-shares default: every container spec carries it. */
export const DEFAULT_CPU_SHARES = 1024;

/**
 * The host's hard RLIMIT_NOFILE may be low (20000 on the build machines):
 * runc fails with EPERM when a spec asks for more, so the default stays 1024.
 */
export const DEFAULT_NOFILE = 1024;

/** Docker's and containerd's default capability set (14 caps), in containerd's order. */
export function defaultCaps(): string[] {
  return [
    'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
    'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
  ];
}

/** Capabilities known to the kernel, by number (containerd pkg/cap, kernel 5.9). */
export const KNOWN_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  ];
}

/** Deny everything, then allow the devices every container needs (null, random, full, tty, zero, urandom, console, pts, ptmx). */
export function defaultDeviceRules(): LinuxDeviceCgroup[] {
  const c = (major: number, minor?: number): LinuxDeviceCgroup =>
    minor === undefined ? { allow: true, type: 'c', major, access: 'rwm' } : { allow: true, type: 'c', major, minor, access: 'rwm' };
  return [
    { allow: false, access: 'rwm' },
    c(1, 3), // /dev/null
    c(1, 8), // /dev/random
    c(1, 7), // /dev/full
    c(5, 0), // /dev/tty
    c(1, 5), // /dev/zero
    c(1, 9), // /dev/urandom
    c(5, 1), // /dev/console
    c(136), // /dev/pts/*
    c(5, 2), // /dev/ptmx
  ];
}

/** containerd's cgroupsPath for a container: `/<namespace>/<id>`. */
export function defaultCgroupsPath(namespace: string, id: string): string {
  return path.posix.join('/', namespace, id);
}

/** The spec `ctr run` starts from, before the image config and flags are applied. */
export function defaultSpec(namespace: string, id: string): Spec {
  return {
    ociVersion: OCI_VERSION,
    process: {
      user: { uid: 0, gid: 0 },
      cwd: '/',
      capabilities: { bounding: defaultCaps(), effective: defaultCaps(), permitted: defaultCaps() },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: DEFAULT_NOFILE, soft: DEFAULT_NOFILE }],
      noNewPrivileges: true,
    },
    root: { path: DEFAULT_ROOTFS },
    mounts: defaultMounts(),
    linux: {
      resources: { devices: defaultDeviceRules() },
      cgroupsPath: defaultCgroupsPath(namespace, id),
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
}
