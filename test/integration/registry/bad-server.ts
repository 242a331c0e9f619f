/**
 * A misbehaving registry for tests: two node:http servers, one on 127.0.0.1
 * and one on 127.0.0.2 (for cross-host redirects), sharing one handler that
 * each test replaces, and one log of every request (method, path, headers,
 * which server) plus the bytes each server wrote, so tests can assert what
 * the client sent (Authorization leaks, retry counts, Range headers) and
 * that a capped response was not read to its end.
 */
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';

export interface Recorded {
  server: 'a' | 'b';
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, ctx: { server: 'a' | 'b'; n: number }) => void | Promise<void>;

export interface BadServer {
  /** 127.0.0.1:port */
  hostA: string;
  /** 127.0.0.2:port */
  hostB: string;
  urlA: string;
  urlB: string;
  requests: Recorded[];
  /** Bytes written to response bodies (both servers). */
  bytesSent(): number;
  handle(h: Handler): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startBadServer(): Promise<BadServer> {
  let handler: Handler = (_req, res) => {
    res.statusCode = 404;
    res.end();
  };
  const requests: Recorded[] = [];
  let sent = 0;
  const sockets = new Set<Socket>();
  const make = (which: 'a' | 'b'): http.Server => {
    const srv = http.createServer((req, res) => {
      requests.push({ server: which, method: req.method ?? '', path: req.url ?? '', headers: { ...req.headers } });
      const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
      res.write = ((chunk: unknown, ...rest: unknown[]) => {
        if (chunk && typeof (chunk as { length?: number }).length === 'number') sent += (chunk as { length: number }).length;
        return write(chunk, ...rest);
      }) as typeof res.write;
      Promise.resolve(handler(req, res, { server: which, n: requests.length })).catch(() => res.destroy());
    });
    srv.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    return srv;
  };
  const a = make('a');
  const b = make('b');
  await new Promise<void>((r) => a.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => b.listen(0, '127.0.0.2', r));
  const pa = (a.address() as AddressInfo).port;
  const pb = (b.address() as AddressInfo).port;
  return {
    hostA: `127.0.0.1:${pa}`,
    hostB: `127.0.0.2:${pb}`,
    urlA: `http://127.0.0.1:${pa}`,
    urlB: `http://127.0.0.2:${pb}`,
    requests,
    bytesSent: () => sent,
    handle(h) {
      handler = h;
    },
    reset() {
      requests.length = 0;
      sent = 0;
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise((r) => a.close(r)), new Promise((r) => b.close(r))]);
    },
  };
}

export const sha256 = (b: Uint8Array | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface FakeImage {
  layer: Buffer;
  layerDesc: { mediaType: string; digest: string; size: number };
  config: Buffer;
  configDesc: { mediaType: string; digest: string; size: number };
  manifest: Buffer;
  manifestDesc: { mediaType: string; digest: string; size: number };
}

/** A tiny image whose blobs are random bytes (the client never unpacks them). */
export function fakeImage(layerSize = 256 << 10): FakeImage {
  const layer = randomBytes(layerSize);
  const layerDesc = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256('x')] } }));
  const configDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length };
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers: [layerDesc] }));
  const manifestDesc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length };
  return { layer, layerDesc, config, configDesc, manifest, manifestDesc };
}

/** Streams `total` bytes of filler with backpressure (so a client that stops reading stops the server). */
export async function streamFiller(res: http.ServerResponse, total: number, chunk = 64 << 10): Promise<void> {
  const buf = Buffer.alloc(chunk, 0x61);
  let left = total;
  while (left > 0 && !res.destroyed) {
    const n = Math.min(chunk, left);
    left -= n;
    if (!res.write(n === chunk ? buf : buf.subarray(0, n))) {
      await new Promise<void>((r) => {
        res.once('drain', r);
        res.once('close', r);
      });
    }
  }
  if (!res.destroyed) res.end();
}

/** Serves a fake image normally (HEAD/GET manifests by tag or digest, blobs with Range). */
export function serveImage(img: FakeImage, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const url = new URL(req.url ?? '/', 'http://x');
  const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
  if (url.pathname === '/v2/') {
    res.end('{}');
    return true;
  }
  if (!m) return false;
  const [, , kind, ref] = m;
  if (kind === 'manifests' && (ref === 'latest' || ref === img.manifestDesc.digest)) {
    res.writeHead(200, { 'content-type': img.manifestDesc.mediaType, 'docker-content-digest': img.manifestDesc.digest, 'content-length': img.manifest.length });
    res.end(req.method === 'HEAD' ? undefined : img.manifest);
    return true;
  }
  const blob = ref === img.layerDesc.digest ? img.layer : ref === img.configDesc.digest ? img.config : undefined;
  if (kind === 'blobs' && blob) {
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (range) {
      const start = Number(range[1]);
      res.writeHead(206, { 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}`, 'content-length': blob.length - start });
      res.end(req.method === 'HEAD' ? undefined : blob.subarray(start));
    } else {
      res.writeHead(200, { 'content-length': blob.length });
      res.end(req.method === 'HEAD' ? undefined : blob);
    }
    return true;
  }
  return false;
}
