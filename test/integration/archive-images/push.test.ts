/**
 * images push against docker-registry: from an open registry to one behind
 * htpasswd (-u), checked with `ctr images pull` (digest unchanged);
 * a partially pulled multi-platform image refused before any request,
 * naming the missing platform; --platform pushing one manifest; a push to
 * another repository of the same registry mounting every blob instead of
 * uploading it (requests recorded by a pass-through proxy in front of the
 * registry).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startContainerd, type Containerd } from '../../helpers/containerd.js';
import { buildFixture, fixtureUnavailable } from '../../helpers/fixtures.js';
import { platformImage, type Image } from '../../helpers/oci.js';
import { pushImage, startRegistry, type Registry } from '../../helpers/registry.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { run } from '../../helpers/run.js';
import { ctrxJs, runtimeCommand } from '../../cli/ctrx.js';

const skip = process.getuid?.() !== 0 ? 'needs root (containerd)' : fixtureUnavailable('busybox');

interface Recorded {
  method: string;
  url: string;
  status: number;
}

/** A pass-through proxy that records every request (the registry's access log is off in the rig). */
async function recordingProxy(target: Registry): Promise<{ host: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', status: ur.statusCode ?? 0 });
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

let A: Registry;
let B: Registry;
let proxy: Awaited<ReturnType<typeof recordingProxy>>;
let cd: Containerd;
let dir: string;
let multi: Image;
const AUTH = { user: 'pusher', password: 's3cret-pw' };
const U = `${AUTH.user}:${AUTH.password}`;

/** ctrx, spawned asynchronously: the recording proxy lives in this process's event loop. */
async function x(root: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, ...pre] = runtimeCommand(ctrxJs);
  return run(cmd!, [...pre, '--root', path.join(dir, root), '--state', path.join(dir, root + '-state'), '-c', path.join(dir, 'none.toml'), ...args], { timeoutMs: 120_000 });
}
async function xJson<T>(root: string, args: string[]): Promise<T> {
  const r = await x(root, [...args, '--format', 'json']);
  assert.equal(r.code, 0, `ctrx ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface PushJson {
  name: string;
  target: { digest: string };
  blobs: { uploaded: number; mounted: number; exists: number };
  manifests: number;
}

before(async () => {
  if (skip) return;
  dir = makeTempDir('ctrx-push-it-');
  [A, B, multi] = await Promise.all([startRegistry(), startRegistry({ auth: AUTH }), buildFixture('busybox', { multiPlatform: true })]);
  await pushImage(A, 'library/busybox', 'latest', multi);
  proxy = await recordingProxy(B);
  cd = await startContainerd();
});

after(async () => {
  await cd?.stop();
  await proxy?.close();
  await A?.stop();
  await B?.stop();
  if (dir) removeTempDir(dir);
});

const src = () => `${A.host}/library/busybox:latest`;

test('a partially pulled multi-platform image is refused before any request, naming the platform', { skip }, async () => {
  const pulled = await x('r1', ['images', 'pull', '--plain-http', src()]);
  assert.equal(pulled.code, 0, pulled.stderr);
  const before = proxy.requests.length;
  const r = await x('r1', ['images', 'push', '--plain-http', '-u', U, `${proxy.host}/x/busybox:1`, src()]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /content for platform linux\/arm64(\/v8)? is not in the content store/);
  assert.match(r.stderr, /hint: push one platform with --platform/);
  assert.equal(proxy.requests.length, before, 'nothing was sent');
});

test('--platform pushes that manifest alone; ctr pulls it with the same digest', { skip }, async () => {
  const amd = platformImage(multi).descriptor.digest;
  const host = platformImage(multi).descriptor.platform!;
  const res = await xJson<PushJson>('r1', ['images', 'push', '--plain-http', '-u', U, '--platform', `${host.os}/${host.architecture}`, `${B.host}/x/busybox:host`, src()]);
  assert.equal(res.target.digest, amd);
  assert.equal(res.manifests, 1);
  assert.equal(res.blobs.uploaded, 2, 'config and layer');
  await cd.ctrOk(['images', 'pull', '--plain-http', '-u', U, `${B.host}/x/busybox:host`]);
  const ls = (await cd.ctrOk(['images', 'ls'])).stdout;
  assert.match(ls, new RegExp(`^${B.host}/x/busybox:host\\s+\\S+\\s+${amd}\\s`, 'm'), ls);
});

test('the whole index after --all-platforms; wrong credentials are refused; ctr pulls it back unchanged', { skip }, async () => {
  const all = await x('r1', ['images', 'pull', '--plain-http', '--all-platforms', src()]);
  assert.equal(all.code, 0, all.stderr);
  const bad = await x('r1', ['images', 'push', '--plain-http', '-u', `${AUTH.user}:wrong`, `${B.host}/x/busybox:1`, src()]);
  assert.equal(bad.code, 8, bad.stderr);
  assert.match(bad.stderr, /authorization failed/);
  assert.ok(!bad.stderr.includes('wrong'), 'the password is never printed');
  const res = await xJson<PushJson>('r1', ['images', 'push', '--plain-http', '-u', U, `${B.host}/x/busybox:1`, src()]);
  assert.equal(res.target.digest, multi.root.digest);
  assert.equal(res.manifests, 3, 'two platform manifests, then the index');
  assert.equal(res.blobs.exists, 2, 'the host config and the layer were pushed by the --platform test');
  assert.equal(res.blobs.uploaded, 1, 'the second config');
  await cd.ctrOk(['images', 'pull', '--plain-http', '-u', U, `${B.host}/x/busybox:1`]);
  const ls = (await cd.ctrOk(['images', 'ls'])).stdout;
  assert.match(ls, new RegExp(`^${B.host}/x/busybox:1\\s+application/vnd\\.oci\\.image\\.index\\.v1\\+json\\s+${multi.root.digest}\\s`, 'm'), ls);
  const run = await cd.ctr(['run', '--rm', `${B.host}/x/busybox:1`, 'pushed', 'echo', 'ok'], { timeoutMs: 60_000 });
  assert.equal(run.stdout.trim(), 'ok', run.stderr);
});

test('pushing to another repository of the same registry mounts every blob', { skip }, async () => {
  const pulled = await x('r2', ['images', 'pull', '--plain-http', '--all-platforms', '-u', U, `${proxy.host}/x/busybox:1`]);
  assert.equal(pulled.code, 0, pulled.stderr);
  const from = proxy.requests.length;
  const res = await xJson<PushJson>('r2', ['images', 'push', '--plain-http', '-u', U, `${proxy.host}/y/copy:1`, `${proxy.host}/x/busybox:1`]);
  assert.deepEqual(res.blobs, { uploaded: 0, mounted: 3, exists: 0, skipped: 0 });
  const reqs = proxy.requests.slice(from);
  const mounts = reqs.filter((r) => r.method === 'POST' && /\/v2\/y\/copy\/blobs\/uploads\/\?.*mount=sha256/.test(r.url) && /from=x%2Fbusybox/.test(r.url));
  assert.equal(mounts.length, 3, JSON.stringify(reqs));
  assert.ok(mounts.every((m) => m.status === 201));
  assert.deepEqual(reqs.filter((r) => (r.method === 'PUT' || r.method === 'PATCH') && r.url.includes('/blobs/uploads/')), [], 'no blob data sent');
  assert.equal(reqs.filter((r) => r.method === 'PUT' && r.url.startsWith('/v2/y/copy/manifests/')).length, 3);
  // The tag resolves to the same index in the new repository.
  const again = await x('r2', ['images', 'pull', '--plain-http', '-u', U, `${proxy.host}/y/copy:1`, '--format', 'json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { target: { digest: string } }).target.digest, multi.root.digest);
});
