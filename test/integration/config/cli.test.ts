/** The config verbs through the built CLI: output contracts and exit codes (Node, and Deno for `config default`). */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCtrx } from '../../helpers/run.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const dir = makeTempDir('ctrx-config-cli-');
after(() => removeTempDir(dir));
const none = join(dir, 'none.toml');
function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

test('config check: exit 0 with warnings, 3 with errors, 4 for a missing file; one line per finding', async () => {
  const warn = file('warn.toml', 'version = 2\n[grpc]\n  adress = "x"\n');
  const w = await runCtrx(['config', 'check', warn]);
  assert.equal(w.code, 0);
  assert.equal(w.stdout, 'warning: grpc.adress: unknown key: containerd ignores it\n');
  assert.match(w.stderr, /0 errors, 1 warning/);
  const bad = file('bad.toml', 'version = 2\noom_score = "x"\n');
  const b = await runCtrx(['-c', bad, 'config', 'check']);
  assert.equal(b.code, 3);
  assert.match(b.stdout, /^error: oom_score: expected an integer, got string "x"/);
  assert.match(b.stderr, /^ctrx: .*bad\.toml: 1 error, 0 warnings$/m);
  const syntax = file('syntax.toml', 'version = 2\n[grpc\naddress = "x"\n');
  const s = await runCtrx(['config', 'check', syntax]);
  assert.equal(s.code, 3);
  assert.match(s.stdout, /invalid TOML at line 2, column \d+/);
  const j = await runCtrx(['config', 'check', bad, '--format', 'json']);
  assert.equal(j.code, 3);
  assert.equal(JSON.parse(j.stdout).findings[0].path, 'oom_score');
  const m = await runCtrx(['config', 'check', join(dir, 'absent.toml')]);
  assert.equal(m.code, 4);
});

test('config dump: defaults for a missing file, toml or json, invalid TOML is exit 3', async () => {
  const d = await runCtrx(['-c', none, 'config', 'dump']);
  assert.equal(d.code, 0);
  const def = await runCtrx(['-c', none, 'config', 'default']);
  assert.equal(d.stdout, def.stdout);
  const cfg = file('dump.toml', 'version = 2\nroot = "/srv/r"\n');
  const j = JSON.parse((await runCtrx(['-c', cfg, 'config', 'dump', '--format', 'json'], { check: true })).stdout);
  assert.equal(j.root, '/srv/r');
  assert.equal(j.grpc.max_recv_message_size, 16777216);
  const bad = await runCtrx(['-c', file('broken.toml', 'version = \n'), 'config', 'dump']);
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /broken\.toml: invalid TOML at line 1/);
  assert.equal((await runCtrx(['-c', none, 'config', 'dump', '--format', 'yaml'])).code, 3);
});

test('config hosts: dry run prints, write reports the path, bad host is exit 3', async () => {
  const dry = await runCtrx(['config', 'hosts', 'docker.io', '--mirror', 'https://m.example', '--dir', dir, '--dry-run'], { check: true });
  assert.equal(dry.stdout, 'server = "https://registry-1.docker.io"\n\n[host."https://m.example"]\n  capabilities = ["pull", "resolve"]\n');
  const w = await runCtrx(['config', 'hosts', '_default', '--mirror', 'https://m.example', '--capabilities', 'pull', '--skip-verify', '--dir', dir], { check: true });
  assert.equal(w.stdout, `wrote ${join(dir, '_default', 'hosts.toml')}\n`);
  assert.equal(readFileSync(join(dir, '_default', 'hosts.toml'), 'utf8'), '[host."https://m.example"]\n  capabilities = ["pull"]\n  skip_verify = true\n');
  const bad = await runCtrx(['config', 'hosts', '../etc', '--mirror', 'https://m', '--dir', dir]);
  assert.equal(bad.code, 3);
});

test('config default: bad flags are exit 3; Deno prints the same config as Node', async () => {
  assert.equal((await runCtrx(['-c', none, 'config', 'default', '--config-version', '4'])).code, 3);
  assert.equal((await runCtrx(['-c', none, 'config', 'default', '--mirror', 'nohost'])).code, 3);
  assert.equal((await runCtrx(['-c', none, 'config', 'default', '--oom-score', '5000'])).code, 3);
  const args = ['-c', none, 'config', 'default', '--config-version', '3', '--systemd-cgroup'];
  const node = await runCtrx(args, { check: true });
  const deno = await runCtrx(args, { runtime: 'deno', check: true });
  assert.equal(deno.stdout, node.stdout);
});
