import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ctrx } from '../../cli/ctrx.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ctrx-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const root = path.join(tmp, 'root');
const state = path.join(tmp, 'state');
const g = ['-c', path.join(tmp, 'missing.toml'), '--root', root, '--state', state];

test('--version prints the package version', () => {
  const r = ctrx(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^ctrx \d+\.\d+\.\d+\n$/);
});

test('version names the runtime, runc and the cgroup mode', () => {
  const r = ctrx([...g, 'version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Runtime: +(node|deno) \d+\.\d+/);
  assert.match(r.stdout, /runc:\n +Version: +1\.\d+/);
  assert.match(r.stdout, /cgroup:\n +Version: +v[12]/);
});

test('version says how to install runc when it is missing', () => {
  const empty = path.join(tmp, 'emptybin');
  mkdirSync(empty, { recursive: true });
  const r = ctrx([...g, 'version'], { env: { PATH: empty } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /runc: not found — install it \(Debian\/Ubuntu: apt-get install runc\)/);
});

test('plugins ls shows ctr columns and real probe results', () => {
  const r = ctrx([...g, 'plugins', 'ls']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(lines[0]!.split(/\s+/), ['TYPE', 'ID', 'PLATFORMS', 'STATUS']);
  const rows = Object.fromEntries(lines.slice(1).map((l) => { const f = l.split(/\s+/); return [`${f[0]}/${f[1]}`, f[3]]; }));
  assert.equal(rows['io.containerd.metadata.v1/bolt'], 'ok');
  assert.equal(rows['io.containerd.snapshotter.v1/overlayfs'], 'ok', 'overlay mounts on this host');
  assert.equal(rows['io.containerd.snapshotter.v1/native'], 'ok');
  assert.equal(rows['io.containerd.snapshotter.v1/zfs'], 'skip');
  assert.equal(rows['io.containerd.runtime.v2/runc'], 'ok');
  const d = ctrx([...g, 'plugins', 'ls', '-d']);
  assert.match(d.stdout, /ID: +zfs\nPlatforms: +linux\/\w+\nStatus: +skip\nReason:\n +zfs is not supported/);
});

test('plugins ls reports runc as an error with the reason when it is missing', () => {
  const r = ctrx([...g, 'plugins', 'ls', '--format', 'json'], { env: { PATH: path.join(tmp, 'emptybin') } });
  assert.equal(r.code, 0, r.stderr);
  const runc = JSON.parse(r.stdout).find((p: any) => p.id === 'runc');
  assert.equal(runc.status, 'error');
  assert.match(runc.reason, /not found/);
});

test('info prints resolved paths as JSON', () => {
  const r = ctrx([...g, '-n', 'k8s.io', 'info']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.namespace, 'k8s.io');
  assert.equal(info.paths.metaDB, path.join(root, 'io.containerd.metadata.v1.bolt', 'meta.db'));
  assert.equal(info.paths.snapshotters.overlayfs, path.join(root, 'io.containerd.snapshotter.v1.overlayfs'));
  assert.equal(info.paths.ctrxState, path.join(state, 'ctrx'));
  assert.equal(info.daemon.running, false);
  assert.ok(Array.isArray(info.plugins) && info.plugins.length >= 5);
});

test('the namespace comes from CONTAINERD_NAMESPACE unless -n is given', () => {
  assert.equal(JSON.parse(ctrx([...g, 'info'], { env: { CONTAINERD_NAMESPACE: 'example' } }).stdout).namespace, 'example');
  assert.equal(JSON.parse(ctrx([...g, '-n', 'other', 'info'], { env: { CONTAINERD_NAMESPACE: 'example' } }).stdout).namespace, 'other');
});

test('an invalid namespace is a one-line error with exit code 3 and no stack', () => {
  const r = ctrx([...g, '-n', '../../etc', 'info']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /^ctrx: namespace "..\/..\/etc" must match/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(r.stdout, '');
});

test('--debug adds the stack trace', () => {
  const r = ctrx([...g, '--debug', '-n', '../x', 'info']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /\n\s+at /);
});

test('usage errors show the relevant help and exit 2', () => {
  const r = ctrx([...g, 'images']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /ctrx images ls/);
  assert.match(r.stderr, /ctrx: images: a subcommand is required\n$/);
  const u = ctrx([...g, 'plugins', 'ls', '--bogus']);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /Unknown argument: bogus/);
});

test('aliases work like ctr', () => {
  for (const a of [['plugin', 'list'], ['plugins', 'ls']]) assert.equal(ctrx([...g, ...a, '-q']).code, 0);
  for (const [short, long] of [[['i', 'ls'], ['images', 'list']], [['t', 'ls'], ['tasks', 'ls']], [['ns', 'ls'], ['namespaces', 'list']], [['c', 'ls'], ['containers', 'ls']]]) {
    const a = ctrx([...g, ...short!]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, ctrx([...g, ...long!]).stdout);
  }
});

test('-q and --format json are exclusive; unknown formats are rejected', () => {
  assert.equal(ctrx([...g, 'plugins', 'ls', '-q', '--format', 'json']).code, 3);
  const r = ctrx([...g, 'plugins', 'ls', '--format', 'yaml']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /unknown format "yaml"/);
});

test('a config file that exists is read (root from the file)', () => {
  const cfg = path.join(tmp, 'config.toml');
  writeFileSync(cfg, `version = 2\nroot = "${path.join(tmp, 'fromfile')}"\nstate = "${path.join(tmp, 'fromfile-state')}"\n`);
  const r = ctrx(['-c', cfg, 'info']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).paths.root, path.join(tmp, 'fromfile'));
});
