import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ctrxJs, projectRoot } from '../../cli/ctrx.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ctrx-cold-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const HEAVY = ['ink', 'react', 'ora', 'tar-stream', 'smol-toml'];

function loadedPackages(args: string[]): { packages: Set<string>; urls: string[]; code: number | null } {
  const record = path.join(tmp, `modules-${Math.random().toString(36).slice(2)}.txt`);
  const r = spawnSync(process.execPath, ['--import', path.join(projectRoot, 'dist/test/cli/record-modules.js'), ctrxJs, ...args], {
    env: { ...process.env, CTRX_RECORD_MODULES: record },
    encoding: 'utf8',
  });
  const urls = readFileSync(record, 'utf8').split('\n').filter(Boolean);
  const packages = new Set(urls.map((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1]).filter((p): p is string => Boolean(p)));
  return { packages, urls, code: r.status };
}

const g = ['-c', path.join(tmp, 'missing.toml'), '--root', path.join(tmp, 'root'), '--state', path.join(tmp, 'state')];

test('ctrx --version loads no package and none of the command chunks', () => {
  const { packages, urls, code } = loadedPackages(['--version']);
  assert.equal(code, 0);
  assert.deepEqual([...packages], []);
  assert.deepEqual(urls.filter((u) => u.includes('/dist/cli/chunks/main-')), []);
});

test('ctrx namespaces ls loads the CLI but none of ink, react, ora, tar-stream, smol-toml', () => {
  const { packages, urls } = loadedPackages([...g, 'namespaces', 'ls']);
  assert.ok(urls.some((u) => u.includes('/dist/cli/chunks/main-')), `the recorder saw the CLI chunk (proves it records): ${urls.length} urls`);
  for (const p of HEAVY) assert.ok(!packages.has(p), `${p} was loaded by namespaces ls`);
});

test('ctrx plugins ls and version load none of the UI or archive packages either', () => {
  for (const args of [['plugins', 'ls'], ['version']]) {
    const { packages } = loadedPackages([...g, ...args]);
    for (const p of HEAVY) assert.ok(!packages.has(p), `${p} was loaded by ${args.join(' ')}`);
  }
});

test('a command that needs smol-toml does load it (the recorder sees packages)', () => {
  const cfg = path.join(tmp, 'config.toml');
  writeFileSync(cfg, 'version = 2\n');
  const { packages } = loadedPackages(['-c', cfg, '--root', path.join(tmp, 'root'), 'info']);
  assert.ok(packages.has('smol-toml'), [...packages].join(', '));
});
