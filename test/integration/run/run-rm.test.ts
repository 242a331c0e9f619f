/**
 * `ctrx run --rm` in the foreground: short names resolved through the
 * docker.io mirror and pulled on demand, the container's output and exit
 * status passed through, and nothing left afterwards (container record,
 * snapshot, task dir, mount, runc container), also when runc fails.
 */
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { buildFixture } from '../../helpers/fixtures.js';
import { pushImage } from '../../helpers/registry.js';
import { makeWorld, skipReason, until, type World } from './rig.js';

const skip = skipReason();
let w: World;
before(async () => {
  if (!skip) w = await makeWorld('rm');
});
afterEach(async () => {
  await w?.reset();
});
after(async () => {
  await w?.close();
});

/** Snapshots that are not committed image layers (a container's active snapshot). */
async function activeSnapshots(snapshotter = 'overlayfs'): Promise<string[]> {
  const out = await w.ok(['snapshots', '--snapshotter', snapshotter, 'ls']);
  return out.trim().split('\n').slice(1).filter((l) => l.trim() && !/Committed\s*$/.test(l));
}

async function assertNothingLeft(): Promise<void> {
  assert.equal((await w.ok(['containers', 'ls', '-q'])).trim(), '', 'no container record');
  assert.deepEqual(await activeSnapshots(), [], 'no container snapshot');
  assert.equal((await w.ok(['tasks', 'ls', '-q'])).trim(), '', 'no task');
  assert.deepEqual(w.leftovers(), []);
}

test('--rm with -d is a usage error before anything is pulled or created', { skip }, async () => {
  for (const args of [['--rm', '-d'], ['-d', '--rm']]) {
    const r = await w.cx(['run', ...args, 'busybox', 'x1', 'true']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /rm.*detach|detach.*rm/);
  }
  assert.equal((await w.ok(['images', 'ls', '-q'])).trim(), '', 'nothing pulled');
  await assertNothingLeft();
});

test('--pull never on a missing image fails clearly and creates nothing', { skip }, async () => {
  const r = await w.cx(['run', '--rm', '--pull', 'never', 'busybox', 'x2', 'true']);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /image "busybox": not found/);
  assert.match(r.stderr, /hint: pull it first/);
  assert.equal((await w.ok(['images', 'ls', '-q'])).trim(), '');
  await assertNothingLeft();
});

test("run --rm busybox: auto-pull through the mirror, output and exit status passed through, nothing left; sh's -c is the container's", { skip }, async () => {
  const r = await w.cx(['run', '--rm', 'busybox', 't1', 'sh', '-c', 'echo hi; exit 7']);
  assert.equal(r.code, 7, r.stderr);
  assert.equal(r.stdout, 'hi\n');
  // The short name was normalised and pulled from the docker.io mirror.
  assert.equal((await w.ok(['images', 'ls', '-q'])).trim(), 'docker.io/library/busybox:latest');
  await assertNothingLeft();

  // Second run: the image is there (no pull); flags of the container command stay the container's.
  const ok = await w.cx(['run', '--rm', 'busybox', 't1', 'sh', '-c', 'echo ok']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'ok\n');
  assert.doesNotMatch(ok.stderr, /pull|resolv/i);
  await assertNothingLeft();
});

test('a command missing from the image: runc\'s error, a failure exit, nothing left', { skip }, async () => {
  const r = await w.cx(['run', '--rm', 'busybox', 't2', 'no-such-command', 'arg']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^ctrx: task "t2": .*"no-such-command": executable file not found in \$PATH/m, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  await assertNothingLeft();
  // Without --rm the container stays (as ctr), its task does not.
  const k = await w.cx(['run', 'busybox', 't3', '/nope']);
  assert.notEqual(k.code, 0);
  assert.equal((await w.ok(['containers', 'ls', '-q'])).trim(), 't3');
  assert.equal((await w.ok(['tasks', 'ls', '-q'])).trim(), '');
  assert.deepEqual(w.leftovers(), []);
  await w.ok(['containers', 'rm', 't3']);
  await assertNothingLeft();
  // Detached, the shim reports runc's failure; the half-made container goes with it.
  const d = await w.cx(['run', '-d', 'busybox', 't4', '/nope']);
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /^ctrx: task "t4": .*\/nope.*no such file or directory/m, d.stderr);
  await assertNothingLeft();
});

test('--pull missing keeps the local image; --pull always re-resolves the tag', { skip }, async () => {
  const [bb, redis] = await Promise.all([buildFixture('busybox'), buildFixture('redis')]);
  await pushImage(w.reg, 'library/moving', 'latest', bb);
  const first = await w.cx(['run', '--rm', 'moving', 'm1', 'sh', '-c', 'test -e /usr/bin/redis-server; echo $?']);
  assert.equal(first.stdout, '1\n', first.stderr);
  const digest = async (): Promise<string> => (await w.ok(['images', 'ls'])).split('\n').find((l) => l.startsWith('docker.io/library/moving:latest'))!.split(/\s+/)[2]!;
  const before = await digest();

  // The tag now points at another image.
  await pushImage(w.reg, 'library/moving', 'latest', redis);
  const missing = await w.cx(['run', '--rm', 'moving', 'm1', 'sh', '-c', 'test -e /usr/bin/redis-server; echo $?']);
  assert.equal(missing.stdout, '1\n', 'missing: the local image is used');
  assert.equal(await digest(), before);

  const always = await w.cx(['run', '--rm', '--pull', 'always', 'moving', 'm1', 'sh', '-c', 'test -e /usr/bin/redis-server; echo $?']);
  assert.equal(always.stdout, '0\n', always.stderr);
  assert.notEqual(await digest(), before);
  await assertNothingLeft();
});

test('--snapshotter native: the image is unpacked into it on demand (as ctr run) and the rootfs is a plain directory', { skip }, async () => {
  const r = await w.cx(['run', '--rm', '--snapshotter', 'native', 'busybox', 'n1', 'sh', '-c', 'grep " / " /proc/mounts']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /^overlay /, r.stdout);
  assert.deepEqual(await activeSnapshots('native'), []);
  assert.equal((await w.ok(['leases', 'ls', '-q'])).trim(), '', 'the unpack lease is gone');
  // containers create does the same (moving was only unpacked into overlayfs).
  const c = await w.cx(['containers', 'create', '--snapshotter', 'native', 'moving', 'n2']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(await w.ok(['snapshots', '--snapshotter', 'native', 'ls']), /^n2\s+sha256:\S+\s+Active/m);
  await w.ok(['containers', 'rm', 'n2']);
  await assertNothingLeft();
});

test('hostile arguments are refused before anything is created', { skip }, async () => {
  const cases: [string[], number, RegExp][] = [
    [['busybox', '../../etc', 'true'], 3, /container id "\.\.\/\.\.\/etc" must match/],
    [['busybox', 'a'.repeat(77), 'true'], 3, /longer than 76 characters/],
    [['-u', '4294967296', 'busybox', 'u1', 'id'], 3, /uid 4294967296 is out of range/],
    [['-u', '0:-1', 'busybox', 'u2', 'id'], 3, /gid -1 is out of range/],
    [['-u', 'nosuchuser', 'busybox', 'u3', 'id'], 4, /no such user in the image's \/etc\/passwd/],
    [['--mount', 'type=bind,src=/tmp,dst=/a/../../b', 'busybox', 'm1', 'true'], 3, /must not contain "\.\."/],
    [['--mount', 'type=bind,src=/tmp,dst=rel', 'busybox', 'm2', 'true'], 3, /must be an absolute path/],
    [['--snapshotter', 'zfs', 'busybox', 's1', 'true'], 3, /unknown or unsupported snapshotter/],
    [['--env', '=x', 'busybox', 'e1', 'true'], 3, /empty name/],
  ];
  for (const [args, code, msg] of cases) {
    const r = await w.cx(['run', '--rm', ...args]);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
  await assertNothingLeft();
});

test('the same id run four times at once: exactly one runs, the others are told it exists; four ids at once all run; nothing left', { skip }, async () => {
  const rs = await Promise.all([1, 2, 3, 4].map(() => w.cx(['run', '--rm', 'busybox', 'same', 'sh', '-c', 'sleep 0.5; echo ran'])));
  assert.deepEqual(rs.map((r) => r.code).sort(), [0, 5, 5, 5], rs.map((r) => r.stderr).join('\n'));
  assert.equal(rs.find((r) => r.code === 0)!.stdout, 'ran\n');
  for (const r of rs.filter((x) => x.code === 5)) assert.match(r.stderr, /container "same": already exists/);
  await assertNothingLeft();
  // Different ids at once: each waits out the others' short meta.db writes instead of failing on them.
  const ds = await Promise.all([1, 2, 3, 4].map((i) => w.cx(['run', '--rm', 'busybox', `par${i}`, 'echo', `p${i}`])));
  assert.deepEqual(ds.map((r) => [r.code, r.stdout]), [1, 2, 3, 4].map((i) => [0, `p${i}\n`]), ds.map((r) => r.stderr).join('\n'));
  await assertNothingLeft();
});

test('containers rm -f racing the run --rm that owns the container: both succeed, nothing left', { skip }, async () => {
  const running = w.cx(['run', '--rm', 'busybox', 'race', 'sleep', '30']);
  await until(async () => (await w.ok(['tasks', 'ls', '-q'])).includes('race'), 20_000, 'race running');
  const rm = await w.cx(['containers', 'rm', '-f', 'race']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal((await running).code, 137);
  await assertNothingLeft();
  // ctr's per-id semantics: a missing id is reported, the others are still removed.
  await w.ok(['containers', 'create', 'busybox', 'keep1']);
  const some = await w.cx(['containers', 'rm', 'nonexistent', 'keep1']);
  assert.equal(some.code, 4);
  assert.match(some.stderr, /container "nonexistent": not found/);
  await assertNothingLeft();
});
