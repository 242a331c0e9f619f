/**
 * The registry side of ctrx: OCI distribution over HTTP(S), for the pull and
 * push orchestration to build on.
 *
 *   import { createResolver } from '../images/registry/index.js';
 *   const resolver = createResolver(ctx, { user: '-u value', promptPassword, hostsDir, plainHttp, skipVerify, tlsCaCert });
 *
 *   resolver.resolve(ref)            → { name, ref, desc, endpoint }
 *       ref: 'redis' | Reference (Docker-normalised); desc: the root index or manifest.
 *   resolver.fetcher(ref)            → Fetcher for that repository
 *       .fetch(desc, { offset?, hash? }) → { stream: AsyncIterable<Uint8Array>, size, resumedFrom, endpoint, verified }
 *           resumedFrom < offset means the registry sent the blob from 0: truncate and restart the ingest.
 *           The stream ends with a CtrxError on a wrong size or digest (the last chunk is withheld until verified).
 *       .readDocument(desc)          → { bytes, document: { kind: 'index', index } | { kind: 'manifest', manifest } }
 *       .readManifest(desc) / .readIndex(desc) / .readConfig(desc) / .readBlob(desc, limit?)
 *   await resolver.pusher(ref)       → Pusher on the first endpoint with `push`
 *       .blobExists(desc) → boolean
 *       .pushBlob(desc, bytes | () => AsyncIterable<Uint8Array>, { mountFrom?: string[], chunkSize? }) → 'exists' | 'mounted' | 'uploaded'
 *       .putManifest(desc, bytes, { tag? }) → { digest }
 *   resolver.endpoints(registry)     → [{ host, base, mirror, source }] in the order tried
 *
 *   verifyLogin(server, { username, secret }, { plainHttp, skipVerify, tlsCaCert }) / saveLogin / removeLogin
 *   parseDocument(bytes, mediaType, subject) for documents already in the content store.
 *
 * `ctx` is an OpContext or anything with `facts.registry` (config_path,
 * /etc/containerd/certs.d when unset, and the legacy mirrors table) and
 * `onDebug`; `hostsDir` (--hosts-dir) replaces config_path, `hostsDir: []`
 * reads no hosts directory at all. Every failure is a CtrxError:
 * not-found (unknown reference or blob), permission-denied (authorization
 * failed), unavailable (network, stalls, refused redirects/realms, 5xx,
 * rate limits), failed-precondition (size/digest mismatch, over-limit
 * documents, schema 1), invalid-argument (malformed references, digests,
 * documents). Messages never contain credentials or URL query strings.
 * Limits (`opts.limits`) default to: manifests and configs 4 MiB, tokens
 * 1 MiB, error bodies 64 KiB, 10 redirects, 3 retries capped at 10 s each,
 * 30 s without progress.
 */
export { createResolver, USER_AGENT, type Resolver, type ResolverOptions, type ResolverContext, type Resolved, type EndpointInfo } from './resolver.js';
export type { Fetcher, FetchOptions, FetchResult } from './fetcher.js';
export type { Pusher, PushBlobOptions, BlobSource } from './pusher.js';
export { parseDocument, validateDescriptor, type ImageDocument, type Manifest, type Index } from './documents.js';
export { verifyLogin, loginRegistry, type LoginOptions } from './login.js';
export { saveLogin, removeLogin, lookupDockerCredential, dockerConfigPath, parseUserFlag, normalizeServer, authKeyFor, dockerConfigCredentials, staticCredentials, chainCredentials } from './credentials.js';
export { endpointsFor, parseHostsFile, findHostDirectory, hostDirectoryCandidates, splitHostsDirs, type HostsConfig } from './hosts.js';
export { closeIdleConnections } from './http.js';
export { parseJson } from './json.js';
export { redact } from './redact.js';
export { DEFAULT_LIMITS, type Descriptor, type Endpoint, type Limits, type Credential, type CredentialSource, type TlsConfig, type Capability } from './types.js';
