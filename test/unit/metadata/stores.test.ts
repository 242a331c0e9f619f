import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDB } from '../../../src/bolt/index.js';
import { defaultFacts } from '../../../src/config/facts.js';
import { metaDbPath, viewMeta, writeMeta, writeWith, snapshotterDbPath } from '../../../src/metadata/db.js';
import { createNamespace, deleteNamespace, listNamespaces, setNamespaceLabel } from '../../../src/metadata/namespaces.js';
import { createImage, getImage, updateImageLabels } from '../../../src/metadata/images.js';
import { createContainer, getContainer } from '../../../src/metadata/containers.js';
import { createBlob } from '../../../src/metadata/content.js';
import { createSnapshotRecord, commitSnapshotRecord, removeSnapshotRecord, listSnapshotRecords } from '../../../src/metadata/snapshots.js';
import { createBackend, commitBackend, removeBackend, listBackend, parentKey } from '../../../src/snapshots/storage.js';
import { imageTag, namespacesList } from '../../../src/metadata/api.js';
import { OCI_SPEC_TYPE_URL, utf8 } from '../../../src/metadata/encoding.js';
import { goCheck, goHold, goSkipReason } from '../../helpers/bbolt.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function ctxFor() {
  const d = mkdtempSync(join(tmpdir(), 'ctrx-meta-'));
  dirs.push(d);
  const root = join(d, 'root');
  return { root, namespace: 'default', facts: { ...defaultFacts(), root } };
}
const goSkip = goSkipReason();
const D = (c: string) => 'sha256:' + c.repeat(64);

test('a write to a fresh root creates meta.db with containerd\'s modes and v1/version = 06', () => {
  const ctx = ctxFor();
  writeMeta(ctx, (tx) => createNamespace(tx, 'ns1', { a: 'b' }));
  const f = metaDbPath(ctx.root);
  assert.equal(statSync(join(ctx.root, 'io.containerd.metadata.v1.bolt')).mode & 0o777, 0o711);
  assert.equal(statSync(f).mode & 0o777, 0o644);
  const db = openDB(f, { readOnly: true });
  try {
    db.view((tx) => assert.equal(Buffer.from(tx.bucket('v1')!.get('version')!).toString('hex'), '06'));
  } finally {
    db.close();
  }
  assert.deepEqual(namespacesList(ctx), [{ name: 'ns1', labels: { a: 'b' } }]);
  if (!goSkip) assert.equal(goCheck(f), null);
});

test('namespaces: validation, labels, and removal refused with containerd\'s message', () => {
  const ctx = ctxFor();
  assert.throws(() => writeMeta(ctx, (tx) => createNamespace(tx, 'a/b')), /must match/);
  assert.throws(() => writeMeta(ctx, (tx) => createNamespace(tx, 'x'.repeat(77))), /greater than maximum length \(76/);
  assert.throws(() => writeMeta(ctx, (tx) => createNamespace(tx, 'ok', { k: 'v'.repeat(4096) })), /label key and value greater than maximum size \(4096 bytes\)/);
  writeMeta(ctx, (tx) => createNamespace(tx, 'x'.repeat(76), { ['k'.repeat(96)]: 'v'.repeat(4000) }));
  writeMeta(ctx, (tx) => createNamespace(tx, 'n1'));
  assert.throws(() => writeMeta(ctx, (tx) => createNamespace(tx, 'n1')), (e: any) => e.category === 'already-exists');
  writeMeta(ctx, (tx) => {
    setNamespaceLabel(tx, 'n1', 'a', '1');
    setNamespaceLabel(tx, 'n1', 'b', '2');
    setNamespaceLabel(tx, 'n1', 'a', '');
  });
  assert.deepEqual(viewMeta(ctx, (tx) => listNamespaces(tx!).find((n) => n.name === 'n1')!.labels), { b: '2' });
  writeMeta(ctx, (tx) => {
    createImage(tx, 'n1', { name: 'img', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('a'), size: 10 } });
    createBlob(tx, 'n1', D('a'), 10);
  });
  assert.throws(() => writeMeta(ctx, (tx) => deleteNamespace(tx, 'n1')), /namespace "n1" must be empty, but it still has images, blobs/);
  assert.throws(() => writeMeta(ctx, (tx) => deleteNamespace(tx, 'nope')), (e: any) => e.category === 'not-found');
});

test('images: containerd\'s validation; tag copies target and labels; label edits keep unknown keys', () => {
  const ctx = ctxFor();
  const target = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('b'), size: 42 };
  assert.throws(() => writeMeta(ctx, (tx) => createImage(tx, 'default', { name: '', target })), /image name must not be empty/);
  assert.throws(() => writeMeta(ctx, (tx) => createImage(tx, 'default', { name: 'i', target: { ...target, digest: 'sha256:xyz' } })), /Target.Digest/);
  assert.throws(() => writeMeta(ctx, (tx) => createImage(tx, 'default', { name: 'i', target: { ...target, size: 0 } })), /Target.Size must be greater than zero/);
  assert.throws(() => writeMeta(ctx, (tx) => createImage(tx, 'default', { name: 'i', target: { ...target, mediaType: '' } })), /Target.MediaType must be set/);
  writeMeta(ctx, (tx) => {
    createImage(tx, 'default', { name: 'r/a:1', target, labels: { x: '1' } });
    tx.bucket('v1')!.bucket('default')!.bucket('images')!.bucket('r/a:1')!.put('future-key', 'keep me');
  });
  imageTag(ctx, 'r/a:1', ['r/a:2'], false);
  assert.throws(() => imageTag(ctx, 'r/a:1', ['r/a:2'], false), (e: any) => e.category === 'already-exists');
  imageTag(ctx, 'r/a:1', ['r/a:2'], true);
  writeMeta(ctx, (tx) => updateImageLabels(tx, 'default', 'r/a:1', { x: '', y: '2' }));
  viewMeta(ctx, (tx) => {
    const a = getImage(tx!, 'default', 'r/a:1');
    const b = getImage(tx!, 'default', 'r/a:2');
    assert.deepEqual(a.labels, { y: '2' });
    assert.deepEqual(b.labels, { x: '1' });
    assert.deepEqual(b.target, target);
    assert.equal(Buffer.from(tx!.bucket('v1')!.bucket('default')!.bucket('images')!.bucket('r/a:1')!.get('future-key')!).toString(), 'keep me');
    // size is a zigzag varint: 42 → 54
    assert.equal(Buffer.from(tx!.bucket('v1')!.bucket('default')!.bucket('images')!.bucket('r/a:1')!.bucket('target')!.get('size')!).toString('hex'), '54');
  });
  if (!goSkip) assert.equal(goCheck(metaDbPath(ctx.root)), null);
});

test('containers: validation as containerd; spec and runtime options stored as Any', () => {
  const ctx = ctxFor();
  const spec = { typeUrl: OCI_SPEC_TYPE_URL, value: utf8('{"ociVersion":"1.0.2-dev"}') };
  assert.throws(() => writeMeta(ctx, (tx) => createContainer(tx, 'default', { id: 'c', runtime: { name: '' }, spec })), /Runtime.Name must be set/);
  assert.throws(() => writeMeta(ctx, (tx) => createContainer(tx, 'default', { id: 'c', runtime: { name: 'r' }, spec, snapshotKey: 'k' })), /Snapshotter must be set/);
  assert.throws(() => writeMeta(ctx, (tx) => createContainer(tx, 'default', { id: '-c', runtime: { name: 'r' }, spec })), /must match/);
  writeMeta(ctx, (tx) =>
    createContainer(tx, 'default', { id: 'c', runtime: { name: 'io.containerd.runc.v2', options: { typeUrl: 'containerd.runc.v1.Options', value: new Uint8Array(0) } }, spec, snapshotter: 'overlayfs', snapshotKey: 'c' }),
  );
  viewMeta(ctx, (tx) => {
    const c = getContainer(tx!, 'default', 'c');
    assert.equal(c.runtime.options?.typeUrl, 'containerd.runc.v1.Options');
    assert.equal(Buffer.from(c.spec!.value).toString(), '{"ociVersion":"1.0.2-dev"}');
    const raw = tx!.bucket('v1')!.bucket('default')!.bucket('containers')!.bucket('c')!.bucket('runtime')!.get('options')!;
    assert.equal(Buffer.from(raw).toString('hex'), '0a1a' + Buffer.from('containerd.runc.v1.Options').toString('hex'));
  });
});

test('snapshots: metadata sequence, children, backend ids and the parents index', () => {
  const ctx = ctxFor();
  writeWith(ctx, ['overlayfs'], (tx, sn) => {
    const s = sn.overlayfs!;
    const base = createSnapshotRecord(tx, 'default', 'overlayfs', 'extract-1 base', undefined);
    assert.equal(base.name, 'default/1/extract-1 base');
    createBackend(s, base.name, 'Active');
    const { activeBackend, record } = commitSnapshotRecord(tx, 'default', 'overlayfs', 'base', 'extract-1 base');
    assert.equal(record.name, 'default/2/base');
    commitBackend(s, activeBackend, record.name, { size: 430, inodes: 3 });
    const child = createSnapshotRecord(tx, 'default', 'overlayfs', 'c1', 'base');
    const b = createBackend(s, child.name, 'Active', record.name);
    assert.equal(b.id, 2n);
    assert.equal(s.bucket('v1')!.bucket('parents')!.get(parentKey(1n, 2n)) !== null, true);
    assert.equal(Buffer.from(s.bucket('v1')!.bucket('snapshots')!.bucket(record.name)!.get('size')!).toString('hex'), 'dc06');
  }, { create: true });
  assert.equal(statSync(snapshotterDbPath(ctx, 'overlayfs')).mode & 0o777, 0o600);
  assert.throws(() => writeMeta(ctx, (tx) => removeSnapshotRecord(tx, 'default', 'overlayfs', 'base')), /cannot remove snapshot with child/);
  assert.throws(() => writeWith(ctx, ['overlayfs'], (_tx, sn) => removeBackend(sn.overlayfs!, 'default/2/base')), /cannot remove snapshot with child/);
  viewMeta(ctx, (tx) => assert.deepEqual(listSnapshotRecords(tx!, 'default', 'overlayfs').find((r) => r.key === 'base')!.children, ['c1']));
  writeWith(ctx, ['overlayfs'], (tx, sn) => {
    removeSnapshotRecord(tx, 'default', 'overlayfs', 'c1');
    removeBackend(sn.overlayfs!, 'default/3/c1');
    removeSnapshotRecord(tx, 'default', 'overlayfs', 'base');
    removeBackend(sn.overlayfs!, 'default/2/base');
    assert.deepEqual(listBackend(sn.overlayfs!), []);
  });
  if (!goSkip) {
    assert.equal(goCheck(metaDbPath(ctx.root)), null);
    assert.equal(goCheck(snapshotterDbPath(ctx, 'overlayfs')), null);
  }
});

test('writes refuse a schema other than 3, and tolerate other top-level buckets', () => {
  const ctx = ctxFor();
  writeMeta(ctx, (tx) => createNamespace(tx, 'a'));
  const db = openDB(metaDbPath(ctx.root));
  db.update((tx) => {
    tx.createBucket('sandboxes-of-1.7');
    tx.bucket('v1')!.put('version', Uint8Array.of(8));
  });
  db.close();
  const before = readFileSync(metaDbPath(ctx.root));
  assert.throws(() => writeMeta(ctx, (tx) => createNamespace(tx, 'b')), /schema version 4 is not 3/);
  assert.deepEqual(readFileSync(metaDbPath(ctx.root)), before);
  const db2 = openDB(metaDbPath(ctx.root));
  db2.update((tx) => tx.bucket('v1')!.put('version', Uint8Array.of(6)));
  db2.close();
  writeMeta(ctx, (tx) => createNamespace(tx, 'b'));
  assert.deepEqual(namespacesList(ctx).map((n) => n.name), ['a', 'b']);
});

test('a write while another process holds meta.db fails fast, names it, and changes no byte', { skip: goSkip ?? false }, async () => {
  const ctx = ctxFor();
  writeMeta(ctx, (tx) => createNamespace(tx, 'a'));
  const holder = await goHold(metaDbPath(ctx.root));
  try {
    const before = readFileSync(metaDbPath(ctx.root));
    const t0 = Date.now();
    assert.throws(
      () => writeMeta(ctx, (tx) => createNamespace(tx, 'b')),
      (e: any) => e.category === 'unavailable' && e.subject === 'meta.db' && e.message.includes(`(pid ${holder.pid})`),
    );
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(readFileSync(metaDbPath(ctx.root)), before);
    // reads still work, lock-free
    assert.deepEqual(namespacesList(ctx).map((n) => n.name), ['a']);
  } finally {
    await holder.close();
  }
});
