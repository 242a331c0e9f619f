/**
 * `ctrx config default`: containerd's default config with the few settings
 * operators edit by hand applied, written the way containerd writes it
 * (version 2: containerd 1.6/1.7; version 3: containerd 2.x).
 */
import path from 'node:path';
import { invalidArgument } from '../errdefs.js';
import { CRI_IMAGES_V3, CRI_RUNTIME_V3, CRI_V2, defaultTree } from './defaults.js';
import { isTable, stringifyToml, type TomlTable } from './toml.js';

export interface GenerateOptions {
  /** Config version: 2 (containerd 1.x, default) or 3 (containerd 2.x). */
  version?: number;
  /** runc runtime `options.SystemdCgroup = true`. */
  systemdCgroup?: boolean;
  /** CRI sandbox (pause) image. */
  sandboxImage?: string;
  /** Legacy CRI mirrors: [host, endpoint] pairs; endpoints of one host accumulate in order. */
  mirrors?: Array<[string, string]>;
  /** CRI `registry.config_path` (hosts.toml directories). */
  configPath?: string;
  root?: string;
  state?: string;
  oomScore?: number;
}

/** `HOST=ENDPOINT` of `--mirror`. */
export function parseMirrorFlag(flag: string): [string, string] {
  const eq = flag.indexOf('=');
  if (eq <= 0 || eq === flag.length - 1) {
    throw invalidArgument(`expected HOST=ENDPOINT, got ${JSON.stringify(flag)}`, { subject: '--mirror', hint: 'e.g. --mirror docker.io=https://mirror.example.com' });
  }
  return [flag.slice(0, eq), flag.slice(eq + 1)];
}

export function validateEndpoint(endpoint: string, subject: string): string {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw invalidArgument(`${JSON.stringify(endpoint)} is not a URL`, { subject, hint: 'write the scheme: https://HOST[:PORT] or http://HOST[:PORT]' });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw invalidArgument(`${JSON.stringify(endpoint)}: scheme must be http or https`, { subject });
  return endpoint;
}

/** A registry host as containerd names it: host[:port], no path, no scheme. */
export function validateRegistryHost(host: string, subject: string, specials: readonly string[] = ['_default']): string {
  if (specials.includes(host)) return host;
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$/.test(host) && !/^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$/.test(host)) {
    throw invalidArgument(`${JSON.stringify(host)} is not a registry host (host[:port], no scheme or path)`, { subject });
  }
  if (host.includes('..')) throw invalidArgument(`${JSON.stringify(host)} must not contain ".."`, { subject });
  return host;
}

function table(t: TomlTable, ...keys: string[]): TomlTable {
  let cur = t;
  for (const k of keys) {
    const next = cur[k];
    if (!isTable(next)) throw new Error(`default tree has no table ${keys.join('.')}`);
    cur = next;
  }
  return cur;
}

function sortedTable(t: TomlTable): TomlTable {
  return Object.fromEntries(Object.keys(t).sort().map((k) => [k, t[k]!]));
}

export function generateTree(opts: GenerateOptions = {}): TomlTable {
  const version = opts.version ?? 2;
  if (version !== 2 && version !== 3) throw invalidArgument(`unsupported config version ${version} (2 for containerd 1.x, 3 for containerd 2.x)`, { subject: '--config-version' });
  const tree = defaultTree(version);
  if (opts.root !== undefined) tree.root = absolute(opts.root, '--root');
  if (opts.state !== undefined) tree.state = absolute(opts.state, '--state');
  if (opts.oomScore !== undefined) {
    if (!Number.isInteger(opts.oomScore) || opts.oomScore < -1000 || opts.oomScore > 1000) {
      throw invalidArgument(`${opts.oomScore} is not an integer from -1000 to 1000`, { subject: '--oom-score' });
    }
    tree.oom_score = BigInt(opts.oomScore);
  }
  const images = version === 3 ? table(tree, 'plugins', CRI_IMAGES_V3) : table(tree, 'plugins', CRI_V2);
  const containerd = version === 3 ? table(tree, 'plugins', CRI_RUNTIME_V3, 'containerd') : table(images, 'containerd');
  if (opts.sandboxImage !== undefined) {
    if (!opts.sandboxImage.trim()) throw invalidArgument('must not be empty', { subject: '--sandbox-image' });
    if (version === 3) table(images, 'pinned_images').sandbox = opts.sandboxImage;
    else images.sandbox_image = opts.sandboxImage;
  }
  if (opts.systemdCgroup) {
    const options = table(containerd, 'runtimes', 'runc', 'options');
    options.SystemdCgroup = true;
    // A Go map: both go-toml versions write its keys sorted.
    table(containerd, 'runtimes', 'runc').options = sortedTable(options);
  }
  if (opts.mirrors?.length && opts.configPath !== undefined) {
    throw invalidArgument('--mirror and --config-path cannot be combined: the CRI plugin refuses `mirrors` when `config_path` is set', {
      subject: 'flags',
      hint: 'keep --config-path and write the mirrors as hosts.toml files: ctrx config hosts HOST --mirror URL',
    });
  }
  const registry = table(images, 'registry');
  if (opts.configPath !== undefined) {
    if (!opts.configPath.trim()) throw invalidArgument('must not be empty', { subject: '--config-path' });
    registry.config_path = opts.configPath;
  }
  if (opts.mirrors?.length) {
    const mirrors: Record<string, string[]> = {};
    for (const [host, endpoint] of opts.mirrors) {
      // CRI's legacy mirrors accept "*" for every registry.
      validateRegistryHost(host, '--mirror', ['*']);
      validateEndpoint(endpoint, '--mirror');
      (mirrors[host] ??= []).push(endpoint);
    }
    const out: TomlTable = isTable(registry.mirrors) ? registry.mirrors : {};
    for (const host of Object.keys(mirrors)) out[host] = { endpoint: mirrors[host]! };
    registry.mirrors = sortedTable(out);
  }
  return tree;
}

function absolute(p: string, subject: string): string {
  if (!p.trim()) throw invalidArgument('must not be empty', { subject });
  return path.resolve(p);
}

/** The config.toml text, formatted as the matching containerd generation does. */
export function generateConfig(opts: GenerateOptions = {}): string {
  const tree = generateTree(opts);
  return stringifyToml(tree, { style: (opts.version ?? 2) === 3 ? 'v2' : 'v1' });
}
