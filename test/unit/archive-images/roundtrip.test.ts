/**
 * Import and export on a scratch root (no daemon): names as ctr gives
 * them, the labels containerd's GC follows, docker archives converted to
 * the manifest Go would marshal, files no image needs collected, exports
 * deterministic and re-importable.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { importArchive } from '../../../src/images/archive/import.js';
import { exportImages } from '../../../src/images/archive/export.js';
import { viewMeta } from '../../../src/metadata/db.js';
import { getBlob } from '../../../src/metadata/content.js';
import { getImage } from '../../../src/metadata/images.js';
import { listSnapshotRecords } from '../../../src/metadata/snapshots.js';
import { removeTempDir } from '../../helpers/tmp.js';
import { chunks, indexJson, LAYOUT, MT, ociTar, rawTar, scratch, sha, state, synthetic } from './_archive.js';

const dirs: string[] = [];
after(() => dirs.forEach(removeTempDir));

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const labelsOf = (ctx: Parameters<typeof state>[0], digest: string) => viewMeta(ctx, (tx) => getBlob(tx!, ctx.namespace, digest).labels);

test('an OCI layout: image record, gc.ref labels, unpacked snapshot kept by the config label', async () => {
  const { ctx } = scratch(dirs);
  const s = synthetic();
  const r = await importArchive(ctx, chunks(ociTar(s)), {});
  assert.equal(r.format, 'oci');
  assert.deepEqual(r.images.map((i) => i.name), ['docker.io/library/synthetic:1']);
  const img = viewMeta(ctx, (tx) => getImage(tx!, ctx.namespace, 'docker.io/library/synthetic:1'));
  assert.equal(img.target.digest, s.manifestDesc.digest);
  assert.equal(img.target.annotations?.['org.opencontainers.image.ref.name'], '1', 'the index entry annotations are kept on the target, as ctr');
  assert.deepEqual(labelsOf(ctx, s.manifestDesc.digest), { 'containerd.io/gc.ref.content.config': sha(s.config), 'containerd.io/gc.ref.content.l.0': sha(s.layer) });
  const chain = sha(s.layer);
  assert.equal(labelsOf(ctx, sha(s.config))['containerd.io/gc.ref.snapshot.overlayfs'], chain);
  assert.equal(labelsOf(ctx, sha(s.layer))['containerd.io/uncompressed'], chain);
  const snaps = viewMeta(ctx, (tx) => listSnapshotRecords(tx!, ctx.namespace, 'overlayfs').map((x) => x.key));
  assert.deepEqual(snaps, [chain]);
  const st = state(ctx);
  assert.deepEqual(st.leases, []);
  assert.deepEqual(st.ingests, []);
  // index.json itself is not needed by any image: collected with the lease, as containerd's GC would.
  assert.deepEqual(st.records.sort(), [s.manifestDesc.digest, sha(s.config), sha(s.layer)].sort());
  assert.deepEqual(st.blobs.sort(), st.records.sort());
});

test('names: import-<date> for tag-only names, --base-name filters, --digests, --index-name, --label', async () => {
  const { ctx } = scratch(dirs);
  const s = synthetic();
  const tar = rawTar([
    LAYOUT,
    ...s.blobs,
    {
      name: 'index.json',
      data: indexJson([
        { ...s.manifestDesc, annotations: { 'org.opencontainers.image.ref.name': 'v1' } },
        { ...s.manifestDesc, annotations: { 'org.opencontainers.image.ref.name': 'other/repo:v2' } },
        { ...s.manifestDesc, annotations: { 'org.opencontainers.image.ref.name': 'foo/bar:v3' } },
      ]),
    },
  ]);
  const now = new Date(2024, 1, 3, 12);
  const r1 = await importArchive(ctx, chunks(tar), { unpack: false, now });
  assert.deepEqual(r1.images.map((i) => i.name), ['import-2024-02-03:v1', 'other/repo:v2', 'foo/bar:v3']);
  const r2 = await importArchive(ctx, chunks(tar), { unpack: false, baseName: 'foo/bar', digests: true, indexName: 'idx', labels: { a: 'b' } });
  assert.deepEqual(r2.images.map((i) => i.name), ['idx', 'foo/bar:v1', `foo/bar@${s.manifestDesc.digest}`, 'foo/bar:v3']);
  assert.equal(r2.images[0]!.target.mediaType, MT.index);
  const img = viewMeta(ctx, (tx) => getImage(tx!, ctx.namespace, 'foo/bar:v3'));
  assert.deepEqual(img.labels, { a: 'b' });
  const r3 = await importArchive(ctx, chunks(tar), { unpack: false, baseName: 'foo/bar', digests: true, skipDigestForNamed: true });
  assert.deepEqual(r3.images.map((i) => i.name), ['foo/bar:v1', `foo/bar@${s.manifestDesc.digest}`, 'foo/bar:v3'], 'only the entry --base-name leaves unnamed gets its digest name');
  await assert.rejects(importArchive(ctx, chunks(tar), { skipDigestForNamed: true }), /must be specified with --digests/);
});

test('platforms: other platforms are left out (and reported), --all-platforms keeps them, --platform picks one', async () => {
  const { ctx } = scratch(dirs);
  const s = synthetic();
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const foreign = synthetic('foreign');
  const tar = rawTar([
    LAYOUT,
    ...s.blobs,
    ...foreign.blobs,
    {
      name: 'index.json',
      data: indexJson([
        { ...s.manifestDesc, platform: { os: 'linux', architecture: arch }, annotations: { 'io.containerd.image.name': 'here:1' } },
        { ...foreign.manifestDesc, platform: { os: 'linux', architecture: 's390x' }, annotations: { 'io.containerd.image.name': 'there:1' } },
      ]),
    },
  ]);
  const r = await importArchive(ctx, chunks(tar), { unpack: false });
  assert.deepEqual(r.images.map((i) => i.name), ['here:1']);
  assert.deepEqual(r.skipped, [{ name: 'there:1', platform: 'linux/s390x' }]);
  assert.ok(!state(ctx).blobs.includes(foreign.manifestDesc.digest), 'the other platform is not kept');
  const all = await importArchive(ctx, chunks(tar), { unpack: false, allPlatforms: true });
  assert.deepEqual(all.images.map((i) => i.name), ['here:1', 'there:1']);
  assert.ok(state(ctx).blobs.includes(foreign.manifestDesc.digest));
  const one = await importArchive(ctx, chunks(tar), { unpack: false, platform: 'linux/s390x' });
  assert.deepEqual(one.images.map((i) => i.name), ['there:1']);
  await assert.rejects(importArchive(ctx, chunks(tar), { unpack: false, platform: 'linux/riscv64' }), /no image in the archive matches the platform/);
});

test('docker save archives: the Docker schema 2 manifest Go would marshal, named per RepoTag, extra files collected', async () => {
  const { ctx } = scratch(dirs);
  const s = synthetic();
  const m = [{ Config: 'cfg.json', RepoTags: ['busybox:latest', 'me/app:2'], Layers: ['aaa/layer.tar', 'bbb/layer.tar'] }];
  const tar = rawTar([
    { name: 'aaa', type: 'dir' },
    { name: 'aaa/layer.tar', data: s.layer },
    { name: 'aaa/json', data: '{}' },
    { name: 'aaa/VERSION', data: '1.0' },
    { name: 'bbb', type: 'dir' },
    { name: 'bbb/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' },
    { name: 'cfg.json', data: s.config },
    { name: 'manifest.json', data: JSON.stringify(m) },
    { name: 'repositories', data: '{}' },
  ]);
  const r = await importArchive(ctx, chunks(tar), { unpack: false });
  assert.equal(r.format, 'docker');
  const layer = `{"mediaType":"application/vnd.docker.image.rootfs.diff.tar","digest":"${sha(s.layer)}","size":${s.layer.length}}`;
  const expected = `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"${sha(s.config)}","size":${s.config.length}},"layers":[${layer},${layer}]}`;
  assert.deepEqual(r.images.map((i) => [i.name, i.target.digest]), [
    ['docker.io/library/busybox:latest', sha(expected)],
    ['docker.io/me/app:2', sha(expected)],
  ]);
  assert.deepEqual(r.images[0]!.target.annotations, { 'io.containerd.image.name': 'docker.io/library/busybox:latest', 'org.opencontainers.image.ref.name': 'latest' });
  const st = state(ctx);
  assert.deepEqual(st.blobs.sort(), [sha(expected), sha(s.config), sha(s.layer)].sort(), 'json, VERSION and the index are collected');
});

test('exports are deterministic, re-importable, and list what ctr lists', async () => {
  const { ctx } = scratch(dirs);
  const s = synthetic();
  await importArchive(ctx, chunks(ociTar(s)), { unpack: false });
  const a = await collect((await exportImages(ctx, ['docker.io/library/synthetic:1'])).stream);
  const b = await collect((await exportImages(ctx, ['synthetic:1'])).stream);
  assert.ok(a.equals(b), 'same image, same bytes (short names resolve to the record)');
  const { plan } = await exportImages(ctx, ['docker.io/library/synthetic:1']);
  assert.equal(plan.size, a.length);
  assert.deepEqual(plan.entries.map((e) => e.name), ['blobs/', 'blobs/sha256/', ...[sha(s.layer), sha(s.config), s.manifestDesc.digest].map((d) => `blobs/sha256/${d.slice(7)}`).sort(), 'index.json', 'manifest.json', 'oci-layout']);
  const manifestJson = plan.entries.find((e) => e.name === 'manifest.json')!.data!.toString();
  assert.equal(manifestJson, `[{"Config":"blobs/sha256/${sha(s.config).slice(7)}","RepoTags":["synthetic:1"],"Layers":["blobs/sha256/${sha(s.layer).slice(7)}"]}]`);
  const { ctx: other } = scratch(dirs);
  const r = await importArchive(other, chunks(a), { unpack: false });
  assert.deepEqual(r.images.map((i) => [i.name, i.target.digest]), [['docker.io/library/synthetic:1', s.manifestDesc.digest]]);
  const skip = (await exportImages(ctx, ['synthetic:1'], { skipManifestJson: true })).plan;
  assert.ok(!skip.entries.some((e) => e.name === 'manifest.json'));
  await assert.rejects(exportImages(ctx, ['nope:1']), /not found/);
});

test('export refuses content that is not there, naming the platform', async () => {
  const { ctx } = scratch(dirs);
  const s = synthetic();
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const ghost = { mediaType: MT.manifest, digest: sha('ghost'), size: 5, platform: { os: 'linux', architecture: 's390x' } };
  const idx = Buffer.from(indexJson([{ ...s.manifestDesc, platform: { os: 'linux', architecture: arch } }, ghost]));
  const tar = rawTar([LAYOUT, ...s.blobs, { name: `blobs/sha256/${sha(idx).slice(7)}`, data: idx }, { name: 'index.json', data: indexJson([{ mediaType: MT.index, digest: sha(idx), size: idx.length, annotations: { 'io.containerd.image.name': 'multi:1' } }]) }]);
  await importArchive(ctx, chunks(tar), { unpack: false });
  const ok = await exportImages(ctx, ['multi:1']);
  assert.ok(ok.plan.entries.some((e) => e.digest === s.manifestDesc.digest));
  await assert.rejects(exportImages(ctx, ['multi:1'], { allPlatforms: true }), (e: Error) => /content digest .* not found \(content for linux\/s390x\)/.test(e.message));
  await assert.rejects(exportImages(ctx, ['multi:1'], { platforms: ['linux/s390x'] }), /linux\/s390x/);
  assert.equal(readdirSync(path.join(ctx.root, '..')).length, 1);
});
