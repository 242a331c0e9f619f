import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load.js';
import { defaultFacts } from '../../../src/config/facts.js';
import { defaultTreeV2 } from '../../../src/config/defaults.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { isCategory } from '../../../src/errdefs.js';

const dir = makeTempDir('ctrx-config-load-');
after(() => removeTempDir(dir));
let n = 0;
function file(text: string, name = `c${n++}.toml`): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
type T = Record<string, any>;
const CRI = 'plugins."io.containerd.grpc.v1.cri"';

test('a missing file means the defaults and never throws', async () => {
  const r = await loadConfig(join(dir, 'nope.toml'));
  assert.deepEqual(r.facts, defaultFacts());
  assert.deepEqual(r.effective, defaultTreeV2());
  assert.deepEqual(r.raw, {});
});

test('version 2 facts', async () => {
  const p = file(`version = 2
root = "/srv/ctd"
state = "/run/ctd"
[${CRI}.containerd]
  snapshotter = "native"
[${CRI}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[${CRI}.containerd.runtimes.runc.options]
  SystemdCgroup = true
  BinaryName = "/usr/local/bin/crun"
  Root = "/run/crun"
[${CRI}.registry]
  config_path = "/etc/containerd/certs.d"
[plugins."io.containerd.snapshotter.v1.overlayfs"]
  root_path = "/data/overlay"
[plugins."io.containerd.snapshotter.v1.native"]
  root_path = "/data/native"
`);
  const { facts } = await loadConfig(p);
  assert.equal(facts.path, p);
  assert.equal(facts.version, 2);
  assert.equal(facts.root, '/srv/ctd');
  assert.equal(facts.state, '/run/ctd');
  assert.equal(facts.snapshotter, 'native');
  assert.equal(facts.overlayfsRootPath, '/data/overlay');
  assert.equal(facts.nativeRootPath, '/data/native');
  assert.equal(facts.registry.configPath, '/etc/containerd/certs.d');
  assert.deepEqual(facts.runc, { binaryName: '/usr/local/bin/crun', systemdCgroup: true, root: '/run/crun' });
});

test('version 1 facts: short plugin ids, full URIs ignored as containerd ignores them', async () => {
  const p = file(`root = "/v1root"
[plugins.cri]
  sandbox_image = "x/pause:1"
[plugins.cri.containerd]
  snapshotter = "native"
[plugins.cri.registry.mirrors."docker.io"]
  endpoint = ["https://m1", "https://m2"]
[plugins."io.containerd.snapshotter.v1.overlayfs"]
  root_path = "/ignored"
[plugins.overlayfs]
  root_path = "/ov"
`);
  const r = await loadConfig(p);
  assert.equal(r.facts.version, 1);
  assert.equal(r.facts.root, '/v1root');
  assert.equal(r.facts.snapshotter, 'native');
  assert.equal(r.facts.overlayfsRootPath, '/ov');
  assert.deepEqual(r.facts.registry.mirrors, { 'docker.io': ['https://m1', 'https://m2'] });
  assert.equal((r.effective as T).plugins['io.containerd.grpc.v1.cri'].sandbox_image, 'x/pause:1');
  assert.equal((r.effective as T).version, 2n, 'shown as version 2, like containerd 1.6 config dump');
});

test('version 3 facts come from the split CRI plugins', async () => {
  const p = file(`version = 3
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "native"
[plugins.'io.containerd.cri.v1.images'.registry]
  config_path = "/etc/containerd/certs.d"
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = true
  BinaryName = "runc-custom"
`);
  const r = await loadConfig(p);
  assert.equal(r.facts.version, 3);
  assert.equal(r.facts.snapshotter, 'native');
  assert.equal(r.facts.registry.configPath, '/etc/containerd/certs.d');
  assert.equal(r.facts.runc.systemdCgroup, true);
  assert.equal(r.facts.runc.binaryName, 'runc-custom');
  // 2.x decodes into the default runtime entry: runc keeps its type.
  const runc = (r.effective as T).plugins['io.containerd.cri.v1.runtime'].containerd.runtimes.runc;
  assert.equal(runc.runtime_type, 'io.containerd.runc.v2');
});

test('imports: relative paths, globs, cycles, and containerd 1.x merge rules', async () => {
  mkdirSync(join(dir, 'conf.d'), { recursive: true });
  file(`version = 2
oom_score = 0
state = "/from-import"
disabled_plugins = ["io.containerd.snapshotter.v1.zfs"]
imports = ["../main-imp.toml"]
[${CRI}.containerd]
  snapshotter = "native"
`, 'conf.d/10-a.toml');
  file(`version = 2
[grpc]
  gid = 7
`, 'conf.d/20-b.toml');
  const main = file(`version = 2
oom_score = -500
imports = ["${join(dir, 'conf.d')}/*.toml"]
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs"]
[${CRI}]
  sandbox_image = "lost/pause:1"
`, 'main-imp.toml');
  const r = await loadConfig(main);
  const e = r.effective as T;
  assert.deepEqual(e.imports, [main, join(dir, 'conf.d/10-a.toml'), join(dir, 'conf.d/20-b.toml')]);
  assert.equal(e.oom_score, -500n, 'a zero value in an import does not override');
  assert.equal(e.state, '/from-import');
  assert.equal(e.grpc.gid, 7n);
  assert.deepEqual(e.disabled_plugins, ['io.containerd.snapshotter.v1.btrfs', 'io.containerd.snapshotter.v1.zfs']);
  assert.equal(e.plugins['io.containerd.snapshotter.v1.zfs'], undefined, 'disabled plugins are not shown');
  // 1.x: the import's CRI section replaces the main file's whole CRI section.
  assert.equal(e.plugins['io.containerd.grpc.v1.cri'].sandbox_image, 'registry.k8s.io/pause:3.6');
  assert.equal(e.plugins['io.containerd.grpc.v1.cri'].containerd.snapshotter, 'native');
  assert.equal(r.facts.snapshotter, 'native');

  const rel = file(`version = 2\nimports = ["conf.d/20-b.toml"]\n`, 'rel.toml');
  assert.equal(((await loadConfig(rel)).effective as T).grpc.gid, 7n);
});

test('version 3 merges plugin sections across imports (containerd 2.x)', async () => {
  const imp = file(`version = 3\n[plugins.'io.containerd.cri.v1.images']\n  snapshotter = "native"\n`);
  const main = file(`version = 3\nimports = ["${imp}"]\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = "kept/pause:1"\n`);
  const images = ((await loadConfig(main)).effective as T).plugins['io.containerd.cri.v1.images'];
  assert.equal(images.snapshotter, 'native');
  assert.equal(images.pinned_images.sandbox, 'kept/pause:1');
});

test('map entries replace the defaults; struct fields merge', async () => {
  const p = file(`version = 2\n[${CRI}.containerd.runtimes.kata]\n  runtime_type = "io.containerd.kata.v2"\n[${CRI}.cni]\n  bin_dir = "/usr/lib/cni"\n`);
  const cri = ((await loadConfig(p)).effective as T).plugins['io.containerd.grpc.v1.cri'];
  assert.deepEqual(Object.keys(cri.containerd.runtimes), ['kata']);
  assert.equal(cri.containerd.runtimes.kata.cni_max_conf_num, 0n, 'a new entry starts from zero values');
  assert.deepEqual(cri.containerd.runtimes.kata.options, {});
  assert.equal(cri.cni.bin_dir, '/usr/lib/cni');
  assert.equal(cri.cni.conf_dir, '/etc/cni/net.d');
});

test('invalid TOML and missing imports are invalid-argument errors', async () => {
  await assert.rejects(loadConfig(file('version = 2\n[grpc\n')), (e: unknown) => isCategory(e, 'invalid-argument') && /line 2/.test((e as Error).message));
  await assert.rejects(loadConfig(file(`version = 2\nimports = ["missing.toml"]\n`)), (e: unknown) => isCategory(e, 'invalid-argument'));
});
