/**
 * Requests to one endpoint for one repository, with authorization: builds
 * the URL under the endpoint's API root (adding `?ns=<registry>` for a
 * mirror, as containerd does), attaches the known authorization and the
 * hosts.toml headers as sensitive headers (only sent to this origin), and
 * answers a 401 through the Authorizer once; a second 401 after a fresh
 * authorization is "authorization failed". A 401 that comes from another
 * origin after a redirect is an error, never a reason to send credentials
 * there.
 */
import { permissionDenied, unavailable } from '../../errdefs.js';
import { Authorizer, repositoryScope, type Authorization } from './auth.js';
import type { HttpResponse } from './http.js';
import { safeUrl } from './redact.js';
import { request } from './request.js';
import type { DebugFn, Endpoint, Limits } from './types.js';

export interface ClientShared {
  authorizer: Authorizer;
  limits: Limits;
  userAgent: string;
  onDebug?: DebugFn;
  signal?: AbortSignal;
}

export interface ClientRequest {
  method: string;
  /** Path under the repository (`manifests/latest`, `blobs/uploads/`), or an absolute URL (upload locations). */
  path: string | URL;
  headers?: Record<string, string>;
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  contentLength?: number;
  /** Token scopes; default pull on this repository. */
  scopes?: string[];
  /** Query parameters to add. */
  query?: Record<string, string>;
}

export class RegistryClient {
  constructor(
    readonly endpoint: Endpoint,
    readonly repository: string,
    private readonly shared: ClientShared,
  ) {}

  /** What to name in messages: `host/repository` of this endpoint. */
  get subject(): string {
    return this.repository ? `${this.endpoint.host}/${this.repository}` : this.endpoint.host;
  }

  url(p: string | URL, query?: Record<string, string>): URL {
    const u = p instanceof URL ? new URL(p.href) : new URL(`${this.endpoint.base}/${this.repository}/${p}`);
    if (this.endpoint.mirror && !u.searchParams.has('ns')) u.searchParams.set('ns', this.endpoint.registry);
    for (const [k, v] of Object.entries(query ?? {})) u.searchParams.set(k, v);
    return u;
  }

  async send(r: ClientRequest): Promise<HttpResponse> {
    const ep = this.endpoint;
    const scopes = r.scopes ?? [repositoryScope(this.repository, ['pull'])];
    const url = this.url(r.path, r.query);
    const start = new URL(ep.base).origin;
    if (url.origin !== start) {
      // Upload locations may point elsewhere; they get no credentials.
      return this.raw(r, url, undefined);
    }
    const { authorizer } = this.shared;
    let auth: Authorization | undefined = await authorizer.current(ep, scopes);
    for (let round = 0; ; round++) {
      const res = await this.raw(r, url, auth);
      if (res.status !== 401) return res;
      if (res.url.origin !== start) {
        res.discard();
        throw permissionDenied(`${res.url.host} asked for authorization after a redirect from ${ep.host}; credentials are only sent to ${ep.host}`, { subject: this.subject });
      }
      const challenge = res.header('www-authenticate');
      res.discard();
      if (auth?.fresh || round >= 2) {
        const who = auth?.user ? `the credentials of user ${JSON.stringify(auth.user)}` : 'anonymous access';
        throw permissionDenied(`authorization failed: ${ep.host} refused ${who}${this.repository ? ` for ${this.repository}` : ''}`, {
          subject: this.subject,
          hint: auth?.user ? `check the user name and password (ctrx login)${this.repository ? ', and that the repository exists' : ''}` : `run "ctrx login ${ep.registry}" or pass -u USER; or the repository does not exist`,
        });
      }
      if (r.body !== undefined && !(r.body instanceof Uint8Array)) {
        throw unavailable(`${ep.host} asked for authorization in the middle of a streamed upload`, { subject: this.subject });
      }
      auth = await authorizer.onUnauthorized(ep, scopes, challenge, auth, this.subject);
    }
  }

  private raw(r: ClientRequest, url: URL, auth: Authorization | undefined): Promise<HttpResponse> {
    const ep = this.endpoint;
    const sensitive: Record<string, string | string[]> = { ...ep.headers };
    if (auth) sensitive.authorization = auth.value;
    this.shared.onDebug?.(`${r.method} ${safeUrl(url)}${auth ? ' (authorized)' : ''}`);
    return request({
      method: r.method,
      url,
      headers: { 'user-agent': this.shared.userAgent, ...(r.headers ?? {}) },
      sensitiveHeaders: sensitive,
      body: r.body,
      contentLength: r.contentLength,
      tls: ep.tls,
      limits: this.shared.limits,
      signal: this.shared.signal,
      onDebug: this.shared.onDebug,
    });
  }
}
