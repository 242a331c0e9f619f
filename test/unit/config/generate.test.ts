import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'smol-toml';
import { generateConfig, generateTree, parseMirrorFlag } from '../../../src/config/generate.js';
import { defaultTreeV2, defaultTreeV3 } from '../../../src/config/defaults.js';
import { isCategory } from '../../../src/errdefs.js';
import { plain } from './util.js';

type T = Record<string, any>;
const cri = (t: T) => t.plugins['io.containerd.grpc.v1.cri'];

test('version 2 default: the keys operators look for', () => {
  const t = generateTree() as T;
  assert.equal(t.version, 2n);
  assert.equal(t.root, '/var/lib/containerd');
  assert.equal(cri(t).sandbox_image, 'registry.k8s.io/pause:3.6');
  assert.equal(cri(t).containerd.snapshotter, 'overlayfs');
  assert.equal(cri(t).containerd.default_runtime_name, 'runc');
  assert.equal(cri(t).containerd.runtimes.runc.runtime_type, 'io.containerd.runc.v2');
  assert.equal(cri(t).containerd.runtimes.runc.options.SystemdCgroup, false);
  assert.equal(cri(t).registry.config_path, '');
  for (const k of ['io.containerd.gc.v1.scheduler', 'io.containerd.metadata.v1.bolt', 'io.containerd.snapshotter.v1.overlayfs', 'io.containerd.snapshotter.v1.native', 'io.containerd.runtime.v2.task']) {
    assert.ok(t.plugins[k], k);
  }
});

test('options are applied where containerd 1.x reads them', () => {
  const t = generateTree({
    systemdCgroup: true,
    sandboxImage: 'registry.example/pause:9',
    mirrors: [['docker.io', 'https://m1.example'], ['quay.io', 'http://q:5000'], ['docker.io', 'https://m2.example']],
    root: '/srv/ctd',
    state: '/run/ctd',
    oomScore: -999,
  }) as T;
  assert.equal(cri(t).containerd.runtimes.runc.options.SystemdCgroup, true);
  assert.equal(cri(t).sandbox_image, 'registry.example/pause:9');
  assert.deepEqual(cri(t).registry.mirrors, { 'docker.io': { endpoint: ['https://m1.example', 'https://m2.example'] }, 'quay.io': { endpoint: ['http://q:5000'] } });
  assert.equal(t.root, '/srv/ctd');
  assert.equal(t.state, '/run/ctd');
  assert.equal(t.oom_score, -999n);
  assert.equal(generateTree({ configPath: '/etc/containerd/certs.d' }).plugins && cri(generateTree({ configPath: '/etc/containerd/certs.d' }) as T).registry.config_path, '/etc/containerd/certs.d');
});

test('version 3 puts the same options in containerd 2.x places', () => {
  const t = generateTree({ version: 3, systemdCgroup: true, sandboxImage: 'p:1', configPath: '/etc/containerd/certs.d' }) as T;
  assert.equal(t.version, 3n);
  const images = t.plugins['io.containerd.cri.v1.images'];
  const runtime = t.plugins['io.containerd.cri.v1.runtime'];
  assert.equal(images.pinned_images.sandbox, 'p:1');
  assert.equal(images.registry.config_path, '/etc/containerd/certs.d');
  assert.equal(runtime.containerd.runtimes.runc.options.SystemdCgroup, true);
  // A Go map is written sorted: SystemdCgroup lands after ShimCgroup.
  assert.deepEqual(Object.keys(runtime.containerd.runtimes.runc.options).slice(-2), ['ShimCgroup', 'SystemdCgroup']);
  assert.equal(t.plugins['io.containerd.grpc.v1.cri'].containerd, undefined);
  assert.ok(t.plugins['io.containerd.snapshotter.v1.overlayfs']);
});

test('bad options are invalid-argument errors', () => {
  const bad: Array<() => unknown> = [
    () => generateTree({ version: 4 }),
    () => generateTree({ oomScore: 1001 }),
    () => generateTree({ oomScore: 1.5 }),
    () => generateTree({ mirrors: [['docker.io', 'mirror.example']] }),
    () => generateTree({ mirrors: [['docker.io/library', 'https://m']] }),
    () => generateTree({ mirrors: [['docker.io', 'https://m']], configPath: '/etc/containerd/certs.d' }),
    () => generateTree({ sandboxImage: ' ' }),
    () => parseMirrorFlag('docker.io'),
    () => parseMirrorFlag('=https://x'),
  ];
  for (const f of bad) assert.throws(f, (e: unknown) => isCategory(e, 'invalid-argument'), String(f));
  assert.deepEqual(parseMirrorFlag('docker.io=https://m/x?a=b'), ['docker.io', 'https://m/x?a=b']);
  assert.ok(generateTree({ mirrors: [['*', 'https://m']] }));
});

test('TOML round trip: smol-toml parses what we print back to the same tree', () => {
  for (const [opts, def] of [[{}, defaultTreeV2()], [{ version: 3 }, defaultTreeV3()]] as const) {
    const text = generateConfig(opts);
    assert.deepEqual(plain(parse(text, { integersAsBigInt: true })), def);
  }
  const varied = { systemdCgroup: true, mirrors: [['a.example:5000', 'https://x'], ['a.example:5000', 'http://y']] as Array<[string, string]>, oomScore: -5 };
  assert.deepEqual(plain(parse(generateConfig(varied), { integersAsBigInt: true })), generateTree(varied));
});

test('version 2 text is written in containerd 1.x style, version 3 in 2.x style', () => {
  const v2 = generateConfig();
  assert.match(v2, /^disabled_plugins = \[\]\nimports = \[\]\noom_score = 0\n/);
  assert.match(v2, /\n\[plugins\]\n\n {2}\[plugins\."io\.containerd\.gc\.v1\.scheduler"\]\n {4}deletion_threshold = 0\n/);
  assert.match(v2, /\n {10}\[plugins\."io\.containerd\.grpc\.v1\.cri"\]\.containerd\.runtimes\.runc\.options\]|\n {10}\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.runc\.options\]\n/);
  assert.match(v2, /pause_threshold = 0\.02\n/);
  assert.match(v2, /\[timeouts\]\n {2}"io\.containerd\.timeout\.bolt\.open" = "0s"\n/);
  const v3 = generateConfig({ version: 3 });
  assert.match(v3, /^version = 3\nroot = '\/var\/lib\/containerd'\n/);
  assert.match(v3, /\n\[plugins\]\n {2}\[plugins\.'io\.containerd\.cri\.v1\.images'\]\n/);
  assert.match(v3, /\n {2}\[stream_processors\.'io\.containerd\.ocicrypt\.decoder\.v1\.tar\.gzip'\]\n(?: {4}.*\n)+$/);
});
