/**
 * One logical request: redirects followed by hand (at most `maxRedirects`,
 * only to http(s) targets the network policy allows, loops detected,
 * credentials and hosts.toml headers dropped as soon as the chain leaves
 * the original origin and never restored), and 429/502/503/504 or a
 * connection reset before any response retried with capped backoff
 * (Retry-After honoured up to `maxRetryDelayMs`, never beyond).
 */
import { lookup } from 'node:dns/promises';
import { unavailable, CtrxError } from '../../errdefs.js';
import { isStaleConnection, send, type HttpResponse } from './http.js';
import { addressRefusal, classifyIp, hostnameOf, isLoopbackHost, targetRefusal, type AddressClass } from './netpolicy.js';
import { redact, safeUrl } from './redact.js';
import type { DebugFn, Limits, TlsConfig } from './types.js';

export interface RequestOptions {
  method: string;
  url: URL;
  /** Headers sent on every hop. */
  headers?: Record<string, string | string[]>;
  /** Headers sent only while the chain stays on the original origin (Authorization, hosts.toml headers). */
  sensitiveHeaders?: Record<string, string | string[]>;
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  contentLength?: number;
  tls?: TlsConfig;
  limits: Limits;
  signal?: AbortSignal;
  onDebug?: DebugFn;
  /** Policy origin when it differs from `url` (a token realm is judged against the registry endpoint). */
  policyOrigin?: URL;
  /** Check the addresses of the first hop too (token realms); redirects are always checked. */
  guardFirstHop?: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const RETRYABLE = new Set([429, 502, 503, 504]);

const classCache = new Map<string, Promise<AddressClass>>();

/** The address class of an endpoint the user configured (host names are resolved once). */
export function endpointClass(url: URL): Promise<AddressClass> {
  const host = hostnameOf(url).toLowerCase();
  if (isLoopbackHost(host)) return Promise.resolve('loopback');
  const literal = classifyIp(host);
  if (literal) return Promise.resolve(literal);
  let p = classCache.get(host);
  if (!p) {
    p = lookup(host, { all: true })
      .then((addrs) => {
        const classes = addrs.map((a) => classifyIp(a.address) ?? 'public');
        return classes.includes('loopback') ? 'loopback' : classes.includes('private') ? 'private' : 'public';
      })
      .catch(() => 'public' as AddressClass);
    classCache.set(host, p);
  }
  return p;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(unavailable('cancelled'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(unavailable('cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retry-After in ms (delta-seconds or an HTTP date), or undefined. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d{1,12}$/.test(v)) return Number(v) * 1000;
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(v)) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

function resetBeforeResponse(e: unknown): boolean {
  const code = (e instanceof CtrxError ? (e.cause as NodeJS.ErrnoException | undefined)?.code : undefined) ?? '';
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED';
}

async function sendRetrying(o: RequestOptions, url: URL, method: string, headers: Record<string, string | string[]>, body: RequestOptions['body'], guard: ((a: string) => string | undefined) | undefined): Promise<HttpResponse> {
  const replayable = body === undefined || body instanceof Uint8Array;
  const { limits } = o;
  let staleRetried = false;
  for (let attempt = 0; ; attempt++) {
    let res: HttpResponse;
    try {
      res = await send({ method, url, headers, body, contentLength: o.contentLength, tls: o.tls, idleTimeoutMs: limits.idleTimeoutMs, addressGuard: guard, signal: o.signal });
    } catch (e) {
      if (replayable && !staleRetried && isStaleConnection(e)) {
        staleRetried = true;
        attempt--;
        continue;
      }
      if (attempt < limits.retries && replayable && resetBeforeResponse(e)) {
        const delay = Math.min(limits.retryBaseDelayMs * 2 ** attempt, limits.maxRetryDelayMs);
        o.onDebug?.(`${method} ${safeUrl(url)}: connection reset, retry ${attempt + 1}/${limits.retries} in ${delay}ms`);
        await sleep(delay, o.signal);
        continue;
      }
      throw e;
    }
    if (RETRYABLE.has(res.status) && attempt < limits.retries && replayable) {
      const asked = retryAfterMs(res.header('retry-after'));
      const delay = Math.min(asked ?? limits.retryBaseDelayMs * 2 ** attempt, limits.maxRetryDelayMs);
      res.discard();
      o.onDebug?.(`${method} ${safeUrl(url)}: HTTP ${res.status}, retry ${attempt + 1}/${limits.retries} in ${delay}ms${asked !== undefined && asked > delay ? ` (Retry-After ${Math.round(asked / 1000)}s capped)` : ''}`);
      await sleep(delay, o.signal);
      continue;
    }
    return res;
  }
}

/** Sends a request, following redirects and retrying per the module rules; returns the final response. */
export async function request(o: RequestOptions): Promise<HttpResponse> {
  const start = o.url;
  const policyOrigin = o.policyOrigin ?? start;
  const oc = await endpointClass(policyOrigin);
  const guard = (addr: string): string | undefined => addressRefusal(addr, oc);
  let url = start;
  let method = o.method;
  let body = o.body;
  let crossed = false;
  const seen = new Set<string>([url.href]);
  for (let hop = 0; ; hop++) {
    if (hop === 0 && o.guardFirstHop) {
      const r = targetRefusal(url, policyOrigin, oc);
      if (r) throw unavailable(`refusing to contact ${safeUrl(url)}: ${r}`, { subject: safeUrl(policyOrigin) });
    }
    const headers = crossed ? { ...(o.headers ?? {}) } : { ...(o.headers ?? {}), ...(o.sensitiveHeaders ?? {}) };
    const res = await sendRetrying(o, url, method, headers, body, hop > 0 || o.guardFirstHop ? guard : undefined);
    if (!REDIRECTS.has(res.status)) return res;
    const loc = res.header('location');
    res.discard();
    const from = safeUrl(url);
    if (!loc) throw unavailable(`HTTP ${res.status} redirect without a Location header`, { subject: from });
    if (hop >= o.limits.maxRedirects) throw unavailable(`more than ${o.limits.maxRedirects} redirects`, { subject: safeUrl(start) });
    let next: URL;
    try {
      next = new URL(loc, url);
    } catch {
      throw unavailable(`redirect to an invalid URL ${JSON.stringify(redact(loc).slice(0, 100))}`, { subject: from });
    }
    const refusal = targetRefusal(next, policyOrigin, oc);
    if (refusal) throw unavailable(`refusing redirect to ${safeUrl(next)}: ${refusal}`, { subject: from });
    if (seen.has(next.href)) throw unavailable(`redirect loop (${safeUrl(next)} again)`, { subject: safeUrl(start) });
    seen.add(next.href);
    if (next.origin !== start.origin) crossed = true;
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
      if (method !== 'HEAD') method = 'GET';
      body = undefined;
    } else if (body !== undefined && !(body instanceof Uint8Array)) {
      throw unavailable(`HTTP ${res.status} redirect of a streamed upload is not supported`, { subject: from });
    }
    o.onDebug?.(`${method} ${from}: HTTP ${res.status} → ${safeUrl(next)}${crossed ? ' (credentials not forwarded)' : ''}`);
    url = next;
  }
}
