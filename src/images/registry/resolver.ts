/**
 * The resolver: reference → descriptor, plus fetchers and pushers bound to
 * a reference's repository. See index.ts for the API overview.
 *
 * Resolution tries the endpoints that have `resolve` and `pull` (tags) or
 * `pull` (digests), in hosts order, with fallback: an endpoint that is
 * unreachable, errors or does not know the reference hands over to the
 * next; the error reported at the end is the last endpoint's (normally the
 * registry itself), naming the mirrors that failed before it.
 *
 * Per endpoint: HEAD `manifests/<tag|digest>` with the Accept list; its
 * Docker-Content-Digest, Content-Type and Content-Length make the
 * descriptor when all three are usable, otherwise a GET (bounded to the
 * manifest limit) is hashed and validated. A digest reference must hash to
 * its digest; a Docker-Content-Digest that disagrees with the bytes is
 * refused; schema 1 and HTML are refused with their own messages.
 */
import { CtrxError, failedPrecondition, invalidArgument, notFound, unavailable } from '../../errdefs.js';
import { digestOf, isDigest, type DigestAlgorithm } from '../../digest.js';
import { baseMediaType, isIndexType, isManifestType, isSchema1Type, MANIFEST_ACCEPT } from '../media-types.js';
import { formatReference, objectOf, parseReference, type Reference } from '../reference.js';
import { Authorizer } from './auth.js';
import { RegistryClient, type ClientShared } from './client.js';
import { dockerConfigCredentials, parseUserFlag } from './credentials.js';
import { parseDocument } from './documents.js';
import { errorFromResponse } from './errors.js';
import { createFetcher, type Fetcher } from './fetcher.js';
import { endpointsFor, hasCapabilities, splitHostsDirs, type HostsConfig } from './hosts.js';
import { createPusher, type Pusher } from './pusher.js';
import { addCredential, redact } from './redact.js';
import { limitsWith, type Capability, type Credential, type CredentialSource, type DebugFn, type Descriptor, type Endpoint, type Limits, type TlsConfig } from './types.js';
import { readFileSync } from 'node:fs';

export interface ResolverContext {
  /** containerd config facts: `registry.configPath` (hosts dirs) and `registry.mirrors`. */
  facts?: { registry?: { configPath?: string; mirrors?: Record<string, string[]> } };
  onDebug?: DebugFn;
}

/** containerd's conventional hosts.toml root. */
export const DEFAULT_HOSTS_DIR = '/etc/containerd/certs.d';

export interface ResolverOptions {
  /** `--hosts-dir`: hosts.toml roots; replaces config_path when given. */
  hostsDir?: string | string[];
  /** `--plain-http`: plain HTTP for registries without a hosts.toml scheme. */
  plainHttp?: boolean;
  /** `--skip-verify`/`-k`. */
  skipVerify?: boolean;
  /** `--tlscacert`: CA file(s) added to the system roots. */
  tlsCaCert?: string | string[];
  /** `-u user[:password]` (string or parsed): credentials for the registry named in the reference, not for its mirrors. */
  user?: string | { username: string; secret?: string };
  /** Asked once, when a registry first wants the -u password and none was given (the CLI prompts on the TTY). */
  promptPassword?: (registry: string, username: string) => Promise<string>;
  /** Docker config.json to read credentials from (default: $DOCKER_CONFIG or ~/.docker); false to ignore it. */
  dockerConfig?: string | false;
  /** Replaces the docker config as the source of stored credentials. */
  credentials?: CredentialSource;
  limits?: Partial<Limits>;
  userAgent?: string;
  signal?: AbortSignal;
}

/** An endpoint as callers may show it (no headers, no TLS material). */
export interface EndpointInfo {
  host: string;
  base: string;
  mirror: boolean;
  source: string;
}

export interface Resolved {
  /** The normalised reference string (`docker.io/library/redis:latest`). */
  name: string;
  ref: Reference;
  /** The root descriptor (index or manifest). */
  desc: Descriptor;
  /** Where it was resolved. */
  endpoint: EndpointInfo;
}

export interface Resolver {
  resolve(ref: string | Reference): Promise<Resolved>;
  /** Content of the reference's repository, from the endpoints with `pull`. */
  fetcher(ref: string | Reference): Fetcher;
  /** Push primitives for the reference's repository, on the first endpoint with `push`. */
  pusher(ref: string | Reference): Promise<Pusher>;
  /** The endpoints of a registry in the order they are tried (hosts.toml, mirrors, the registry). */
  endpoints(registry: string): Promise<EndpointInfo[]>;
}

export const USER_AGENT = 'ctrx/0.1 (containerd-compatible)';

function info(ep: Endpoint): EndpointInfo {
  return { host: ep.host, base: ep.base, mirror: ep.mirror, source: ep.source };
}

function readCaFiles(files: string | string[] | undefined): string[] | undefined {
  if (files === undefined) return undefined;
  const list = Array.isArray(files) ? files : [files];
  return list.map((f) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (e) {
      throw invalidArgument(`cannot read CA file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { subject: f });
    }
  });
}

export function createResolver(ctx: ResolverContext = {}, opts: ResolverOptions = {}): Resolver {
  const limits = limitsWith(opts.limits);
  const sink = ctx.onDebug;
  const onDebug: DebugFn | undefined = sink ? (line) => sink(redact(line)) : undefined;
  const tls: TlsConfig = {};
  if (opts.skipVerify) tls.skipVerify = true;
  const ca = readCaFiles(opts.tlsCaCert);
  if (ca?.length) tls.ca = ca;
  const hostsCfg: HostsConfig = {
    // With no config_path, the directory `ctrx config hosts` writes to (and nerdctl reads) still counts:
    // mirrors are honoured on every pull, not only when a flag asks.
    hostsDirs: opts.hostsDir !== undefined ? splitHostsDirs(opts.hostsDir) : splitHostsDirs(ctx.facts?.registry?.configPath || DEFAULT_HOSTS_DIR),
    mirrors: ctx.facts?.registry?.mirrors ?? {},
    plainHttp: opts.plainHttp,
    tls,
  };

  const user = typeof opts.user === 'string' ? parseUserFlag(opts.user) : opts.user;
  if (user?.secret !== undefined) addCredential(user.username, user.secret);
  let userCred: Promise<Credential> | undefined;
  const stored = opts.credentials ?? (opts.dockerConfig === false ? undefined : dockerConfigCredentials(opts.dockerConfig));
  const credentials = async (ep: Endpoint): Promise<Credential | undefined> => {
    if (user && !ep.mirror) {
      userCred ??= (async () => {
        let secret = user.secret;
        if (secret === undefined) {
          if (!opts.promptPassword) throw invalidArgument(`no password for user ${JSON.stringify(user.username)}`, { subject: '-u', hint: 'use -u user:password, or run on a terminal to be asked' });
          secret = await opts.promptPassword(ep.registry, user.username);
        }
        addCredential(user.username, secret);
        return { username: user.username, secret };
      })();
      return userCred;
    }
    return stored?.get(ep.host, ep);
  };

  const shared: ClientShared = {
    authorizer: new Authorizer({ credentials, limits, userAgent: opts.userAgent ?? USER_AGENT, onDebug, signal: opts.signal }),
    limits,
    userAgent: opts.userAgent ?? USER_AGENT,
    onDebug,
    signal: opts.signal,
  };
  const endpointCache = new Map<string, Promise<Endpoint[]>>();
  const endpoints = (registry: string): Promise<Endpoint[]> => {
    let p = endpointCache.get(registry);
    if (!p) {
      p = endpointsFor(registry, hostsCfg);
      endpointCache.set(registry, p);
      p.then((eps) => onDebug?.(`endpoints for ${registry}: ${eps.map((e) => `${e.base} [${[...e.capabilities].join(',')}] (${e.source})`).join(', ')}`)).catch(() => {});
    }
    return p;
  };
  const documents = new Map<string, Uint8Array>();
  const remember = (digest: string, bytes: Uint8Array): void => {
    if (documents.size >= 64) documents.delete(documents.keys().next().value!);
    documents.set(digest, bytes);
  };
  const parse = (r: string | Reference): Reference => (typeof r === 'string' ? parseReference(r) : r);
  const clientsWith = async (ref: Reference, caps: Capability[]): Promise<RegistryClient[]> =>
    (await endpoints(ref.domain)).filter((ep) => hasCapabilities(ep, caps)).map((ep) => new RegistryClient(ep, ref.path, shared));

  async function resolveAt(client: RegistryClient, ref: Reference): Promise<Descriptor> {
    const object = objectOf(ref);
    const subject = `${client.subject}:${object}`;
    const head = await client.send({ method: 'HEAD', path: `manifests/${object}`, headers: { accept: MANIFEST_ACCEPT } });
    if (head.status === 200) {
      const ct = baseMediaType(head.header('content-type'));
      const dcd = head.header('docker-content-digest');
      const len = head.contentLength();
      head.discard();
      if (isSchema1Type(ct)) parseDocument(new Uint8Array(0), ct, subject);
      if (ct === 'text/html') throw invalidArgument('the registry sent an HTML page instead of a manifest (a proxy or login portal in the way?)', { subject });
      if (ref.digest && isDigest(dcd) && dcd !== ref.digest) throw failedPrecondition(`${client.endpoint.host} answered ${dcd} for ${ref.digest}`, { subject });
      const digest = ref.digest ?? (isDigest(dcd) ? dcd : undefined);
      if (len !== undefined && len > limits.manifestBytes) throw failedPrecondition(`the manifest is ${len} bytes, over the limit of ${limits.manifestBytes}`, { subject });
      if (digest && len !== undefined && len > 0 && (isIndexType(ct) || isManifestType(ct))) return { mediaType: ct, digest, size: len };
    } else if (head.status === 404) {
      head.discard();
      throw notFound(`${formatReference(ref)} not found`, { subject: client.subject });
    } else {
      // 405 and friends: some registries only answer GET.
      head.discard();
    }
    const get = await client.send({ method: 'GET', path: `manifests/${object}`, headers: { accept: MANIFEST_ACCEPT } });
    if (get.status !== 200) throw await errorFromResponse(get, subject, limits.errorBodyBytes);
    const ct = baseMediaType(get.header('content-type'));
    if (isSchema1Type(ct) || ct === 'text/html') {
      get.discard();
      parseDocument(new Uint8Array(0), ct, subject);
    }
    let bytes: Uint8Array;
    try {
      bytes = await get.read(limits.manifestBytes, 'the manifest');
    } catch (e) {
      if (e instanceof CtrxError && /over the limit/.test(e.message)) throw failedPrecondition(e.message, { subject });
      throw e;
    }
    const dcd = get.header('docker-content-digest');
    const alg = ((ref.digest ?? (isDigest(dcd) ? dcd : 'sha256:')).split(':')[0] as DigestAlgorithm) || 'sha256';
    const computed = digestOf(bytes, alg);
    if (ref.digest && computed !== ref.digest) throw failedPrecondition(`content digest mismatch: the manifest served for ${ref.digest} hashes to ${computed}`, { subject });
    if (!ref.digest && isDigest(dcd) && dcd !== computed) throw failedPrecondition(`Docker-Content-Digest ${dcd} does not match the manifest, which hashes to ${computed}`, { subject });
    const doc = parseDocument(bytes, ct, subject);
    const desc = { mediaType: doc.mediaType, digest: computed, size: bytes.byteLength };
    remember(computed, bytes);
    return desc;
  }

  async function resolve(input: string | Reference): Promise<Resolved> {
    const ref = parse(input);
    const name = formatReference(ref);
    const caps: Capability[] = ref.digest ? ['pull'] : ['pull', 'resolve'];
    const clients = await clientsWith(ref, caps);
    if (clients.length === 0) throw failedPrecondition(`no endpoint of ${ref.domain} has the ${caps.join('+')} capabilities`, { subject: name, hint: 'check "capabilities" in hosts.toml' });
    const failures: { client: RegistryClient; err: CtrxError }[] = [];
    for (const client of clients) {
      try {
        const desc = await resolveAt(client, ref);
        onDebug?.(`resolved ${name} at ${client.endpoint.host}: ${desc.digest} ${desc.mediaType} ${desc.size}`);
        return { name, ref, desc, endpoint: info(client.endpoint) };
      } catch (e) {
        const err = e instanceof CtrxError ? e : unavailable(String((e as Error)?.message ?? e));
        failures.push({ client, err });
        onDebug?.(`resolve ${name} at ${client.endpoint.host}: ${err.message}`);
      }
    }
    const last = failures[failures.length - 1]!;
    if (failures.every((f) => f.err.category === 'not-found')) {
      throw notFound(`${name} not found${clients.length > 1 ? ` (tried ${clients.map((c) => c.endpoint.host).join(', ')})` : ''}`, { subject: name });
    }
    const earlier = failures.slice(0, -1).map((f) => `${f.client.endpoint.host}: ${f.err.message}`);
    const msg = earlier.length ? `${last.err.message} (also failed: ${earlier.join('; ')})` : last.err.message;
    throw new CtrxError(last.err.category, msg, { subject: last.err.subject ?? name, hint: last.err.hint, cause: last.err });
  }

  return {
    resolve,
    fetcher(input) {
      const ref = parse(input);
      return createFetcher({ clients: () => clientsWith(ref, ['pull']), limits, cache: documents, subject: `${ref.domain}/${ref.path}`, onDebug });
    },
    async pusher(input) {
      const ref = parse(input);
      const clients = await clientsWith(ref, ['push']);
      if (clients.length === 0) throw failedPrecondition(`no endpoint of ${ref.domain} has the push capability`, { subject: formatReference(ref), hint: 'check "capabilities" in hosts.toml' });
      return createPusher(clients[0]!, limits);
    },
    endpoints: async (registry) => (await endpoints(registry)).map(info),
  };
}
