/**
 * The local image, snapshot and content verbs against containerd 1.6 on the
 * same private root. While the daemon runs, ctrx's read verbs print what ctr
 * prints for the same state (string compare) and every write is refused
 * (exit 7, state files untouched). With the daemon stopped, ctrx mounts
 * images, builds a snapshot chain, ingests content and prunes images; the
 * restarted daemon (and its startup GC) then sees exactly that.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupWorld, sha256, stateFingerprint, unavailableReason, type World } from './_setup.js';
import { makeTempDir, mountsUnder, removeTempDir, unmountUnder } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/run.js';

const skip = unavailableReason();
let w: World;
let dirs: string;
let ingester: ChildProcess | undefined;

before(async () => {
  if (skip) return;
  w = await setupWorld();
  dirs = makeTempDir('ctrx-il-mnt-');
  const { cd, refs } = w;
  for (const r of [refs.busybox, refs.layered]) await cd.ctrOk(['images', 'pull', '--plain-http', r]);
  // 'partial': one image missing a layer record, one missing its manifest record
  for (const r of [refs.layered, refs.busybox, refs.multi]) await cd.ctrOk(['images', 'pull', '--plain-http', r], { namespace: 'partial' });
  // 'prune': a container keeps busybox; layered is unused
  for (const r of [refs.busybox, refs.layered]) await cd.ctrOk(['images', 'pull', '--plain-http', r], { namespace: 'prune' });
  await cd.ctrOk(['containers', 'create', refs.busybox, 'keeper'], { namespace: 'prune' });
  // 'fetch': the content of an image, never unpacked
  await cd.ctrOk(['content', 'fetch', '--plain-http', refs.layered], { namespace: 'fetch' });
}, { timeout: 300_000 });

after(async () => {
  ingester?.kill('SIGKILL');
  if (dirs) {
    unmountUnder(dirs);
    removeTempDir(dirs);
  }
  await w?.stop();
});

const lines = (s: string) => s.trimEnd().split('\n');
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const layeredChain = async (ns = 'default'): Promise<string[]> => {
  // the layered image's chain, top first, as containerd's snapshots name it
  const tree = (await w.cd.ctrOk(['snapshots', 'tree'], { namespace: ns })).stdout;
  const keys = lines(tree).map((l) => l.replace(/^[ \\_]+/, '').trim());
  const info = async (k: string) => JSON.parse((await w.cd.ctrOk(['snapshots', 'info', k], { namespace: ns })).stdout) as { Parent?: string };
  // the deepest chain of sha256 keys
  let best: string[] = [];
  for (const k of keys.filter((k) => k.startsWith('sha256:'))) {
    const chain: string[] = [];
    for (let c: string | undefined = k; c; c = (await info(c)).Parent) chain.push(c);
    if (chain.length > best.length) best = chain;
  }
  return best;
};

test('while containerd runs: images check equals ctr (table, -q, a filter; incomplete and unavailable images)', { skip }, async () => {
  const { cd, refs } = w;
  // make 'partial' partial with ctr itself
  const layeredManifest = JSON.parse((await cd.ctrOk(['content', 'get', await digestOf('partial', refs.layered)], { namespace: 'partial' })).stdout) as { layers: Array<{ digest: string }> };
  await cd.ctrOk(['content', 'rm', layeredManifest.layers[2]!.digest], { namespace: 'partial' });
  await cd.ctrOk(['content', 'rm', await digestOf('partial', refs.busybox)], { namespace: 'partial' });
  for (const [ns, args] of [
    ['default', ['images', 'check']],
    ['default', ['images', 'check', '-q']],
    ['default', ['images', 'check', `name==${refs.layered}`]],
    ['partial', ['images', 'check']],
    ['partial', ['images', 'check', '-q']],
  ] as Array<[string, string[]]>) {
    const c = await cd.ctr(args, { namespace: ns });
    const r = w.x(args, { ns });
    assert.equal(r.stdout, c.stdout, `${ns}: ${args.join(' ')}`);
    assert.equal(r.code === 0, c.code === 0, `${ns}: ${args.join(' ')}: exit ${r.code} vs ctr ${c.code}: ${r.stderr}`);
  }
  const partial = w.x(['images', 'check'], { ns: 'partial' }).stdout;
  assert.match(partial, /incomplete \(3\/4\)/);
  assert.match(partial, /unavailable \(0\/\?\)/);
});

async function digestOf(ns: string, ref: string): Promise<string> {
  const out = (await w.cd.ctrOk(['images', 'ls'], { namespace: ns })).stdout;
  const row = lines(out).find((l) => l.startsWith(ref + ' '));
  assert.ok(row, `${ref} listed in ${ns}`);
  return row.split(/\s+/)[2]!;
}

test('while containerd runs: images usage equals ctr snapshots usage of the chain', { skip }, async () => {
  const chain = await layeredChain();
  assert.equal(chain.length, 3);
  const c = await w.cd.ctrOk(['snapshots', 'usage', ...chain]);
  const r = w.x(['images', 'usage', w.refs.layered]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, c.stdout);
});

test('while containerd runs: snapshots mounts equals ctr for active, view and bind cases', { skip }, async () => {
  const chain = await layeredChain();
  const { cd } = w;
  await cd.ctrOk(['snapshots', 'prepare', 'm-active', chain[0]!]);
  await cd.ctrOk(['snapshots', 'view', 'm-view', chain[0]!]);
  await cd.ctrOk(['snapshots', 'view', 'm-view1', chain[2]!]);
  await cd.ctrOk(['snapshots', 'prepare', 'm-empty']);
  for (const k of ['m-active', 'm-view', 'm-view1', 'm-empty']) {
    const c = await cd.ctrOk(['snapshots', 'mounts', '/some/target', k]);
    const r = w.x(['snapshots', 'mounts', '/some/target', k]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, c.stdout, k);
    assert.match(r.stdout, /^mount -t (overlay|bind) /);
  }
  // committed snapshots have no mounts (ctr: failed precondition)
  const c = await cd.ctr(['snapshots', 'mounts', '/t', chain[0]!]);
  const r = w.x(['snapshots', 'mounts', '/t', chain[0]!]);
  assert.notEqual(c.code, 0);
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /not active or view/);
});

test('while containerd runs: snapshots diff writes the same layer tar as ctr (active with changes, committed pairs, from empty)', { skip }, async () => {
  const chain = await layeredChain();
  const { cd } = w;
  const m = JSON.parse((await cd.ctrOk(['snapshots', 'prepare', '--mounts', 'd-work', chain[0]!])).stdout) as Array<{ Options: string[] }>;
  const upper = m[0]!.Options.find((o) => o.startsWith('upperdir='))!.slice('upperdir='.length);
  // what overlayfs leaves in an upper dir: a new file, a changed one, a whiteout
  writeFileSync(join(upper, 'newfile'), 'new\n');
  mkdirSync(join(upper, 'etc'));
  writeFileSync(join(upper, 'etc', 'hostname'), 'changed\n');
  mkdirSync(join(upper, 'bin'));
  assert.equal(spawnSync('mknod', [join(upper, 'bin', 'ls'), 'c', '0', '0']).status, 0);
  const tar = 'application/vnd.oci.image.layer.v1.tar';
  for (const args of [['d-work'], [chain[1]!, chain[0]!], [chain[2]!], [chain[0]!, chain[2]!]]) {
    // whiteouts are dated when the diff starts (seconds): a pair of runs across a second boundary differs there, so retry
    let same = false;
    let sizes = '';
    for (let attempt = 0; attempt < 3 && !same; attempt++) {
      const c = spawnSync('ctr', ['--address', cd.address, 'snapshots', 'diff', '--media-type', tar, ...args], { maxBuffer: 64 << 20 });
      assert.equal(c.status, 0, String(c.stderr));
      const r = w.xBytes(['snapshots', 'diff', '--media-type', tar, ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.length >= 1024);
      same = r.stdout.equals(c.stdout);
      sizes = `${r.stdout.length} vs ctr ${c.stdout.length} bytes`;
    }
    assert.ok(same, `diff ${args.join(' ')}: ${sizes}`);
  }
  // the default media type is gzip: the same tar inside
  const gz = w.xBytes(['snapshots', 'diff', 'd-work']);
  assert.equal(gz.code, 0, gz.stderr);
  const listed = spawnSync('tar', ['tzf', '-'], { input: gz.stdout }).stdout.toString();
  assert.deepEqual(listed.trim().split('\n'), ['bin/', 'bin/.wh.ls', 'etc/', 'etc/hostname', 'newfile']);
  const bad = w.x(['snapshots', 'diff', '--media-type', 'application/vnd.oci.image.layer.v1.tar+zstd', 'd-work']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unsupported diff media type/);
});

test('while containerd runs: content get equals ctr content get; content active equals ctr', { skip }, async () => {
  const { cd } = w;
  const digests = lines((await cd.ctrOk(['content', 'ls', '-q'])).stdout);
  assert.ok(digests.length >= 6);
  for (const d of digests) {
    const r = w.xBytes(['content', 'get', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(r.stdout), d, 'the bytes hash to the digest');
    const c = await cd.ctrOk(['content', 'get', d]);
    if (/^[\x09\x0a\x0d\x20-\x7e]*$/.test(c.stdout)) assert.equal(r.stdout.toString('utf8'), c.stdout, d);
  }
  // an ingest in progress, written by ctr itself
  ingester = spawn('ctr', ['--address', cd.address, '--namespace', 'default', 'content', 'ingest', 'slow-ref'], { stdio: ['pipe', 'ignore', 'ignore'] });
  // ctr fills a 1 MiB buffer before it writes: the first MiB lands in the ingest, the rest waits
  ingester.stdin!.write(Buffer.alloc((1 << 20) + 1500, 7));
  await waitFor('ctr content active shows the ingest', async () => (await cd.ctr(['content', 'active'])).stdout.includes('slow-ref\t1.049MB'));
  const c = await cd.ctrOk(['content', 'active']);
  const r = w.x(['content', 'active']);
  assert.equal(r.code, 0, r.stderr);
  // the AGE cell may tick between the two reads; its width moves the tab padding
  const cells = (s: string) => lines(s).map((l) => l.split(/\t+/).filter(Boolean));
  const [rc, cc] = [cells(r.stdout), cells(c.stdout)];
  if (rc[1]![2] === cc[1]![2]) assert.equal(r.stdout, c.stdout);
  else assert.deepEqual(rc.map((row) => row.slice(0, 2)), cc.map((row) => row.slice(0, 2)));
  assert.deepEqual(rc[0], ['REF', 'SIZE', 'AGE']);
  assert.equal(w.x(['content', 'active', '-q']).stdout, 'slow-ref\n');
  ingester.kill('SIGKILL');
  ingester = undefined;
});

test('while containerd runs: missing objects exit 4 with a clear message', { skip }, async () => {
  const dir = join(dirs, 'nf');
  mkdirSync(dir);
  for (const [args, re] of [
    [['images', 'usage', 'example.com/none:1'], /image "example.com\/none:1": not found/],
    [['images', 'inspect', 'example.com/none:1'], /image "example.com\/none:1": not found/],
    [['images', 'mount', 'example.com/none:1', dir], /image "example.com\/none:1": not found/],
    [['snapshots', 'mounts', '/t', 'no-such-key'], /snapshot no-such-key: does not exist/],
    [['content', 'get', 'sha256:' + '0'.repeat(64)], /content digest sha256:0{64}: not found/],
  ] as Array<[string[], RegExp]>) {
    const r = w.x(args);
    assert.equal(r.code, 4, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stdout, '');
  }
});

test('while containerd runs: every write is refused with exit 7 and changes nothing', { skip }, async () => {
  const { cd, refs } = w;
  const dir = join(dirs, 'refused');
  const src = join(dirs, 'bind-src');
  mkdirSync(dir);
  mkdirSync(src);
  writeFileSync(join(src, 'marker'), 'x');
  // a mount ctrx must not take away: unmount --rm is refused before unmounting
  assert.equal(spawnSync('mount', ['--bind', src, dir]).status, 0);
  const before = stateFingerprint(cd.root);
  for (const [args, input] of [
    [['images', 'mount', refs.busybox, join(dirs, 'nf')]],
    [['images', 'unmount', '--rm', dir]],
    [['images', 'prune', '--all']],
    [['snapshots', 'prepare', 'refused-1']],
    [['snapshots', 'view', 'refused-2']],
    [['snapshots', 'commit', 'refused-3', 'm-active']],
    [['content', 'ingest', 'refused-ref'], 'some bytes'],
    [['snapshots', 'diff', '--keep', 'm-active']],
  ] as Array<[string[], string?]>) {
    const r = w.x(args, input !== undefined ? { input } : {});
    assert.equal(r.code, 7, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /locked by containerd \(pid \d+\): ctrx cannot write while the daemon runs/);
  }
  assert.equal(stateFingerprint(cd.root), before);
  assert.ok(existsSync(join(dir, 'marker')), 'the mount is still there');
  assert.equal(mountsUnder(join(dirs, 'nf')).length, 0);
  assert.equal(spawnSync('umount', [dir]).status, 0);
});

let viewMounts = '';
let keptDiff: Buffer = Buffer.alloc(0);
let activeMounts = '';
const data = 'ingested by ctrx\n';
const loose = 'nobody references this\n';

test('containerd stopped: images mount shows the files; unmount --rm leaves no mount, snapshot or lease', { skip }, async () => {
  const { cd, refs } = w;
  await cd.stop({ keepDirs: true });
  const dir = join(dirs, 'bb');
  mkdirSync(dir);
  const m = w.x(['images', 'mount', refs.busybox, dir]);
  assert.equal(m.code, 0, m.stderr);
  const [chain, target] = lines(m.stdout);
  assert.match(chain!, /^sha256:[0-9a-f]{64}$/);
  assert.equal(target, dir);
  assert.ok(existsSync(join(dir, 'bin', 'busybox')), 'the image files are visible');
  assert.equal(mountsUnder(dir).length, 1);
  const again = w.x(['images', 'mount', refs.busybox, dir]);
  assert.equal(again.code, 6);
  assert.match(again.stderr, /already a mount point/);
  const info = JSON.parse(w.x(['snapshots', 'info', dir]).stdout) as { Kind: string; Parent: string };
  assert.deepEqual([info.Kind, info.Parent], ['View', chain]);
  assert.match(w.x(['leases', 'ls']).stdout, new RegExp(`${esc(dir)} .*containerd.io/gc.ref.snapshot.overlayfs=${esc(dir)}`));
  const u = w.x(['images', 'unmount', '--rm', dir]);
  assert.equal(u.code, 0, u.stderr);
  assert.equal(u.stdout, dir + '\n');
  assert.equal(mountsUnder(dir).length, 0);
  assert.ok(!existsSync(join(dir, 'bin')));
  assert.equal(w.x(['snapshots', 'info', dir]).code, 4);
  assert.ok(!w.x(['leases', 'ls']).stdout.includes(dir));
  // a writable mount, unmounted but kept (with its lease)
  const rw = join(dirs, 'rw');
  mkdirSync(rw);
  assert.equal(w.x(['images', 'mount', '--rw', refs.layered, rw]).code, 0);
  writeFileSync(join(rw, 'written-by-test'), 'x');
  assert.equal(w.x(['images', 'unmount', rw]).code, 0);
  assert.equal(mountsUnder(rw).length, 0);
});

test('containerd stopped: images mount unpacks an image that is not unpacked, under its lease', { skip }, async () => {
  const { refs } = w;
  assert.match(w.x(['images', 'check'], { ns: 'fetch' }).stdout, /complete \(4\/4\) .* false\n$/);
  const dir = join(dirs, 'fetched');
  mkdirSync(dir);
  const m = w.x(['images', 'mount', refs.layered, dir], { ns: 'fetch' });
  assert.equal(m.code, 0, m.stderr);
  assert.ok(existsSync(join(dir, 'bin', 'busybox')));
  assert.equal(w.x(['images', 'unmount', '--rm', dir], { ns: 'fetch' }).code, 0);
  assert.equal(mountsUnder(dir).length, 0);
  // the chain stays: the config blob now references it
  assert.match(w.x(['images', 'check'], { ns: 'fetch' }).stdout, /complete \(4\/4\) .* true\n$/);
  assert.equal(lines(w.x(['snapshots', 'ls'], { ns: 'fetch' }).stdout).length, 4);
});

test('containerd stopped: a snapshot chain, content ingests and images prune --all', { skip }, async () => {
  const ok = (args: string[], o: { ns?: string; input?: string } = {}) => {
    const r = w.x(args, o);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const m = JSON.parse(ok(['snapshots', 'prepare', '--mounts', 's-a1'])) as Array<{ Type: string; Source: string; Options: string[] }>;
  assert.equal(m[0]!.Type, 'bind');
  writeFileSync(join(m[0]!.Source, 'one'), '1');
  ok(['snapshots', 'commit', 's-c1', 's-a1']);
  ok(['snapshots', 'prepare', 's-a2', 's-c1']);
  ok(['snapshots', 'commit', 's-c2', 's-a2']);
  assert.match(ok(['snapshots', 'prepare', '-t', '/tt', 's-a3', 's-c2']), /^mount -t overlay overlay \/tt -o .*upperdir=/);
  ok(['snapshots', 'view', 's-v1', 's-c2']);
  activeMounts = ok(['snapshots', 'mounts', '/t', 's-a3']);
  viewMounts = ok(['snapshots', 'mounts', '/t', 's-v1']);
  ok(['content', 'ingest', '--expected-size', String(data.length), '--expected-digest', sha256(data), 'kept-ref'], { input: data });
  ok(['content', 'label', sha256(data), 'containerd.io/gc.root=test']);
  ok(['content', 'ingest', 'loose-ref'], { input: loose });
  assert.match(ok(['content', 'ls']), new RegExp(`${sha256(loose)}\\s+${loose.length}B`));
  // a kept diff: stored with ctr's labels, and what was printed is the stored blob
  const d = w.xBytes(['snapshots', 'diff', '--keep', '--label', 'origin=test', 's-c1']);
  assert.equal(d.code, 0, d.stderr);
  keptDiff = d.stdout;
  const tarOf = spawnSync('tar', ['tzf', '-'], { input: keptDiff }).stdout.toString();
  assert.equal(tarOf, 'one\n');
  const row = lines(ok(['content', 'ls'])).find((l) => l.startsWith(sha256(keptDiff)));
  assert.ok(row, 'the diff is in the content store');
  assert.match(row, /containerd\.io\/gc\.root=\d{4}-/);
  assert.match(row, /containerd\.io\/uncompressed=sha256:[0-9a-f]{64}/);
  assert.match(row, /origin=test/);
  assert.equal(ok(['images', 'prune'], { ns: 'prune' }), '', 'nothing without --all');
  assert.equal(ok(['images', 'prune', '--all'], { ns: 'prune' }), w.refs.layered + '\n');
});

test('containerd restarted: it sees what ctrx wrote, and its GC collects only what ctr would leave unreferenced', { skip }, async () => {
  const { cd, refs } = w;
  await cd.start();
  // the unlabelled view goes at the startup GC, as a view made by ctr would
  await waitFor('startup GC', async () => !(await cd.ctrOk(['snapshots', 'ls'])).stdout.includes('s-v1'), { timeoutMs: 15_000 });
  const ls = (await cd.ctrOk(['snapshots', 'ls'])).stdout;
  for (const k of ['s-c1', 's-c2', 's-a3', join(dirs, 'rw')]) assert.ok(ls.includes(k), `${k} kept`);
  assert.ok(!ls.includes(join(dirs, 'bb')));
  assert.match((await cd.ctrOk(['snapshots', 'tree'])).stdout, / s-c1\n {2}\\_ s-c2\n {4}\\_ s-a3\n/);
  assert.equal((await cd.ctrOk(['snapshots', 'mounts', '/t', 's-a3'])).stdout, activeMounts);
  assert.equal((await cd.ctrOk(['snapshots', 'mounts', '/t', join(dirs, 'rw')])).stdout.includes('upperdir='), true);
  assert.match((await cd.ctrOk(['leases', 'ls'])).stdout, new RegExp(`${esc(join(dirs, 'rw'))} .*gc.expire=`));
  assert.ok(viewMounts.startsWith('mount -t overlay overlay /t -o '));
  // content: the labelled ingest is kept and readable, the loose one collected (record and file)
  await waitFor('content GC', async () => !(await cd.ctrOk(['content', 'ls', '-q'])).stdout.includes(sha256(loose)));
  assert.equal((await cd.ctrOk(['content', 'get', sha256(data)])).stdout, data);
  assert.ok(!existsSync(join(cd.root, 'io.containerd.content.v1.content', 'blobs', 'sha256', sha256(loose).slice(7))));
  // the image ctrx unpacked while mounting: containerd sees it complete and unpacked, as ctrx does
  const fc = await cd.ctrOk(['images', 'check'], { namespace: 'fetch' });
  assert.match(fc.stdout, /complete \(4\/4\) .* true\n$/);
  const xc = w.x(['images', 'check'], { ns: 'fetch' });
  assert.equal(xc.stdout, fc.stdout, xc.stderr);
  assert.equal(lines((await cd.ctrOk(['snapshots', 'ls'], { namespace: 'fetch' })).stdout).length, 4, 'the three layers kept by GC');
  // the kept diff survives the startup GC (gc.root) and reads back as printed
  const kd = spawnSync('ctr', ['--address', cd.address, 'content', 'get', sha256(keptDiff)], { maxBuffer: 64 << 20 });
  assert.equal(kd.status, 0, String(kd.stderr));
  assert.ok(kd.stdout.equals(keptDiff));
  // prune: busybox (used by a container) stays complete and usable
  assert.equal((await cd.ctrOk(['images', 'ls', '-q'], { namespace: 'prune' })).stdout, refs.busybox + '\n');
  assert.match((await cd.ctrOk(['images', 'check'], { namespace: 'prune' })).stdout, /complete \(2\/2\) .* true\n$/);
  assert.equal((await cd.ctr(['containers', 'create', refs.busybox, 'again'], { namespace: 'prune' })).code, 0);
  // ctrx's GC already removed layered's own snapshots in 'prune': containerd has nothing to add
  const pruneSnaps = lines((await cd.ctrOk(['snapshots', 'ls'], { namespace: 'prune' })).stdout).slice(1).map((l) => l.split(/\s+/)[0]);
  assert.equal(pruneSnaps.filter((k) => k!.startsWith('sha256:')).length, 1, 'only busybox\'s layer');
});
