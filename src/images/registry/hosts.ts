/**
 * Which endpoints serve a registry, in the order they are tried: containerd's
 * hosts.toml layout first, then the legacy `registry.mirrors` table, then
 * the registry itself.
 *
 * - hosts directories (`--hosts-dir`, else config.toml `config_path`,
 *   ':'-separated): in each root, in order, the first of `<host>_<port>_`,
 *   `<host>:<port>`, `<host>`, `_default` that exists is used. Its
 *   hosts.toml lists `[host."URL"]` mirrors in file order, then `server`
 *   (default: the registry itself). Per host: `capabilities` (pull, resolve,
 *   push; all three by default), `skip_verify`, `ca` (file or files,
 *   relative to the directory), `client` (cert or [cert, key] pairs),
 *   `override_path`, `header`. A directory without hosts.toml contributes
 *   its `*.crt` (CAs) and `*.cert`/`*.key` (client pair) to the registry
 *   itself. Unlike containerd, a malformed hosts.toml is an error, not
 *   silently skipped: a broken mirror setup should not go unnoticed.
 * - Without a hosts directory for the registry: `registry.mirrors."<host>"`
 *   (or `"*"`) endpoints with pull and resolve, then the registry itself.
 * - The registry itself: docker.io → https://registry-1.docker.io; plain
 *   HTTP for loopback hosts (localhost, 127.0.0.0/8, ::1) unless a CA is
 *   given with --tlscacert, and with `--plain-http`; HTTPS otherwise. A URL
 *   without a scheme in hosts.toml follows the same rule.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { invalidArgument } from '../../errdefs.js';
import { isLoopbackHost } from './netpolicy.js';
import type { Capability, Endpoint, TlsConfig } from './types.js';

export interface HostsConfig {
  /** hosts.toml roots in order (from --hosts-dir, or config_path split on ':'). */
  hostsDirs?: string[];
  /** Legacy `registry.mirrors` from config.toml. */
  mirrors?: Record<string, string[]>;
  /** Plain HTTP for the registry itself (not for hosts.toml entries with an explicit scheme). */
  plainHttp?: boolean;
  /** TLS settings for every endpoint, refined per host by hosts.toml. */
  tls?: TlsConfig;
}

const ALL: Capability[] = ['pull', 'resolve', 'push'];

/** containerd's isProxy: an endpoint on another host than the registry (registry-1.docker.io counts as docker.io). */
export function isMirrorHost(endpointHost: string, registry: string): boolean {
  if (endpointHost === registry) return false;
  return !(registry === 'docker.io' && endpointHost === 'registry-1.docker.io');
}

/** Candidate directories for a registry inside one hosts root, most specific first. */
export function hostDirectoryCandidates(root: string, host: string): string[] {
  const out: string[] = [];
  const idx = host.lastIndexOf(':');
  if (idx > 0 && !host.endsWith(']')) out.push(path.join(root, `${host.slice(0, idx)}_${host.slice(idx + 1)}_`));
  out.push(path.join(root, host), path.join(root, '_default'));
  return out;
}

/** The hosts directory for a registry, or undefined. */
export function findHostDirectory(roots: string[], host: string): string | undefined {
  for (const root of roots) {
    for (const dir of hostDirectoryCandidates(root, host)) {
      try {
        if (statSync(dir).isDirectory()) return dir;
      } catch {
        /* not there */
      }
    }
  }
  return undefined;
}

/** Plain HTTP when asked, or for a loopback host unless a CA was given (a CA only makes sense with TLS). */
function defaultScheme(host: string, cfg: HostsConfig): 'http' | 'https' {
  if (cfg.plainHttp) return 'http';
  if (isLoopbackHost(host)) return cfg.tls?.ca?.length ? 'https' : 'http';
  return 'https';
}

/** The registry's own endpoint, with every capability. */
export function upstreamEndpoint(registry: string, cfg: HostsConfig, extra: Partial<Endpoint> = {}): Endpoint {
  const docker = registry === 'docker.io';
  const host = docker ? 'registry-1.docker.io' : registry;
  const scheme = docker ? 'https' : defaultScheme(host, cfg);
  return {
    base: `${scheme}://${host}/v2`,
    host,
    scheme,
    capabilities: new Set(ALL),
    tls: { ...(cfg.tls ?? {}) },
    headers: {},
    registry,
    mirror: false,
    source: 'default',
    ...extra,
  };
}

function readPem(file: string, what: string, source: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw invalidArgument(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { subject: source });
  }
}

function strings(v: unknown, what: string, source: string): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw invalidArgument(`"${what}" must be a string or a list of strings`, { subject: source });
}

interface EntryInput {
  capabilities?: unknown;
  skip_verify?: unknown;
  ca?: unknown;
  client?: unknown;
  header?: unknown;
  override_path?: unknown;
}

function endpointFrom(server: string, entry: EntryInput, dir: string, registry: string, cfg: HostsConfig, source: string): Endpoint {
  let raw = server;
  let implicit = false;
  if (!/^https?:\/\//i.test(raw)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) throw invalidArgument(`host ${JSON.stringify(server)}: only http and https are supported`, { subject: source });
    implicit = true;
    raw = `https://${raw}`;
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw invalidArgument(`invalid host URL ${JSON.stringify(server)}`, { subject: source });
  }
  if (u.username || u.password) throw invalidArgument(`host ${JSON.stringify(u.host)}: credentials do not belong in hosts.toml URLs`, { subject: source });
  const scheme: 'http' | 'https' = implicit ? defaultScheme(u.host, { tls: cfg.tls }) : (u.protocol.slice(0, -1) as 'http' | 'https');
  const override = entry.override_path === true;
  let p = u.pathname === '/' ? '' : path.posix.normalize(u.pathname).replace(/\/+$/, '');
  if (!override && !p.endsWith('/v2')) p = `${p}/v2`;

  let caps: Set<Capability>;
  if (entry.capabilities === undefined) caps = new Set(ALL);
  else {
    caps = new Set();
    for (const c of strings(entry.capabilities, 'capabilities', source)) {
      const l = c.toLowerCase();
      if (l !== 'pull' && l !== 'resolve' && l !== 'push') throw invalidArgument(`unknown capability ${JSON.stringify(c)} (pull, resolve, push)`, { subject: source });
      caps.add(l);
    }
  }
  const tls: TlsConfig = { ...(cfg.tls ?? {}) };
  if (entry.skip_verify !== undefined) {
    if (typeof entry.skip_verify !== 'boolean') throw invalidArgument('"skip_verify" must be true or false', { subject: source });
    tls.skipVerify = entry.skip_verify;
  }
  if (entry.ca !== undefined) {
    tls.ca = [...(tls.ca ?? []), ...strings(entry.ca, 'ca', source).map((f) => readPem(path.resolve(dir, f), 'CA file', source))];
  }
  if (entry.client !== undefined) {
    const c = entry.client;
    let pair: [string, string | undefined] | undefined;
    if (typeof c === 'string') pair = [c, undefined];
    else if (Array.isArray(c) && c.length > 0) {
      const first = c[0];
      if (typeof first === 'string') pair = [first, undefined];
      else if (Array.isArray(first) && first.length === 2 && first.every((x) => typeof x === 'string')) pair = [first[0], first[1]];
    }
    if (!pair) throw invalidArgument('"client" must be a file, a list of files or a list of [cert, key] pairs', { subject: source });
    tls.cert = readPem(path.resolve(dir, pair[0]), 'client certificate', source);
    tls.key = pair[1] ? readPem(path.resolve(dir, pair[1]), 'client key', source) : tls.cert;
  }
  const headers: Record<string, string[]> = {};
  if (entry.header !== undefined) {
    if (typeof entry.header !== 'object' || entry.header === null || Array.isArray(entry.header)) throw invalidArgument('"header" must be a table', { subject: source });
    for (const [k, v] of Object.entries(entry.header as Record<string, unknown>)) {
      if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(k)) throw invalidArgument(`invalid header name ${JSON.stringify(k)}`, { subject: source });
      const vals = strings(v, `header.${k}`, source);
      if (vals.some((x) => /[\r\n\0]/.test(x))) throw invalidArgument(`header ${k}: values cannot contain line breaks`, { subject: source });
      headers[k.toLowerCase()] = vals;
    }
  }
  const host = u.host;
  return {
    base: `${scheme}://${host}${p}`,
    host,
    scheme,
    capabilities: caps,
    tls,
    headers,
    registry,
    mirror: isMirrorHost(host, registry),
    source,
  };
}

/** Parses a hosts.toml text into endpoints, in the order containerd tries them. */
export async function parseHostsFile(text: string, dir: string, registry: string, cfg: HostsConfig = {}): Promise<Endpoint[]> {
  const source = `${path.join(dir, 'hosts.toml')}`;
  const { parse } = await import('smol-toml');
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0]!.slice(0, 200);
    throw invalidArgument(`invalid TOML: ${msg}`, { subject: source });
  }
  const out: Endpoint[] = [];
  const hosts = doc.host;
  if (hosts !== undefined) {
    if (typeof hosts !== 'object' || hosts === null || Array.isArray(hosts)) throw invalidArgument('"host" must be a table of [host."URL"] entries', { subject: source });
    for (const [url, entry] of Object.entries(hosts as Record<string, unknown>)) {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw invalidArgument(`[host.${JSON.stringify(url)}] must be a table`, { subject: source });
      out.push(endpointFrom(url, entry as EntryInput, dir, registry, cfg, source));
    }
  }
  if (doc.server !== undefined && typeof doc.server !== 'string') throw invalidArgument('"server" must be a string', { subject: source });
  const server = (doc.server as string | undefined) ?? '';
  if (server) out.push(endpointFrom(server, doc as EntryInput, dir, registry, cfg, source));
  else {
    // No server: the registry itself, with the top-level settings applied.
    const up = upstreamEndpoint(registry, cfg);
    const shaped = endpointFrom(up.base.replace(/\/v2$/, ''), { ...(doc as EntryInput), override_path: false }, dir, registry, cfg, source);
    out.push({ ...shaped, scheme: up.scheme, base: up.base, mirror: false });
  }
  return out;
}

function certFiles(dir: string, registry: string, cfg: HostsConfig): Endpoint {
  const up = upstreamEndpoint(registry, cfg, { source: dir });
  let names: string[] = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return up;
  }
  const ca = names.filter((n) => n.endsWith('.crt')).map((n) => readPem(path.join(dir, n), 'CA file', dir));
  if (ca.length) up.tls = { ...up.tls, ca: [...(up.tls.ca ?? []), ...ca] };
  const cert = names.find((n) => n.endsWith('.cert'));
  if (cert) {
    up.tls.cert = readPem(path.join(dir, cert), 'client certificate', dir);
    const key = path.join(dir, cert.slice(0, -5) + '.key');
    up.tls.key = existsSync(key) ? readPem(key, 'client key', dir) : up.tls.cert;
  }
  return up;
}

function legacyMirrors(registry: string, cfg: HostsConfig): Endpoint[] | undefined {
  const list = cfg.mirrors?.[registry] ?? cfg.mirrors?.['*'];
  if (!list || list.length === 0) return undefined;
  const source = `config.toml registry.mirrors.${JSON.stringify(registry)}`;
  const out: Endpoint[] = [];
  for (const raw of list) {
    const ep = endpointFrom(raw, { capabilities: ['pull', 'resolve'] }, '.', registry, cfg, source);
    out.push(ep);
  }
  const up = upstreamEndpoint(registry, cfg);
  const i = out.findIndex((e) => e.host === up.host);
  if (i >= 0) out[i] = { ...out[i]!, capabilities: new Set(ALL) };
  else out.push(up);
  return out;
}

/** The endpoints of a registry (`docker.io`, `localhost:5000`), in the order to try them. */
export async function endpointsFor(registry: string, cfg: HostsConfig = {}): Promise<Endpoint[]> {
  const roots = (cfg.hostsDirs ?? []).filter((d) => d.length > 0);
  if (roots.length) {
    const dir = findHostDirectory(roots, registry);
    if (dir) {
      const file = path.join(dir, 'hosts.toml');
      let text: string | undefined;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw invalidArgument(`cannot read: ${(e as NodeJS.ErrnoException).code}`, { subject: file });
      }
      if (text !== undefined && text.trim().length > 0) return parseHostsFile(text, dir, registry, cfg);
      return [certFiles(dir, registry, cfg)];
    }
  }
  return legacyMirrors(registry, cfg) ?? [upstreamEndpoint(registry, cfg)];
}

export function hasCapabilities(ep: Endpoint, caps: Capability[]): boolean {
  return caps.every((c) => ep.capabilities.has(c));
}

/** Splits containerd's ':'-separated config_path. */
export function splitHostsDirs(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.flatMap((v) => v.split(':')).filter((s) => s.length > 0);
}
