/**
 * The facts ctrx takes from containerd's config.toml. The loader
 * (src/config/load.ts) fills this from the effective config (file over
 * defaults, imports resolved); a missing file means containerd's defaults.
 */
export interface RegistryFacts {
  /** `plugins."io.containerd.grpc.v1.cri".registry.config_path` (v2) or the v3 equivalent: hosts.toml directories, ':'-separated in containerd. */
  configPath?: string;
  /** Legacy `registry.mirrors."HOST".endpoint` lists. */
  mirrors: Record<string, string[]>;
}

export interface RuncFacts {
  /** `options.BinaryName` of the runc runtime, when set. */
  binaryName?: string;
  /** `options.SystemdCgroup`. */
  systemdCgroup: boolean;
  /** `options.Root` (runc's --root), when set. */
  root?: string;
}

export interface ConfigFacts {
  /** The file that was read, or undefined when it does not exist (defaults apply). */
  path?: string;
  /** The config file's `version` (1, 2 or 3), or the default's. */
  version: number;
  root: string;
  state: string;
  /** CRI's default snapshotter (`containerd.snapshotter`), 'overlayfs' by default. */
  snapshotter: string;
  /** overlayfs plugin `root_path`, when set. */
  overlayfsRootPath?: string;
  /** native plugin `root_path`, when set. */
  nativeRootPath?: string;
  registry: RegistryFacts;
  runc: RuncFacts;
  /** GC scheduler plugin options as written (strings like "100ms" kept as-is). */
  disabledPlugins: string[];
}

export const DEFAULT_ROOT = '/var/lib/containerd';
export const DEFAULT_STATE = '/run/containerd';
export const DEFAULT_CONFIG_PATH = '/etc/containerd/config.toml';

export function defaultFacts(): ConfigFacts {
  return {
    version: 2,
    root: DEFAULT_ROOT,
    state: DEFAULT_STATE,
    snapshotter: 'overlayfs',
    registry: { mirrors: {} },
    runc: { systemdCgroup: false },
    disabledPlugins: [],
  };
}
