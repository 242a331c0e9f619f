/**
 * Credentials: Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else
 * `~/.docker/config.json`) and `-u user[:password]`.
 *
 * Reading: `auths` entries keyed by a server address in any of Docker's
 * spellings (`https://index.docker.io/v1/`, `docker.io`, `host:port`,
 * `https://host/path`) match the endpoint host after normalisation
 * (docker.io, index.docker.io and registry-1.docker.io are one registry).
 * An entry gives `auth` (base64 `user:password`) or `username`/`password`,
 * or an `identitytoken` (used with Docker's `<token>` user). Credential
 * helpers (`credsStore`, `credHelpers`) are not run.
 *
 * Writing (`ctrx login`/`logout`): the file is re-read, only the one
 * `auths` entry changes, every other key is kept as it was; the new file is
 * written next to the old one with mode 0600, fsynced and renamed over it
 * (through a symlink to its target).
 *
 * Every secret read or given is registered with redact.ts.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, unlinkSync, writeSync, chmodSync, lstatSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { invalidArgument, internal } from '../../errdefs.js';
import { env } from '../../platform/index.js';
import { IDENTITY_TOKEN_USER } from './auth.js';
import { isObject, parseJson } from './json.js';
import { addCredential, addSecret } from './redact.js';
import type { Credential, CredentialSource, Endpoint } from './types.js';

/** Docker's key for Docker Hub in config.json. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** Where Docker keeps config.json: $DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigPath(): string {
  const dir = env('DOCKER_CONFIG');
  return path.join(dir && dir.length > 0 ? dir : path.join(homedir(), '.docker'), 'config.json');
}

/** An auths key or a server argument → `host[:port]` (docker.io for every Docker Hub spelling). */
export function normalizeServer(server: string): string {
  let s = server.trim();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = s.indexOf('/');
  if (slash >= 0) s = s.slice(0, slash);
  s = s.toLowerCase();
  return DOCKER_HUB_ALIASES.has(s) ? 'docker.io' : s;
}

/** The key `ctrx login` writes for a server (Docker's spelling for Docker Hub). */
export function authKeyFor(server: string): string {
  const n = normalizeServer(server);
  return n === 'docker.io' ? DOCKER_HUB_AUTH_KEY : n;
}

/** Parses `-u user[:password]`; the password is registered as a secret. */
export function parseUserFlag(value: string): { username: string; secret?: string } {
  const i = value.indexOf(':');
  const username = i < 0 ? value : value.slice(0, i);
  if (username.length === 0) throw invalidArgument('empty user name', { subject: '-u' });
  if (/[\s\0]/.test(username) && username !== IDENTITY_TOKEN_USER) throw invalidArgument('user name contains whitespace or NUL', { subject: '-u' });
  if (i < 0) return { username };
  const secret = value.slice(i + 1);
  addCredential(username, secret);
  return { username, secret };
}

type Json = Record<string, unknown>;

function readConfig(file: string): Json | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalidArgument(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { subject: file });
  }
  if (text.trim() === '') return undefined;
  // Never quote the file in an error: it holds secrets.
  let doc: unknown;
  try {
    doc = parseJson(text, 'docker config');
  } catch {
    throw invalidArgument('not valid JSON', { subject: file });
  }
  if (!isObject(doc)) throw invalidArgument('not a JSON object', { subject: file });
  return doc;
}

function entryCredential(entry: unknown): Credential | undefined {
  if (!isObject(entry)) return undefined;
  if (typeof entry.identitytoken === 'string' && entry.identitytoken) {
    addSecret(entry.identitytoken);
    return { username: IDENTITY_TOKEN_USER, secret: entry.identitytoken };
  }
  if (typeof entry.auth === 'string' && entry.auth) {
    addSecret(entry.auth);
    let decoded: string;
    try {
      decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    } catch {
      return undefined;
    }
    const i = decoded.indexOf(':');
    if (i <= 0) return undefined;
    const c = { username: decoded.slice(0, i), secret: decoded.slice(i + 1) };
    addCredential(c.username, c.secret);
    return c;
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string' && entry.username) {
    addCredential(entry.username, entry.password);
    return { username: entry.username, secret: entry.password };
  }
  return undefined;
}

/** Credentials stored for a host in a docker config file, or undefined. */
export function lookupDockerCredential(host: string, file = dockerConfigPath()): Credential | undefined {
  const doc = readConfig(file);
  if (!doc || !isObject(doc.auths)) return undefined;
  const want = normalizeServer(host);
  // An exact key wins over another spelling of the same host.
  const auths = doc.auths;
  const exact = auths[authKeyFor(host)] ?? auths[host];
  const fromExact = entryCredential(exact);
  if (fromExact) return fromExact;
  for (const [k, v] of Object.entries(auths)) {
    if (normalizeServer(k) === want) {
      const c = entryCredential(v);
      if (c) return c;
    }
  }
  return undefined;
}

/** A CredentialSource over a docker config file (read on each call, cheap and always current). */
export function dockerConfigCredentials(file = dockerConfigPath()): CredentialSource {
  return { get: async (host) => lookupDockerCredential(host, file) };
}

/** Static credentials for the listed hosts only. */
export function staticCredentials(hosts: string[], cred: Credential): CredentialSource {
  addCredential(cred.username, cred.secret);
  const set = new Set(hosts.map(normalizeServer));
  return { get: async (host) => (set.has(normalizeServer(host)) ? cred : undefined) };
}

/** The first source that has credentials for a host wins. */
export function chainCredentials(...sources: (CredentialSource | undefined)[]): CredentialSource {
  return {
    get: async (host: string, ep?: Endpoint) => {
      for (const s of sources) {
        const c = await s?.get(host, ep);
        if (c) return c;
      }
      return undefined;
    },
  };
}

function writeAtomically(file: string, doc: Json): void {
  let target = file;
  try {
    if (lstatSync(file).isSymbolicLink()) target = realpathSync(file);
  } catch {
    /* a new file */
  }
  const dir = path.dirname(target);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(doc, null, '\t') + '\n');
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* best effort */
    }
    throw internal(`cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { subject: target });
  }
  closeSync(fd);
  chmodSync(tmp, 0o600);
  renameSync(tmp, target);
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* directory fsync is best effort */
  }
}

/** Stores credentials for a server (`ctrx login`); returns the key written. */
export function saveLogin(server: string, cred: Credential, file = dockerConfigPath()): string {
  const doc: Json = readConfig(file) ?? {};
  const auths: Json = isObject(doc.auths) ? { ...doc.auths } : {};
  const key = authKeyFor(server);
  const want = normalizeServer(server);
  // Other spellings of the same registry would shadow or contradict the new entry.
  for (const k of Object.keys(auths)) if (k !== key && normalizeServer(k) === want) delete auths[k];
  const prev = isObject(auths[key]) ? (auths[key] as Json) : {};
  const entry: Json = {};
  for (const [k, v] of Object.entries(prev)) if (!['auth', 'username', 'password', 'identitytoken'].includes(k)) entry[k] = v;
  entry.auth = Buffer.from(`${cred.username}:${cred.secret}`).toString('base64');
  addSecret(entry.auth as string);
  auths[key] = entry;
  writeAtomically(file, { ...doc, auths });
  return key;
}

/** Removes the credentials of a server (`ctrx logout`); returns the keys removed (empty when there were none). */
export function removeLogin(server: string, file = dockerConfigPath()): string[] {
  const doc = readConfig(file);
  if (!doc || !isObject(doc.auths)) return [];
  const want = normalizeServer(server);
  const auths: Json = { ...doc.auths };
  const removed = Object.keys(auths).filter((k) => normalizeServer(k) === want);
  if (removed.length === 0) return [];
  for (const k of removed) delete auths[k];
  writeAtomically(file, { ...doc, auths });
  return removed;
}
