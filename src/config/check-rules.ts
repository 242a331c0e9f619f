/**
 * The rules behind `config check` that are about meaning rather than shape:
 * containerd 1.7's deprecation list (pkg/deprecation) with each
 * replacement, and the CRI plugin's own validation (ValidatePluginConfig of
 * containerd 1.6), which runs on the merged config and makes the CRI plugin
 * fail to load — Kubernetes nodes then have no container runtime.
 */
import type { Finding } from './check.js';
import { CRI_IMAGES_V3, CRI_RUNTIME_V3, CRI_V2 } from './defaults.js';
import { formatPath, isTable, type TomlTable, type TomlValue } from './toml.js';

const RUNTIME_V1 = 'io.containerd.runtime.v1.linux';
const RUNC_V1 = 'io.containerd.runc.v1';

function nonEmpty(v: TomlValue | undefined): boolean {
  if (v === undefined) return false;
  if (typeof v === 'string') return v !== '';
  if (Array.isArray(v)) return v.length > 0;
  if (isTable(v)) return Object.keys(v).length > 0;
  return v !== false;
}

/** Deprecated keys in one plugin section as a file writes it (`path` is where the section is, as written). */
export function deprecationsOf(uri: string, section: TomlTable, path: string[], version: number, file?: string): Finding[] {
  const out: Finding[] = [];
  const warn = (sub: string[], message: string) => out.push({ severity: 'warning', path: formatPath([...path, ...sub]), message, ...(file ? { file } : {}) });
  // Sections that `containerd config default` itself prints (aufs, runtime.v1.linux, default_runtime...)
  // are only deprecated once they are used, as containerd's own warnings go.
  const isCri = uri === CRI_V2 && version < 3;
  const registryOwner = version >= 3 ? uri === CRI_IMAGES_V3 : isCri;
  const runtimeOwner = version >= 3 ? uri === CRI_RUNTIME_V3 : isCri;
  if (isCri) {
    if (section.systemd_cgroup === true) {
      warn(['systemd_cgroup'], `deprecated since containerd v1.3 (removed in v2.0): use SystemdCgroup = true in [${formatPath([...path, 'containerd', 'runtimes', 'runc', 'options'])}]`);
    }
  }
  if (runtimeOwner && isTable(section.containerd)) {
    const ctd = section.containerd;
    if (ctd.snapshotter === 'aufs') warn(['containerd', 'snapshotter'], 'deprecated: the aufs snapshotter is deprecated since containerd v1.5 and removed in v2.0; use overlayfs');
    if (nonEmpty(get(ctd.default_runtime, 'runtime_type'))) warn(['containerd', 'default_runtime'], 'deprecated since containerd v1.3 (removed in v2.0): define the runtime under `runtimes` and name it in `default_runtime_name`');
    if (nonEmpty(get(ctd.untrusted_workload_runtime, 'runtime_type'))) warn(['containerd', 'untrusted_workload_runtime'], 'deprecated since containerd v1.2 (removed in v2.0): create an `untrusted` runtime in `runtimes` instead');
    const runtimes = isTable(ctd.runtimes) ? ctd.runtimes : {};
    for (const [name, r] of Object.entries(runtimes)) {
      if (!isTable(r)) continue;
      const rp = ['containerd', 'runtimes', name];
      if (nonEmpty(r.runtime_engine)) warn([...rp, 'runtime_engine'], 'deprecated since containerd v1.3 (removed in v2.0): use a v2 runtime and `options`');
      if (nonEmpty(r.runtime_root)) warn([...rp, 'runtime_root'], 'deprecated since containerd v1.3 (removed in v2.0): use a v2 runtime and `options.Root`');
      if (r.runtime_type === RUNTIME_V1 || r.runtime_type === RUNC_V1) warn([...rp, 'runtime_type'], `deprecated: ${r.runtime_type} is deprecated since containerd v1.4 and removed in v2.0; use io.containerd.runc.v2`);
      if (isTable(r.options) && nonEmpty(r.options.CriuPath)) warn([...rp, 'options', 'CriuPath'], 'deprecated since containerd v1.7 (removed in v2.0): put a criu binary in $PATH instead');
    }
  }
  if (registryOwner && isTable(section.registry)) {
    const reg = section.registry;
    if (nonEmpty(reg.mirrors)) warn(['registry', 'mirrors'], 'deprecated since containerd v1.5 (removed in v2.1): use `config_path` with hosts.toml files (`ctrx config hosts HOST --mirror URL`)');
    if (nonEmpty(reg.configs)) warn(['registry', 'configs'], 'deprecated since containerd v1.5 (removed in v2.1): use `config_path` with hosts.toml files (ca, client, skip_verify)');
    if (nonEmpty(reg.auths)) warn(['registry', 'auths'], 'deprecated since containerd v1.3 (removed in v2.1): use Kubernetes ImagePullSecrets (or `configs."HOST".auth` until then)');
  }
  return out;
}

function get(t: TomlValue | undefined, ...keys: string[]): TomlValue | undefined {
  let cur = t;
  for (const k of keys) {
    if (!isTable(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** The CRI plugin's validation on the effective config. */
export function semanticFindings(effective: TomlTable, version: number): Finding[] {
  const out: Finding[] = [];
  const err = (path: string[], message: string) => out.push({ severity: 'error', path: formatPath(path), message });
  const warn = (path: string[], message: string) => out.push({ severity: 'warning', path: formatPath(path), message });
  const disabled = Array.isArray(effective.disabled_plugins) ? effective.disabled_plugins : [];
  const runtimeId = version >= 3 ? CRI_RUNTIME_V3 : CRI_V2;
  const imagesId = version >= 3 ? CRI_IMAGES_V3 : CRI_V2;
  if (disabled.includes(runtimeId) || disabled.includes(CRI_V2)) return out;
  const ctdPath = ['plugins', runtimeId, 'containerd'];
  const ctd = get(effective, ...ctdPath);
  const runtimes = isTable(get(ctd, 'runtimes')) ? (get(ctd, 'runtimes') as TomlTable) : {};
  const name = get(ctd, 'default_runtime_name');
  const legacyDefault = version < 3 && nonEmpty(get(ctd, 'default_runtime', 'runtime_type'));
  let defaultType: TomlValue | undefined = get(runtimes, String(name ?? ''), 'runtime_type');
  if (legacyDefault) defaultType = get(ctd, 'default_runtime', 'runtime_type');
  else if (typeof name !== 'string' || name === '') err([...ctdPath, 'default_runtime_name'], 'is empty: the CRI plugin will not load');
  else if (!runtimes[name]) {
    err([...ctdPath, 'default_runtime_name'], `no runtime ${JSON.stringify(name)} in [${formatPath([...ctdPath, 'runtimes'])}]: the CRI plugin will not load (a [${formatPath([...ctdPath, 'runtimes', 'NAME'])}] table replaces the default runtimes, so define ${name} there too)`);
  }
  for (const [rn, r] of Object.entries(runtimes)) {
    const rp = [...ctdPath, 'runtimes', rn];
    const type = get(r, 'runtime_type');
    if (!nonEmpty(type)) warn([...rp, 'runtime_type'], 'is empty: a runtime table replaces the default entry (containerd 1.x), it does not inherit runtime_type; set runtime_type = "io.containerd.runc.v2"');
    if (version < 3 && type !== RUNTIME_V1) {
      if (nonEmpty(get(r, 'runtime_engine'))) err([...rp, 'runtime_engine'], `only works with runtime_type ${RUNTIME_V1}: the CRI plugin will not load`);
      if (nonEmpty(get(r, 'runtime_root'))) err([...rp, 'runtime_root'], `only works with runtime_type ${RUNTIME_V1}: the CRI plugin will not load`);
    }
  }
  if (version < 3) {
    const cri = get(effective, 'plugins', CRI_V2);
    if (get(cri, 'systemd_cgroup') === true && defaultType !== RUNTIME_V1) {
      err(['plugins', CRI_V2, 'systemd_cgroup'], `only works with runtime ${RUNTIME_V1}: the CRI plugin will not load; use SystemdCgroup = true in the runc runtime's options`);
    }
    if (get(ctd, 'no_pivot') === true && defaultType !== RUNTIME_V1) err([...ctdPath, 'no_pivot'], `only works with runtime ${RUNTIME_V1}: the CRI plugin will not load; use NoPivotRoot in the runc options`);
  }
  const regPath = ['plugins', imagesId, 'registry'];
  const reg = get(effective, ...regPath);
  if (nonEmpty(get(reg, 'config_path'))) {
    if (nonEmpty(get(reg, 'mirrors'))) err([...regPath, 'mirrors'], 'cannot be set when `config_path` is set: the CRI plugin will not load; move the mirrors into hosts.toml files');
    const configs = get(reg, 'configs');
    if (isTable(configs) && Object.values(configs).some((c) => get(c, 'tls') !== undefined)) err([...regPath, 'configs'], '`configs.tls` cannot be set when `config_path` is set: the CRI plugin will not load');
  }
  return out;
}
