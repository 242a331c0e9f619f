import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkConfig, checkTree, type Finding } from '../../../src/config/check.js';
import { generateConfig } from '../../../src/config/generate.js';
import { isCategory } from '../../../src/errdefs.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const dir = makeTempDir('ctrx-config-check-');
after(() => removeTempDir(dir));
let n = 0;
async function check(text: string) {
  const p = join(dir, `c${n++}.toml`);
  writeFileSync(p, text);
  return checkConfig(p);
}
const find = (fs: Finding[], path: string) => fs.filter((f) => f.path === path);
const CRI = 'plugins."io.containerd.grpc.v1.cri"';

test('generated configs are clean', async () => {
  for (const opts of [{}, { version: 3 }, { systemdCgroup: true, configPath: '/etc/containerd/certs.d' }]) {
    const r = await check(generateConfig(opts));
    assert.deepEqual(r.findings, [], JSON.stringify(opts));
  }
});

test('unknown keys are warnings with their full path', async () => {
  const r = await check(`version = 2\nfoo = 1\n[grpc]\n  adress = "x"\n[${CRI}.containerd]\n  snapshoter = "native"\n[${CRI}.containerd.runtimes.runc.options]\n  SystemdCgroups = true\n[plugins."io.containerd.grpc.v1.cr"]\n  x = 1\n`);
  assert.equal(r.errors, 0);
  for (const p of ['foo', 'grpc.adress', `${CRI}.containerd.snapshoter`, `${CRI}.containerd.runtimes.runc.options.SystemdCgroups`, 'plugins."io.containerd.grpc.v1.cr"']) {
    assert.equal(find(r.findings, p).length, 1, p);
    assert.equal(find(r.findings, p)[0]!.severity, 'warning');
  }
});

test('wrong types are errors', async () => {
  const r = await check(`version = 2\noom_score = "x"\n[plugins."io.containerd.gc.v1.scheduler"]\n  pause_threshold = 1\n  schedule_delay = "soon"\n[${CRI}]\n  max_concurrent_downloads = 1.5\n  enable_selinux = "yes"\n[${CRI}.registry.mirrors."docker.io"]\n  endpoint = "https://m"\n[plugins."io.containerd.metadata.v1.bolt"]\n  content_sharing_policy = "private"\n`);
  const errs = r.findings.filter((f) => f.severity === 'error').map((f) => f.path).sort();
  assert.deepEqual(errs, [
    'oom_score',
    `${CRI}.enable_selinux`,
    `${CRI}.max_concurrent_downloads`,
    `${CRI}.registry.mirrors."docker.io".endpoint`,
    'plugins."io.containerd.gc.v1.scheduler".pause_threshold',
    'plugins."io.containerd.gc.v1.scheduler".schedule_delay',
    'plugins."io.containerd.metadata.v1.bolt".content_sharing_policy',
  ].sort());
  assert.match(find(r.findings, 'plugins."io.containerd.gc.v1.scheduler".pause_threshold')[0]!.message, /float.*1\.0.*integer 1/);
});

test('deprecations name their replacement', async () => {
  const r = await check(`version = 2\n[${CRI}]\n  systemd_cgroup = true\n[${CRI}.registry.mirrors."docker.io"]\n  endpoint = ["https://m"]\n[${CRI}.registry.configs."r.example".auth]\n  username = "u"\n[${CRI}.registry.auths."https://r.example"]\n  username = "u"\n[${CRI}.containerd.runtimes.old]\n  runtime_type = "io.containerd.runc.v1"\n`);
  assert.match(find(r.findings, `${CRI}.systemd_cgroup`).map((f) => f.message).join('\n'), /SystemdCgroup = true in \[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.runc\.options\]/);
  assert.match(find(r.findings, `${CRI}.registry.mirrors`)[0]!.message, /config_path/);
  assert.match(find(r.findings, `${CRI}.registry.configs`)[0]!.message, /config_path/);
  assert.match(find(r.findings, `${CRI}.registry.auths`)[0]!.message, /ImagePullSecrets/);
  assert.match(find(r.findings, `${CRI}.containerd.runtimes.old.runtime_type`)[0]!.message, /io\.containerd\.runc\.v2/);
  // systemd_cgroup with a runc v2 default runtime also stops the CRI plugin.
  assert.ok(find(r.findings, `${CRI}.systemd_cgroup`).some((f) => f.severity === 'error'));
});

test('version 1 keys point at their version 2 names; URIs in a version 1 file are errors', async () => {
  const r = await check(`[plugins.cri]\n  sandbox_image = "x"\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "y"\n`);
  assert.equal(r.version, 1);
  assert.match(find(r.findings, 'plugins.cri')[0]!.message, /\[plugins\."io\.containerd\.grpc\.v1\.cri"\]/);
  assert.equal(find(r.findings, `${CRI}`)[0]!.severity, 'error');
  assert.ok(find(r.findings, 'version').length);
  const v2 = await check(`version = 2\n[plugins.cri]\n  sandbox_image = "x"\n`);
  assert.equal(find(v2.findings, 'plugins.cri')[0]!.severity, 'error');
});

test('CRI validation on the merged config', async () => {
  const r = await check(`version = 2\n[${CRI}.containerd.runtimes.kata]\n  runtime_type = "io.containerd.kata.v2"\n[${CRI}.registry]\n  config_path = "/etc/containerd/certs.d"\n[${CRI}.registry.mirrors."docker.io"]\n  endpoint = ["https://m"]\n`);
  assert.equal(find(r.findings, `${CRI}.containerd.default_runtime_name`)[0]!.severity, 'error');
  assert.ok(find(r.findings, `${CRI}.registry.mirrors`).some((f) => f.severity === 'error'));
  const lone = await check(`version = 2\n[${CRI}.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n`);
  assert.equal(lone.errors, 0);
  assert.match(find(lone.findings, `${CRI}.containerd.runtimes.runc.runtime_type`)[0]!.message, /empty/);
});

test('version 3 names moved keys; invalid TOML is one error with line and column; missing file is not-found', async () => {
  const r = await check(`version = 3\n[${CRI}.containerd]\n  snapshotter = "native"\n[plugins.'io.containerd.monitor.v1.cgroups']\n  no_prometheus = true\n`);
  assert.match(find(r.findings, `${CRI}.containerd`)[0]!.message, /io\.containerd\.cri\.v1\.runtime/);
  assert.match(find(r.findings, 'plugins."io.containerd.monitor.v1.cgroups"')[0]!.message, /io\.containerd\.monitor\.task\.v1\.cgroups/);
  const bad = await check('version = 2\noom_score = \n');
  assert.equal(bad.errors, 1);
  assert.match(bad.findings[0]!.message, /line 2, column/);
  await assert.rejects(checkConfig(join(dir, 'absent.toml')), (e: unknown) => isCategory(e, 'not-found'));
  assert.deepEqual(checkTree({ version: 2n, grpc: { gid: 1n } }, 2), []);
});
