/**
 * `ctrx login` without the prompts: checks credentials against a registry's
 * API root (`GET /v2/`) with the same authorization path a pull takes (Basic,
 * or the token dance with the credentials, no scope), then stores them in
 * Docker's config.json. Logging in talks to the registry itself, never to a
 * mirror.
 */
import { invalidArgument } from '../../errdefs.js';
import { Authorizer } from './auth.js';
import { RegistryClient } from './client.js';
import { normalizeServer } from './credentials.js';
import { errorFromResponse } from './errors.js';
import { upstreamEndpoint } from './hosts.js';
import { USER_AGENT } from './resolver.js';
import { addCredential } from './redact.js';
import { limitsWith, type Credential, type DebugFn, type Limits, type TlsConfig } from './types.js';
import { readFileSync } from 'node:fs';

export interface LoginOptions {
  plainHttp?: boolean;
  skipVerify?: boolean;
  tlsCaCert?: string | string[];
  limits?: Partial<Limits>;
  userAgent?: string;
  onDebug?: DebugFn;
  signal?: AbortSignal;
}

const HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:]+\])(?::\d{1,5})?$/;

/**
 * A server argument (`docker.io`, `https://index.docker.io/v1/`, `host:5000`,
 * `https://host:5000`) → registry host; invalid ones throw. A scheme in the
 * argument chooses HTTP or HTTPS for the check; the stored key is the host.
 */
export function loginRegistry(server: string | undefined): string {
  const raw = server ?? 'docker.io';
  if (/[\s\0]/.test(raw) || raw.includes('@')) throw invalidArgument('a server is a host name with an optional port', { subject: 'server' });
  const host = normalizeServer(raw);
  if (!HOST.test(host)) throw invalidArgument(`invalid server ${JSON.stringify(host.slice(0, 80))}`, { subject: 'server' });
  return host;
}

/** Checks the credentials; resolves with the endpoint checked, throws permission-denied when they are refused. */
export async function verifyLogin(server: string | undefined, cred: Credential, opts: LoginOptions = {}): Promise<{ registry: string; endpoint: string }> {
  const registry = loginRegistry(server);
  addCredential(cred.username, cred.secret);
  const limits = limitsWith(opts.limits);
  const tls: TlsConfig = {};
  if (opts.skipVerify) tls.skipVerify = true;
  if (opts.tlsCaCert !== undefined) tls.ca = (Array.isArray(opts.tlsCaCert) ? opts.tlsCaCert : [opts.tlsCaCert]).map((f) => readFileSync(f, 'utf8'));
  const ep = upstreamEndpoint(registry, { plainHttp: opts.plainHttp, tls });
  // An explicit scheme in the server argument (https://host:5000) wins.
  const scheme = /^(https?):\/\//i.exec(server ?? '')?.[1]?.toLowerCase() as 'http' | 'https' | undefined;
  if (scheme && registry !== 'docker.io') {
    ep.scheme = scheme;
    ep.base = `${scheme}://${ep.host}/v2`;
  }
  const userAgent = opts.userAgent ?? USER_AGENT;
  const authorizer = new Authorizer({ credentials: async () => cred, limits, userAgent, onDebug: opts.onDebug, signal: opts.signal });
  const client = new RegistryClient(ep, '', { authorizer, limits, userAgent, onDebug: opts.onDebug, signal: opts.signal });
  const res = await client.send({ method: 'GET', path: new URL(`${ep.base}/`), scopes: [] });
  if (res.status !== 200) throw await errorFromResponse(res, registry, limits.errorBodyBytes);
  res.discard();
  return { registry, endpoint: ep.base };
}
