/**
 * Image archives both ways with containerd 1.6 (Debian's), skopeo and umoci:
 *
 *  - ctrx imports the rig's OCI and docker archives, `ctr images export`
 *    output and skopeo's docker-archive and oci-archive outputs (each into
 *    its own namespace of containerd's root, while the daemon is stopped);
 *    `ctrx images check` says complete and unpacked; a docker archive gives
 *    the same manifest digest ctr's import gives;
 *  - containerd restarted on that root (its GC runs at start) keeps every
 *    blob and snapshot, `ctr images check` agrees, `ctr run --rm` runs each;
 *  - ctrx's export equals `ctr images export` byte for byte, `ctr images
 *    import` takes it and runs it, and umoci unpacks it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startContainerd, type Containerd } from '../../helpers/containerd.js';
import { buildFixture, fixtureUnavailable } from '../../helpers/fixtures.js';
import { writeDockerArchive, writeOciArchive, writeOciLayout, type Image } from '../../helpers/oci.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { runOk } from '../../helpers/run.js';
import { spawnSync } from 'node:child_process';
import { ctrx, ctrxJs, runtimeCommand, type Result } from '../../cli/ctrx.js';

const skip = process.getuid?.() !== 0 ? 'needs root (containerd, mounts)' : fixtureUnavailable('busybox') ?? fixtureUnavailable('layered');

let cd: Containerd;
let dir: string;
let busybox: Image;
let layered: Image;
const BB = 'docker.io/library/busybox:latest';
const file = (name: string) => path.join(dir, name);
const x = (ns: string, args: string[]): Result => ctrx(['--root', cd.root, '--state', cd.state, '-c', file('none.toml'), '-n', ns, ...args], { timeout: 120_000 });
const xOk = (ns: string, args: string[]): string => {
  const r = x(ns, args);
  assert.equal(r.code, 0, `ctrx -n ${ns} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
/** ctrx with bytes in and out (archives on stdin/stdout). */
function xBytes(ns: string, args: string[], input?: Buffer): { code: number; stdout: Buffer; stderr: string } {
  const [cmd, ...pre] = runtimeCommand(ctrxJs);
  const r = spawnSync(cmd!, [...pre, '--root', cd.root, '--state', cd.state, '-c', file('none.toml'), '-n', ns, ...args], { input, maxBuffer: 256 << 20, timeout: 120_000 });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: String(r.stderr) };
}
const ctrOk = async (ns: string, args: string[]): Promise<string> => (await cd.ctrOk(args, { namespace: ns, timeoutMs: 120_000 })).stdout;

/** What ctrx imported, per namespace: image → target digest, and the namespace's blobs and snapshots. */
const imported = new Map<string, { images: Map<string, string>; blobs: string[]; snapshots: string[] }>();

function snapshotKeys(ns: string): string[] {
  return xOk(ns, ['snapshots', 'ls']).trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]!).sort();
}

before(async () => {
  if (skip) return;
  dir = makeTempDir('ctrx-archive-it-');
  [busybox, layered] = await Promise.all([buildFixture('busybox'), buildFixture('layered')]);
  await writeOciArchive(busybox, file('rig-oci.tar'), { name: BB });
  await writeDockerArchive(layered, file('rig-docker.tar'), ['test/layered:v1']);
  writeOciLayout(busybox, file('layout'), { name: BB });
  await runOk('skopeo', ['copy', '--quiet', `oci:${file('layout')}:latest`, `docker-archive:${file('sk-docker.tar')}:skopeo/busybox:v1`]);
  await runOk('skopeo', ['copy', '--quiet', `oci:${file('layout')}:latest`, `oci-archive:${file('sk-oci.tar')}:v1`]);
  cd = await startContainerd();
  // ctr's own import and export, for comparison and as input.
  await ctrOk('ctr-src', ['images', 'import', file('rig-oci.tar')]);
  await ctrOk('ctr-src', ['images', 'export', file('ctr-export.tar'), BB]);
  await ctrOk('ctr-docker', ['images', 'import', '--index-name', 'idx', file('rig-docker.tar')]);
  await cd.stop({ keepDirs: true });
});

after(async () => {
  await cd?.stop();
  if (dir) removeTempDir(dir);
});

const cases: Array<{ ns: string; file: string; flags: string[]; names: string[] }> = [
  { ns: 'oci', file: 'rig-oci.tar', flags: [], names: [BB] },
  { ns: 'docker', file: 'rig-docker.tar', flags: ['--index-name', 'idx'], names: ['idx', 'docker.io/test/layered:v1'] },
  { ns: 'ctrexp', file: 'ctr-export.tar', flags: [], names: [BB] },
  { ns: 'skdocker', file: 'sk-docker.tar', flags: [], names: ['docker.io/skopeo/busybox:v1'] },
  { ns: 'skoci', file: 'sk-oci.tar', flags: ['--base-name', 'docker.io/skopeo/oci'], names: ['docker.io/skopeo/oci:v1'] },
];

test('ctrx imports the rig, ctr and skopeo archives: complete, unpacked, named as ctr names them', { skip }, () => {
  for (const c of cases) {
    const out = xOk(c.ns, ['images', 'import', ...c.flags, file(c.file)]);
    for (const n of c.names) assert.match(out, new RegExp(`^unpacking ${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(sha256:[0-9a-f]{64}\\)\\.\\.\\.done$`, 'm'), out);
    const check = xOk(c.ns, ['images', 'check']);
    const rows = check.trim().split('\n').slice(1);
    assert.deepEqual(rows.map((r) => r.split(/\s+/)[0]).sort(), [...c.names].sort(), check);
    for (const r of rows) assert.match(r, /complete \((\d+)\/\1\) .* true$/, `${c.ns}: ${r}`);
    const images = new Map(
      xOk(c.ns, ['images', 'ls'])
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/))
        .map((f) => [f[0]!, f[2]!] as [string, string]),
    );
    const blobs = xOk(c.ns, ['content', 'ls', '-q']).trim().split('\n').sort();
    imported.set(c.ns, { images, blobs, snapshots: snapshotKeys(c.ns) });
    assert.equal(xOk(c.ns, ['leases', 'ls', '-q']).trim(), '', 'no lease left');
  }
});

test('a docker archive gives the manifest and index digests ctr gives', { skip }, () => {
  const ours = imported.get('docker')!.images;
  const theirs = new Map(
    x('ctr-docker', ['images', 'ls'])
      .stdout.trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/))
      .map((f) => [f[0]!, f[2]!] as [string, string]),
  );
  assert.equal(ours.get('docker.io/test/layered:v1'), theirs.get('docker.io/test/layered:v1'));
  assert.equal(ours.get('idx'), theirs.get('idx'));
});

test('containerd on the same root keeps every blob and snapshot through its GC and runs each image', { skip }, async () => {
  await cd.start();
  await new Promise((r) => setTimeout(r, 1500));
  for (const c of cases) {
    const want = imported.get(c.ns)!;
    const blobs = (await ctrOk(c.ns, ['content', 'ls', '-q'])).trim().split('\n').sort();
    assert.deepEqual(blobs, want.blobs, `${c.ns}: blobs after containerd's GC`);
    const snaps = (await ctrOk(c.ns, ['snapshots', 'ls'])).trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]!).sort();
    assert.deepEqual(snaps, want.snapshots, `${c.ns}: snapshots after containerd's GC`);
    const check = await ctrOk(c.ns, ['images', 'check']);
    for (const n of c.names) assert.match(check, new RegExp(`^${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s.*complete \\((\\d+)/\\1\\).*\\strue\\s*$`, 'm'), check);
    const image = c.names[c.names.length - 1]!;
    const run = await cd.ctr(['run', '--rm', image, `t-${c.ns}`, 'echo', 'ok'], { namespace: c.ns, timeoutMs: 60_000 });
    assert.equal(run.code, 0, `${c.ns}: ctr run: ${run.stderr}`);
    assert.equal(run.stdout.trim(), 'ok');
  }
});

test("ctrx's export is ctr's export byte for byte; ctr imports and runs it; umoci unpacks it", { skip }, async () => {
  // Read-only: works while the daemon runs.
  xOk('oci', ['images', 'export', file('x-export.tar'), BB]);
  await ctrOk('oci', ['images', 'export', file('ctr-oci-export.tar'), BB]);
  assert.ok(readFileSync(file('x-export.tar')).equals(readFileSync(file('ctr-oci-export.tar'))), 'same bytes as ctr images export');
  xOk('docker', ['images', 'export', file('x-docker-export.tar'), 'docker.io/test/layered:v1', 'idx']);
  await ctrOk('docker', ['images', 'export', file('ctr-docker-export.tar'), 'docker.io/test/layered:v1', 'idx']);
  // Two images resolving to one manifest: ctr 1.6 keeps only the index's RepoTag in manifest.json
  // (it replaces the entry); ctrx keeps both. Everything else is the same.
  const list = (f: string) => runOk('tar', ['-t', '-v', '-f', file(f)]).then((r) => r.stdout);
  const member = (f: string, m: string) => runOk('tar', ['-x', '-O', '-f', file(f), m]).then((r) => r.stdout);
  assert.equal(await member('x-docker-export.tar', 'index.json'), await member('ctr-docker-export.tar', 'index.json'));
  const ours = JSON.parse(await member('x-docker-export.tar', 'manifest.json')) as Array<{ RepoTags: string[] }>;
  const theirs = JSON.parse(await member('ctr-docker-export.tar', 'manifest.json')) as Array<{ RepoTags: string[] }>;
  assert.deepEqual(theirs[0]!.RepoTags, ['idx:latest']);
  assert.deepEqual(ours, [{ ...theirs[0]!, RepoTags: ['test/layered:v1', 'idx:latest'] }]);
  const noManifestJson = (t: string) => t.split('\n').filter((l) => !l.endsWith('manifest.json')).join('\n');
  assert.equal(noManifestJson(await list('x-docker-export.tar')), noManifestJson(await list('ctr-docker-export.tar')));

  await ctrOk('reimport', ['images', 'import', file('x-export.tar')]);
  const run = await cd.ctr(['run', '--rm', BB, 't-reimport', 'echo', 'ok'], { namespace: 'reimport', timeoutMs: 60_000 });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'ok');

  const layout = file('umoci-layout');
  mkdirSync(layout);
  await runOk('tar', ['-x', '-f', file('x-export.tar'), '-C', layout]);
  await runOk('umoci', ['unpack', '--image', `${layout}:latest`, file('bundle')], { timeoutMs: 60_000 });
  assert.ok(existsSync(file('bundle/rootfs/bin/busybox')), 'umoci unpacked the rootfs');
  assert.ok(existsSync(file('bundle/config.json')));
});

test('export from stdout and import from stdin', { skip }, async () => {
  const r = xBytes('oci', ['images', 'export', '-', BB]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.equals(readFileSync(file('x-export.tar'))));
  await cd.stop({ keepDirs: true });
  const imp = xBytes('stdin', ['images', 'import', '--no-unpack', '-'], readFileSync(file('x-export.tar')));
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(imp.stdout.toString(), new RegExp(`^imported ${BB.replace(/\./g, '\\.')} \\(sha256:`, 'm'));
  // A refused write while containerd runs is an error that names the lock.
  await cd.start();
  const locked = x('oci', ['images', 'import', file('rig-oci.tar')]);
  assert.equal(locked.code, 7, locked.stderr);
  assert.match(locked.stderr, /locked by/);
});
