/**
 * Fetching content by descriptor from the endpoints that may serve it
 * (`pull` capability, in order; 404 or an unreachable endpoint falls through
 * to the next).
 *
 * `fetch(desc, { offset })` asks for `Range: bytes=<offset>-` when resuming;
 * `resumedFrom` says where the stream really starts (0 when the registry
 * ignored the Range or answered 206 at another offset: the caller must
 * restart its ingest). The stream:
 * - refuses a Content-Length other than the bytes still expected;
 * - stops reading as soon as the body goes past the descriptor size;
 * - reconnects with Range (up to `resumeAttempts`) when the connection is
 *   lost mid-body, dropping the overlap if the registry then sends the
 *   whole blob again;
 * - when it sees the blob from byte 0 (or is given the hash of the prefix),
 *   hashes it and withholds the last chunk until the digest matches, so a
 *   consumer never receives a complete blob with the wrong digest;
 * - ends with a failed-precondition error when the size or digest is wrong.
 *
 * Documents (manifests, indexes) and configs are read whole through
 * `readDocument`/`readBlob` with the size limits checked before any I/O.
 */
import type { Hash } from 'node:crypto';
import { CtrxError, failedPrecondition, invalidArgument, notFound, unavailable } from '../../errdefs.js';
import { digestOf, digesterFor, type Digester } from '../../digest.js';
import { isDocumentType, MANIFEST_ACCEPT } from '../media-types.js';
import type { RegistryClient } from './client.js';
import { parseDocument, validateDescriptor, type ImageDocument, type Index, type Manifest } from './documents.js';
import { errorFromResponse } from './errors.js';
import { isStall, type HttpResponse } from './http.js';
import { isObject, parseJson } from './json.js';
import type { Descriptor, Limits } from './types.js';

export interface FetchOptions {
  /** Bytes the caller already has (resume); a Range request is made. */
  offset?: number;
  /** A sha256/512 hash already fed with the first `offset` bytes: the stream then verifies the digest too. */
  hash?: Hash;
}

export interface FetchResult {
  /** The bytes from `resumedFrom` to the end of the blob. */
  stream: AsyncIterable<Uint8Array>;
  /** The descriptor size (the blob's total length). */
  size: number;
  /** Where the stream starts: the requested offset, or 0 when the registry sent the whole blob. */
  resumedFrom: number;
  /** `host` of the endpoint that serves it. */
  endpoint: string;
  /** Whether the stream checks the digest before its last chunk. */
  verified: boolean;
}

export interface Fetcher {
  fetch(desc: Descriptor, opts?: FetchOptions): Promise<FetchResult>;
  /** A manifest or index, size-capped, digest-verified, validated. */
  readDocument(desc: Descriptor): Promise<{ bytes: Uint8Array; document: ImageDocument }>;
  readManifest(desc: Descriptor): Promise<{ bytes: Uint8Array; manifest: Manifest }>;
  readIndex(desc: Descriptor): Promise<{ bytes: Uint8Array; index: Index }>;
  /** A small blob read whole (default limit: configBytes), digest-verified. */
  readBlob(desc: Descriptor, limit?: number): Promise<Uint8Array>;
  /** An image config: readBlob + safe JSON parse (null-prototype objects). */
  readConfig(desc: Descriptor): Promise<{ bytes: Uint8Array; config: Record<string, unknown> }>;
}

export interface FetcherDeps {
  /** Clients for the endpoints allowed to serve content (pull capability), in order. */
  clients: () => Promise<RegistryClient[]>;
  limits: Limits;
  /** Documents already read by the resolver, by digest. */
  cache: Map<string, Uint8Array>;
  subject: string;
  onDebug?: (line: string) => void;
}

function contentRangeStart(v: string | undefined): number | undefined {
  const m = v ? /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(v.trim()) : null;
  return m ? Number(m[1]) : undefined;
}

interface Opened {
  res: HttpResponse;
  resumedFrom: number;
}

async function openAt(client: RegistryClient, desc: Descriptor, offset: number, limits: Limits, subject: string): Promise<Opened> {
  const doc = isDocumentType(desc.mediaType);
  const path = `${doc ? 'manifests' : 'blobs'}/${desc.digest}`;
  const accept = doc ? `${desc.mediaType}, ${MANIFEST_ACCEPT}` : '*/*';
  const get = (range: boolean): Promise<HttpResponse> => client.send({ method: 'GET', path, headers: { accept, ...(range ? { range: `bytes=${offset}-` } : {}) } });
  let res = await get(offset > 0);
  let resumedFrom = 0;
  if (offset > 0 && res.status === 206) {
    const start = contentRangeStart(res.header('content-range'));
    if (start === offset) resumedFrom = offset;
    else {
      res.discard();
      res = await get(false);
    }
  } else if (offset > 0 && res.status === 416) {
    res.discard();
    res = await get(false);
  }
  if (res.status !== 200 && !(res.status === 206 && resumedFrom > 0)) {
    throw await errorFromResponse(res, `${subject}@${desc.digest}`, limits.errorBodyBytes);
  }
  const expected = desc.size - resumedFrom;
  const cl = res.contentLength();
  if (cl !== undefined && cl !== expected) {
    res.discard();
    throw failedPrecondition(`${client.endpoint.host} sent Content-Length ${cl} for ${expected} expected bytes (descriptor size ${desc.size})`, { subject: `${subject}@${desc.digest}` });
  }
  return { res, resumedFrom };
}

function isNotFound(e: unknown): boolean {
  return e instanceof CtrxError && e.category === 'not-found';
}

export function createFetcher(deps: FetcherDeps): Fetcher {
  const { limits } = deps;

  async function fetch(descIn: Descriptor, opts: FetchOptions = {}): Promise<FetchResult> {
    const desc = validateDescriptor(descIn, 'descriptor', deps.subject);
    const offset = opts.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > desc.size) throw invalidArgument(`offset ${offset} is outside the blob (size ${desc.size})`, { subject: desc.digest });
    const clients = await deps.clients();
    if (clients.length === 0) throw failedPrecondition('no endpoint with the pull capability', { subject: deps.subject, hint: 'check "capabilities" in hosts.toml' });
    const errors: CtrxError[] = [];
    for (const client of clients) {
      let opened: Opened;
      try {
        opened = await openAt(client, desc, offset, limits, deps.subject);
      } catch (e) {
        const err = e instanceof CtrxError ? e : unavailable(String(e));
        if (err.category === 'permission-denied' && !client.endpoint.mirror) throw err;
        errors.push(err);
        deps.onDebug?.(`fetch ${desc.digest} from ${client.endpoint.host}: ${err.message}${client !== clients[clients.length - 1] ? '; trying the next endpoint' : ''}`);
        continue;
      }
      return stream(client, desc, opened, opts);
    }
    const last = errors[errors.length - 1]!;
    if (errors.every(isNotFound)) throw notFound(`${desc.digest} not found on ${clients.map((c) => c.endpoint.host).join(', ')}`, { subject: deps.subject });
    throw last;
  }

  function stream(client: RegistryClient, desc: Descriptor, opened: Opened, opts: FetchOptions): FetchResult {
    const { resumedFrom } = opened;
    let hasher: Digester | undefined;
    if (resumedFrom === 0) hasher = digesterFor(desc.digest);
    else if (opts.hash) hasher = digesterFor(desc.digest, opts.hash);
    const subject = `${deps.subject}@${desc.digest}`;
    const host = client.endpoint.host;

    async function* body(): AsyncGenerator<Uint8Array> {
      let res = opened.res;
      let pos = resumedFrom;
      let skip = 0;
      let pending: Uint8Array | undefined;
      let reconnects = 0;
      try {
        for (;;) {
          try {
            for await (const chunk of res.body()) {
              let c = chunk;
              if (skip > 0) {
                if (c.byteLength <= skip) {
                  skip -= c.byteLength;
                  continue;
                }
                c = c.subarray(skip);
                skip = 0;
              }
              if (pos + c.byteLength > desc.size) {
                res.discard();
                throw failedPrecondition(`${host} sent more than the ${desc.size} bytes of the blob`, { subject });
              }
              pos += c.byteLength;
              hasher?.update(c);
              if (pending) yield pending;
              pending = c;
            }
            break;
          } catch (e) {
            const lost = e instanceof CtrxError && e.category === 'unavailable' && !isStall(e);
            if (!lost || reconnects >= limits.resumeAttempts || pos >= desc.size) throw e;
            reconnects++;
            deps.onDebug?.(`${desc.digest}: connection lost at ${pos}/${desc.size}, reconnecting with Range (${reconnects}/${limits.resumeAttempts})`);
            const again = await client.send({ method: 'GET', path: `${isDocumentType(desc.mediaType) ? 'manifests' : 'blobs'}/${desc.digest}`, headers: { range: `bytes=${pos}-` } });
            const start = again.status === 206 ? contentRangeStart(again.header('content-range')) : again.status === 200 ? 0 : undefined;
            if (start === undefined || start > pos) {
              if (again.status !== 200 && again.status !== 206) throw await errorFromResponse(again, subject, limits.errorBodyBytes);
              again.discard();
              throw unavailable(`${host} cannot resume at byte ${pos}`, { subject });
            }
            const cl = again.contentLength();
            if (cl !== undefined && cl !== desc.size - start) {
              again.discard();
              throw failedPrecondition(`${host} sent Content-Length ${cl} for ${desc.size - start} expected bytes`, { subject });
            }
            skip = pos - start;
            res = again;
          }
        }
        if (pos !== desc.size) throw failedPrecondition(`${host} sent ${pos - resumedFrom} of ${desc.size - resumedFrom} bytes`, { subject, hint: 'run the command again to resume' });
        if (hasher) {
          const got = hasher.digest();
          if (got !== desc.digest) throw failedPrecondition(`content digest mismatch: ${host} sent data hashing to ${got}`, { subject });
        }
        if (pending) yield pending;
      } finally {
        res.discard();
      }
    }
    return { stream: body(), size: desc.size, resumedFrom, endpoint: host, verified: hasher !== undefined };
  }

  async function readWhole(desc: Descriptor, limit: number, what: string): Promise<Uint8Array> {
    const d = validateDescriptor(desc, 'descriptor', deps.subject);
    if (d.size > limit) throw failedPrecondition(`${what} is ${d.size} bytes, over the limit of ${limit}`, { subject: `${deps.subject}@${d.digest}` });
    const cached = deps.cache.get(d.digest);
    if (cached && cached.byteLength === d.size && digestOf(cached, d.digest.slice(0, d.digest.indexOf(':')) as 'sha256') === d.digest) return cached;
    const r = await fetch(d);
    const buf = new Uint8Array(d.size);
    let n = 0;
    for await (const c of r.stream) {
      buf.set(c, n);
      n += c.byteLength;
    }
    return buf;
  }

  async function readDocument(desc: Descriptor): Promise<{ bytes: Uint8Array; document: ImageDocument }> {
    const bytes = await readWhole(desc, limits.manifestBytes, 'manifest');
    const document = parseDocument(bytes, desc.mediaType, `${deps.subject}@${desc.digest}`);
    return { bytes, document };
  }

  return {
    fetch,
    readDocument,
    async readManifest(desc) {
      const { bytes, document } = await readDocument(desc);
      if (document.kind !== 'manifest') throw invalidArgument(`expected an image manifest, got an index (${document.mediaType})`, { subject: `${deps.subject}@${desc.digest}` });
      return { bytes, manifest: document.manifest };
    },
    async readIndex(desc) {
      const { bytes, document } = await readDocument(desc);
      if (document.kind !== 'index') throw invalidArgument(`expected an index, got an image manifest (${document.mediaType})`, { subject: `${deps.subject}@${desc.digest}` });
      return { bytes, index: document.index };
    },
    readBlob: (desc, limit) => readWhole(desc, limit ?? limits.configBytes, 'blob'),
    async readConfig(desc) {
      const bytes = await readWhole(desc, limits.configBytes, 'image config');
      const config = parseJson(bytes, 'image config', `${deps.subject}@${desc.digest}`);
      if (!isObject(config)) throw invalidArgument('an image config must be a JSON object', { subject: `${deps.subject}@${desc.digest}` });
      return { bytes, config };
    },
  };
}
