import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { commitSnapshot, prepareSnapshot, snapshotMounts, viewSnapshot } from '../../../src/snapshots/ops.js';
import { snapshotStat, snapshotsList } from '../../../src/metadata/api.js';
import { parseRFC3339 } from '../../../src/metadata/encoding.js';
import { CtrxError } from '../../../src/errdefs.js';
import { cleanup, newRoot, sha } from './_store.js';

const dirs: string[] = [];
after(cleanup(dirs));
const cat = (c: string) => (e: unknown) => e instanceof CtrxError && e.category === c;

for (const sn of ['overlayfs', 'native'] as const) {
  test(`${sn}: prepare/commit chain carries ctr's gc.root labels; views carry none`, () => {
    const ctx = newRoot(dirs);
    const before = Date.now() - 1000;
    const m1 = prepareSnapshot(ctx, sn, 'a1');
    assert.equal(m1.length, 1);
    assert.equal(m1[0]!.type, 'bind');
    assert.deepEqual(m1[0]!.options, ['rw', 'rbind']);
    writeFileSync(path.join(m1[0]!.source, 'f'), 'x');
    const a1 = snapshotStat(ctx, sn, 'a1');
    const t = parseRFC3339(a1.labels['containerd.io/gc.root'] ?? '');
    assert.ok(t !== null && t >= before && t <= Date.now(), 'gc.root is an RFC3339 time of now');
    assert.match(a1.labels['containerd.io/gc.root']!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    commitSnapshot(ctx, sn, 'c1', 'a1');
    const c1 = snapshotStat(ctx, sn, 'c1');
    assert.equal(c1.kind, 'Committed');
    assert.ok(c1.labels['containerd.io/gc.root']);
    prepareSnapshot(ctx, sn, 'a2', 'c1');
    commitSnapshot(ctx, sn, 'c2', 'a2');
    const m3 = prepareSnapshot(ctx, sn, 'a3', 'c2');
    const v = viewSnapshot(ctx, sn, 'v1', 'c2');
    assert.deepEqual(snapshotStat(ctx, sn, 'v1').labels, {});
    assert.deepEqual(snapshotMounts(ctx, sn, 'a3'), m3);
    assert.deepEqual(snapshotMounts(ctx, sn, 'v1'), v);
    if (sn === 'overlayfs') {
      assert.equal(m3[0]!.type, 'overlay');
      assert.ok(m3[0]!.options.some((o) => o.startsWith('upperdir=')));
      assert.equal(v[0]!.type, 'overlay', 'a view over two layers is an overlay without upperdir');
      assert.ok(!v[0]!.options.some((o) => o.startsWith('upperdir=')));
    } else {
      assert.ok(existsSync(path.join(m3[0]!.source, 'f')), 'native: an active child is a copy of its parent');
    }
    assert.deepEqual(snapshotsList(ctx, sn).map((s) => `${s.key}:${s.kind}:${s.parent ?? ''}`).sort(), ['a3:Active:c2', 'c1:Committed:', 'c2:Committed:c1', 'v1:View:c2']);
  });
}

test('failures: committed mounts, missing keys and parents, duplicates, unknown snapshotters', () => {
  const ctx = newRoot(dirs);
  prepareSnapshot(ctx, 'overlayfs', 'a');
  commitSnapshot(ctx, 'overlayfs', 'c', 'a');
  assert.throws(() => snapshotMounts(ctx, 'overlayfs', 'c'), (e: CtrxError) => e.category === 'failed-precondition' && /not active or view/.test(e.message));
  assert.throws(() => snapshotMounts(ctx, 'overlayfs', 'nope'), cat('not-found'));
  assert.throws(() => prepareSnapshot(ctx, 'overlayfs', 'b', 'nope'), cat('not-found'));
  assert.throws(() => commitSnapshot(ctx, 'overlayfs', 'x', 'nope'), cat('not-found'));
  assert.throws(() => prepareSnapshot(ctx, 'overlayfs', 'c'), cat('already-exists'));
  prepareSnapshot(ctx, 'overlayfs', 'b', 'c');
  assert.throws(() => prepareSnapshot(ctx, 'overlayfs', 'd', 'b'), cat('invalid-argument'), 'the parent must be committed');
  assert.throws(() => prepareSnapshot(ctx, 'zfs', 'z'), cat('invalid-argument'));
  assert.throws(() => prepareSnapshot(ctx, 'overlayfs', ''), cat('invalid-argument'));
  assert.deepEqual(snapshotsList(ctx, 'overlayfs').map((s) => s.key).sort(), ['b', 'c'], 'failed calls leave nothing behind');
});

test('readonly mounts: an active overlay loses its upper and work dirs (the upper becomes the top lower), binds become ro', async () => {
  const { readonlyMounts } = await import('../../../src/snapshots/diff.js');
  assert.deepEqual(readonlyMounts([{ type: 'overlay', source: 'overlay', options: ['index=off', 'workdir=/s/3/work', 'upperdir=/s/3/fs', 'lowerdir=/s/2/fs:/s/1/fs'] }]), [
    { type: 'overlay', source: 'overlay', options: ['index=off', 'lowerdir=/s/3/fs:/s/2/fs:/s/1/fs', 'ro'] },
  ]);
  assert.deepEqual(readonlyMounts([{ type: 'bind', source: '/s/1/fs', options: ['rw', 'rbind'] }]), [{ type: 'bind', source: '/s/1/fs', options: ['rbind', 'ro'] }]);
});

test('diff (native, no mounts needed): changes from the parent, gzip by default; --keep stores it with the walking differ labels', async () => {
  const { diffSnapshots, LAYER_TAR } = await import('../../../src/snapshots/diff.js');
  const { contentList } = await import('../../../src/metadata/api.js');
  const { gunzipSync } = await import('node:zlib');
  const ctx = newRoot(dirs);
  const m1 = prepareSnapshot(ctx, 'native', 'a1');
  writeFileSync(path.join(m1[0]!.source, 'kept'), 'k');
  writeFileSync(path.join(m1[0]!.source, 'gone'), 'g');
  commitSnapshot(ctx, 'native', 'c1', 'a1');
  const m2 = prepareSnapshot(ctx, 'native', 'a2', 'c1');
  writeFileSync(path.join(m2[0]!.source, 'added'), 'added!');
  const { rmSync } = await import('node:fs');
  rmSync(path.join(m2[0]!.source, 'gone'));
  const collect = async (s: AsyncIterable<Buffer>) => {
    const out: Buffer[] = [];
    for await (const c of s) out.push(c);
    return Buffer.concat(out);
  };
  const names = (tar: Buffer) => {
    const out: string[] = [];
    for (let off = 0; off + 512 <= tar.length; ) {
      const h = tar.subarray(off, off + 512);
      if (h.every((b) => b === 0)) break;
      out.push(h.subarray(0, 100).toString('latin1').replace(/\0.*$/s, ''));
      const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
      off += 512 + Math.ceil(size / 512) * 512;
    }
    return out;
  };
  const plain = await collect(diffSnapshots(ctx, 'native', 'a2', undefined, { mediaType: LAYER_TAR }).stream);
  assert.deepEqual(names(plain), ['added', '.wh.gone'], 'in the double walk\'s path order');
  const d = diffSnapshots(ctx, 'native', 'a2', undefined);
  const gz = await collect(d.stream);
  assert.deepEqual(names(gunzipSync(gz)), names(plain));
  assert.equal(d.result().diffId, sha(gunzipSync(gz)));
  assert.equal(d.result().stored, false);
  assert.deepEqual(contentList(ctx), [], 'without --keep nothing is stored');
  const k = diffSnapshots(ctx, 'native', 'c1', 'a2', { keep: true, labels: { origin: 'test' } });
  const kept = await collect(k.stream);
  const res = k.result();
  assert.equal(res.stored, true);
  const [rec] = contentList(ctx);
  assert.equal(rec!.digest, res.digest);
  assert.equal(rec!.size, kept.length);
  assert.equal(rec!.labels['containerd.io/uncompressed'], res.diffId);
  assert.equal(rec!.labels['origin'], 'test');
  assert.match(rec!.labels['containerd.io/gc.root'] ?? '', /^\d{4}-\d\d-\d\dT/);
  assert.throws(() => diffSnapshots(ctx, 'native', 'nope', undefined), cat('not-found'));
  assert.throws(() => diffSnapshots(ctx, 'native', 'a2', undefined, { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }), cat('not-implemented'));
});
