/**
 * `ctrx config check`: what containerd would refuse, silently ignore, or
 * warn about in a config.toml and its imports.
 *
 * Errors are what makes containerd (or its CRI plugin) fail: invalid TOML,
 * wrong value types ("Can't convert 1(int64) to float64"), a missing import,
 * plugin keys that are not URIs in a version 2 file, and the CRI plugin's
 * own validation (a default runtime missing from `runtimes`, `mirrors`
 * together with `config_path`, ...). Warnings are what containerd ignores
 * (unknown keys and plugins) and what it deprecates — with the containerd
 * 1.7 deprecation texts' replacements.
 */
import { isCategory, notFound, CtrxError } from '../errdefs.js';
import { CRI_IMAGES_V3, CRI_RUNTIME_V3, CRI_V2, v1PluginURI } from './defaults.js';
import { deprecationsOf, semanticFindings } from './check-rules.js';
import { loadConfig, readConfigFiles } from './load.js';
import { configSchema, RUNC_OPTION_FIELDS, type Schema } from './schema.js';
import { formatPath, isTable, type TomlTable, type TomlValue } from './toml.js';

export type Severity = 'error' | 'warning';

export interface Finding {
  severity: Severity;
  /** TOML path as written in a table header, e.g. `plugins."io.containerd.grpc.v1.cri".registry.mirrors`. */
  path: string;
  message: string;
  /** The file the finding is in, when it is not the checked file itself (an import). */
  file?: string;
}

export interface CheckResult {
  file: string;
  version: number;
  files: string[];
  findings: Finding[];
  errors: number;
  warnings: number;
}

const GO_DURATION = /^[-+]?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;

/** containerd 2.x renamed these plugins in version 3. */
const V3_RENAMES: Record<string, string> = {
  'io.containerd.monitor.v1.cgroups': 'io.containerd.monitor.task.v1.cgroups',
  'io.containerd.internal.v1.restart': 'io.containerd.monitor.container.v1.restart',
};
/** Keys of version 2's CRI section that version 3 moved out of `io.containerd.grpc.v1.cri`. */
const V3_CRI_MOVES: Record<string, string> = {
  containerd: CRI_RUNTIME_V3, cni: CRI_RUNTIME_V3, enable_selinux: CRI_RUNTIME_V3, disable_apparmor: CRI_RUNTIME_V3,
  registry: CRI_IMAGES_V3, image_decryption: CRI_IMAGES_V3, max_concurrent_downloads: CRI_IMAGES_V3, sandbox_image: `${CRI_IMAGES_V3}".pinned_images.sandbox`,
};

export function describe(v: TomlValue): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (typeof v === 'bigint') return `integer ${v}`;
  if (typeof v === 'number') return `float ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (Array.isArray(v)) return 'an array';
  if (isTable(v)) return 'a table';
  return 'a date';
}

class Walker {
  readonly findings: Finding[] = [];
  constructor(private readonly file: string | undefined) {}

  add(severity: Severity, path: readonly string[], message: string): void {
    this.findings.push({ severity, path: formatPath(path) || '(top level)', message, ...(this.file ? { file: this.file } : {}) });
  }

  walk(v: TomlValue, s: Schema, path: string[]): void {
    switch (s.kind) {
      case 'any':
        return;
      case 'string':
        if (typeof v !== 'string') return this.typeError(path, 'a string', v);
        if (s.duration && v !== '' && !GO_DURATION.test(v)) this.add('error', path, `${JSON.stringify(v)} is not a Go duration (e.g. "10s", "1m30s", "100ms")`);
        if (s.oneOf && !s.oneOf.includes(v)) this.add('error', path, `${JSON.stringify(v)} is not one of ${s.oneOf.map((x) => JSON.stringify(x)).join(', ')}`);
        return;
      case 'int':
        if (typeof v !== 'bigint') return this.typeError(path, 'an integer', v);
        return;
      case 'float':
        if (typeof v !== 'number') return this.typeError(path, typeof v === 'bigint' ? `a float (write ${v}.0)` : 'a float', v);
        return;
      case 'bool':
        if (typeof v !== 'boolean') return this.typeError(path, 'true or false', v);
        return;
      case 'array':
        if (!Array.isArray(v)) return this.typeError(path, 'an array', v);
        v.forEach((x, i) => this.walk(x, s.of, [...path.slice(0, -1), `${path[path.length - 1]}[${i}]`]));
        return;
      case 'map':
        if (!isTable(v)) return this.typeError(path, 'a table', v);
        for (const [k, x] of Object.entries(v)) this.walk(x, s.known?.[k] ?? s.of, [...path, k]);
        return;
      case 'struct':
        if (!isTable(v)) return this.typeError(path, 'a table', v);
        for (const [k, x] of Object.entries(v)) {
          const fs = s.fields[k];
          if (fs) this.walk(x, fs, [...path, k]);
          else if (s.closed) this.add('warning', [...path, k], 'unknown key: containerd ignores it');
        }
        // runc's options are known; a `runc` entry without runtime_type is meant as runc too.
        const runcLike = /^io\.containerd\.runc\.v[12]$/.test(String(v.runtime_type ?? '')) || (v.runtime_type === undefined && path[path.length - 1] === 'runc');
        if (s.fields.runtime_type && isTable(v.options) && runcLike) {
          this.walk(v.options, { kind: 'struct', fields: RUNC_OPTION_FIELDS, closed: true }, [...path, 'options']);
        }
        return;
    }
  }

  private typeError(path: string[], want: string, got: TomlValue): void {
    this.add('error', path, `expected ${want}, got ${describe(got)} (containerd refuses to start)`);
  }
}

/** Findings of one file's tree, read as a config of `version` (1, 2 or 3). */
export function checkTree(tree: TomlTable, version: number, opts: { file?: string; isMain?: boolean } = {}): Finding[] {
  const w = new Walker(opts.file);
  const schema = configSchema(version);
  if (schema.kind !== 'struct') return [];
  if (tree.version !== undefined && (typeof tree.version !== 'bigint' || tree.version < 1n || tree.version > 3n)) {
    w.add('error', ['version'], `expected 1, 2 or 3, got ${describe(tree.version)}`);
  }
  if (opts.isMain !== false && version === 1) {
    w.add('warning', ['version'], 'no `version = 2`: read as version 1, deprecated since containerd 1.x and removed in 2.0; add `version = 2` and full plugin URIs');
  }
  for (const [k, v] of Object.entries(tree)) {
    if (k === 'plugins') continue;
    const fs = schema.fields[k];
    if (!fs) w.add('warning', [k], 'unknown key: containerd ignores it');
    else w.walk(v, fs, [k]);
  }
  for (const key of ['disabled_plugins', 'required_plugins']) {
    const list = tree[key];
    if (version === 2 && Array.isArray(list)) {
      for (const id of list) if (typeof id === 'string' && id.split('.').length < 4) w.add('error', [key], `invalid plugin URI ${JSON.stringify(id)}: expected io.containerd.<type>.<version>.<id> (containerd refuses to start)`);
    }
  }
  const plugins = tree.plugins;
  if (plugins !== undefined && !isTable(plugins)) w.add('error', ['plugins'], `expected a table, got ${describe(plugins)}`);
  const pluginSchema = schema.fields.plugins;
  if (isTable(plugins) && pluginSchema?.kind === 'map') {
    for (const [id, section] of Object.entries(plugins)) {
      const path = ['plugins', id];
      let uri = id;
      if (version === 1) {
        if (id.includes('.')) {
          w.add('error', path, `ignored: a version 1 config names plugins by id (e.g. [plugins.${id.split('.').pop()}]); add \`version = 2\` at the top to use plugin URIs`);
          continue;
        }
        uri = v1PluginURI(id);
        w.add('warning', path, `version 1 plugin key: in version 2 write [${formatPath(['plugins', uri])}]`);
      } else if (version === 2 && id.split('.').length < 4) {
        w.add('error', path, `invalid plugin key URI (containerd refuses to start): in version 2 write [${formatPath(['plugins', v1PluginURI(id)])}]`);
        continue;
      }
      const ps = pluginSchema.known?.[uri];
      if (!ps) {
        w.add('warning', path, unknownPluginMessage(uri, version));
        continue;
      }
      if (version >= 3 && uri === CRI_V2 && isTable(section)) {
        for (const k of Object.keys(section)) {
          if (V3_CRI_MOVES[k]) w.add('warning', [...path, k], `ignored: version 3 moved this to [${formatPath(['plugins', V3_CRI_MOVES[k]!.replace(/".*$/, '')])}]`);
        }
        const rest = Object.fromEntries(Object.entries(section).filter(([k]) => !V3_CRI_MOVES[k]));
        w.walk(rest, ps, path);
      } else {
        w.walk(section, ps, path);
      }
      if (isTable(section)) w.findings.push(...deprecationsOf(uri, section, path, version, opts.file));
    }
  }
  return w.findings;
}

function unknownPluginMessage(uri: string, version: number): string {
  if (version >= 3 && V3_RENAMES[uri]) return `unknown plugin: version 3 renamed it ${formatPath([V3_RENAMES[uri]!])}`;
  if (version < 3 && Object.values(V3_RENAMES).includes(uri)) return `unknown plugin in version ${version}: this is the version 3 (containerd 2.x) name`;
  if (version < 3 && (uri === CRI_IMAGES_V3 || uri === CRI_RUNTIME_V3)) return `unknown plugin in version ${version}: a version 3 (containerd 2.x) plugin; in version 2 use ${formatPath(['plugins', CRI_V2])}`;
  return 'unknown plugin: containerd ignores this section';
}

function count(findings: Finding[]): { errors: number; warnings: number } {
  return { errors: findings.filter((f) => f.severity === 'error').length, warnings: findings.filter((f) => f.severity === 'warning').length };
}

/** Check a config file and its imports. Throws not-found when the file itself does not exist. */
export async function checkConfig(file: string): Promise<CheckResult> {
  let read;
  try {
    read = await readConfigFiles(file);
  } catch (err) {
    if (err instanceof CtrxError && isCategory(err, 'invalid-argument')) {
      const findings: Finding[] = [{ severity: 'error', path: err.subject ?? file, message: err.message }];
      return { file, version: 0, files: [file], findings, ...count(findings) };
    }
    throw err;
  }
  if (!read) throw notFound('no such file (containerd would use its defaults)', { subject: file });
  const findings: Finding[] = [];
  read.files.forEach((f, i) => findings.push(...checkTree(f.tree, read.version, { file: i === 0 ? undefined : f.path, isMain: i === 0 })));
  if (read.version < 3) {
    for (const f of read.files) {
      const imports = Array.isArray(f.tree.imports) ? f.tree.imports : [];
      for (const imp of imports) {
        if (typeof imp === 'string' && imp.includes('*') && !imp.startsWith('/')) {
          findings.push({ severity: 'warning', path: 'imports', message: `relative glob ${JSON.stringify(imp)}: containerd 1.x resolves it against its working directory (/ under systemd), not this file's directory; use an absolute path`, ...(f.path !== file ? { file: f.path } : {}) });
        }
      }
    }
  }
  // The CRI plugin validates the merged view: only meaningful when every value has the right type.
  if (!findings.some((f) => f.severity === 'error')) {
    const loaded = await loadConfig(file);
    findings.push(...semanticFindings(loaded.effective as TomlTable, read.version));
  }
  return { file, version: read.version, files: read.files.map((f) => f.path), findings, ...count(findings) };
}
