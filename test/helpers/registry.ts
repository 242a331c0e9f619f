/**
 * A private Docker registry for tests (Debian's `docker-registry`, i.e.
 * distribution 2.8) on 127.0.0.1 with storage in a temp dir, optionally
 * behind htpasswd Basic auth, plus a small push client speaking the
 * distribution API with fetch.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { atExit } from './exit.js';
import { MediaType, type Descriptor, type Image } from './oci.js';
import { isAlive } from './procs.js';
import { sleep } from './run.js';
import { makeTempDir, removeTempDir } from './tmp.js';

export interface Credentials {
  user: string;
  password: string;
}

export interface RegistryOptions {
  /** Protect the registry with htpasswd (bcrypt) Basic auth. */
  auth?: Credentials;
  /** Allow DELETE of manifests and blobs (default true). */
  deleteEnabled?: boolean;
  startTimeoutMs?: number;
}

export interface Registry {
  /** `127.0.0.1:PORT`, the host part of image references. */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  auth?: Credentials;
  storageDir: string;
  pid: number;
  /** The registry's own log (stdout and stderr). */
  log(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
atExit('kill', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function basicAuth(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.user}:${c.password}`).toString('base64');
}

function htpasswdLine(c: Credentials): string {
  // The registry only accepts bcrypt entries.
  const r = spawnSync('htpasswd', ['-Bbn', c.user, c.password], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`htpasswd failed (apache2-utils installed?): ${r.stderr || r.error?.message}`);
  return r.stdout.trim() + '\n';
}

function configYaml(o: { storage: string; port: number; htpasswd?: string; deleteEnabled: boolean }): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(o.storage)}`,
    '  delete:',
    `    enabled: ${o.deleteEnabled}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${o.port}`,
    ...(o.htpasswd ? ['auth:', '  htpasswd:', '    realm: ctrx-test', `    path: ${JSON.stringify(o.htpasswd)}`] : []),
    '',
  ].join('\n');
}

/** Starts `docker-registry serve` on a free port and waits until /v2/ answers. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const dir = makeTempDir('ctrx-registry-');
  try {
    const storage = join(dir, 'storage');
    let htpasswd: string | undefined;
    if (opts.auth) {
      htpasswd = join(dir, 'htpasswd');
      writeFileSync(htpasswd, htpasswdLine(opts.auth));
    }
    // The port can be taken between freePort() and the registry's bind: retry with another one.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const config = join(dir, 'config.yml');
      writeFileSync(config, configYaml({ storage, port, htpasswd, deleteEnabled: opts.deleteEnabled ?? true }));
      const logPath = join(dir, 'registry.log');
      const logFd = openSync(logPath, 'a');
      let child: ChildProcess;
      try {
        child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', logFd, logFd] });
      } finally {
        closeSync(logFd);
      }
      running.add(child);
      const exited = new Promise<void>((r) =>
        child.once('exit', () => {
          running.delete(child);
          r();
        }),
      );
      child.once('error', () => {});
      const url = `http://127.0.0.1:${port}`;
      const ready = await waitReady(url, child, opts.startTimeoutMs ?? 15_000);
      const log = (): string => {
        try {
          return readFileSync(logPath, 'utf8');
        } catch {
          return '';
        }
      };
      if (!ready) {
        child.kill('SIGKILL');
        await exited;
        if (attempt < 3 && /address already in use/.test(log())) continue;
        throw new Error(`docker-registry did not start:\n${log().slice(-2000)}`);
      }
      let stopped: Promise<void> | undefined;
      return {
        host: `127.0.0.1:${port}`,
        url,
        port,
        auth: opts.auth,
        storageDir: storage,
        pid: child.pid!,
        log,
        stop: () =>
          (stopped ??= (async () => {
            if (child.exitCode === null && child.signalCode === null) {
              child.kill('SIGTERM');
              const t = setTimeout(() => child.kill('SIGKILL'), 5000);
              await exited;
              clearTimeout(t);
            }
            removeTempDir(dir);
          })()),
      };
    }
  } catch (e) {
    removeTempDir(dir);
    throw e;
  }
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || !isAlive(child.pid!)) return false;
    try {
      const r = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200 || r.status === 401) return true;
    } catch {
      /* not listening yet */
    }
    await sleep(30);
  }
  return false;
}

export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly url: string,
    readonly body: string,
  ) {
    super(`${method} ${url}: HTTP ${status} ${body.slice(0, 500)}`);
  }
}

type RegistryRef = Pick<Registry, 'url'> | string;

function baseUrl(r: RegistryRef): string {
  if (typeof r !== 'string') return r.url;
  return /^https?:\/\//.test(r) ? r : `http://${r}`;
}

async function request(method: string, url: string, auth: Credentials | undefined, init: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (auth) headers.authorization = basicAuth(auth);
  return fetch(url, { method, headers, body: init.body, redirect: 'manual', signal: AbortSignal.timeout(60_000) });
}

async function expectStatus(r: Response, method: string, url: string, ok: number[]): Promise<void> {
  if (ok.includes(r.status)) return;
  throw new RegistryError(r.status, method, url, await r.text().catch(() => ''));
}

/** Uploads one blob unless the registry has it (HEAD, then POST + monolithic PUT). */
export async function pushBlob(registry: RegistryRef, repo: string, digest: string, data: Buffer, auth?: Credentials): Promise<'exists' | 'uploaded'> {
  const base = baseUrl(registry);
  const head = await request('HEAD', `${base}/v2/${repo}/blobs/${digest}`, auth);
  if (head.status === 200) return 'exists';
  if (head.status !== 404) await expectStatus(head, 'HEAD', `${base}/v2/${repo}/blobs/${digest}`, [200, 404]);
  const start = `${base}/v2/${repo}/blobs/uploads/`;
  const post = await request('POST', start, auth);
  await expectStatus(post, 'POST', start, [202]);
  await post.arrayBuffer();
  const location = new URL(post.headers.get('location') ?? '', base);
  location.searchParams.set('digest', digest);
  const put = await request('PUT', location.href, auth, {
    headers: { 'content-type': 'application/octet-stream' },
    body: data,
  });
  await expectStatus(put, 'PUT', location.href, [201]);
  await put.arrayBuffer();
  return 'uploaded';
}

/** PUTs a manifest or index under a tag or digest. */
export async function pushManifest(registry: RegistryRef, repo: string, reference: string, d: Descriptor, data: Buffer, auth?: Credentials): Promise<void> {
  const url = `${baseUrl(registry)}/v2/${repo}/manifests/${reference}`;
  const r = await request('PUT', url, auth, { headers: { 'content-type': d.mediaType }, body: data });
  await expectStatus(r, 'PUT', url, [201]);
  await r.arrayBuffer();
}

/**
 * Pushes an image as `repo:tag`: blobs first (skipping those present), then
 * per-platform manifests by digest, then the root under the tag.
 * Throws RegistryError (with `.status`, e.g. 401) on refusal.
 */
export async function pushImage(registry: RegistryRef, repo: string, tag: string, image: Image, auth?: Credentials): Promise<Descriptor> {
  const pushed = new Set<string>();
  for (const p of image.images) {
    for (const d of [p.manifest.config, ...p.manifest.layers]) {
      if (pushed.has(d.digest)) continue;
      await pushBlob(registry, repo, d.digest, image.blobs.get(d.digest)!, auth);
      pushed.add(d.digest);
    }
  }
  const isIndex = image.root.mediaType === MediaType.ociIndex || image.root.mediaType === MediaType.dockerList;
  if (isIndex) {
    for (const p of image.images) {
      await pushManifest(registry, repo, p.descriptor.digest, p.descriptor, image.blobs.get(p.descriptor.digest)!, auth);
    }
  }
  await pushManifest(registry, repo, tag, image.root, image.blobs.get(image.root.digest)!, auth);
  return image.root;
}

/** HEAD of a manifest: its digest and media type as the registry reports them. */
export async function headManifest(registry: RegistryRef, repo: string, reference: string, auth?: Credentials): Promise<{ status: number; digest?: string; mediaType?: string; size?: number }> {
  const url = `${baseUrl(registry)}/v2/${repo}/manifests/${reference}`;
  const accept = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerList, MediaType.dockerManifest].join(', ');
  const r = await request('HEAD', url, auth, { headers: { accept } });
  return {
    status: r.status,
    digest: r.headers.get('docker-content-digest') ?? undefined,
    mediaType: r.headers.get('content-type') ?? undefined,
    size: r.headers.has('content-length') ? Number(r.headers.get('content-length')) : undefined,
  };
}

/** GET /v2/_catalog: repository names. */
export async function catalog(registry: RegistryRef, auth?: Credentials): Promise<string[]> {
  const url = `${baseUrl(registry)}/v2/_catalog?n=1000`;
  const r = await request('GET', url, auth);
  await expectStatus(r, 'GET', url, [200]);
  return ((await r.json()) as { repositories?: string[] }).repositories ?? [];
}
