/**
 * How containerd combines config files, and files with its defaults.
 *
 * Between files (the main config and its imports), containerd merges its
 * Config struct with mergo (override + append slices):
 * - scalars and the fields of [grpc], [ttrpc], [debug], [metrics], [cgroup]
 *   are overridden only by non-zero values (an import's `oom_score = 0`
 *   does not undo the main file's -999);
 * - disabled_plugins, required_plugins, imports are appended (2.x: appended
 *   without duplicates);
 * - entries of [plugins], [proxy_plugins], [stream_processors], [timeouts]
 *   replace each other whole in 1.x: an import's
 *   `[plugins."io.containerd.grpc.v1.cri".containerd]` drops the main
 *   file's `sandbox_image` (verified with containerd 1.6.20). 2.x merges
 *   plugin tables key by key.
 *
 * Over the defaults, each plugin's section is decoded into its default
 * struct: struct fields are merged, Go maps (runtimes, mirrors, options...)
 * are replaced whole, and a new map entry starts from Go's zero value (so a
 * lone `runtimes.runc.options.SystemdCgroup = true` leaves runc with an empty
 * runtime_type and no other options — again as containerd 1.6 shows it).
 * containerd 2.x decodes with go-toml v2, which decodes into existing map
 * entries, so there the default runc entry keeps its fields.
 */
import { cloneTree, isTable, type TomlTable, type TomlValue } from './toml.js';
import type { Schema } from './schema.js';

export type MergeRules = '1.x' | '2.x';

const PER_ENTRY = new Set(['plugins', 'proxy_plugins', 'stream_processors', 'timeouts']);

function isZero(v: TomlValue): boolean {
  if (typeof v === 'string') return v === '';
  if (typeof v === 'bigint') return v === 0n;
  if (typeof v === 'number') return v === 0;
  if (typeof v === 'boolean') return !v;
  if (Array.isArray(v)) return v.length === 0;
  if (isTable(v)) return Object.keys(v).length === 0;
  return false;
}

function sameValue(a: TomlValue, b: TomlValue): boolean {
  return JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) === JSON.stringify(b, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** mergo.Merge(to, from, WithOverride, WithAppendSlice) over containerd's Config, in place on `to`. */
export function mergeFiles(to: TomlTable, from: TomlTable, rules: MergeRules): TomlTable {
  for (const [k, v] of Object.entries(from)) {
    const cur = to[k];
    if (PER_ENTRY.has(k) && isTable(v)) {
      const dst: TomlTable = isTable(cur) ? cur : (to[k] = {});
      for (const [e, ev] of Object.entries(v)) {
        const prev = dst[e];
        dst[e] = rules === '2.x' && k === 'plugins' && isTable(prev) && isTable(ev) ? deepMerge(prev, ev) : cloneTree(ev);
      }
    } else if (Array.isArray(v)) {
      const dst = Array.isArray(cur) ? cur : [];
      for (const x of v) if (rules === '1.x' || !dst.some((y) => sameValue(x, y))) dst.push(cloneTree(x));
      to[k] = dst;
    } else if (isTable(v)) {
      to[k] = mergeFiles(isTable(cur) ? cur : {}, v, rules);
    } else if (!isZero(v) || cur === undefined) {
      to[k] = v;
    }
  }
  return to;
}

/** containerd 2.x's plugin merge between files: tables key by key, arrays appended without duplicates, the rest overridden. */
function deepMerge(to: TomlTable, from: TomlTable): TomlTable {
  for (const [k, v] of Object.entries(from)) {
    const cur = to[k];
    if (isTable(cur) && isTable(v)) deepMerge(cur, v);
    else if (Array.isArray(cur) && Array.isArray(v)) for (const x of v) { if (!cur.some((y) => sameValue(x, y))) cur.push(cloneTree(x)); }
    else to[k] = cloneTree(v);
  }
  return to;
}

/**
 * The file tree decoded over the default tree, per the schema. Keys the
 * schema does not know are dropped where containerd's struct would drop them
 * (`keepUnknown` false) — except inside 'any' parts (shim options), which
 * are kept as written.
 */
export function overlay(defaults: TomlValue | undefined, file: TomlValue, schema: Schema | undefined, keepUnknown: boolean, mergeMaps = false): TomlValue {
  if (!schema || schema.kind === 'any') return cloneTree(file);
  if (schema.kind === 'struct') {
    if (!isTable(file)) return cloneTree(file);
    const out: TomlTable = isTable(defaults) ? cloneTree(defaults) : schema.zero ? schema.zero() : {};
    for (const [k, v] of Object.entries(file)) {
      const fs = schema.fields[k];
      if (!fs) {
        if (keepUnknown || !schema.closed) out[k] = cloneTree(v);
        continue;
      }
      out[k] = overlay(out[k], v, fs, keepUnknown, mergeMaps);
    }
    return out;
  }
  if (schema.kind === 'map') {
    if (!isTable(file)) return cloneTree(file);
    // 1.x (go-toml v1) builds a new map; 2.x (go-toml v2) decodes into the existing one, entry into entry.
    const out: TomlTable = mergeMaps && isTable(defaults) ? cloneTree(defaults) : {};
    for (const [k, v] of Object.entries(file)) {
      const es = schema.known?.[k] ?? schema.of;
      out[k] = overlay(mergeMaps ? out[k] : undefined, v, es, keepUnknown, mergeMaps);
    }
    return out;
  }
  return cloneTree(file);
}

/**
 * containerd's whole view: top-level struct fields merged over the defaults
 * (the same non-zero rule as between files, since the defaults are the first
 * "file"), each plugin section decoded over that plugin's default.
 */
export function effectiveTree(defaults: TomlTable, merged: TomlTable, schema: Schema, rules: MergeRules): TomlTable {
  const out = cloneTree(defaults);
  if (schema.kind !== 'struct') return out;
  const top: TomlTable = {};
  for (const [k, v] of Object.entries(merged)) if (k !== 'plugins' && schema.fields[k]) top[k] = prune(v, schema.fields[k]!);
  mergeFiles(out, top, rules);
  const pluginSchema = schema.fields.plugins;
  if (isTable(merged.plugins) && pluginSchema?.kind === 'map') {
    const plugins = isTable(out.plugins) ? out.plugins : (out.plugins = {});
    for (const [id, section] of Object.entries(merged.plugins)) {
      // containerd only decodes sections of plugins it has; others are ignored (`config check` names them).
      const ps = pluginSchema.known?.[id];
      if (ps) plugins[id] = overlay(plugins[id], section, ps, false, rules === '2.x');
    }
  }
  return out;
}

/** Drop the keys a Go struct has no field for (containerd's decoder ignores them). */
function prune(v: TomlValue, schema: Schema): TomlValue {
  if (!isTable(v)) return v;
  if (schema.kind === 'struct') {
    const out: TomlTable = {};
    for (const [k, x] of Object.entries(v)) {
      const fs = schema.fields[k];
      if (fs) out[k] = prune(x, fs);
      else if (!schema.closed) out[k] = x;
    }
    return out;
  }
  if (schema.kind === 'map') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, prune(x, schema.known?.[k] ?? schema.of)]));
  return v;
}
