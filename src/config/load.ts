/**
 * Reading containerd's config.toml the way containerd does: the file, then
 * its `imports` (breadth first, each file once), merged by containerd's
 * rules (merge.ts), decoded over the defaults, with version 1 plugin ids
 * mapped to URIs. A missing main file means containerd's defaults.
 *
 * Import paths (containerd's resolveImports):
 * - a path without `*` is cleaned and, if relative, joined to the directory
 *   of the file that imports it;
 * - a path with `*` is a glob; containerd 1.x globs it as written (relative
 *   to containerd's working directory — `/` under systemd), 2.x joins it to
 *   the importing file's directory first. We follow the rules of the
 *   config's version; `config check` warns about relative 1.x globs.
 * A missing import is an error, as it is for containerd.
 */
import { access, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fromSystemError, invalidArgument } from '../errdefs.js';
import { CRI_IMAGES_V3, CRI_RUNTIME_V3, CRI_V2, defaultTree, NATIVE, OVERLAYFS, v1PluginURI } from './defaults.js';
import { defaultFacts, type ConfigFacts } from './facts.js';
import { effectiveTree, mergeFiles, type MergeRules } from './merge.js';
import { configSchema } from './schema.js';
import { isTable, parseToml, type TomlTable, type TomlValue } from './toml.js';

export interface LoadedFile {
  path: string;
  tree: TomlTable;
}

export interface LoadedConfig {
  /** The main file as written (empty when it does not exist). */
  raw: Record<string, unknown>;
  /** containerd's view: defaults, files merged, imports resolved. */
  effective: Record<string, unknown>;
  facts: ConfigFacts;
  /** Every file read, main file first, in containerd's load order. */
  files: LoadedFile[];
  /** The config version containerd applies (1 when the file has none). */
  version: number;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fromSystemError(err, file);
  }
}

/** Go's filepath.Match for one path segment: `*`, `?`, `[...]` (with `^`/`!` negation), `\` escapes. */
export function segmentMatcher(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += '\\' + pattern[++i];
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw invalidArgument(`bad glob pattern ${JSON.stringify(pattern)}`);
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('^') || body.startsWith('!')) body = '^' + body.slice(1);
      re += '[' + body.replace(/\\/g, '\\\\') + ']';
      i = end;
    } else re += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return new RegExp('^' + re + '$');
}

/** filepath.Glob: matches sorted within each directory; unreadable directories match nothing. */
export async function glob(pattern: string): Promise<string[]> {
  const abs = path.isAbsolute(pattern);
  const parts = pattern.split('/').filter((p) => p !== '');
  let bases = [abs ? '/' : '.'];
  for (const part of parts) {
    const next: string[] = [];
    const magic = /[*?[]/.test(part);
    for (const base of bases) {
      if (!magic) {
        next.push(base === '.' && !abs ? part : path.join(base, part));
        continue;
      }
      const re = segmentMatcher(part);
      let names: string[];
      try {
        names = (await readdir(base)).sort();
      } catch {
        continue;
      }
      for (const n of names) if (re.test(n)) next.push(base === '.' && !abs ? n : path.join(base, n));
    }
    bases = next;
  }
  const out: string[] = [];
  for (const b of bases) {
    try {
      await access(b);
      out.push(b);
    } catch {
      /* a literal segment that does not exist */
    }
  }
  return out;
}

export async function resolveImports(parent: string, imports: TomlValue | undefined, rules: MergeRules): Promise<string[]> {
  if (!Array.isArray(imports)) return [];
  const out: string[] = [];
  for (const imp of imports) {
    if (typeof imp !== 'string') continue;
    let p = path.normalize(imp);
    if (rules === '2.x' || !p.includes('*')) {
      if (!path.isAbsolute(p)) p = path.join(path.dirname(parent), p);
    }
    if (p.includes('*')) out.push(...(await glob(p)));
    else out.push(p);
  }
  return out;
}

function versionOf(t: TomlTable): number {
  return typeof t.version === 'bigint' ? Number(t.version) : 0;
}

/** Read the main file and its imports; throws for invalid TOML and missing imports. */
export async function readConfigFiles(file: string): Promise<{ files: LoadedFile[]; merged: TomlTable; version: number } | undefined> {
  const mainText = await readText(file);
  if (mainText === undefined) return undefined;
  const mainTree = await parseToml(mainText, file);
  // The rules follow the main file: 3 means containerd 2.x read it.
  const rules: MergeRules = versionOf(mainTree) >= 3 ? '2.x' : '1.x';
  const files: LoadedFile[] = [];
  const merged: TomlTable = {};
  const loaded = new Set<string>();
  const pending = [file];
  while (pending.length) {
    const p = pending.shift()!;
    if (loaded.has(p)) continue;
    let tree: TomlTable;
    if (p === file) tree = mainTree;
    else {
      const text = await readText(p);
      if (text === undefined) throw invalidArgument('imported config file does not exist (containerd would refuse to start)', { subject: p });
      tree = await parseToml(text, p);
    }
    files.push({ path: p, tree });
    mergeFiles(merged, tree, rules);
    loaded.add(p);
    pending.push(...(await resolveImports(p, tree.imports, rules)));
  }
  merged.imports = [...loaded];
  const version = versionOf(merged) || 1;
  return { files, merged, version };
}

/** Version 1 names plugins by id; containerd then ignores keys written as URIs. */
function migrateV1(merged: TomlTable): TomlTable {
  const out: TomlTable = { ...merged, version: 2n };
  if (isTable(merged.plugins)) {
    const plugins: TomlTable = {};
    for (const [k, v] of Object.entries(merged.plugins)) if (!k.includes('.')) plugins[v1PluginURI(k)] = v;
    out.plugins = plugins;
  }
  for (const key of ['disabled_plugins', 'required_plugins']) {
    const list = merged[key];
    if (Array.isArray(list)) out[key] = list.map((x) => (typeof x === 'string' ? v1PluginURI(x) : x));
  }
  return out;
}

export async function loadConfig(file: string): Promise<LoadedConfig> {
  const read = await readConfigFiles(file);
  if (!read) {
    const effective = defaultTree(2);
    return { raw: {}, effective, facts: defaultFacts(), files: [], version: 2 };
  }
  const { files, version } = read;
  const merged = version === 1 ? migrateV1(read.merged) : read.merged;
  const schemaVersion = version >= 3 ? 3 : 2;
  const effective = effectiveTree(defaultTree(schemaVersion), merged, configSchema(schemaVersion), version >= 3 ? '2.x' : '1.x');
  effective.version = BigInt(Math.max(version, 2));
  effective.imports = merged.imports!;
  // containerd neither loads nor shows disabled plugins.
  if (isTable(effective.plugins) && Array.isArray(effective.disabled_plugins)) {
    for (const id of effective.disabled_plugins) if (typeof id === 'string') delete effective.plugins[id];
  }
  const facts = factsFrom(effective, version, file);
  return { raw: files[0]!.tree, effective, facts, files, version };
}

function get(t: TomlValue | undefined, ...keys: string[]): TomlValue | undefined {
  let cur = t;
  for (const k of keys) {
    if (!isTable(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

const str = (v: TomlValue | undefined): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** ConfigFacts from an effective tree (version 2 layout for 1 and 2, version 3 layout for 3). */
export function factsFrom(effective: TomlTable, version: number, file?: string): ConfigFacts {
  const facts = defaultFacts();
  facts.path = file;
  facts.version = version;
  facts.root = str(effective.root) ?? facts.root;
  facts.state = str(effective.state) ?? facts.state;
  const plugins = effective.plugins;
  const images = version >= 3 ? get(plugins, CRI_IMAGES_V3) : get(plugins, CRI_V2);
  const ctd = version >= 3 ? get(plugins, CRI_RUNTIME_V3, 'containerd') : get(images, 'containerd');
  facts.snapshotter = str(version >= 3 ? get(images, 'snapshotter') : get(ctd, 'snapshotter')) ?? facts.snapshotter;
  facts.overlayfsRootPath = str(get(plugins, OVERLAYFS, 'root_path'));
  facts.nativeRootPath = str(get(plugins, NATIVE, 'root_path'));
  facts.registry.configPath = str(get(images, 'registry', 'config_path'));
  const mirrors = get(images, 'registry', 'mirrors');
  if (isTable(mirrors)) {
    for (const [host, m] of Object.entries(mirrors)) {
      const ep = get(m, 'endpoint');
      if (Array.isArray(ep)) facts.registry.mirrors[host] = ep.filter((x): x is string => typeof x === 'string');
    }
  }
  const runtimes = get(ctd, 'runtimes');
  const defaultName = str(get(ctd, 'default_runtime_name'));
  const isRunc = (r: TomlValue | undefined) => /^io\.containerd\.runc\.v[12]$/.test(String(get(r, 'runtime_type') ?? ''));
  // The runc that CRI uses: the default runtime if it is runc-based, else the entry named runc.
  const runc = defaultName && isRunc(get(runtimes, defaultName)) ? get(runtimes, defaultName) : get(runtimes, 'runc');
  const opts = get(runc, 'options');
  facts.runc.binaryName = str(get(opts, 'BinaryName'));
  facts.runc.systemdCgroup = get(opts, 'SystemdCgroup') === true;
  facts.runc.root = str(get(opts, 'Root'));
  facts.disabledPlugins = Array.isArray(effective.disabled_plugins) ? effective.disabled_plugins.filter((x): x is string => typeof x === 'string') : [];
  return facts;
}
