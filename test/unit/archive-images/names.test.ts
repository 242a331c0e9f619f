import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultBaseName, dockerReference, familiarName, imageNameOf, ociReferenceName, refTranslator } from '../../../src/images/archive/names.js';
import { goJson } from '../../../src/images/archive/json.js';
import { childGcLabels } from '../../../src/images/archive/import.js';
import { tarHeader } from '../../../src/images/archive/tar-writer.js';

test('ref translators follow containerd: tag-only names get the prefix, full names kept or filtered', () => {
  const add = refTranslator('import-2024-05-06', false);
  assert.equal(add('latest'), 'import-2024-05-06:latest');
  assert.equal(add('docker.io/library/x:1'), 'docker.io/library/x:1');
  assert.equal(add('x@sha256:abc'), 'x@sha256:abc');
  const filter = refTranslator('foo/bar', true);
  assert.equal(filter('v1'), 'foo/bar:v1');
  assert.equal(filter('foo/bar:v2'), 'foo/bar:v2');
  assert.equal(filter('foo/bar@sha256:1'), 'foo/bar@sha256:1');
  assert.equal(filter('foo/barista:v1'), '', 'a longer name that merely starts with the prefix is not under it');
  assert.equal(filter('other/x:1'), '');
});

test('image names: the containerd annotation wins over the translated OCI ref name', () => {
  const t = refTranslator('base', false);
  assert.equal(imageNameOf({ 'io.containerd.image.name': 'docker.io/library/a:1', 'org.opencontainers.image.ref.name': '1' }, t), 'docker.io/library/a:1');
  assert.equal(imageNameOf({ 'org.opencontainers.image.ref.name': '1' }, t), 'base:1');
  assert.equal(imageNameOf(undefined, t), '');
  assert.equal(defaultBaseName(new Date(2024, 0, 9, 23, 59)), 'import-2024-01-09');
});

test('OCI ref names as containerd computes them (reference.Parse(name).Object)', () => {
  assert.equal(ociReferenceName('docker.io/library/busybox:latest'), 'latest');
  assert.equal(ociReferenceName('127.0.0.1:5000/a/b:v1'), 'v1');
  assert.equal(ociReferenceName('host/a@sha256:abc'), '@sha256:abc');
  assert.equal(ociReferenceName('host/a:t@sha256:abc'), 't@sha256:abc');
  assert.equal(ociReferenceName('latest'), '', 'a host with no path has no object');
  assert.equal(ociReferenceName('import-2024-01-01:latest'), 'import-2024-01-01:latest', 'a non-numeric port does not parse: the whole name');
});

test('docker names: normalised for import, familiar for manifest.json', () => {
  assert.equal(dockerReference('busybox', 's'), 'docker.io/library/busybox:latest');
  assert.equal(dockerReference('user/app:1', 's'), 'docker.io/user/app:1');
  assert.equal(dockerReference(`a:1@sha256:${'a'.repeat(64)}`, 's'), `docker.io/library/a@sha256:${'a'.repeat(64)}`);
  assert.throws(() => dockerReference('Not A Ref', 's'), /normalize image ref/);
  assert.equal(familiarName('docker.io/library/busybox:latest'), 'busybox:latest');
  assert.equal(familiarName('127.0.0.1:5000/x/y:2'), '127.0.0.1:5000/x/y:2');
  assert.equal(familiarName('import-2024-01-01:latest'), 'import-2024-01-01:latest');
  assert.equal(familiarName('with space'), undefined);
});

test('Go JSON escapes <, > and & and keeps insertion order', () => {
  assert.equal(goJson({ b: '<a&b>', a: 1 }), '{"b":"\\u003ca\\u0026b\\u003e","a":1}');
  assert.equal(goJson(['\u2028']), '["\\u2028"]');
});

test('gc.ref labels counted per kind, as SetChildrenMappedLabels', () => {
  const d = (mediaType: string, n: number) => ({ mediaType, digest: `sha256:${String(n).repeat(64)}`, size: 1 });
  const labels = childGcLabels([
    d('application/vnd.oci.image.manifest.v1+json', 1),
    d('application/vnd.oci.image.index.v1+json', 2),
    d('application/vnd.docker.distribution.manifest.v2+json', 3),
    d('application/vnd.oci.image.config.v1+json', 4),
    d('application/vnd.oci.image.layer.v1.tar+gzip', 5),
    d('application/vnd.docker.image.rootfs.diff.tar', 6),
    d('application/x-unknown', 7),
  ]);
  assert.deepEqual(labels, {
    'containerd.io/gc.ref.content.m.0': `sha256:${'1'.repeat(64)}`,
    'containerd.io/gc.ref.content.0': `sha256:${'2'.repeat(64)}`,
    'containerd.io/gc.ref.content.m.1': `sha256:${'3'.repeat(64)}`,
    'containerd.io/gc.ref.content.config': `sha256:${'4'.repeat(64)}`,
    'containerd.io/gc.ref.content.l.0': `sha256:${'5'.repeat(64)}`,
    'containerd.io/gc.ref.content.l.1': `sha256:${'6'.repeat(64)}`,
    'containerd.io/gc.ref.content.1': `sha256:${'7'.repeat(64)}`,
  });
});

test('tar headers: USTAR as Go writes them, PAX for names USTAR cannot hold', () => {
  const h = tarHeader({ name: 'blobs/sha256/' + 'a'.repeat(64), mode: 0o444, size: 1234, type: 'file' });
  assert.equal(h.length, 512);
  assert.equal(h.subarray(100, 108).toString('latin1'), '0000444\0');
  assert.equal(h.subarray(124, 136).toString('latin1'), '00000002322\0');
  assert.equal(h.subarray(136, 148).toString('latin1'), '00000000000\0', 'mtime 0');
  assert.equal(h[154], 0);
  assert.equal(h[155], 0x20);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  assert.equal(parseInt(h.subarray(148, 154).toString('latin1'), 8), sum);
  const long = tarHeader({ name: 'blobs/sha512/' + 'b'.repeat(128), mode: 0o444, size: 1, type: 'file' });
  assert.equal(long.length, 512 * 3, 'PAX header, its record, then the entry');
  assert.equal(long[156], 'x'.charCodeAt(0));
  assert.match(long.subarray(512, 1024).toString('utf8'), new RegExp(`^\\d+ path=blobs/sha512/b{128}\\n`));
});
