/**
 * The shape of config.toml as far as ctrx knows it: derived from the default
 * trees (a key's type is its default's type), plus what the defaults cannot
 * show — Go maps whose entries users add (runtimes, mirrors, timeouts, ...),
 * keys that only exist in newer 1.x releases, and which strings are Go
 * durations. The loader uses it to know where containerd merges (structs)
 * and where it replaces (maps); `config check` uses it for unknown keys and
 * wrong types.
 */
import { CRI_IMAGES_V3, CRI_RUNTIME_V3, CRI_V2, defaultTreeV2, defaultTreeV3, OVERLAYFS, runcOptionsV2, zeroRuntimeV2, zeroRuntimeV3 } from './defaults.js';
import { isTable, type TomlTable, type TomlValue } from './toml.js';

export type Schema =
  | { kind: 'string'; duration?: boolean; oneOf?: readonly string[] }
  | { kind: 'int' }
  | { kind: 'float' }
  | { kind: 'bool' }
  | { kind: 'array'; of: Schema }
  | { kind: 'struct'; fields: Record<string, Schema>; closed: boolean; zero?: () => TomlTable }
  /** A Go map: entries replace each other whole; `known` names entries with their own schema (plugins). */
  | { kind: 'map'; of: Schema; known?: Record<string, Schema> }
  | { kind: 'any' };

const S = { kind: 'string' } as const;
const DUR = { kind: 'string', duration: true } as const;
const I = { kind: 'int' } as const;
const F = { kind: 'float' } as const;
const B = { kind: 'bool' } as const;
const STRS = { kind: 'array', of: S } as const;
const ANY = { kind: 'any' } as const;

/** Keys whose strings containerd parses with Go's time.ParseDuration. */
const DURATION_KEYS = new Set([
  'schedule_delay', 'startup_delay', 'interval', 'stream_idle_timeout', 'image_pull_progress_timeout', 'drain_exec_sync_io_timeout',
  'plugin_registration_timeout', 'plugin_request_timeout', 'per_verifier_timeout',
]);

function fromValue(v: TomlValue, key: string): Schema {
  if (typeof v === 'string') return DURATION_KEYS.has(key) ? DUR : S;
  if (typeof v === 'bigint') return I;
  if (typeof v === 'number') return F;
  if (typeof v === 'boolean') return B;
  if (Array.isArray(v)) return { kind: 'array', of: v.length ? fromValue(v[0]!, '') : S };
  if (isTable(v)) return struct(v);
  return ANY;
}

function struct(t: TomlTable, extra: Record<string, Schema> = {}, closed = true): Extract<Schema, { kind: 'struct' }> {
  const fields: Record<string, Schema> = {};
  for (const [k, v] of Object.entries(t)) fields[k] = fromValue(v, k);
  return { kind: 'struct', fields: { ...fields, ...extra }, closed };
}

const map = (of: Schema, known?: Record<string, Schema>): Schema => ({ kind: 'map', of, ...(known ? { known } : {}) });

function field(s: Schema, ...path: string[]): Extract<Schema, { kind: 'struct' }> {
  let cur = s;
  for (const p of path) {
    if (cur.kind === 'struct') cur = cur.fields[p]!;
    else if (cur.kind === 'map') cur = cur.known![p]!;
    if (!cur) throw new Error(`schema has no ${path.join('.')}`);
  }
  if (cur.kind !== 'struct') throw new Error(`schema ${path.join('.')} is not a struct`);
  return cur;
}

/** A CRI runtime entry's options: runc's known fields, anything else for other shims (checked in check.ts). */
const OPTIONS = map(ANY);

const AUTH = struct({ username: '', password: '', auth: '', identitytoken: '' });
const TLS = struct({ insecure_skip_verify: false, ca_file: '', cert_file: '', key_file: '' });
const REGISTRY_MAPS = {
  mirrors: map(struct({ endpoint: [] as string[] }, { endpoint: STRS })),
  configs: map({ kind: 'struct', fields: { auth: AUTH, tls: TLS }, closed: true }),
  auths: map(AUTH),
  headers: map(STRS),
};

const TOP_MAPS = (streamProc: TomlTable): Record<string, Schema> => ({
  proxy_plugins: map(struct({ type: '', address: '', platform: '' }, { exports: map(S), capabilities: STRS })),
  stream_processors: map(struct(streamProc)),
  timeouts: map(DUR),
});

function runtimeV2(): Extract<Schema, { kind: 'struct' }> {
  // 1.7 added these runtime keys; 1.6 ignores them.
  const s = struct(zeroRuntimeV2(), {
    privileged_without_host_devices_all_devices_allowed: B,
    snapshotter: S,
    sandbox_mode: S,
    options: OPTIONS,
  });
  return { ...s, zero: zeroRuntimeV2 };
}

function runtimeV3(): Extract<Schema, { kind: 'struct' }> {
  return { ...struct(zeroRuntimeV3(), { options: OPTIONS }), zero: zeroRuntimeV3 };
}

/** Plugins that exist in some containerd build but are not in the default tree of that version. */
function extraPlugins(): Record<string, Schema> {
  return {
    'io.containerd.internal.v1.tracing': struct({ sampling_ratio: 1.0, service_name: '' }),
    'io.containerd.tracing.processor.v1.otlp': struct({ endpoint: '', protocol: '', insecure: false }),
  };
}

function buildV2(): Schema {
  const tree = defaultTreeV2();
  const s = struct(tree);
  const plugins = field(s, 'plugins');
  const v3 = configSchema(3);
  const v3plugins = v3.kind === 'struct' && v3.fields.plugins?.kind === 'map' ? v3.fields.plugins.known ?? {} : {};
  // Plugins 1.7 added (nri, transfer, blockfile, ...) share 2.0's ids and shapes.
  const known: Record<string, Schema> = { ...extraPlugins() };
  for (const [k, v] of Object.entries(v3plugins)) if (!(k in plugins.fields) && !k.startsWith('io.containerd.cri.v1.') && k !== CRI_V2) known[k] = v;
  Object.assign(known, plugins.fields);
  const cri = field(s, 'plugins', CRI_V2);
  Object.assign(cri.fields, {
    enable_cdi: B, cdi_spec_dirs: STRS, image_pull_progress_timeout: DUR, drain_exec_sync_io_timeout: DUR,
    image_pull_with_sync_fs: B, ignore_deprecation_warnings: STRS,
  });
  const ctd = field(cri, 'containerd');
  ctd.fields.ignore_blockio_not_enabled_errors = B;
  ctd.fields.runtimes = map(runtimeV2());
  ctd.fields.default_runtime = runtimeV2();
  ctd.fields.untrusted_workload_runtime = runtimeV2();
  Object.assign(field(cri, 'cni').fields, { setup_serially: B, use_internal_loopback: B });
  Object.assign(field(cri, 'registry').fields, REGISTRY_MAPS);
  Object.assign(field(s, 'plugins', OVERLAYFS).fields, { sync_remove: B, slow_chown: B, mount_options: STRS });
  field(s, 'plugins', 'io.containerd.service.v1.tasks-service').fields.blockio_config_file = S;
  field(s, 'plugins', 'io.containerd.service.v1.diff-service').fields.sync_fs = B;
  field(s, 'plugins', 'io.containerd.metadata.v1.bolt').fields.content_sharing_policy = { kind: 'string', oneOf: ['shared', 'isolated'] };
  s.fields.plugins = map(ANY, known);
  Object.assign(s.fields, TOP_MAPS(tree.stream_processors && isTable(tree.stream_processors) ? (Object.values(tree.stream_processors)[0] as TomlTable) : {}));
  return s;
}

function buildV3(): Schema {
  const tree = defaultTreeV3();
  const s = struct(tree);
  const plugins = field(s, 'plugins');
  const images = field(plugins, CRI_IMAGES_V3);
  images.fields.pinned_images = map(S);
  images.fields.runtime_platforms = map(struct({ platform: '', snapshotter: '' }));
  Object.assign(field(images, 'registry').fields, REGISTRY_MAPS);
  const ctd = field(plugins, CRI_RUNTIME_V3, 'containerd');
  ctd.fields.runtimes = map(runtimeV3());
  field(plugins, 'io.containerd.transfer.v1.local').fields.unpack_config = { kind: 'array', of: struct({ platform: '', snapshotter: '', differ: '' }) };
  field(plugins, 'io.containerd.metadata.v1.bolt').fields.content_sharing_policy = { kind: 'string', oneOf: ['shared', 'isolated'] };
  Object.assign(plugins.fields, { 'io.containerd.internal.v1.tracing': struct({ service_name: '', sampling_ratio: 1.0 }), 'io.containerd.tracing.processor.v1.otlp': struct({ endpoint: '', protocol: '', insecure: false }) });
  s.fields.plugins = map(ANY, { ...plugins.fields });
  Object.assign(s.fields, TOP_MAPS(Object.values(tree.stream_processors as TomlTable)[0] as TomlTable));
  return s;
}

const cache: Record<number, Schema> = {};

/** The schema of a config of this version (1 and 2 share one: version 1 keys are mapped first). */
export function configSchema(version: number): Schema {
  const v = version >= 3 ? 3 : 2;
  return (cache[v] ??= v === 3 ? buildV3() : buildV2());
}

/** runc's Options fields (containerd's runc shim decodes `options` into them). */
export const RUNC_OPTION_FIELDS: Record<string, Schema> = struct(runcOptionsV2()).fields;
