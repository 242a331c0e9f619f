/**
 * Image references with Docker's normalisation (distribution/reference
 * ParseNormalizedNamed + TagNameOnly):
 *
 *   redis                 → docker.io/library/redis:latest
 *   user/app:1            → docker.io/user/app:1
 *   localhost/x           → localhost/x:latest
 *   host:5000/a/b@sha256:… (digest kept, no tag added)
 *   name:tag@sha256:…     (both kept; the digest is what gets resolved)
 *
 * The first path component is a registry host when it contains '.' or ':',
 * is `localhost`, or has an uppercase letter (as in Docker). Everything is
 * validated before any I/O or path is built: whitespace, control characters,
 * empty or dot components, uppercase repositories, URL schemes, credentials
 * (`user:pass@host/…`, never echoed back), over-long names and malformed
 * digests are invalid-argument errors.
 */
import { invalidArgument } from '../errdefs.js';
import { parseDigest, quoteForMessage } from '../digest.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
/** distribution's NameTotalLengthMax (domain + '/' + path). */
export const NAME_TOTAL_LENGTH_MAX = 255;

export interface Reference {
  /** Registry host (and port) as written, e.g. docker.io, localhost:5000, [::1]:5000. */
  domain: string;
  /** Repository inside the registry, e.g. library/redis. */
  path: string;
  tag?: string;
  digest?: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::([0-9]+))?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const HEX64 = /^[a-f0-9]{64}$/;
/** What must follow '@' in a reference; anything else after '@' may be credentials (`user:pass@host/x`). */
const KNOWN_DIGEST_START = /^(?:sha256|sha384|sha512):[^/]*$/;

/**
 * The input as it may appear in a message. When '@' is not followed by a
 * digest of a known algorithm, what precedes the last '@' may be
 * `user:password`, so it is replaced by `***`.
 */
function shown(input: string): string {
  const at = input.lastIndexOf('@');
  if (at >= 0 && (input.indexOf('@') !== at || !KNOWN_DIGEST_START.test(input.slice(at + 1)))) return quoteForMessage('***@' + input.slice(at + 1));
  return quoteForMessage(input);
}

function fail(input: string, reason: string): never {
  throw invalidArgument(`invalid reference format: ${reason}`, { subject: `reference ${shown(input)}` });
}

/** Splits Docker's implicit registry off a name, as splitDockerDomain does. */
function splitDomain(name: string): { domain: string; path: string } {
  const i = name.indexOf('/');
  let domain: string;
  let path: string;
  if (i === -1) {
    domain = DEFAULT_DOMAIN;
    path = name;
  } else {
    const first = name.slice(0, i);
    if (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first) {
      domain = DEFAULT_DOMAIN;
      path = name;
    } else {
      domain = first;
      path = name.slice(i + 1);
    }
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;
  return { domain, path };
}

function checkDomain(input: string, domain: string): void {
  const m = DOMAIN.exec(domain);
  if (!m) fail(input, `invalid registry host ${quoteForMessage(domain, 60)}`);
  if (m[1] !== undefined && (m[1].length > 5 || Number(m[1]) > 65535 || Number(m[1]) === 0)) fail(input, `invalid port ${m[1]}`);
}

function checkPath(input: string, path: string): void {
  if (path.length === 0) fail(input, 'empty repository name');
  for (const c of path.split('/')) {
    if (c.length === 0) fail(input, 'empty path component (double or trailing "/")');
    if (c === '.' || c === '..') fail(input, `path component ${JSON.stringify(c)} is not allowed`);
    if (c.toLowerCase() !== c && PATH_COMPONENT.test(c.toLowerCase())) fail(input, 'repository name must be lowercase');
    if (!PATH_COMPONENT.test(c)) {
      fail(input, `invalid path component ${quoteForMessage(c, 60)} (lowercase letters and digits, separated by ".", "_", "__" or "-")`);
    }
  }
}

export interface ParseOptions {
  /** Add `:latest` when neither a tag nor a digest is given (default true). */
  defaultTag?: boolean;
}

/** Parses and normalises a reference; throws invalid-argument on anything malformed. */
export function parseReference(input: string, opts: ParseOptions = {}): Reference {
  if (typeof input !== 'string') throw invalidArgument('invalid reference format: not a string', { subject: 'reference' });
  if (input.length === 0) fail(input, 'empty reference');
  if (/[\s\x00-\x1f\x7f]/.test(input)) fail(input, 'whitespace and control characters are not allowed');
  if (input.length > 4096) fail(input, 'too long');
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(input)) fail(input, 'a reference has no URL scheme (drop "https://" or "http://")');

  let rest = input;
  let digest: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const after = rest.slice(at + 1);
    if (rest.indexOf('@') !== at || !KNOWN_DIGEST_START.test(after)) {
      throw invalidArgument('invalid reference format: "@" must be followed by a digest (sha256:…); credentials are not allowed in image references (use -u or "ctrx login")', {
        subject: `reference ${shown(input)}`,
      });
    }
    try {
      digest = parseDigest(after).value;
    } catch (e) {
      fail(input, (e as Error).message);
    }
    rest = rest.slice(0, at);
  }
  if (rest.length === 0) fail(input, 'missing repository name');

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(input, `invalid tag ${quoteForMessage(tag, 60)} (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")`);
  }
  if (rest.length === 0) fail(input, 'missing repository name');

  if (HEX64.test(rest)) fail(input, 'a repository name cannot be a 64-character hexadecimal string (an image id?)');
  const { domain, path } = splitDomain(rest);
  checkDomain(input, domain);
  checkPath(input, path);
  if (domain.length + 1 + path.length > NAME_TOTAL_LENGTH_MAX) fail(input, `repository name longer than ${NAME_TOTAL_LENGTH_MAX} characters`);

  if (tag === undefined && digest === undefined && opts.defaultTag !== false) tag = DEFAULT_TAG;
  const ref: Reference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Like parseReference, but returns undefined instead of throwing. */
export function tryParseReference(input: string, opts?: ParseOptions): Reference | undefined {
  try {
    return parseReference(input, opts);
  } catch {
    return undefined;
  }
}

/** `domain/path` */
export function referenceName(r: Reference): string {
  return `${r.domain}/${r.path}`;
}

/** The full normalised string: `domain/path[:tag][@digest]`. */
export function formatReference(r: Reference): string {
  return referenceName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** Docker's short form for display: `redis:latest`, `user/app:1`, `localhost:5000/x:y`. */
export function familiarString(r: Reference): string {
  let name = referenceName(r);
  if (r.domain === DEFAULT_DOMAIN) {
    name = r.path;
    if (name.startsWith(OFFICIAL_REPO_PREFIX) && name.indexOf('/', OFFICIAL_REPO_PREFIX.length) === -1) name = name.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return name + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** What is asked of the registry: the digest when there is one, else the tag. */
export function objectOf(r: Reference): string {
  return r.digest ?? r.tag ?? DEFAULT_TAG;
}

export function withDigest(r: Reference, digest: string): Reference {
  return { ...r, digest: parseDigest(digest).value };
}

export function withTag(r: Reference, tag: string): Reference {
  if (!TAG.test(tag)) throw invalidArgument(`invalid tag ${quoteForMessage(tag, 60)}`, { subject: 'tag' });
  return { ...r, tag };
}

/** Normalises a reference string: `redis` → `docker.io/library/redis:latest`. */
export function normalizeReference(input: string): string {
  return formatReference(parseReference(input));
}
