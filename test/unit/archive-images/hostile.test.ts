/**
 * Hostile and broken archives: each is refused with a clear CtrxError, and
 * afterwards no image record exists, no lease or ingest is left, every file
 * under blobs/ hashes to its name, no blob record outlives the import, and
 * nothing appeared outside the root.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { CtrxError } from '../../../src/errdefs.js';
import { importArchive } from '../../../src/images/archive/import.js';
import { removeTempDir } from '../../helpers/tmp.js';
import { chunks, indexJson, LAYOUT, ociTar, rawHeader, rawTar, scratch, sha, state, synthetic, type Ctx, type RawEntry } from './_archive.js';

const dirs: string[] = [];
after(() => dirs.forEach(removeTempDir));

/** Imports `tar` and expects a refusal of `category` whose message matches `re`; checks the invariants. */
async function refused(tar: Buffer | AsyncIterable<Uint8Array>, category: string, re: RegExp, pre?: (ctx: Ctx) => Promise<void>): Promise<CtrxError> {
  const { ctx, outside } = scratch(dirs);
  if (pre) await pre(ctx);
  const before = state(ctx);
  let err: unknown;
  try {
    await importArchive(ctx, Buffer.isBuffer(tar) ? chunks(tar) : tar, { unpack: false, subject: 'archive "t.tar"' });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof CtrxError, `expected a CtrxError, got ${String(err)}`);
  assert.equal(err.category, category, err.message);
  assert.match(err.message, re);
  assert.equal(err.subject, 'archive "t.tar"');
  const after = state(ctx);
  assert.deepEqual(after.images, before.images, 'no image record');
  assert.deepEqual(after.leases, [], 'the lease is gone');
  assert.deepEqual(after.ingests, [], 'no ingest left');
  assert.deepEqual(after.records.sort(), before.records.sort(), 'no blob record outlives the import');
  assert.deepEqual(after.blobs.sort(), before.blobs.sort(), 'no blob file outlives the import (and all hash to their names)');
  assert.ok(!existsSync(outside), 'nothing outside the root');
  assert.deepEqual(readdirSync(ctx.root + '/..').sort(), ['root'], 'nothing next to the root');
  return err;
}

const s = synthetic();
const index = (name = 'docker.io/library/t:1') => ({ name: 'index.json', data: indexJson([{ ...s.manifestDesc, annotations: { 'io.containerd.image.name': name } }]) });

test('a name with ../ is refused', async () => {
  await refused(rawTar([LAYOUT, { name: '../victim', data: 'x' }, ...s.blobs, index()]), 'invalid-argument', /climbs out of the archive/);
  await refused(rawTar([LAYOUT, ...s.blobs, { name: 'blobs/../../victim', data: 'x' }, index()]), 'invalid-argument', /climbs out/);
});

test('an absolute name is refused', async () => {
  await refused(rawTar([LAYOUT, ...s.blobs, { name: '/etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' }, index()]), 'invalid-argument', /absolute name/);
});

test('a symlinked blobs/ is refused, pointing outside or inside', async () => {
  await refused(rawTar([LAYOUT, { name: 'blobs', type: 'symlink', linkname: '/tmp' }, index()]), 'invalid-argument', /points outside the archive/);
  await refused(rawTar([LAYOUT, { name: 'blobs', type: 'symlink', linkname: '../..' }, index()]), 'invalid-argument', /points outside the archive/);
  const moved = s.blobs.map((b) => ({ ...b, name: b.name.replace(/^blobs\//, 'real/') }));
  await refused(rawTar([LAYOUT, { name: 'real', type: 'dir' }, ...moved, { name: 'blobs', type: 'symlink', linkname: 'real' }, index()]), 'invalid-argument', /symlink "blobs" under blobs\/|lies under the symlink/);
  await refused(rawTar([LAYOUT, { name: 'blobs', type: 'symlink', linkname: 'real' }, ...s.blobs, index()]), 'invalid-argument', /lies under the symlink "blobs"/);
});

test('a blob whose bytes do not match its name is refused and never lands under blobs/', async () => {
  const wrongName = `blobs/sha256/${sha('something else').slice(7)}`;
  const err = await refused(rawTar([LAYOUT, { name: wrongName, data: s.layer }, ...s.blobs.slice(1), index()]), 'invalid-argument', /does not hash to its name/);
  assert.match(err.message, new RegExp(sha(s.layer)));
  // A blob that does exist already, with an archive copy that lies about it.
  const lying = { name: s.blobs[0]!.name, data: Buffer.concat([s.layer.subarray(0, 100), Buffer.from('tampered'), s.layer.subarray(108)]) };
  await refused(rawTar([LAYOUT, lying, ...s.blobs.slice(1), index()]), 'invalid-argument', /does not hash to its name/, async (ctx) => {
    await importArchive(ctx, chunks(ociTar(s)), { unpack: false });
  });
});

test('a 100 MB index.json is refused from its header, without reading it', async () => {
  const size = 100 << 20;
  let produced = 0;
  async function* huge(): AsyncGenerator<Uint8Array> {
    yield rawTar([LAYOUT, ...s.blobs], { end: false });
    yield rawHeader({ name: 'index.json' }, size);
    const block = Buffer.alloc(1 << 20, 0x20);
    for (let i = 0; i < 100; i++) {
      produced += block.length;
      yield block;
    }
  }
  const t0 = Date.now();
  await refused(huge(), 'invalid-argument', /index\.json is 104857600 bytes, more than the 20 MiB/);
  assert.ok(produced <= 8 << 20, `read ${produced} bytes of the oversized entry`);
  assert.ok(Date.now() - t0 < 10_000);
});

test('a manifest.json with 100000 entries is refused', async () => {
  const entries = Array.from({ length: 100_000 }, (_, i) => ({ Config: 'c.json', RepoTags: [`t:${i}`], Layers: ['l.tar'] }));
  await refused(rawTar([{ name: 'c.json', data: s.config }, { name: 'l.tar', data: s.layer }, { name: 'manifest.json', data: JSON.stringify(entries) }]), 'invalid-argument', /manifest\.json lists 100000 images, more than the limit/);
});

test('a layer listed in manifest.json that is missing is refused', async () => {
  const m = [{ Config: 'c.json', RepoTags: ['t:1'], Layers: ['abc/layer.tar', 'missing/layer.tar'] }];
  await refused(rawTar([{ name: 'c.json', data: s.config }, { name: 'abc/layer.tar', data: s.layer }, { name: 'manifest.json', data: JSON.stringify(m) }]), 'invalid-argument', /layer "missing\/layer\.tar" not found in the archive/);
  const noConfig = [{ Config: 'nope.json', RepoTags: ['t:1'], Layers: [] }];
  await refused(rawTar([{ name: 'manifest.json', data: JSON.stringify(noConfig) }]), 'invalid-argument', /image config "nope\.json" not found/);
});

test('truncated tars are refused', async () => {
  const whole = ociTar(s);
  // Inside the layer's data, and inside a header.
  const layerStart = 512 + 512 + 512; // oci-layout header+data, then the first blob's header
  await refused(whole.subarray(0, layerStart + 700), 'invalid-argument', /truncated|unexpected end|shorter|EOF/i);
  await refused(whole.subarray(0, layerStart - 200), 'invalid-argument', /truncated|unexpected end|shorter|EOF|header/i);
  // Cut cleanly between entries before index.json: a layout without its index.
  const cut: RawEntry[] = [LAYOUT, ...s.blobs];
  await refused(rawTar(cut, { end: false }), 'invalid-argument', /missing index\.json/);
});

test('content the index names but the archive lacks is refused, naming it', async () => {
  await refused(rawTar([LAYOUT, s.blobs[1]!, s.blobs[2]!, index()]), 'not-found', new RegExp(`lacks the blob ${sha(s.layer)}`));
  const other = { mediaType: s.manifestDesc.mediaType, digest: sha('absent manifest'), size: 10, platform: { os: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch } };
  await refused(rawTar([LAYOUT, ...s.blobs, { name: 'index.json', data: indexJson([{ ...other, annotations: { 'io.containerd.image.name': 'x:1' } }]) }]), 'not-found', /lacks the manifest .* for linux\//);
});

test('not an image archive, a bad layout version, JSON that is not JSON', async () => {
  await refused(rawTar([{ name: 'hello.txt', data: 'hi' }]), 'invalid-argument', /unrecognized image format/);
  await refused(rawTar([{ name: 'oci-layout', data: '{"imageLayoutVersion":"9.9.9"}' }, ...s.blobs, index()]), 'invalid-argument', /unsupported OCI layout version/);
  await refused(rawTar([LAYOUT, ...s.blobs, { name: 'index.json', data: '{"schemaVersion":2,"manifests":[' }]), 'invalid-argument', /not valid JSON/);
  await refused(rawTar([{ name: 'manifest.json', data: '{"__proto__":{"polluted":1}}' }]), 'invalid-argument', /must be a JSON list/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  await refused(rawTar([LAYOUT, { name: 'blobs/sha256/not-a-digest', data: 'x' }, index()]), 'invalid-argument', /not named <algorithm>\/<hex digest>/);
});

test('an entry name that is not UTF-8, or a regular file named "."', async () => {
  const bad = rawTar([{ name: 'x', data: 'x' }]);
  bad.write('\xff\xfe', 0, 'latin1');
  let sum = 0;
  bad.fill(0x20, 148, 156);
  for (const x of bad.subarray(0, 512)) sum += x;
  bad.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  await refused(bad, 'invalid-argument', /not valid UTF-8/);
  await refused(rawTar([{ name: '.', data: 'x' }]), 'invalid-argument', /empty name|named like a directory/);
});
