// Against Debian's docker-registry (distribution 2.8) on 127.0.0.1, open and
// behind htpasswd: resolve and fetch pushed fixtures by tag and by digest,
// Basic auth from -u and from a docker config file, and the ctrx login/logout
// commands writing and removing the config entry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { CtrxError } from '../../../src/errdefs.js';
import { closeIdleConnections, createResolver } from '../../../src/images/registry/index.js';
import { clearTokenCache } from '../../../src/images/registry/auth.js';
import { buildFixture } from '../../helpers/fixtures.js';
import { platformImage, type Image } from '../../helpers/oci.js';
import { pushImage, startRegistry, type Registry } from '../../helpers/registry.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { ctrx, ctrxJs, runtimeCommand } from '../../cli/ctrx.js';
import { spawn, spawnSync } from 'node:child_process';

const ALICE = { user: 'alice', password: 'w0nderl4nd-Pa55' };
let open: Registry;
let locked: Registry;
let oci: Image;
let docker: Image;
const dirs: string[] = [];

before(async () => {
  [oci, docker] = await Promise.all([buildFixture('busybox', { multiPlatform: true }), buildFixture('busybox', { style: 'docker' })]);
  [open, locked] = await Promise.all([startRegistry(), startRegistry({ auth: ALICE })]);
  await pushImage(open, 'lib/busybox', 'v1', oci);
  await pushImage(open, 'lib/busybox', 'docker', docker);
  await pushImage(locked, 'private/busybox', 'v1', oci, ALICE);
});
after(async () => {
  closeIdleConnections();
  await Promise.all([open?.stop(), locked?.stop()]);
  dirs.forEach(removeTempDir);
});

function tmp(): string {
  const d = makeTempDir('ctrx-reg-');
  dirs.push(d);
  return d;
}

async function drain(s: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of s) n += c.byteLength;
  return n;
}

test('resolve an OCI index by tag and by digest; fetch its manifest, config and layer', async () => {
  const r = createResolver({}, { hostsDir: [], dockerConfig: false });
  const byTag = await r.resolve(`${open.host}/lib/busybox:v1`);
  assert.deepEqual(byTag.desc, { mediaType: oci.root.mediaType, digest: oci.root.digest, size: oci.root.size });
  assert.equal(byTag.name, `${open.host}/lib/busybox:v1`);
  assert.equal(byTag.endpoint.base, `http://${open.host}/v2`, 'plain HTTP for a loopback registry');
  const byDigest = await r.resolve(`${open.host}/lib/busybox@${oci.root.digest}`);
  assert.equal(byDigest.desc.digest, oci.root.digest);

  const f = r.fetcher(byTag.ref);
  const { index } = await f.readIndex(byTag.desc);
  assert.equal(index.manifests.length, 2);
  const host = platformImage(oci);
  const { manifest, bytes } = await f.readManifest(host.descriptor);
  assert.equal(bytes.byteLength, host.descriptor.size);
  const { config } = await f.readConfig(manifest.config);
  assert.equal(config.os, 'linux');
  const layer = manifest.layers[0]!;
  const whole = await f.fetch(layer);
  assert.equal(whole.verified, true);
  assert.equal(await drain(whole.stream), layer.size);
  const rest = await f.fetch(layer, { offset: layer.size - 100 });
  assert.equal(rest.resumedFrom, layer.size - 100, 'the registry honours Range');
  assert.equal(await drain(rest.stream), 100);
});

test('Docker schema 2 list and manifest resolve with their media types', async () => {
  const r = createResolver({}, { hostsDir: [], dockerConfig: false });
  const got = await r.resolve(`${open.host}/lib/busybox:docker`);
  assert.equal(got.desc.mediaType, docker.root.mediaType);
  const doc = await r.fetcher(got.ref).readDocument(got.desc);
  assert.equal(doc.document.mediaType, docker.root.mediaType);
});

test('unknown tags and repositories are not-found errors', async () => {
  const r = createResolver({}, { hostsDir: [], dockerConfig: false });
  await assert.rejects(r.resolve(`${open.host}/lib/busybox:nope`), (e: unknown) => e instanceof CtrxError && e.category === 'not-found' && /not found/.test(e.message));
  await assert.rejects(r.resolve(`${open.host}/no/such:v1`), (e: unknown) => e instanceof CtrxError && e.category === 'not-found');
});

test('a protected registry without credentials: permission denied with a login hint', async () => {
  clearTokenCache();
  const r = createResolver({}, { hostsDir: [], dockerConfig: false });
  await assert.rejects(r.resolve(`${locked.host}/private/busybox:v1`), (e: unknown) => {
    assert.ok(e instanceof CtrxError);
    assert.equal(e.category, 'permission-denied');
    assert.match(e.message, /requires a user name and password/);
    assert.match(e.hint ?? '', /ctrx login/);
    return true;
  });
});

test('Basic auth with -u user:password', async () => {
  const r = createResolver({}, { hostsDir: [], dockerConfig: false, user: `${ALICE.user}:${ALICE.password}` });
  const got = await r.resolve(`${locked.host}/private/busybox:v1`);
  assert.equal(got.desc.digest, oci.root.digest);
  const { index } = await r.fetcher(got.ref).readIndex(got.desc);
  assert.equal(index.manifests.length, 2);
});

test('-u user without a password asks through the callback, once', async () => {
  let asked = 0;
  const r = createResolver({}, { hostsDir: [], dockerConfig: false, user: ALICE.user, promptPassword: async (reg, u) => (asked++, assert.equal(reg, locked.host), assert.equal(u, 'alice'), ALICE.password) });
  await r.resolve(`${locked.host}/private/busybox:v1`);
  await r.resolve(`${locked.host}/private/busybox@${oci.root.digest}`);
  assert.equal(asked, 1);
});

test('Basic auth from a docker config file', async () => {
  const dir = tmp();
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ auths: { [`http://${locked.host}`]: { auth: Buffer.from(`${ALICE.user}:${ALICE.password}`).toString('base64') } } }));
  const r = createResolver({}, { hostsDir: [], dockerConfig: file });
  assert.equal((await r.resolve(`${locked.host}/private/busybox:v1`)).desc.digest, oci.root.digest);
});

test('a wrong password: authorization failed, the password never in the error', async () => {
  const r = createResolver({}, { hostsDir: [], dockerConfig: false, user: `${ALICE.user}:not-the-Passw0rd` });
  await assert.rejects(r.resolve(`${locked.host}/private/busybox:v1`), (e: unknown) => {
    assert.ok(e instanceof CtrxError);
    assert.equal(e.category, 'permission-denied');
    assert.match(e.message, /authorization failed: .* refused the credentials of user "alice"/);
    const text = `${e.subject} ${e.message} ${e.hint} ${e.stack}`;
    assert.ok(!text.includes('not-the-Passw0rd'));
    assert.ok(!text.includes(Buffer.from('alice:not-the-Passw0rd').toString('base64')));
    return true;
  });
});

function cli(args: string[], dockerDir: string, input?: string) {
  const r = ctrx(['-c', path.join(dockerDir, 'no-containerd-config.toml'), ...args], { env: { DOCKER_CONFIG: dockerDir }, input });
  return r;
}

test('ctrx login --password-stdin checks the credentials and writes config.json (0600); logout removes the entry', () => {
  const dir = tmp();
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ auths: { 'other.example.com': { auth: 'b3RoZXI6b3RoZXI=' } }, credsStore: '', HttpHeaders: { 'X-Meta': 'kept' } }, null, 2), { mode: 0o644 });
  const r = cli(['login', locked.host, '-u', ALICE.user, '--password-stdin'], dir, `${ALICE.password}\n`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Login Succeeded$/m);
  assert.ok(!(r.stdout + r.stderr).includes(ALICE.password), 'password never printed');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(Buffer.from(doc.auths[locked.host].auth, 'base64').toString(), `${ALICE.user}:${ALICE.password}`);
  assert.ok(doc.auths['other.example.com'], 'other entries kept');
  assert.deepEqual(doc.HttpHeaders, { 'X-Meta': 'kept' }, 'other keys kept');

  const again = cli(['login', locked.host], dir);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Login Succeeded \(stored credentials\)/);

  const out = cli(['logout', locked.host], dir);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, new RegExp(`Removing login credentials for ${locked.host.replace(/\./g, '\\.')}`));
  const after = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(after.auths[locked.host], undefined);
  assert.ok(after.auths['other.example.com']);
  const twice = cli(['logout', locked.host], dir);
  assert.equal(twice.code, 0);
  assert.match(twice.stdout, /Not logged in to/);
});

test('ctrx login with a wrong password: exit 8, clear message, no secret, nothing written', () => {
  const dir = tmp();
  const bad = 'Wr0ng-Secret-Value';
  for (const args of [['-u', `${ALICE.user}:${bad}`], ['-u', ALICE.user, '--password-stdin']]) {
    const r = cli(['login', locked.host, ...args], dir, `${bad}\n`);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /authorization failed: .*refused the credentials of user "alice"/);
    assert.ok(!(r.stdout + r.stderr).includes(bad), r.stderr);
    assert.ok(!(r.stdout + r.stderr).includes(Buffer.from(`alice:${bad}`).toString('base64')));
    assert.ok(!existsSync(path.join(dir, 'config.json')), 'nothing stored');
  }
});

test('ctrx login without a terminal and without -u: a usage error, not a hang', () => {
  const dir = tmp();
  const r = cli(['login', locked.host], dir, '');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /not a terminal/);
  const r2 = cli(['login', locked.host, '--password-stdin'], dir, 'x\n');
  assert.equal(r2.code, 3);
  assert.match(r2.stderr, /--password-stdin needs -u/);
});

test('ctrx login to an open registry succeeds; a dead one is a clear unavailable error', () => {
  const dir = tmp();
  const r = cli(['login', open.host, '-u', 'anyone:anything'], dir);
  assert.equal(r.code, 0, r.stderr);
  const dead = cli(['login', '127.0.0.1:1', '-u', 'a:b'], dir);
  assert.equal(dead.code, 7, dead.stderr);
  assert.match(dead.stderr, /connection refused/);
});

test('push primitives: exists, monolithic, chunked, streamed, cross-repository mount, manifest by tag', async () => {
  const r = createResolver({}, { hostsDir: [], dockerConfig: false });
  const host = platformImage(oci);
  const target = `${open.host}/pushed/busybox:v2`;
  const p = await r.pusher(target);
  const layer = host.manifest.layers[0]!;
  const cfg = host.manifest.config;
  assert.equal(await p.blobExists(layer), false);
  assert.equal(await p.pushBlob(layer, oci.blobs.get(layer.digest)!, { mountFrom: ['lib/busybox'] }), 'mounted');
  assert.equal(await p.blobExists(layer), true);
  assert.equal(await p.pushBlob(layer, oci.blobs.get(layer.digest)!), 'exists');
  assert.equal(await p.pushBlob(cfg, oci.blobs.get(cfg.digest)!, { chunkSize: 64 }), 'uploaded');
  const small = Buffer.from('a blob streamed in pieces\n'.repeat(1000));
  const { createHash } = await import('node:crypto');
  const sd = { mediaType: 'application/octet-stream', digest: `sha256:${createHash('sha256').update(small).digest('hex')}`, size: small.length };
  const pieces = async function* () {
    for (let i = 0; i < small.length; i += 4000) yield small.subarray(i, i + 4000);
  };
  assert.equal(await p.pushBlob(sd, pieces), 'uploaded');
  assert.equal(await p.blobExists(sd), true);
  const { digest } = await p.putManifest(host.descriptor, oci.blobs.get(host.descriptor.digest)!, { tag: 'v2' });
  assert.equal(digest, host.descriptor.digest);
  const back = await r.resolve(target);
  assert.equal(back.desc.digest, host.descriptor.digest);
  assert.equal(back.desc.mediaType, host.descriptor.mediaType);
});

test('push refuses data that does not match its descriptor, before the final PUT', async () => {
  const r = createResolver({}, { hostsDir: [], dockerConfig: false });
  const p = await r.pusher(`${open.host}/pushed/bad:v1`);
  const data = Buffer.from('hello');
  const { createHash } = await import('node:crypto');
  const d = { mediaType: 'application/octet-stream', digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: 5 };
  await assert.rejects(p.pushBlob({ ...d, size: 6 }, data), (e: unknown) => e instanceof CtrxError && /5 bytes, the descriptor says 6/.test(e.message));
  await assert.rejects(p.pushBlob(d, Buffer.from('HELLO')), (e: unknown) => e instanceof CtrxError && /does not hash/.test(e.message));
  await assert.rejects(
    p.pushBlob(d, async function* () {
      yield Buffer.from('hello, world');
    }),
    (e: unknown) => e instanceof CtrxError,
  );
  assert.equal(await p.blobExists(d), false, 'nothing was committed');
});

test('push to a protected registry with -u (token scopes pull,push)', async () => {
  const r = createResolver({}, { hostsDir: [], dockerConfig: false, user: `${ALICE.user}:${ALICE.password}` });
  const host = platformImage(oci);
  const p = await r.pusher(`${locked.host}/private/copy:v1`);
  for (const d of [host.manifest.config, ...host.manifest.layers]) {
    assert.ok(['mounted', 'uploaded', 'exists'].includes(await p.pushBlob(d, oci.blobs.get(d.digest)!, { mountFrom: ['private/busybox'] })));
  }
  await p.putManifest(host.descriptor, oci.blobs.get(host.descriptor.digest)!, { tag: 'v1' });
  assert.equal((await r.resolve(`${locked.host}/private/copy:v1`)).desc.digest, host.descriptor.digest);
  const anon = await createResolver({}, { hostsDir: [], dockerConfig: false }).pusher(`${locked.host}/private/copy:v2`);
  await assert.rejects(anon.blobExists(host.manifest.config), (e: unknown) => e instanceof CtrxError && e.category === 'permission-denied');
});

/** Runs the CLI on a pseudo-terminal (util-linux script), answering each prompt when it appears. */
function onTerminal(args: string[], dockerDir: string, answers: [RegExp, string][]): Promise<{ code: number; out: string }> {
  const cmd = [...runtimeCommand(ctrxJs), '-c', path.join(dockerDir, 'none.toml'), ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, DOCKER_CONFIG: dockerDir }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let seen = 0;
  const pending = [...answers];
  const onData = (b: Buffer): void => {
    out += b.toString();
    while (pending.length && pending[0]![0].test(out.slice(seen))) {
      seen = out.length;
      child.stdin.write(pending.shift()![1]);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, out });
    }),
  );
}

const haveScript = spawnSync('script', ['--version']).status === 0;

test('ctrx login on a terminal asks for the user name and the password, without echoing the password', { skip: !haveScript && 'util-linux script is missing' }, async () => {
  const dir = tmp();
  const r = await onTerminal(['login', locked.host], dir, [
    [/Username: /, 'alice\r'],
    [/Password: /, `${ALICE.password}\r`],
  ]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Login Succeeded/);
  assert.ok(!r.out.includes(ALICE.password), `password echoed: ${JSON.stringify(r.out)}`);
  assert.ok(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).auths[locked.host]);
  const bad = await onTerminal(['login', locked.host, '-u', 'alice'], tmp(), [[/Password: /, 'Nope-N0pe-Nope\r']]);
  assert.equal(bad.code, 8, bad.out);
  assert.ok(!bad.out.includes('Nope-N0pe-Nope'));
});
