// Mirrors are honoured on every pull: a hosts.toml (from --hosts-dir or the
// config's config_path) or the legacy registry.mirrors table points
// docker.io at a local docker-registry; dead mirrors fall through to the
// next endpoint; capabilities decide which endpoints resolve and which serve
// content. The real docker.io is never contacted (no test needs the network).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CtrxError } from '../../../src/errdefs.js';
import { closeIdleConnections, createResolver } from '../../../src/images/registry/index.js';
import { buildFixture } from '../../helpers/fixtures.js';
import { platformImage, type Image } from '../../helpers/oci.js';
import { pushImage, startRegistry, type Registry } from '../../helpers/registry.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { startBadServer, type BadServer } from './bad-server.js';

let reg: Registry;
let bad: BadServer;
let image: Image;
const dirs: string[] = [];

before(async () => {
  image = await buildFixture('busybox');
  [reg, bad] = await Promise.all([startRegistry(), startBadServer()]);
  await pushImage(reg, 'library/busybox', 'latest', image);
});
after(async () => {
  closeIdleConnections();
  await Promise.all([reg?.stop(), bad?.close()]);
  dirs.forEach(removeTempDir);
});
beforeEach(() => {
  bad.reset();
  bad.handle((req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"NOT_HERE","message":"mirror has nothing"}]}');
  });
});

/** A hosts dir with docker.io/hosts.toml; the upstream server is an unroutable address so that reaching it fails fast and visibly. */
function hostsDir(body: string): string {
  const d = makeTempDir('ctrx-mirrors-');
  dirs.push(d);
  mkdirSync(path.join(d, 'docker.io'));
  writeFileSync(path.join(d, 'docker.io', 'hosts.toml'), `server = "http://127.0.0.1:1"\n${body}`);
  return d;
}

const debugLines = () => {
  const lines: string[] = [];
  return { lines, onDebug: (l: string) => lines.push(l) };
};

test('a hosts.toml mirror for docker.io serves docker.io/library/busybox:latest (via --hosts-dir)', async () => {
  const dir = hostsDir(`[host."http://${reg.host}"]\n  capabilities = ["pull", "resolve"]\n`);
  const dbg = debugLines();
  const r = createResolver({ onDebug: dbg.onDebug }, { hostsDir: dir, dockerConfig: false });
  const got = await r.resolve('busybox');
  assert.equal(got.name, 'docker.io/library/busybox:latest');
  assert.equal(got.desc.digest, image.root.digest);
  assert.equal(got.endpoint.host, reg.host);
  assert.equal(got.endpoint.mirror, true);
  const f = r.fetcher(got.ref);
  const { manifest } = await f.readManifest(got.desc);
  let n = 0;
  for await (const c of (await f.fetch(manifest.layers[0]!)).stream) n += c.byteLength;
  assert.equal(n, manifest.layers[0]!.size);
  assert.ok(dbg.lines.some((l) => l.includes(`http://${reg.host}/v2/library/busybox/manifests/latest`)), dbg.lines.join('\n'));
});

test('the same mirror through the config facts (config_path), and through the legacy mirrors table', async () => {
  const dir = hostsDir(`[host."http://${reg.host}"]\n`);
  const viaConfigPath = createResolver({ facts: { registry: { configPath: `/nonexistent:${dir}`, mirrors: {} } } }, { dockerConfig: false });
  assert.equal((await viaConfigPath.resolve('docker.io/library/busybox:latest')).endpoint.host, reg.host);
  const viaMirrors = createResolver({ facts: { registry: { configPath: '/nonexistent-ctrx-hosts', mirrors: { 'docker.io': [`http://${reg.host}`] } } } }, { dockerConfig: false });
  const got = await viaMirrors.resolve('busybox:latest');
  assert.equal(got.desc.digest, image.root.digest);
  assert.equal(got.endpoint.source, 'config.toml registry.mirrors."docker.io"');
});

test('--hosts-dir replaces config_path', async () => {
  const good = hostsDir(`[host."http://${reg.host}"]\n`);
  const deadOnly = hostsDir('');
  const r = createResolver({ facts: { registry: { configPath: deadOnly, mirrors: {} } } }, { hostsDir: good, dockerConfig: false });
  assert.equal((await r.resolve('busybox')).endpoint.host, reg.host);
});

test('a dead first mirror falls back to the next endpoint', async () => {
  const dir = hostsDir(`[host."http://127.0.0.1:1"]\n[host."http://${bad.hostA}"]\n[host."http://${reg.host}"]\n`);
  const dbg = debugLines();
  const r = createResolver({ onDebug: dbg.onDebug }, { hostsDir: dir, dockerConfig: false });
  const got = await r.resolve('busybox');
  assert.equal(got.endpoint.host, reg.host);
  assert.ok(dbg.lines.some((l) => /127\.0\.0\.1:1: connection refused/.test(l)), dbg.lines.join('\n'));
  assert.ok(bad.requests.some((q) => q.path.startsWith('/v2/library/busybox/manifests/latest?ns=docker.io')), 'the second mirror was asked, with ?ns=docker.io');
  const layer = (await r.fetcher(got.ref).readManifest(got.desc)).manifest.layers[0]!;
  const f = await r.fetcher(got.ref).fetch(layer);
  assert.equal(f.endpoint, reg.host, 'content falls through the same way');
});

test('an endpoint without "resolve" is skipped for tags but serves content by digest', async () => {
  const dir = hostsDir(`[host."http://${bad.hostA}"]\n  capabilities = ["pull"]\n[host."http://${reg.host}"]\n  capabilities = ["pull", "resolve"]\n`);
  const r = createResolver({}, { hostsDir: dir, dockerConfig: false });
  const got = await r.resolve('busybox');
  assert.equal(got.endpoint.host, reg.host);
  assert.equal(bad.requests.length, 0, 'the pull-only mirror was not asked to resolve a tag');

  const host = platformImage(image);
  const byDigest = await r.resolve(`busybox@${host.descriptor.digest}`);
  assert.equal(byDigest.endpoint.host, reg.host);
  assert.ok(bad.requests.some((q) => q.path.startsWith(`/v2/library/busybox/manifests/${host.descriptor.digest}`)), 'a digest may be resolved by a pull-only mirror');
  bad.reset();
  await r.fetcher(got.ref).readManifest(host.descriptor);
  assert.ok(bad.requests.length >= 1, 'content is asked of the pull-only mirror first');
});

test('no endpoint able to resolve: a clear error pointing at hosts.toml', async () => {
  const d = makeTempDir('ctrx-mirrors-');
  dirs.push(d);
  mkdirSync(path.join(d, 'docker.io'));
  writeFileSync(path.join(d, 'docker.io', 'hosts.toml'), `server = "http://${reg.host}"\ncapabilities = ["pull"]\n`);
  const r = createResolver({}, { hostsDir: d, dockerConfig: false });
  await assert.rejects(r.resolve('busybox'), (e: unknown) => e instanceof CtrxError && e.category === 'failed-precondition' && /pull\+resolve/.test(e.message) && /hosts\.toml/.test(e.hint ?? ''));
});

test('every endpoint failing: the last error, naming the mirrors that failed before it', async () => {
  const dir = hostsDir(`[host."http://${bad.hostA}"]\n`);
  const r = createResolver({}, { hostsDir: dir, dockerConfig: false, limits: { retries: 0 } });
  await assert.rejects(r.resolve('busybox'), (e: unknown) => {
    assert.ok(e instanceof CtrxError);
    assert.equal(e.category, 'unavailable');
    assert.match(e.message, /connection refused \(also failed: 127\.0\.0\.1:\d+: .*not found\)/);
    return true;
  });
});

test('credentials from -u go to the registry itself, not to its mirrors', async () => {
  const dir = hostsDir(`[host."http://${bad.hostA}"]\n`);
  bad.handle((req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="mirror"' });
    res.end();
  });
  const r = createResolver({}, { hostsDir: dir, dockerConfig: false, user: 'bob:b0b-Secret!' });
  await assert.rejects(r.resolve('busybox'), CtrxError);
  assert.ok(bad.requests.length >= 1);
  assert.ok(bad.requests.every((q) => q.headers.authorization === undefined), 'no credentials sent to the mirror');
});
