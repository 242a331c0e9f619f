// The overlayfs and native snapshotters on a private root: records, dirs and
// mounts as containerd's, checked with Go bbolt and with containerd itself.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { assertGoCheck, goSkipReason } from '../../helpers/bbolt.js';
import { startContainerd } from '../../helpers/containerd.js';
import { resolveContext } from '../../../src/context.js';
import { prepare, commit, mounts, checkSnapshotter, SNAPSHOTTERS } from '../../../src/snapshots/snapshotter.js';
import { mountAll, unmountAll, mountsUnder } from '../../../src/snapshots/mount.js';
import { snapshotsList, snapshotsRemove } from '../../../src/metadata/api.js';

const tmp = makeTempDir('ctrx-snap-');
after(() => removeTempDir(tmp));

async function ctxFor(root: string, namespace = 'default') {
  return resolveContext({ root, state: path.join(tmp, 'state'), config: path.join(tmp, 'none.toml'), namespace });
}

for (const sn of SNAPSHOTTERS) {
  test(`${sn}: prepare, write, commit, child overlay sees the parent, view is read-only`, async () => {
    const root = path.join(tmp, `root-${sn}`);
    const ctx = await ctxFor(root);
    const m1 = prepare(ctx, sn, 'extract-1 base', undefined);
    assert.equal(m1.length, 1);
    assert.equal(m1[0]!.type, 'bind');
    const upper1 = m1[0]!.source;
    writeFileSync(path.join(upper1, 'hello'), 'from base\n');
    mkdirSync(path.join(upper1, 'etc'));
    commit(ctx, sn, 'base', 'extract-1 base');

    const m2 = prepare(ctx, sn, 'ctr1', 'base');
    const target = path.join(tmp, `mnt-${sn}`);
    mkdirSync(target, { recursive: true });
    mountAll(m2, target);
    try {
      assert.equal(readFileSync(path.join(target, 'hello'), 'utf8'), 'from base\n');
      writeFileSync(path.join(target, 'new'), 'x');
    } finally {
      unmountAll(target);
    }
    assert.deepEqual(mountsUnder(target), []);
    if (sn === 'overlayfs') {
      assert.equal(m2[0]!.type, 'overlay');
      assert.ok(m2[0]!.options.some((o) => o.startsWith('upperdir=')));
      assert.ok(!existsSync(path.join(upper1, 'new')), 'the child writes into its own upper dir');
    }
    const v = prepare(ctx, sn, 'view1', 'base', { kind: 'View' });
    assert.ok(v[0]!.options.includes('ro'));

    const list = snapshotsList(ctx, sn);
    const byKey = Object.fromEntries(list.map((s) => [s.key, s]));
    assert.equal(byKey['base']!.kind, 'Committed');
    assert.equal(byKey['ctr1']!.kind, 'Active');
    assert.equal(byKey['ctr1']!.parent, 'base');
    assert.equal(byKey['view1']!.kind, 'View');
    assert.equal(byKey['extract-1 base'], undefined, 'the active key is gone after commit');
    assert.deepEqual(mounts(ctx, sn, 'ctr1'), m2);

    // No stray new-* dirs; one dir per backend record.
    const dirs = readdirSync(path.join(root, `io.containerd.snapshotter.v1.${sn}`, 'snapshots'));
    assert.deepEqual(dirs.filter((d) => d.startsWith('new-')), []);
    assert.equal(dirs.length, 3);

    if (!goSkipReason()) {
      assertGoCheck(path.join(root, 'io.containerd.metadata.v1.bolt', 'meta.db'));
      assertGoCheck(path.join(root, `io.containerd.snapshotter.v1.${sn}`, 'metadata.db'));
    }
    // Removing the child and the view runs containerd's GC: 'base' has no root
    // (no image, lease or gc.root label) so it goes too, dirs included.
    snapshotsRemove(ctx, sn, ['ctr1', 'view1']);
    assert.deepEqual(readdirSync(path.join(root, `io.containerd.snapshotter.v1.${sn}`, 'snapshots')), []);
    assert.deepEqual(snapshotsList(ctx, sn), []);
  });
}

test('an existing key or a missing parent is refused and leaves nothing behind', async () => {
  const root = path.join(tmp, 'root-refuse');
  const ctx = await ctxFor(root);
  prepare(ctx, 'overlayfs', 'a', undefined);
  assert.throws(() => prepare(ctx, 'overlayfs', 'a', undefined), (e: any) => e.category === 'already-exists');
  assert.throws(() => prepare(ctx, 'overlayfs', 'b', 'nope'), (e: any) => e.category === 'not-found');
  const dirs = readdirSync(path.join(root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots'));
  assert.equal(dirs.length, 1, dirs.join(','));
  assert.throws(() => checkSnapshotter('zfs'), /unsupported snapshotter/);
});

test('containerd lists and mounts what ctrx committed and keeps it through its GC', async () => {
  const root = path.join(tmp, 'root-interop');
  const ctx = await ctxFor(root);
  const m = prepare(ctx, 'overlayfs', 'extract-x layer', undefined);
  writeFileSync(path.join(m[0]!.source, 'f'), 'y');
  commit(ctx, 'overlayfs', 'layer', 'extract-x layer', { 'containerd.io/gc.root': 'keep' });
  prepare(ctx, 'overlayfs', 'work', 'layer', { labels: { 'containerd.io/gc.root': 'keep' } });
  const cd = await startContainerd({ root, state: path.join(tmp, 'cd-state') });
  try {
    const ls = await cd.ctrOk(['snapshots', '--snapshotter', 'overlayfs', 'ls']);
    assert.match(ls.stdout, /^layer\s+Committed/m);
    assert.match(ls.stdout, /^work\s+layer\s+Active/m);
    const mnt = await cd.ctrOk(['snapshots', 'mounts', '/x', 'work']);
    assert.match(mnt.stdout, /mount -t overlay overlay/);
    assert.match(mnt.stdout, /upperdir=/);
    // containerd's startup GC ran; everything is still there.
    await new Promise((r) => setTimeout(r, 500));
    const again = await cd.ctrOk(['snapshots', '--snapshotter', 'overlayfs', 'ls']);
    assert.equal(again.stdout, ls.stdout);
  } finally {
    await cd.stop();
  }
  assert.equal(readdirSync(path.join(root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots')).length, 2);
});
