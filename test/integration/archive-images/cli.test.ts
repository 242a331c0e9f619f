/**
 * The archive verbs as a user meets them (the bundled CLI, a scratch root,
 * no daemon): exit codes and one-line errors, no output file left by a
 * failed export, '-' for stdin and stdout, --format json.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ctrx, ctrxJs, runtimeCommand } from '../../cli/ctrx.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { indexJson, LAYOUT, ociTar, rawTar, synthetic } from '../../unit/archive-images/_archive.js';

const dir = makeTempDir('ctrx-archive-cli-');
after(() => removeTempDir(dir));
const base = ['--root', path.join(dir, 'root'), '--state', path.join(dir, 'state'), '-c', path.join(dir, 'none.toml')];
const x = (...args: string[]) => ctrx([...base, ...args], { timeout: 60_000 });
function xBytes(args: string[], input?: Buffer): { code: number; stdout: Buffer; stderr: string } {
  const [cmd, ...pre] = runtimeCommand(ctrxJs);
  const r = spawnSync(cmd!, [...pre, ...base, ...args], { input, maxBuffer: 64 << 20, timeout: 60_000 });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: String(r.stderr) };
}

const s = synthetic('cli');
writeFileSync(path.join(dir, 'good.tar'), ociTar(s, 'docker.io/library/cli:1'));

test('import: a missing file, a hostile archive, a good one (text and json)', () => {
  const missing = x('images', 'import', path.join(dir, 'nope.tar'));
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /^ctrx: .*nope\.tar: no such file/m);
  writeFileSync(path.join(dir, 'evil.tar'), rawTar([LAYOUT, { name: '../../etc/cron.d/x', data: '* * * * * root id\n' }]));
  const evil = x('images', 'import', path.join(dir, 'evil.tar'));
  assert.equal(evil.code, 3, evil.stderr);
  assert.match(evil.stderr, /^ctrx: archive ".*evil\.tar": entry "\.\.\/\.\.\/etc\/cron\.d\/x" climbs out of the archive with "\.\."$/m);
  const ok = x('images', 'import', '--no-unpack', path.join(dir, 'good.tar'));
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `imported docker.io/library/cli:1 (${s.manifestDesc.digest})\n`);
  const json = x('images', 'import', '--no-unpack', '--format', 'json', '--label', 'k=v', path.join(dir, 'good.tar'));
  assert.equal(json.code, 0, json.stderr);
  const r = JSON.parse(json.stdout) as { format: string; images: Array<{ name: string; target: { digest: string } }> };
  assert.equal(r.format, 'oci');
  assert.deepEqual(r.images.map((i) => [i.name, i.target.digest]), [['docker.io/library/cli:1', s.manifestDesc.digest]]);
  assert.match(x('images', 'ls').stdout, /docker\.io\/library\/cli:1 .* k=v/);
  const unnamed = rawTar([LAYOUT, ...s.blobs, { name: 'index.json', data: indexJson([s.manifestDesc]) }]);
  const none = xBytes(['images', 'import', '--no-unpack', '-'], unnamed);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stderr, /the archive names no image/);
});

test('export: unknown images fail before any file is created; stdout works; the archive re-imports', () => {
  const out = path.join(dir, 'out.tar');
  const bad = x('images', 'export', out, 'docker.io/library/cli:1', 'nope:1');
  assert.equal(bad.code, 4, bad.stderr);
  assert.match(bad.stderr, /^ctrx: image "nope:1": not found$/m);
  assert.ok(!existsSync(out));
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('ctrx-')), [], 'no temporary file left');
  const toFile = x('images', 'export', out, 'cli:1');
  assert.equal(toFile.code, 0, toFile.stderr);
  const toStdout = xBytes(['images', 'export', '-', 'cli:1']);
  assert.equal(toStdout.code, 0, toStdout.stderr);
  const back = xBytes(['-n', 'again', 'images', 'import', '--no-unpack', '-'], toStdout.stdout);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stdout.toString(), /^imported docker\.io\/library\/cli:1 /);
  assert.equal(x('images', 'export', '--platform', 'not/a/platform/x', out, 'cli:1').code, 3);
});

test('push and content fetch refuse what they cannot do, before touching the network', () => {
  const two = x('images', 'push', '--platform', 'linux/amd64', '--platform', 'linux/arm64', '127.0.0.1:1/x:1', 'cli:1');
  assert.equal(two.code, 3);
  assert.match(two.stderr, /push takes one --platform/);
  const missing = x('images', 'push', '127.0.0.1:1/x:1', 'nope:1');
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /image "nope:1": not found/);
  // --metadata-only is implemented (test/integration/cli/fetch.test.ts); an unreachable registry is 'unavailable'.
  const meta = x('content', 'fetch', '--metadata-only', '127.0.0.1:1/x:1');
  assert.equal(meta.code, 7, meta.stderr);
  assert.match(meta.stderr, /127\.0\.0\.1:1/);
});
