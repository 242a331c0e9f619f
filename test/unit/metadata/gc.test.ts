import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultFacts } from '../../../src/config/facts.js';
import { writeMeta, writeWith } from '../../../src/metadata/db.js';
import { createImage } from '../../../src/metadata/images.js';
import { blobPath, createBlob, createIngest, listBlobs, listIngests, ingestRoot } from '../../../src/metadata/content.js';
import { addLeaseResource, createLease, listLeases } from '../../../src/metadata/leases.js';
import { createSnapshotRecord, commitSnapshotRecord, listSnapshotRecords } from '../../../src/metadata/snapshots.js';
import { createBackend, commitBackend, listBackend } from '../../../src/snapshots/storage.js';
import { createContainer } from '../../../src/metadata/containers.js';
import { collectGarbage } from '../../../src/metadata/collect.js';
import { mark } from '../../../src/metadata/gc.js';
import { viewMeta } from '../../../src/metadata/db.js';
import { snapshotterRoot } from '../../../src/metadata/db.js';
import { timeFromDate, utf8 } from '../../../src/metadata/encoding.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function ctxFor() {
  const d = mkdtempSync(join(tmpdir(), 'ctrx-gc-'));
  dirs.push(d);
  const root = join(d, 'root');
  return { root, namespace: 'default', facts: { ...defaultFacts(), root } };
}
const D = (c: string) => 'sha256:' + c.repeat(64);
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function blobFile(root: string, d: string) {
  const p = blobPath(root, d);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, 'x');
  return p;
}

/** An image chain (manifest → config, layer) plus a committed snapshot referenced from the config. */
function seedImage(ctx: ReturnType<typeof ctxFor>, ns: string) {
  writeWith(ctx, ['overlayfs'], (tx, sn) => {
    createBlob(tx, ns, D('1'), 1, { 'containerd.io/gc.ref.content.config': D('2'), 'containerd.io/gc.ref.content.l.0': D('3') });
    createBlob(tx, ns, D('2'), 1, { 'containerd.io/gc.ref.snapshot.overlayfs': 'chain1' });
    createBlob(tx, ns, D('3'), 1);
    createImage(tx, ns, { name: 'img', target: { mediaType: MANIFEST, digest: D('1'), size: 1 } });
    const r = createSnapshotRecord(tx, ns, 'overlayfs', 'extract', undefined);
    createBackend(sn.overlayfs!, r.name, 'Active');
    const c = commitSnapshotRecord(tx, ns, 'overlayfs', 'chain1', 'extract');
    const b = commitBackend(sn.overlayfs!, c.activeBackend, c.record.name, { size: 1, inodes: 1 });
    mkdirSync(join(snapshotterRoot(ctx, 'overlayfs'), 'snapshots', String(b.id), 'fs'), { recursive: true });
  }, { create: true });
  for (const c of '123') blobFile(ctx.root, D(c));
}

test('GC keeps image chains, live leases, gc.root, future ingests and containers\' snapshots; sweeps the rest like containerd', () => {
  const ctx = ctxFor();
  seedImage(ctx, 'default');
  const future = timeFromDate(new Date(Date.now() + 3600_000));
  writeMeta(ctx, (tx) => {
    createBlob(tx, 'default', D('4'), 1); // unreferenced: goes
    createBlob(tx, 'default', D('5'), 1, { 'containerd.io/gc.root': 'x' }); // root: stays
    createBlob(tx, 'default', D('6'), 1); // held by a live lease
    createBlob(tx, 'default', D('7'), 1); // held by an expired lease: goes
    createBlob(tx, 'default', D('8'), 1); // ingest expected: stays
    createLease(tx, 'default', 'live');
    addLeaseResource(tx, 'default', 'live', { type: 'content', id: D('6') });
    createLease(tx, 'default', 'expired', { 'containerd.io/gc.expire': '2020-01-01T00:00:00Z' });
    addLeaseResource(tx, 'default', 'expired', { type: 'content', id: D('7') });
    createLease(tx, 'default', 'badexpiry', { 'containerd.io/gc.expire': 'soon' }); // unparsable: kept
    createIngest(tx, 'default', 'noexpiry'); // no expireat, no lease: goes
    createIngest(tx, 'default', 'fresh', { expireAt: future, expected: D('8') });
    createContainer(tx, 'default', { id: 'c1', runtime: { name: 'r' }, spec: { typeUrl: 't', value: utf8('{}') }, snapshotter: 'overlayfs', snapshotKey: 'chain1' });
  });
  for (const c of '45678') blobFile(ctx.root, D(c));
  // a blob file no record names, an ingest dir no record refers to, a stray snapshot dir
  blobFile(ctx.root, D('9'));
  mkdirSync(join(ingestRoot(ctx.root), 'abc'), { recursive: true });
  writeFileSync(join(ingestRoot(ctx.root), 'abc', 'ref'), 'default/1/gone');
  mkdirSync(join(snapshotterRoot(ctx, 'overlayfs'), 'snapshots', '999'), { recursive: true });

  const { gc } = collectGarbage(ctx, null);
  const removed = gc.removed.map((n) => `${n.type}:${n.key}`).sort();
  assert.deepEqual(removed, [`content:${D('4')}`, `content:${D('7')}`, 'ingest:noexpiry', 'lease:expired']);
  viewMeta(ctx, (tx) => {
    assert.deepEqual(listBlobs(tx!, 'default').map((b) => b.digest), ['1', '2', '3', '5', '6', '8'].map(D));
    assert.deepEqual(listLeases(tx!, 'default').map((l) => l.id), ['badexpiry', 'live']);
    assert.deepEqual(listIngests(tx!, 'default').map((i) => i.ref), ['fresh']);
  });
  // content was dirtied: files without records go (4, 7, 9), the ingest dir too; snapshots were not dirtied
  assert.deepEqual(gc.blobs.sort(), ['4', '7', '9'].map(D));
  assert.ok(!existsSync(blobPath(ctx.root, D('9'))));
  assert.ok(existsSync(blobPath(ctx.root, D('8'))));
  assert.deepEqual(gc.ingestDirs, ['abc']);
  assert.ok(existsSync(join(snapshotterRoot(ctx, 'overlayfs'), 'snapshots', '999')), 'overlay cleanup only runs when a snapshot record went');
});

test('GC of snapshots: backend records no metadata record names are removed children first, then stray overlay dirs', () => {
  const ctx = ctxFor();
  seedImage(ctx, 'default');
  seedImage(ctx, 'other');
  mkdirSync(join(snapshotterRoot(ctx, 'overlayfs'), 'snapshots', '999'), { recursive: true });
  // dropping the image in "other" orphans its config's snapshot there; "default" keeps its own
  writeMeta(ctx, (tx) => tx.bucket('v1')!.bucket('other')!.bucket('images')!.deleteBucket('img'));
  const { gc } = collectGarbage(ctx, null);
  assert.deepEqual(gc.removed.filter((n) => n.type === 'snapshot').map((n) => `${n.ns}/${n.key}`), ['other/overlayfs/chain1']);
  assert.deepEqual(gc.backend.map((b) => b.key), ['other/2/chain1']);
  assert.ok(!existsSync(join(snapshotterRoot(ctx, 'overlayfs'), 'snapshots', '999')));
  assert.ok(existsSync(join(snapshotterRoot(ctx, 'overlayfs'), 'snapshots', '1')));
  assert.ok(!existsSync(join(snapshotterRoot(ctx, 'overlayfs'), 'snapshots', '2')));
  writeWith(ctx, ['overlayfs'], (tx, sn) => {
    assert.deepEqual(listBackend(sn.overlayfs!).map((b) => b.key), ['default/2/chain1']);
    assert.deepEqual(listSnapshotRecords(tx, 'default', 'overlayfs').map((r) => r.key), ['chain1']);
  });
  // blob files shared with "default" stay although "other"'s records went
  assert.deepEqual(gc.blobs, []);
});

test('gc.flat leases keep their resources but not what those reference', () => {
  const ctx = ctxFor();
  seedImage(ctx, 'default');
  writeMeta(ctx, (tx) => {
    tx.bucket('v1')!.bucket('default')!.bucket('images')!.deleteBucket('img');
    createLease(tx, 'default', 'flat', { 'containerd.io/gc.flat': 'x' });
    addLeaseResource(tx, 'default', 'flat', { type: 'content', id: D('1') });
  });
  const marked = viewMeta(ctx, (tx) => mark(tx!));
  assert.ok(marked.has(`content\u0000default\u0000${D('1')}`));
  assert.ok(!marked.has(`content\u0000default\u0000${D('2')}`));
});
