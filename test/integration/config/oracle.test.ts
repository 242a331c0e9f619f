/**
 * ctrx against the real containerd (Debian's 1.6.20) as the oracle:
 * `ctrx config default` must equal `containerd config default`, and
 * `ctrx config dump` must equal `containerd config dump` for configs that
 * exercise containerd's merge and import rules.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { DELIBERATE_V2_DIFFERENCES } from '../../../src/config/defaults.js';
import { run, runCtrx } from '../../helpers/run.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const haveContainerd = (await run('containerd', ['--version']).catch(() => ({ code: 1 }))).code === 0;
const skip = haveContainerd ? false : 'containerd is not installed';
const dir = makeTempDir('ctrx-config-oracle-');
after(() => removeTempDir(dir));

function without(tree: Record<string, any>, paths: readonly string[]): Record<string, any> {
  for (const p of paths) {
    const keys = p.split('\u0000');
    let cur = tree;
    for (const k of keys.slice(0, -1)) cur = cur?.[k];
    if (cur) delete cur[keys[keys.length - 1]!];
  }
  return tree;
}

test('ctrx config default equals containerd config default', { skip }, async () => {
  const ours = await runCtrx(['-c', join(dir, 'none.toml'), 'config', 'default'], { check: true });
  const theirs = await run('containerd', ['config', 'default'], { check: true });
  assert.deepEqual(without(parse(ours.stdout), DELIBERATE_V2_DIFFERENCES), without(parse(theirs.stdout), DELIBERATE_V2_DIFFERENCES));
  // No deliberate differences today, so the text itself is containerd's, byte for byte.
  if (DELIBERATE_V2_DIFFERENCES.length === 0) assert.equal(ours.stdout, theirs.stdout);
});

const CRI = 'plugins."io.containerd.grpc.v1.cri"';
const CASES: Record<string, Record<string, string>> = {
  'imports, zero values, appended lists, plugin sections replaced whole': {
    'main.toml': `version = 2
imports = ["b.toml", "conf.d/c.toml"]
oom_score = -999
disabled_plugins = ["io.containerd.snapshotter.v1.zfs"]
[${CRI}]
  sandbox_image = "mine/pause:1"
[${CRI}.containerd.runtimes.kata]
  runtime_type = "io.containerd.kata.v2"
`,
    'b.toml': `version = 2
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs"]
root = "/srv/ctd-root"
[plugins."io.containerd.gc.v1.scheduler"]
  pause_threshold = 0.5
`,
    'conf.d/c.toml': `version = 2
oom_score = 0
state = "/srv/ctd-state"
[grpc]
  gid = 5
[${CRI}.containerd]
  snapshotter = "native"
`,
  },
  'a lone runc option, mirrors, unknown keys and plugins': {
    'main.toml': `version = 2
foo = 1
[grpc]
  bogus = 1
[plugins."io.containerd.grpc.v1.cr"]
  sandbox_image = "x"
[${CRI}.containerd.runtimes.runc.options]
  SystemdCgroup = true
[${CRI}.registry.mirrors."docker.io"]
  endpoint = ["https://m1", "https://m2"]
`,
  },
  'version 1 file': {
    'main.toml': `root = "/srv/v1"
[plugins.cri]
  sandbox_image = "v1/pause:1"
[plugins.cri.containerd]
  snapshotter = "native"
[plugins.overlayfs]
  root_path = "/srv/ov"
[plugins."io.containerd.snapshotter.v1.native"]
  root_path = "/ignored"
`,
  },
};

for (const [name, files] of Object.entries(CASES)) {
  test(`ctrx config dump equals containerd config dump: ${name}`, { skip }, async () => {
    const base = join(dir, name.replace(/\W+/g, '-'));
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(join(base, f, '..'), { recursive: true });
      writeFileSync(join(base, f), text);
    }
    const main = join(base, 'main.toml');
    const ours = parse((await runCtrx(['-c', main, 'config', 'dump'], { check: true })).stdout) as Record<string, any>;
    const theirs = parse((await run('containerd', ['--config', main, 'config', 'dump'], { check: true })).stdout) as Record<string, any>;
    // containerd 1.6 lists imports from a Go map: order varies run to run.
    assert.deepEqual([...ours.imports].sort(), [...theirs.imports].sort());
    delete ours.imports;
    delete theirs.imports;
    assert.deepEqual(ours, theirs);
  });
}
