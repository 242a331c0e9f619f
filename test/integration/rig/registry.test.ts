/**
 * The test registries: an open one and an htpasswd-protected one, with the
 * push client. One registry of each kind for the whole file.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { buildFixture, pushFixtures } from '../../helpers/fixtures.js';
import { MediaType, type Image } from '../../helpers/oci.js';
import { isAlive } from '../../helpers/procs.js';
import {
  basicAuth, catalog, headManifest, pushBlob, pushImage, RegistryError, startRegistry, type Registry,
} from '../../helpers/registry.js';
import { liveTempDirs } from '../../helpers/tmp.js';

const creds = { user: 'tester', password: 's3cret-pass' };
let open: Registry;
let secured: Registry;
let busybox: Image;
let layered: Image;

before(async () => {
  [open, secured, busybox, layered] = await Promise.all([
    startRegistry(),
    startRegistry({ auth: creds }),
    buildFixture('busybox'),
    buildFixture('layered', { style: 'docker' }),
  ]);
});

after(async () => {
  const pids = [open?.pid, secured?.pid].filter((p): p is number => !!p);
  const dirs = [open?.storageDir, secured?.storageDir].filter((d): d is string => !!d);
  await Promise.all([open?.stop(), secured?.stop()]);
  for (const pid of pids) assert.equal(isAlive(pid), false, `registry ${pid} still alive`);
  for (const d of dirs) assert.equal(existsSync(d), false, `${d} left behind`);
  assert.deepEqual(liveTempDirs(), []);
});

describe('open registry', () => {
  test('push busybox (OCI) and layered (Docker schema 2); catalog and HEAD agree', async () => {
    await pushImage(open, 'library/busybox', 'latest', busybox);
    await pushImage(open, 'library/layered', 'v1', layered);
    assert.deepEqual((await catalog(open)).sort(), ['library/busybox', 'library/layered']);

    const bb = await headManifest(open, 'library/busybox', 'latest');
    assert.deepEqual([bb.status, bb.digest, bb.mediaType, bb.size], [200, busybox.root.digest, MediaType.ociManifest, busybox.root.size]);
    const ly = await headManifest(open, 'library/layered', 'v1');
    assert.deepEqual([ly.status, ly.digest, ly.mediaType], [200, layered.root.digest, MediaType.dockerManifest]);
    assert.equal((await headManifest(open, 'library/busybox', 'nope')).status, 404);
  });

  test('blobs already present are skipped; layers are served back byte for byte', async () => {
    const layer = busybox.images[0]!.manifest.layers[0]!;
    assert.equal(await pushBlob(open, 'library/busybox', layer.digest, busybox.blobs.get(layer.digest)!), 'exists');
    const r = await fetch(`${open.url}/v2/library/busybox/blobs/${layer.digest}`);
    assert.equal(r.status, 200);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(busybox.blobs.get(layer.digest)!));
  });

  test('a multi-platform index is pushed with its manifests', async () => {
    const multi = await buildFixture('busybox', { multiPlatform: true });
    await pushImage(open, 'library/multi', 'latest', multi);
    const h = await headManifest(open, 'library/multi', 'latest');
    assert.deepEqual([h.digest, h.mediaType], [multi.root.digest, MediaType.ociIndex]);
    for (const m of multi.images) assert.equal((await headManifest(open, 'library/multi', m.descriptor.digest)).status, 200);
  });

  test('pushFixtures pushes each fixture as library/<name>:<tag> and returns pullable references', async () => {
    const refs = await pushFixtures(open, ['busybox', 'redis'], { tag: 'fx' });
    assert.deepEqual(refs, { busybox: `${open.host}/library/busybox:fx`, redis: `${open.host}/library/redis:fx` });
    const redis = await buildFixture('redis');
    assert.equal((await headManifest(open, 'library/redis', 'fx')).digest, redis.root.digest);
  });

  test('delete is enabled: a manifest can be deleted by digest', async () => {
    const img = await buildFixture('busybox', { compression: 'none' });
    await pushImage(open, 'scratch/deleteme', 'x', img);
    const r = await fetch(`${open.url}/v2/scratch/deleteme/manifests/${img.root.digest}`, { method: 'DELETE' });
    assert.equal(r.status, 202);
    assert.equal((await headManifest(open, 'scratch/deleteme', 'x')).status, 404);
  });
});

describe('htpasswd registry', () => {
  test('/v2/ asks for Basic credentials', async () => {
    const r = await fetch(`${secured.url}/v2/`);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic /);
    const ok = await fetch(`${secured.url}/v2/`, { headers: { authorization: basicAuth(creds) } });
    assert.equal(ok.status, 200);
    const bad = await fetch(`${secured.url}/v2/`, { headers: { authorization: basicAuth({ ...creds, password: 'wrong' }) } });
    assert.equal(bad.status, 401);
  });

  test('push without credentials fails with 401; with them it works', async () => {
    await assert.rejects(pushImage(secured, 'private/busybox', 'latest', busybox), (e: unknown) => e instanceof RegistryError && e.status === 401);
    await pushImage(secured, 'private/busybox', 'latest', busybox, creds);
    const h = await headManifest(secured, 'private/busybox', 'latest', creds);
    assert.deepEqual([h.status, h.digest], [200, busybox.root.digest]);
    assert.equal((await headManifest(secured, 'private/busybox', 'latest')).status, 401);
    assert.deepEqual(await catalog(secured, creds), ['private/busybox']);
  });
});
