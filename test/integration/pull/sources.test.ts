// Where `ctrx images pull` gets an image from and what it takes of it:
// short names through mirrors (hosts.toml written by `ctrx config hosts`,
// --hosts-dir, config_path, the legacy registry.mirrors table), platform
// selection in a two-platform index, and registries behind htpasswd auth
// (-u, a docker config file, a wrong password).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFixture, FAKE_SECOND_PLATFORM } from '../../helpers/fixtures.js';
import { hostPlatform, type Image } from '../../helpers/oci.js';
import { pushImage, startRegistry, type Registry } from '../../helpers/registry.js';
import { assertConsistent, blobFiles, newBox, readState, skipReason, type Box } from './_world.js';

const skip = skipReason();
const USER = 'puller';
const PASS = 'pa55-W0rd-for-pull';
let reg: Registry;
let authReg: Registry;
let busybox: Image;
let multi: Image;
const boxes: Box[] = [];
const box = () => {
  const b = newBox();
  boxes.push(b);
  return b;
};

before(async () => {
  if (skip) return;
  [busybox, multi] = await Promise.all([buildFixture('busybox'), buildFixture('busybox', { multiPlatform: true })]);
  [reg, authReg] = await Promise.all([startRegistry(), startRegistry({ auth: { user: USER, password: PASS } })]);
  await pushImage(reg, 'library/busybox', 'latest', busybox);
  await pushImage(reg, 'library/multi', 'v1', multi);
  await pushImage(authReg, 'private/busybox', 'v1', busybox, { user: USER, password: PASS });
}, { timeout: 120_000 });

after(async () => {
  await Promise.all([reg?.stop(), authReg?.stop()]);
  for (const b of boxes) b.remove();
});

const DOCKER_NAME = 'docker.io/library/busybox:latest';
/** An upstream nobody listens on: only the mirror can have served the pull. */
const DEAD_UPSTREAM = 'http://127.0.0.1:1';

function assertPulledBusybox(b: Box, name: string, source: [string, string]): void {
  const st = assertConsistent(b.root);
  assert.deepEqual(st.images.map((i) => i.name), [name]);
  assert.equal(st.images[0]!.digest, busybox.root.digest);
  assert.deepEqual(blobFiles(b.root), [...busybox.blobs.keys()].sort());
  for (const [d, labels] of st.blobs) assert.equal(labels[`containerd.io/distribution.source.${source[0]}`], source[1], `source label of ${d}`);
  assert.equal((st.snapshots.overlayfs ?? []).length, 1);
}

test('short name via a hosts.toml mirror written by `ctrx config hosts` (--hosts-dir)', { skip, timeout: 60_000 }, async () => {
  const b = box();
  const hosts = join(b.dir, 'certs.d');
  await b.xOk(['config', 'hosts', 'docker.io', '--mirror', reg.url, '--server', DEAD_UPSTREAM, '--dir', hosts]);
  const r = await b.xOk(['images', 'pull', '--hosts-dir', hosts, 'busybox']);
  assert.match(r.stdout, /^docker\.io\/library\/busybox:latest: sha256:/m);
  assertPulledBusybox(b, DOCKER_NAME, ['docker.io', 'library/busybox']);
  // a second pull finds everything in place and downloads nothing
  const again = await b.xOk(['images', 'pull', '--hosts-dir', hosts, '--format', 'json', 'docker.io/library/busybox']);
  assert.equal(JSON.parse(again.stdout).downloaded, 0);
});

test('short name via config.toml: config_path, and the legacy registry.mirrors table', { skip, timeout: 60_000 }, async () => {
  const b1 = box();
  const hosts = join(b1.dir, 'certs.d');
  await b1.xOk(['config', 'hosts', 'docker.io', '--mirror', reg.url, '--server', DEAD_UPSTREAM, '--dir', hosts]);
  const cfg1 = join(b1.dir, 'config.toml');
  writeFileSync(cfg1, `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = ${JSON.stringify(hosts)}\n`);
  await b1.xOk(['images', 'pull', 'busybox:latest'], { config: cfg1 });
  assertPulledBusybox(b1, DOCKER_NAME, ['docker.io', 'library/busybox']);

  const b2 = box();
  const cfg2 = join(b2.dir, 'config.toml');
  writeFileSync(cfg2, `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = [${JSON.stringify(reg.url)}]\n`);
  await b2.xOk(['images', 'pull', 'library/busybox'], { config: cfg2 });
  assertPulledBusybox(b2, DOCKER_NAME, ['docker.io', 'library/busybox']);
});

test('two platforms: the host by default, --platform linux/arm64, --all-platforms; the index labels every manifest', { skip, timeout: 90_000 }, async () => {
  const ref = `${reg.host}/library/multi:v1`;
  const host = multi.images.find((i) => i.descriptor.platform!.architecture === hostPlatform().architecture)!;
  const arm = multi.images.find((i) => i.descriptor.platform!.architecture === FAKE_SECOND_PLATFORM.architecture)!;
  assert.notEqual(host, arm);
  const indexLabels = Object.fromEntries(multi.images.map((m, i) => [`containerd.io/gc.ref.content.m.${i}`, m.descriptor.digest]));
  const check = (b: Box, want: (typeof host)[]) => {
    const st = assertConsistent(b.root);
    const labels = st.blobs.get(multi.root.digest)!;
    for (const [k, v] of Object.entries(indexLabels)) assert.equal(labels[k], v, `index label ${k}`);
    const files = blobFiles(b.root);
    for (const m of [host, arm]) {
      const has = want.includes(m);
      assert.equal(files.includes(m.descriptor.digest), has, `manifest of ${m.descriptor.platform!.architecture} present: ${has}`);
      assert.equal(files.includes(m.manifest.config.digest), has, `config of ${m.descriptor.platform!.architecture} present: ${has}`);
      if (has) assert.ok(st.blobs.get(m.manifest.config.digest)!['containerd.io/gc.ref.snapshot.overlayfs'], 'unpacked for that platform');
    }
    assert.deepEqual(st.images.map((i) => [i.name, i.digest]), [[ref, multi.root.digest]]);
  };
  const bDefault = box();
  await bDefault.xOk(['images', 'pull', ref]);
  check(bDefault, [host]);

  const bArm = box();
  const r = await bArm.xOk(['images', 'pull', '--platform', 'linux/arm64', '--format', 'json', ref]);
  assert.deepEqual(JSON.parse(r.stdout).manifests.map((m: { digest: string }) => m.digest), [arm.descriptor.digest]);
  check(bArm, [arm]);

  const bAll = box();
  const all = await bAll.xOk(['images', 'pull', '--all-platforms', '--format', 'json', ref]);
  assert.deepEqual(JSON.parse(all.stdout).manifests.map((m: { digest: string }) => m.digest).sort(), [host.descriptor.digest, arm.descriptor.digest].sort());
  check(bAll, [host, arm]);

  const none = await box().x(['images', 'pull', '--platform', 'windows/amd64', ref]);
  assert.equal(none.code, 6, none.stderr);
  assert.match(none.stderr, /no match for platform/);
});

test('auth: -u user:pass, a docker config file; a wrong password fails with exit 8 and leaves nothing', { skip, timeout: 60_000 }, async () => {
  const ref = `${authReg.host}/private/busybox:v1`;
  const anon = box();
  const denied = await anon.x(['images', 'pull', ref]);
  assert.equal(denied.code, 8, `anonymous: ${denied.stderr}`);

  const b1 = box();
  await b1.xOk(['images', 'pull', '-u', `${USER}:${PASS}`, ref]);
  assertPulledBusybox(b1, ref, ['127.0.0.1', 'private/busybox']);

  const b2 = box();
  const cfgDir = join(b2.dir, 'dockercfg');
  mkdirSync(cfgDir);
  writeFileSync(join(cfgDir, 'config.json'), JSON.stringify({ auths: { [authReg.host]: { auth: Buffer.from(`${USER}:${PASS}`).toString('base64') } } }));
  await b2.xOk(['images', 'pull', ref], { env: { DOCKER_CONFIG: cfgDir } });
  assertPulledBusybox(b2, ref, ['127.0.0.1', 'private/busybox']);

  const b3 = box();
  const wrong = await b3.x(['images', 'pull', '-u', `${USER}:not-the-password`, ref]);
  assert.equal(wrong.code, 8, wrong.stderr);
  assert.match(wrong.stderr, /^ctrx: .*(authoriz|authentic|denied|credentials)/im);
  assert.ok(!wrong.stderr.includes('not-the-password'), 'the password is not echoed');
  const st = readState(b3.root);
  assert.deepEqual(st.leases, [], 'no lease left');
  assert.deepEqual(st.images, [], 'no image record');
  assert.deepEqual(blobFiles(b3.root), []);
});

test('--no-unpack fetches only; the next pull unpacks without downloading; --label, --print-chainid, a digest reference', { skip, timeout: 60_000 }, async () => {
  const b = box();
  const ref = `${reg.host}/library/busybox:latest`;
  await b.xOk(['images', 'pull', '--no-unpack', ref]);
  let st = assertConsistent(b.root);
  assert.deepEqual(st.snapshots.overlayfs ?? [], []);
  assert.deepEqual(blobFiles(b.root), [...busybox.blobs.keys()].sort());
  const r = await b.xOk(['images', 'pull', '--label', 'team=ctrx', '--print-chainid', '--format', 'text', ref]);
  const chain = /^image chain ID: (sha256:[0-9a-f]{64})$/m.exec(r.stdout)?.[1];
  assert.ok(chain, r.stdout);
  assert.match(r.stdout, /0\.0 B downloaded/);
  st = assertConsistent(b.root);
  assert.deepEqual(st.snapshots.overlayfs!.map((s) => s.key), [chain]);
  const digestRef = `${reg.host}/library/busybox@${busybox.root.digest}`;
  await b.xOk(['images', 'pull', digestRef]);
  st = assertConsistent(b.root);
  assert.deepEqual(st.images.map((i) => [i.name, i.digest]).sort(), [[digestRef, busybox.root.digest], [ref, busybox.root.digest]].sort());
  const ls = await b.xOk(['images', 'ls', '--format', 'json']);
  assert.match(ls.stdout, /"team": ?"ctrx"/);
});
