/**
 * Shared shapes of the registry client: descriptors, endpoints, limits,
 * credentials. Nothing here does I/O.
 */

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string; 'os.version'?: string; 'os.features'?: string[] };
  artifactType?: string;
}

export type Capability = 'pull' | 'resolve' | 'push';

export interface TlsConfig {
  /** Accept any certificate (hosts.toml `skip_verify`, `--skip-verify`). */
  skipVerify?: boolean;
  /** Extra CA certificates, PEM text (hosts.toml `ca`, `--tlscacert`); added to the system roots. */
  ca?: string[];
  /** Client certificate and key, PEM text (hosts.toml `client`). */
  cert?: string;
  key?: string;
}

/** One place to talk to for a registry: a mirror, or the registry itself. */
export interface Endpoint {
  /** `scheme://host[:port]/path`, the API root (normally ending in /v2), no trailing slash. */
  base: string;
  /** `host[:port]` of the endpoint: credentials are looked up by this. */
  host: string;
  scheme: 'http' | 'https';
  capabilities: Set<Capability>;
  tls: TlsConfig;
  /** Extra headers from hosts.toml `header` (never forwarded to another host). */
  headers: Record<string, string[]>;
  /** The registry named in the reference (docker.io, localhost:5000). */
  registry: string;
  /** A host other than the registry's own: requests carry `?ns=<registry>` as containerd's do. */
  mirror: boolean;
  /** Where this endpoint came from, for debug lines and errors. */
  source: string;
}

export interface Credential {
  username: string;
  /** A password or an identity token. */
  secret: string;
}

export interface CredentialSource {
  /** Credentials for an endpoint host (`host[:port]`), or undefined for anonymous access. */
  get(host: string, endpoint?: Endpoint): Promise<Credential | undefined>;
}

export interface Limits {
  /** Manifests and indexes (containerd: 4 MiB). */
  manifestBytes: number;
  /** Image configs read through readConfig. */
  configBytes: number;
  /** Token responses. */
  tokenBytes: number;
  /** Error bodies read for a message. */
  errorBodyBytes: number;
  maxRedirects: number;
  /** Retries of 429/502/503/504 and of connections reset before a response. */
  retries: number;
  retryBaseDelayMs: number;
  /** Cap on any single wait, whatever Retry-After says. */
  maxRetryDelayMs: number;
  /** No byte received (or sent) for this long ends the request. */
  idleTimeoutMs: number;
  /** Reconnections with Range inside one blob fetch after a connection is lost mid-body. */
  resumeAttempts: number;
}

export const DEFAULT_LIMITS: Limits = {
  manifestBytes: 4 << 20,
  configBytes: 4 << 20,
  tokenBytes: 1 << 20,
  errorBodyBytes: 64 << 10,
  maxRedirects: 10,
  retries: 3,
  retryBaseDelayMs: 500,
  maxRetryDelayMs: 10_000,
  idleTimeoutMs: 30_000,
  resumeAttempts: 3,
};

export function limitsWith(partial: Partial<Limits> | undefined): Limits {
  const out = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(partial ?? {})) {
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && k in out) (out as Record<string, number>)[k] = v;
  }
  return out;
}

/** A debug sink; lines never contain credentials (callers pass them through redact). */
export type DebugFn = (line: string) => void;
