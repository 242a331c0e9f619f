import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { checkImages, imageUsage, isUnpacked, manifestFor } from '../../../src/images/check.js';
import { inspectImage } from '../../../src/images/inspect.js';
import { defaultPlatform } from '../../../src/images/platform.js';
import { chainIds } from '../../../src/images/image.js';
import { blobPath } from '../../../src/metadata/content.js';
import { viewMeta, writeMeta } from '../../../src/metadata/db.js';
import { createImage } from '../../../src/metadata/images.js';
import { prepare, commit } from '../../../src/snapshots/snapshotter.js';
import { CtrxError } from '../../../src/errdefs.js';
import { buildImage, buildIndex, cleanup, newRoot, putBlob, MT, sha } from './_store.js';

const dirs: string[] = [];
after(cleanup(dirs));
const host = defaultPlatform().architecture;
const other = host === 'arm64' ? 's390x' : 'arm64';

test('check: complete, incomplete (record or file missing) and counts and sizes', () => {
  const ctx = newRoot(dirs);
  const full = buildImage(ctx, 'example.com/full:1', { arch: host });
  const noRec = buildImage(ctx, 'example.com/norecord:1', { arch: host, skip: [1], tag: 'b' });
  const noFile = buildImage(ctx, 'example.com/nofile:1', { arch: host, tag: 'c' });
  unlinkSync(blobPath(ctx.root, noFile.layers[0]!.digest));
  const rs = checkImages(ctx, [], 'overlayfs');
  assert.deepEqual(rs.map((r) => r.image.name), ['example.com/full:1', 'example.com/nofile:1', 'example.com/norecord:1']);
  const [a, c, b] = rs;
  assert.equal(a!.status, 'complete');
  assert.equal(a!.required.length, 3);
  assert.equal(a!.present.length, 3);
  assert.deepEqual(a!.required.map((d) => d.digest), [full.config.digest, ...full.layers.map((l) => l.digest)]);
  assert.equal(b!.status, 'incomplete');
  assert.deepEqual(b!.missing.map((d) => d.digest), [noRec.layers[1]!.digest], 'a blob without a record in the namespace is missing');
  assert.equal(c!.status, 'incomplete');
  assert.deepEqual(c!.missing.map((d) => d.digest), [noFile.layers[0]!.digest], 'a record without its file is missing');
  for (const r of rs) assert.equal(r.unpacked, false);
});

test('check: a missing manifest makes the image unavailable; its unpack state is an error, as ctr reports it', () => {
  const ctx = newRoot(dirs);
  buildImage(ctx, 'example.com/gone:1', { arch: host, skip: ['manifest'] });
  const [r] = checkImages(ctx, [], 'overlayfs');
  assert.equal(r!.status, 'unavailable');
  assert.equal(r!.available, false);
  assert.equal(r!.present.length, 0);
  assert.equal(r!.required.length, 1);
  assert.ok(r!.unpackError instanceof CtrxError);
  assert.equal(r!.unpackError!.category, 'not-found');
});

test('check: a document whose shape contradicts its media type is an error, not a missing blob', () => {
  const ctx = newRoot(dirs);
  const idx = putBlob(ctx, JSON.stringify({ schemaVersion: 2, manifests: [] }), MT.manifest);
  writeMeta(ctx, (tx) => createImage(tx, ctx.namespace, { name: 'example.com/bad:1', target: idx }));
  const [r] = checkImages(ctx, [], 'overlayfs');
  assert.equal(r!.status, 'error');
  assert.match(r!.error!.message, /expected manifest but found index/);
});

test('check: filters select images as containerd filters do', () => {
  const ctx = newRoot(dirs);
  buildImage(ctx, 'example.com/a:1', { arch: host, tag: 'a' });
  buildImage(ctx, 'example.com/b:1', { arch: host, tag: 'b' });
  assert.deepEqual(checkImages(ctx, ['name==example.com/b:1'], 'overlayfs').map((r) => r.image.name), ['example.com/b:1']);
  assert.deepEqual(checkImages(ctx, ['name~=a:1$', 'name==example.com/b:1'], 'overlayfs').map((r) => r.image.name), ['example.com/a:1', 'example.com/b:1']);
  assert.deepEqual(checkImages(ctx, ['name==nothing'], 'overlayfs'), []);
});

test('index: the best platform only (no fallback to another manifest), platform-less entries last', () => {
  const ctx = newRoot(dirs);
  const { target, manifests } = buildIndex(ctx, 'example.com/multi:1', [other, host]);
  const picked = viewMeta(ctx, (tx) => manifestFor(ctx, tx, target));
  assert.equal(picked.desc.digest, manifests[1]!.digest);
  const [r] = checkImages(ctx, [], 'overlayfs');
  assert.equal(r!.status, 'complete');
  assert.equal(r!.required.length, 2);
  // the host's manifest missing: unavailable, even though the other platform's is there
  const ctx2 = newRoot(dirs);
  buildIndex(ctx2, 'example.com/multi:1', [other, host], { skipManifestOf: host });
  const [r2] = checkImages(ctx2, [], 'overlayfs');
  assert.equal(r2!.status, 'unavailable');
  // no manifest for the host at all
  const ctx3 = newRoot(dirs);
  buildIndex(ctx3, 'example.com/foreign:1', [other]);
  assert.throws(() => viewMeta(ctx3, (tx) => manifestFor(ctx3, tx, { mediaType: MT.index, digest: checkImages(ctx3, [], 'overlayfs')[0]!.image.target.digest, size: 0 })), /no match for platform/);
});

test('unpacked and usage follow the committed chain of the image', () => {
  const ctx = newRoot(dirs);
  const img = buildImage(ctx, 'example.com/u:1', { arch: host, layers: 2 });
  const diffIds = img.layers.map((l) => sha(`diff ${l.digest}`));
  const ids = chainIds(diffIds);
  assert.equal(viewMeta(ctx, (tx) => isUnpacked(ctx, tx, 'native', img.target)), false);
  assert.throws(() => imageUsage(ctx, 'example.com/u:1', 'native'), (e: CtrxError) => e.category === 'failed-precondition' && /isn't unpacked in snapshotter native/.test(e.message));
  prepare(ctx, 'native', 'x0', undefined);
  commit(ctx, 'native', ids[0]!, 'x0');
  assert.equal(viewMeta(ctx, (tx) => isUnpacked(ctx, tx, 'native', img.target)), false, 'only the top chainID counts');
  prepare(ctx, 'native', 'x1', ids[0]);
  commit(ctx, 'native', ids[1]!, 'x1');
  assert.equal(viewMeta(ctx, (tx) => isUnpacked(ctx, tx, 'native', img.target)), true);
  const u = imageUsage(ctx, 'example.com/u:1', 'native');
  assert.deepEqual(u.layers.map((l) => l.key), [ids[1], ids[0]]);
  for (const l of u.layers) assert.ok(l.size > 0 && l.inodes >= 1, 'committed usage is stored');
  const [r] = checkImages(ctx, [], 'native');
  assert.equal(r!.unpacked, true);
  assert.equal(checkImages(ctx, [], 'overlayfs')[0]!.unpacked, false);
});

test('inspect: tree with platforms and presence', () => {
  const ctx = newRoot(dirs);
  const { manifests } = buildIndex(ctx, 'example.com/multi:1', [host, other], { skipManifestOf: other });
  const t = inspectImage(ctx, 'example.com/multi:1');
  assert.equal(t.target.role, 'index');
  assert.equal(t.target.children.length, 2);
  const [h, o] = t.target.children;
  assert.equal(h!.platform, `linux/${host}`);
  assert.equal(h!.present, true);
  assert.deepEqual(h!.children.map((c) => c.role), ['config', 'layer']);
  assert.equal(o!.digest, manifests[1]!.digest);
  assert.equal(o!.present, false);
  assert.deepEqual(o!.children, []);
  const v = inspectImage(ctx, 'example.com/multi:1', { content: true });
  assert.match(v.target.children[0]!.children[0]!.content ?? '', /"diff_ids"/);
  assert.throws(() => inspectImage(ctx, 'example.com/none:1'), (e: CtrxError) => e.category === 'not-found');
});

