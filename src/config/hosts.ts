/**
 * Registry hosts files for containerd's `config_path` (docs/hosts.md):
 *
 *   DIR/                      e.g. /etc/containerd/certs.d
 *     HOST/hosts.toml         HOST = docker.io, 10.0.0.1:5000, _default
 *
 *   server = "https://registry-1.docker.io"   # the registry itself
 *
 *   [host."https://mirror.example.com"]       # tried first, in file order
 *     capabilities = ["pull", "resolve"]
 *     skip_verify = true
 *     ca = "/etc/containerd/certs.d/docker.io/mirror-ca.crt"
 *
 * Writing merges into an existing file: its keys, its hosts and their order
 * stay; a mirror already listed is updated in place; new mirrors are added
 * at the end. Comments of an existing file are not kept (TOML libraries do
 * not keep them). The file is replaced atomically (temp file in the same
 * directory, fsync, rename), so containerd, which reads it on every pull,
 * never sees half a file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fromSystemError, invalidArgument } from '../errdefs.js';
import { validateEndpoint, validateRegistryHost } from './generate.js';
import { cloneTree, isTable, parseToml, stringifyToml, type TomlTable } from './toml.js';

export const DEFAULT_HOSTS_DIR = '/etc/containerd/certs.d';
export const CAPABILITIES = ['pull', 'resolve', 'push'] as const;

export interface HostsOptions {
  /** Registry host (`docker.io`, `registry.example.com:5000`) or `_default`. */
  host: string;
  /** Mirror URLs, in the order containerd should try them. */
  mirrors: string[];
  /** Capabilities of the mirrors; new mirrors get pull,resolve when unset. */
  capabilities?: string[];
  skipVerify?: boolean;
  /** CA certificate file for the mirrors. */
  ca?: string;
  /** certs.d directory; default /etc/containerd/certs.d. */
  dir?: string;
  /** `server`; default https://HOST (docker.io: https://registry-1.docker.io). */
  server?: string;
}

/** containerd's default upstream for a registry host. */
export function defaultServer(host: string): string | undefined {
  if (host === '_default') return undefined;
  if (host === 'docker.io') return 'https://registry-1.docker.io';
  return `https://${host}`;
}

/** The hosts directory name of a registry host; refuses anything that could leave DIR. */
export function hostDirName(host: string): string {
  if (!host || host.includes('/') || host.includes('\\') || host.includes('..') || host === '.' || host.includes('\0')) {
    throw invalidArgument(`${JSON.stringify(host)} is not a registry host (no "/", no "..")`, { subject: 'HOST' });
  }
  return validateRegistryHost(host, 'HOST');
}

export function parseCapabilities(list: string[] | undefined): string[] | undefined {
  if (list === undefined) return undefined;
  const caps = list.flatMap((c) => c.split(',')).map((c) => c.trim()).filter(Boolean);
  for (const c of caps) {
    if (!(CAPABILITIES as readonly string[]).includes(c)) throw invalidArgument(`unknown capability ${JSON.stringify(c)} (pull, resolve, push)`, { subject: '--capabilities' });
  }
  if (caps.length === 0) throw invalidArgument('must list at least one of pull, resolve, push', { subject: '--capabilities' });
  return [...new Set(caps)];
}

/** The existing tree with the options applied (pure; `existing` is not modified). */
export function mergeHosts(existing: TomlTable, opts: HostsOptions): TomlTable {
  hostDirName(opts.host);
  if (opts.mirrors.length === 0) throw invalidArgument('at least one --mirror URL is required', { subject: 'config hosts' });
  const caps = parseCapabilities(opts.capabilities);
  const out = cloneTree(existing);
  if (opts.server !== undefined) out.server = validateEndpoint(opts.server, '--server');
  else if (out.server === undefined) {
    const def = defaultServer(opts.host);
    if (def) out.server = def;
  }
  // `server` first, as containerd's docs write it, without reordering what else is there.
  const ordered: TomlTable = out.server !== undefined ? { server: out.server } : {};
  for (const [k, v] of Object.entries(out)) if (k !== 'server') ordered[k] = v;
  if (ordered.host !== undefined && !isTable(ordered.host)) throw invalidArgument('existing `host` is not a table', { subject: 'hosts.toml' });
  const hosts: TomlTable = isTable(ordered.host) ? ordered.host : {};
  for (const url of opts.mirrors) {
    validateEndpoint(url, '--mirror');
    const prev = hosts[url];
    const entry: TomlTable = isTable(prev) ? prev : {};
    if (caps) entry.capabilities = caps;
    else if (entry.capabilities === undefined) entry.capabilities = ['pull', 'resolve'];
    if (opts.skipVerify !== undefined) entry.skip_verify = opts.skipVerify;
    if (opts.ca !== undefined) entry.ca = opts.ca;
    hosts[url] = entry;
  }
  ordered.host = hosts;
  return ordered;
}

export function renderHosts(tree: TomlTable): string {
  return stringifyToml(tree, { style: 'v1', order: 'insertion', omitEmptyParents: true });
}

export interface HostsWriteResult {
  path: string;
  text: string;
  /** False when a file was there and was merged into. */
  created: boolean;
}

/** What writeHostsFile would write, without writing. */
export async function planHostsFile(opts: HostsOptions): Promise<HostsWriteResult> {
  const dir = path.join(opts.dir ?? DEFAULT_HOSTS_DIR, hostDirName(opts.host));
  const file = path.join(dir, 'hosts.toml');
  let existing: TomlTable = {};
  let created = true;
  try {
    const text = await readFile(file, 'utf8');
    existing = await parseToml(text, file);
    created = false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err instanceof Error && 'category' in err ? err : fromSystemError(err, file);
  }
  return { path: file, text: renderHosts(mergeHosts(existing, opts)), created };
}

/** Write (or merge into) DIR/HOST/hosts.toml atomically. */
export async function writeHostsFile(opts: HostsOptions): Promise<HostsWriteResult> {
  const plan = await planHostsFile(opts);
  const { path: file, text } = plan;
  const dir = path.dirname(file);
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw fromSystemError(err, dir);
  }
  const tmp = path.join(dir, `.hosts.toml.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw fromSystemError(err, file);
  }
  try {
    const dh = await open(dir, 'r');
    await dh.sync().finally(() => dh.close());
  } catch {
    /* directory fsync is best effort (not supported everywhere) */
  }
  return plan;
}
