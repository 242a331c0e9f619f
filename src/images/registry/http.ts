/**
 * The one HTTP mechanism of the registry client: node:http / node:https.
 *
 * Why not the global fetch: on Node, fetch (undici) takes TLS settings only
 * through an undici Dispatcher that Node does not expose, so
 * `--skip-verify`, `--tlscacert` and hosts.toml `ca`/`client` could not be
 * honoured; and neither runtime lets fetch check the address a host name
 * resolves to at connection time. node:http(s) does all of that the same way
 * on Node 20 and Deno 2 (`rejectUnauthorized`, `ca`, `cert`/`key`,
 * `lookup`), never follows redirects by itself, and streams bodies with
 * backpressure.
 *
 * This module sends one request and returns one response; redirects,
 * retries and auth live in request.ts and client.ts. Every request has a
 * no-progress watchdog: if no byte arrives (or leaves) for `idleTimeoutMs`
 * the request is destroyed and the caller gets a clear unavailable error.
 */
import http from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { rootCertificates } from 'node:tls';
import { CtrxError, unavailable } from '../../errdefs.js';
import { safeUrl } from './redact.js';
import type { TlsConfig } from './types.js';

export interface SendOptions {
  method: string;
  url: URL;
  headers?: Record<string, string | string[]>;
  /** A replayable body (bytes) or a one-shot stream; `contentLength` is required for a stream. */
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  contentLength?: number;
  tls?: TlsConfig;
  idleTimeoutMs: number;
  /** Refuses resolved addresses (redirect targets, token realms): returns the reason, or undefined to allow. */
  addressGuard?: (address: string) => string | undefined;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  url: URL;
  /** A header value (first one when repeated), lower-case name. */
  header(name: string): string | undefined;
  /** Declared Content-Length, or undefined. */
  contentLength(): number | undefined;
  /** The body, guarded by the watchdog; throws an unavailable CtrxError when the connection stalls or breaks. */
  body(): AsyncIterable<Uint8Array>;
  /** Reads the whole body; throws when it is longer than `limit` (reading stops at limit+1). */
  read(limit: number, what: string): Promise<Buffer>;
  /** Reads at most `limit` bytes for a message and drops the rest without reading it. */
  readPrefix(limit: number): Promise<Buffer>;
  /** Drops the response without reading it (the connection is closed, not drained). */
  discard(): void;
}

const agents = new Map<string, http.Agent>();

function agentFor(url: URL, tls: TlsConfig | undefined): http.Agent {
  const secure = url.protocol === 'https:';
  const key = secure ? JSON.stringify(['s', tls?.skipVerify ?? false, tls?.ca ?? [], tls?.cert ?? '', tls?.key ?? '']) : 'plain';
  let a = agents.get(key);
  if (!a) {
    a = secure
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 16,
          rejectUnauthorized: !tls?.skipVerify,
          ...(tls?.ca?.length ? { ca: rootsPlus(tls.ca) } : {}),
          ...(tls?.cert ? { cert: tls.cert, key: tls.key ?? tls.cert } : {}),
        })
      : new http.Agent({ keepAlive: true, maxSockets: 16 });
    agents.set(key, a);
  }
  return a;
}

/**
 * Extra CAs are added to the runtime's bundled roots (as containerd adds them
 * to the system pool), not used instead of them. The system bundle itself is
 * not read: building a TLS context from it costs ~100 ms per connection on
 * Node; NODE_EXTRA_CA_CERTS, --tlscacert or hosts.toml `ca` cover private CAs.
 */
function rootsPlus(extra: string[]): string[] {
  return [...rootCertificates, ...extra];
}

const stalls = new WeakSet<object>();
const stale = new WeakSet<object>();
/** Whether a request failed because a reused keep-alive connection had been closed by the server. */
export function isStaleConnection(e: unknown): boolean {
  return typeof e === 'object' && e !== null && stale.has(e);
}
function markStall(e: CtrxError): CtrxError {
  stalls.add(e);
  return e;
}
/** Whether an error is the no-progress timeout (not worth an immediate reconnect). */
export function isStall(e: unknown): boolean {
  return typeof e === 'object' && e !== null && stalls.has(e);
}

/** Closes idle keep-alive connections (the CLI calls this before exiting). */
export function closeIdleConnections(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

class Watchdog {
  private timer: ReturnType<typeof setTimeout> | undefined;
  constructor(
    private readonly ms: number,
    private readonly fire: () => void,
  ) {
    this.kick();
  }
  kick(): void {
    if (this.timer) clearTimeout(this.timer);
    // Unref'd: an open socket keeps the process alive while it matters; a forgotten timer must not.
    if (this.ms > 0) this.timer = setTimeout(this.fire, this.ms);
    (this.timer as { unref?: () => void } | undefined)?.unref?.();
  }
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

const TLS_CODES = /^(CERT_|ERR_TLS_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|ERR_SSL_|HOSTNAME_MISMATCH)/;

/** A network failure as a CtrxError naming the host, never the query string. */
export function networkError(err: unknown, url: URL, phase: string): CtrxError {
  if (err instanceof CtrxError) return err;
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = e?.code ?? '';
  const where = { subject: safeUrl(url), cause: err };
  if (code === 'ECONNREFUSED') return unavailable('connection refused', where);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return unavailable(`host ${url.hostname} not found`, where);
  if (code === 'ETIMEDOUT' || code === 'ENETUNREACH' || code === 'EHOSTUNREACH') return unavailable(`cannot reach ${url.host} (${code})`, where);
  if (TLS_CODES.test(code) || /certificate|self.signed|wrong version number|ssl/i.test(e?.message ?? '')) {
    const wrongVersion = /wrong version number|WRONG_VERSION|packet length too long/i.test(`${code} ${e?.message}`);
    return unavailable(`TLS failure with ${url.host}: ${wrongVersion ? 'the server does not speak TLS' : code || e?.message}`, {
      ...where,
      hint: wrongVersion ? 'use --plain-http if this registry serves plain HTTP' : 'give its CA with --tlscacert (or hosts.toml "ca"); --skip-verify disables the check',
    });
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || e?.message === 'aborted' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    const early = url.protocol === 'http:' && phase === 'before a response';
    return unavailable(`connection to ${url.host} lost${phase ? ` ${phase}` : ''}`, {
      ...where,
      ...(early ? { hint: 'if this registry only speaks HTTPS, say so in hosts.toml (server = "https://…") or give its CA with --tlscacert' } : {}),
    });
  }
  if (code.startsWith('HPE_')) {
    return unavailable(`${url.host} did not answer with HTTP (${code})`, {
      ...where,
      ...(url.protocol === 'http:' ? { hint: 'if this registry only speaks HTTPS, say so in hosts.toml (server = "https://…") or give its CA with --tlscacert' } : {}),
    });
  }
  return unavailable(`${phase ? phase + ': ' : ''}${code || e?.message || String(err)}`, where);
}

export function send(opts: SendOptions): Promise<HttpResponse> {
  const { url } = opts;
  const mod = url.protocol === 'https:' ? https : http;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return Promise.reject(unavailable(`scheme ${url.protocol} is not supported`, { subject: safeUrl(url) }));
  }
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    let stalled: CtrxError | undefined;
    const stall = (): CtrxError =>
      (stalled ??= markStall(unavailable(`no progress for ${(opts.idleTimeoutMs / 1000).toFixed(opts.idleTimeoutMs < 1000 ? 1 : 0)}s: the registry stopped sending`, {
        subject: safeUrl(url),
        hint: 'the download can be resumed by running the command again',
      })));
    const headers: Record<string, string | string[]> = { ...(opts.headers ?? {}) };
    const body = opts.body;
    if (body instanceof Uint8Array) headers['content-length'] = String(body.byteLength);
    else if (body !== undefined && opts.contentLength !== undefined) headers['content-length'] = String(opts.contentLength);

    const lookup = opts.addressGuard
      ? (hostname: string, options: { all?: boolean; family?: number }, cb: (...args: unknown[]) => void): void => {
          dnsLookup(hostname, { ...options, all: true }, (err, addrs: LookupAddress[]) => {
            if (err) return cb(err);
            for (const a of addrs) {
              const reason = opts.addressGuard!(a.address);
              if (reason) {
                const e = Object.assign(new Error(`refusing ${hostname}: ${reason}`), { code: 'ECTRXREFUSED' });
                return cb(e);
              }
            }
            if (options.all) cb(null, addrs);
            else cb(null, addrs[0]!.address, addrs[0]!.family);
          });
        }
      : undefined;

    let req: http.ClientRequest;
    try {
      req = mod.request(url, {
        method: opts.method,
        headers,
        agent: agentFor(url, opts.tls),
        ...(lookup ? { lookup: lookup as never } : {}),
      });
    } catch (e) {
      reject(networkError(e, url, 'request'));
      return;
    }
    const dog = new Watchdog(opts.idleTimeoutMs, () => {
      req.destroy(stall());
    });
    const onAbort = (): void => {
      req.destroy(Object.assign(new Error('aborted by caller'), { code: 'ABORT_ERR' }));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      dog.stop();
      opts.signal?.removeEventListener('abort', onAbort);
    };

    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      cleanup();
      const err = e as NodeJS.ErrnoException;
      if (e === stalled) reject(stall());
      else if (err?.code === 'ECTRXREFUSED') reject(unavailable(err.message, { subject: safeUrl(url) }));
      else if (err?.code === 'ABORT_ERR') reject(unavailable('cancelled', { subject: safeUrl(url) }));
      else {
        const ne = networkError(e, url, 'before a response');
        // A keep-alive connection the server closed meanwhile: worth one immediate retry.
        if (req.reusedSocket && (err?.code === 'ECONNRESET' || err?.code === 'EPIPE')) stale.add(ne);
        reject(ne);
      }
    };
    req.on('error', fail);

    req.on('response', (res) => {
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      dog.kick();
      resolve(makeResponse(res, req, url, dog, stall, () => stalled, cleanup, opts.idleTimeoutMs));
    });

    if (body === undefined) {
      req.end();
    } else if (body instanceof Uint8Array) {
      req.end(body);
    } else {
      void (async () => {
        try {
          for await (const chunk of body) {
            if (req.destroyed) return;
            dog.kick();
            if (!req.write(chunk)) {
              await new Promise<void>((r) => {
                const done = (): void => {
                  req.off('drain', done);
                  req.off('close', done);
                  r();
                };
                req.on('drain', done);
                req.on('close', done);
              });
            }
          }
          req.end();
        } catch (e) {
          req.destroy(e as Error);
        }
      })();
    }
  });
}

function makeResponse(
  res: http.IncomingMessage,
  req: http.ClientRequest,
  url: URL,
  dog: Watchdog,
  stall: () => CtrxError,
  stalledErr: () => CtrxError | undefined,
  cleanup: () => void,
  idleMs: number,
): HttpResponse {
  let consumed = false;
  // From here a stall destroys the response rather than the request.
  dog.stop();
  const bodyDog = new Watchdog(idleMs, () => res.destroy(stall()));
  const finish = (): void => {
    bodyDog.stop();
    cleanup();
  };
  res.on('error', () => {});
  res.on('close', finish);
  res.on('end', finish);

  async function* iterate(): AsyncGenerator<Uint8Array> {
    if (consumed) throw unavailable('response body read twice', { subject: safeUrl(url) });
    consumed = true;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        bodyDog.kick();
        yield chunk;
      }
      if (!res.complete) throw networkError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }), url, 'in the middle of the body');
    } catch (e) {
      if (e instanceof CtrxError) throw e;
      if (stalledErr()) throw stall();
      throw networkError(e, url, 'in the middle of the body');
    } finally {
      bodyDog.stop();
      if (!res.complete) {
        res.destroy();
        req.destroy();
      }
    }
  }

  const header = (name: string): string | undefined => {
    const v = res.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };

  return {
    status: res.statusCode ?? 0,
    url,
    header,
    contentLength: () => {
      const v = header('content-length');
      if (v === undefined || !/^\d{1,16}$/.test(v.trim())) return undefined;
      return Number(v.trim());
    },
    body: () => iterate(),
    read: async (limit, what) => {
      const declared = header('content-length');
      if (declared !== undefined && /^\d+$/.test(declared.trim()) && Number(declared.trim()) > limit) {
        res.destroy();
        req.destroy();
        throw unavailable(`${what} is ${declared.trim()} bytes, over the limit of ${limit}`, { subject: safeUrl(url) });
      }
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of iterate()) {
        n += c.byteLength;
        if (n > limit) {
          res.destroy();
          req.destroy();
          throw unavailable(`${what} is over the limit of ${limit} bytes`, { subject: safeUrl(url) });
        }
        chunks.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
      }
      return Buffer.concat(chunks, n);
    },
    readPrefix: async (limit) => {
      const chunks: Buffer[] = [];
      let n = 0;
      try {
        for await (const c of iterate()) {
          const take = Math.min(c.byteLength, limit - n);
          chunks.push(Buffer.from(c.buffer, c.byteOffset, take));
          n += take;
          if (n >= limit) break;
        }
      } catch {
        /* a broken error body still yields what arrived */
      }
      if (!res.complete) {
        res.destroy();
        req.destroy();
      }
      return Buffer.concat(chunks, n);
    },
    discard: () => {
      consumed = true;
      if (res.complete) {
        bodyDog.stop();
        res.resume();
        return;
      }
      // A small body is drained (still under the watchdog) so the connection can be reused; anything else is cut.
      const n = Number(header('content-length') ?? 'NaN');
      if (Number.isFinite(n) && n <= 65536) {
        res.resume();
        return;
      }
      bodyDog.stop();
      res.destroy();
      req.destroy();
    },
  };
}
