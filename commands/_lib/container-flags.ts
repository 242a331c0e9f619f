import { many } from './define.js';
/**
 * ctr's container flags, declared once for `containers create` and `run`,
 * and read into the library's typed options in one function.
 */
import type { Argv } from 'yargs';
import { invalidArgument } from '../../src/errdefs.js';
import type { CreateOptions } from '../../src/containers/create.js';
import type { Mount } from '../../src/containers/spec-types.js';

export interface ContainerArgs {
  image: string;
  id: string;
  args?: string[];
  env?: string[];
  'env-file'?: string;
  cwd?: string;
  user?: string;
  hostname?: string;
  mount?: string[];
  'net-host'?: boolean;
  'read-only'?: boolean;
  privileged?: boolean;
  'cap-add'?: string[];
  'cap-drop'?: string[];
  'memory-limit'?: number;
  cpus?: number;
  'cpu-quota'?: number;
  'cpu-period'?: number;
  'cpu-shares'?: number;
  'pids-limit'?: number;
  tty?: boolean;
  label?: string[];
  annotation?: string[];
  snapshotter?: string;
  'runc-binary'?: string;
  'runc-systemd-cgroup'?: boolean;
  cgroup?: string;
  'allow-new-privs'?: boolean;
  'seccomp-profile'?: string;
  entrypoint?: string;
}

export function containerFlags(y: Argv): Argv {
  return y
    .positional('image', { type: 'string', describe: 'Image name or reference (short names like redis work)' })
    .positional('id', { type: 'string', describe: 'Container id' })
    .positional('args', { type: 'string', array: true, describe: 'Command and arguments (replace the image Cmd)' })
    .option('env', { type: 'string', coerce: many, description: 'Environment variable KEY=VALUE (KEY alone unsets it)' })
    .option('env-file', { type: 'string', description: 'File with KEY=VALUE lines' })
    .option('cwd', { type: 'string', description: 'Working directory inside the container' })
    .option('user', { alias: 'u', type: 'string', description: 'user[:group] or uid[:gid], looked up inside the image' })
    .option('hostname', { type: 'string', description: 'Container hostname' })
    .option('mount', { type: 'string', coerce: many, description: 'type=bind,src=/host,dst=/path,options=rbind:ro or type=tmpfs,dst=/path' })
    .option('net-host', { type: 'boolean', description: "Use the host's network (and its /etc/hosts, /etc/resolv.conf)" })
    .option('read-only', { type: 'boolean', description: 'Read-only root filesystem' })
    .option('privileged', { type: 'boolean', description: 'All capabilities, all devices, no masked paths' })
    .option('cap-add', { type: 'string', coerce: many, description: 'Add a capability (NET_ADMIN, CAP_SYS_TIME, ALL)' })
    .option('cap-drop', { type: 'string', coerce: many, description: 'Drop a capability' })
    .option('memory-limit', { type: 'number', description: 'Memory limit in bytes' })
    .option('cpus', { type: 'number', description: 'CPUs (CFS quota over a 100 ms period)' })
    .option('cpu-quota', { type: 'number', description: 'CFS quota in µs' })
    .option('cpu-period', { type: 'number', description: 'CFS period in µs' })
    .option('cpu-shares', { type: 'number', description: 'CPU shares' })
    .option('pids-limit', { type: 'number', description: 'Maximum number of processes' })
    .option('tty', { alias: 't', type: 'boolean', description: 'Allocate a terminal' })
    .option('label', { type: 'string', coerce: many, description: 'Container label key=value' })
    .option('annotation', { type: 'string', coerce: many, description: 'Spec annotation key=value' })
    .option('snapshotter', { type: 'string', description: 'Snapshotter (overlayfs, native)', defaultDescription: '$CONTAINERD_SNAPSHOTTER or the config' })
    .option('runc-binary', { type: 'string', description: 'runc binary (default: the config\'s BinaryName, else runc)' })
    .option('runc-systemd-cgroup', { type: 'boolean', description: 'Use the systemd cgroup driver (needs --cgroup slice:prefix:name)' })
    .option('cgroup', { type: 'string', description: 'cgroupsPath' })
    .option('allow-new-privs', { type: 'boolean', description: 'Allow the process to gain privileges (noNewPrivileges false)' })
    .option('seccomp-profile', { type: 'string', description: 'Seccomp profile (JSON) to apply' })
    .option('entrypoint', { type: 'string', description: 'Replace the image Entrypoint ("" clears it)' });
}

function keyValues(list: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const kv of list ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw invalidArgument(`expected key=value, got ${JSON.stringify(kv)}`, { subject: what });
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Flags → library options. The snapshotter and runc defaults come from env and config. */
export async function containerOptions(a: ContainerArgs, defaults: { snapshotter: string; binaryName?: string; systemdCgroup: boolean }): Promise<CreateOptions> {
  const { parseMountFlag } = await import('../../src/containers/mounts.js');
  const mounts: Mount[] = (a.mount ?? []).map((m) => parseMountFlag(m));
  const systemdCgroup = a['runc-systemd-cgroup'] ?? defaults.systemdCgroup;
  return {
    id: a.id,
    image: a.image,
    args: a.args && a.args.length ? a.args.map(String) : undefined,
    entrypoint: a.entrypoint === undefined ? undefined : a.entrypoint === '' ? [] : [a.entrypoint],
    env: a.env,
    envFile: a['env-file'],
    cwd: a.cwd,
    user: a.user,
    hostname: a.hostname,
    mounts,
    netHost: a['net-host'],
    readOnly: a['read-only'],
    privileged: a.privileged,
    capAdd: a['cap-add'],
    capDrop: a['cap-drop'],
    memoryLimit: a['memory-limit'],
    cpus: a.cpus,
    cpuQuota: a['cpu-quota'],
    cpuPeriod: a['cpu-period'],
    cpuShares: a['cpu-shares'],
    pidsLimit: a['pids-limit'],
    tty: a.tty,
    labels: keyValues(a.label, '--label'),
    annotations: keyValues(a.annotation, '--annotation'),
    snapshotter: a.snapshotter ?? defaults.snapshotter,
    cgroup: a.cgroup,
    systemdCgroup,
    allowNewPrivileges: a['allow-new-privs'],
    seccompProfile: a['seccomp-profile'],
    runtime: { binaryName: a['runc-binary'] ?? defaults.binaryName, systemdCgroup },
  };
}
