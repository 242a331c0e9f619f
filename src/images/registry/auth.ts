/**
 * Registry authorization: the Docker token dance and Basic auth.
 *
 * A request goes out with whatever authorization is already known for its
 * endpoint and scope. On 401 the challenge decides: `Bearer realm service
 * scope` → a token from the realm (GET with Basic credentials, or the OAuth2
 * refresh-token POST for Docker identity tokens), `Basic` → the endpoint's
 * credentials. A second 401 after a freshly obtained authorization ends in
 * "authorization failed" instead of looping.
 *
 * Tokens are cached for the process per (realm, service, scopes, user) until
 * `expires_in` runs out. Realms are judged by netpolicy (http(s) only, no
 * link-local/metadata address, loopback/private only from a registry in the
 * same class). Credentials go only to the endpoint that challenged and to
 * the realm it named, never along a redirect to another origin.
 */
import { permissionDenied, unavailable, CtrxError } from '../../errdefs.js';
import { parseChallenges, type Challenge } from './challenge.js';
import { isObject, parseJson } from './json.js';
import { targetRefusal } from './netpolicy.js';
import { addCredential, addSecret, quoteServerText, safeUrl } from './redact.js';
import { endpointClass, request } from './request.js';
import type { Credential, DebugFn, Endpoint, Limits } from './types.js';

/** Docker's marker user name for an identity (refresh) token in config.json. */
export const IDENTITY_TOKEN_USER = '<token>';

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Process-wide: a token obtained for a scope serves every later request for it. */
const tokenCache = new Map<string, CachedToken>();

export function clearTokenCache(): void {
  tokenCache.clear();
}

type HostScheme = { kind: 'bearer'; realm: string; service?: string; scope?: string } | { kind: 'basic' };

export interface Authorization {
  value: string;
  /** Obtained just now in answer to a challenge (a 401 after it means the credentials are refused). */
  fresh: boolean;
  /** Whether credentials were involved (for the message). */
  user?: string;
}

export interface AuthorizerOptions {
  credentials: (ep: Endpoint) => Promise<Credential | undefined>;
  limits: Limits;
  userAgent: string;
  onDebug?: DebugFn;
  signal?: AbortSignal;
}

export function basicHeader(c: Credential): string {
  addCredential(c.username, c.secret);
  const v = 'Basic ' + Buffer.from(`${c.username}:${c.secret}`).toString('base64');
  addSecret(v);
  return v;
}

/** `repository:<path>:<actions>` */
export function repositoryScope(path: string, actions: string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}

function origin(ep: Endpoint): string {
  return new URL(ep.base).origin;
}

export class Authorizer {
  private readonly schemes = new Map<string, HostScheme>();
  constructor(private readonly o: AuthorizerOptions) {}

  private cacheKey(s: Extract<HostScheme, { kind: 'bearer' }>, scopes: string[], user: string | undefined): string {
    return JSON.stringify([s.realm, s.service ?? '', [...new Set(scopes)].sort(), user ?? '']);
  }

  private allScopes(s: Extract<HostScheme, { kind: 'bearer' }>, scopes: string[]): string[] {
    const all = [...scopes];
    if (s.scope) for (const x of s.scope.split(' ')) if (x && !all.includes(x)) all.push(x);
    return all;
  }

  /**
   * What to send before any 401: Basic credentials once the endpoint is known
   * to want them, a cached token for these scopes, or (the endpoint being
   * known to use tokens) a token fetched now, saving a round trip per scope.
   */
  async current(ep: Endpoint, scopes: string[]): Promise<Authorization | undefined> {
    const s = this.schemes.get(origin(ep));
    if (!s) return undefined;
    const cred = await this.o.credentials(ep);
    if (s.kind === 'basic') return cred ? { value: basicHeader(cred), fresh: false, user: cred.username } : undefined;
    const hit = tokenCache.get(this.cacheKey(s, scopes, cred?.username));
    if (hit && hit.expiresAt > Date.now()) return { value: `Bearer ${hit.token}`, fresh: false, user: cred?.username };
    const token = await this.fetchToken(ep, s, scopes, cred, ep.host);
    return { value: `Bearer ${token}`, fresh: true, user: cred?.username };
  }

  /**
   * After a 401 from `ep`: learns the challenge and returns a fresh
   * authorization to retry with, or throws (permission-denied) when there is
   * none to be had.
   */
  async onUnauthorized(ep: Endpoint, scopes: string[], wwwAuthenticate: string | undefined, sent: Authorization | undefined, what: string): Promise<Authorization> {
    const challenges = parseChallenges(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.get('realm'));
    const basic = challenges.find((c) => c.scheme === 'basic');
    const host = ep.host;
    if (!bearer && !basic) {
      throw permissionDenied(`${host} requires authorization but sent no usable challenge${wwwAuthenticate ? ` (WWW-Authenticate: ${quoteServerText(wwwAuthenticate, 80)})` : ''}`, { subject: what });
    }
    const cred = await this.o.credentials(ep);
    if (bearer) {
      const s = schemeOf(bearer);
      this.schemes.set(origin(ep), s);
      const all = this.allScopes(s, scopes);
      const key = this.cacheKey(s, all, cred?.username);
      if (sent) tokenCache.delete(key);
      const token = await this.fetchToken(ep, s, all, cred, what);
      return { value: `Bearer ${token}`, fresh: true, user: cred?.username };
    }
    this.schemes.set(origin(ep), { kind: 'basic' });
    if (!cred) {
      throw permissionDenied(`${host} requires a user name and password`, { subject: what, hint: `run "ctrx login ${ep.registry}" or pass -u USER` });
    }
    return { value: basicHeader(cred), fresh: true, user: cred.username };
  }

  private async fetchToken(ep: Endpoint, s: Extract<HostScheme, { kind: 'bearer' }>, scopes: string[], cred: Credential | undefined, what: string): Promise<string> {
    const epUrl = new URL(ep.base);
    let realm: URL;
    try {
      realm = new URL(s.realm);
    } catch {
      throw unavailable(`${ep.host} named an invalid token realm ${JSON.stringify(quoteServerText(s.realm, 80))}`, { subject: what });
    }
    const refusal = targetRefusal(realm, epUrl, await endpointClass(epUrl));
    if (refusal) throw unavailable(`refusing the token realm ${safeUrl(realm)} named by ${ep.host}: ${refusal}`, { subject: what });

    const identity = cred && cred.username === IDENTITY_TOKEN_USER;
    const url = new URL(realm.href);
    let body: Uint8Array | undefined;
    const headers: Record<string, string> = { 'user-agent': this.o.userAgent, accept: 'application/json' };
    const sensitive: Record<string, string> = {};
    if (identity) {
      addSecret(cred.secret);
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.secret, client_id: 'ctrx', access_type: 'offline' });
      if (s.service) form.set('service', s.service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      body = new TextEncoder().encode(form.toString());
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      if (s.service) url.searchParams.set('service', s.service);
      for (const sc of scopes) url.searchParams.append('scope', sc);
      if (cred) {
        url.searchParams.set('account', cred.username);
        sensitive.authorization = basicHeader(cred);
      }
    }
    this.o.onDebug?.(`token for ${scopes.join(' ') || '(no scope)'} from ${safeUrl(realm)}${cred ? ` as ${identity ? 'identity token' : JSON.stringify(cred.username)}` : ' (anonymous)'}`);
    const res = await request({
      method: identity ? 'POST' : 'GET',
      url,
      headers,
      sensitiveHeaders: sensitive,
      body,
      tls: ep.tls,
      limits: this.o.limits,
      signal: this.o.signal,
      onDebug: this.o.onDebug,
      policyOrigin: epUrl,
      guardFirstHop: true,
    });
    const who = cred ? (identity ? 'the stored identity token' : `the credentials of user ${JSON.stringify(cred.username)}`) : 'anonymous access';
    if (res.status === 401 || res.status === 403) {
      res.discard();
      throw permissionDenied(`authorization failed: the token server ${realm.host} refused ${who}`, {
        subject: what,
        hint: cred ? `check the password, or run "ctrx login ${ep.registry}" again` : `run "ctrx login ${ep.registry}" or pass -u USER`,
      });
    }
    if (res.status !== 200) {
      const brief = quoteServerText((await res.readPrefix(this.o.limits.errorBodyBytes)).toString('utf8'), 160);
      throw unavailable(`token server ${safeUrl(res.url)}: HTTP ${res.status}${brief ? `: ${brief}` : ''}`, { subject: what });
    }
    let raw: Buffer;
    try {
      raw = await res.read(this.o.limits.tokenBytes, 'token response');
    } catch (e) {
      if (e instanceof CtrxError) throw unavailable(`token server ${realm.host}: ${e.message}`, { subject: what });
      throw e;
    }
    let doc: unknown;
    try {
      doc = parseJson(raw, 'token response');
    } catch (e) {
      throw unavailable(`token server ${realm.host}: ${(e as Error).message}`, { subject: what });
    }
    const token = isObject(doc) ? (typeof doc.token === 'string' && doc.token ? doc.token : doc.access_token) : undefined;
    if (typeof token !== 'string' || token.length === 0) throw unavailable(`token server ${realm.host} answered without a token`, { subject: what });
    if (!/^[\x21-\x7e]+$/.test(token)) throw unavailable(`token server ${realm.host} answered with a malformed token`, { subject: what });
    addSecret(token);
    if (isObject(doc) && typeof doc.refresh_token === 'string') addSecret(doc.refresh_token);
    const expiresIn = isObject(doc) && typeof doc.expires_in === 'number' && doc.expires_in >= 60 ? Math.min(doc.expires_in, 86400) : 60;
    tokenCache.set(this.cacheKey(s, scopes, cred?.username), { token, expiresAt: Date.now() + expiresIn * 1000 - 5000 });
    return token;
  }
}

function schemeOf(c: Challenge): Extract<HostScheme, { kind: 'bearer' }> {
  return { kind: 'bearer', realm: c.params.get('realm')!, service: c.params.get('service'), scope: c.params.get('scope') };
}
