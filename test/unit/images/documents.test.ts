import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CtrxError } from '../../../src/errdefs.js';
import { parseDocument } from '../../../src/images/registry/documents.js';
import { jsonDepth, parseJson } from '../../../src/images/registry/json.js';
import { describeErrorBody } from '../../../src/images/registry/errors.js';
import { MediaTypes } from '../../../src/images/media-types.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const desc = (c: string, mt: string = MediaTypes.ociLayerGzip) => ({ mediaType: mt, digest: D(c), size: 10 });
const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const manifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: desc('a', MediaTypes.ociConfig), layers: [desc('b')] };
const index = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [{ ...desc('c', MediaTypes.ociManifest), platform: { os: 'linux', architecture: 'amd64' } }] };

function rejects(data: unknown, declared: string, re: RegExp, category = 'invalid-argument'): void {
  assert.throws(
    () => parseDocument(enc(data), declared, 'subj'),
    (e: unknown) => e instanceof CtrxError && e.category === category && re.test(e.message) && e.subject === 'subj',
    String(re),
  );
}

test('manifests and indexes parse, with the declared or implied media type', () => {
  const m = parseDocument(enc(manifest), MediaTypes.ociManifest, 's');
  assert.equal(m.kind, 'manifest');
  assert.equal(m.kind === 'manifest' && m.manifest.layers[0]!.digest, D('b'));
  const i = parseDocument(enc(index), '', 's');
  assert.equal(i.kind, 'index');
  assert.equal(i.mediaType, MediaTypes.ociIndex);
  const { mediaType: _drop, ...noType } = manifest;
  assert.equal(parseDocument(enc(noType), 'application/json; charset=utf-8', 's').mediaType, MediaTypes.ociManifest);
  assert.equal(parseDocument(enc(noType), MediaTypes.dockerManifest, 's').mediaType, MediaTypes.dockerManifest);
});

test('schema 1 is refused with an explanation, by header or by content', () => {
  rejects({ schemaVersion: 1, name: 'x', fsLayers: [] }, 'application/json', /schema 1/, 'failed-precondition');
  rejects(manifest, MediaTypes.dockerSchema1Signed, /schema 1/, 'failed-precondition');
});

test('ambiguous documents (manifests and layers) are refused', () => {
  rejects({ ...index, layers: [desc('b')] }, MediaTypes.ociIndex, /ambiguous/);
  rejects({ ...manifest, manifests: [] }, MediaTypes.ociManifest, /ambiguous/);
  rejects({ schemaVersion: 2, manifests: [], config: desc('a') }, '', /ambiguous/);
});

test('declared and own media types must agree; unknown ones are refused', () => {
  rejects(manifest, MediaTypes.ociIndex, /says .* but was served as/);
  rejects({ ...manifest, mediaType: 'application/x-weird' }, '', /unsupported media type/);
  rejects(manifest, 'text/html', /HTML page/);
  rejects(manifest, 'application/vnd.acme.thing', /unsupported media type/);
});

test('descriptors are validated', () => {
  rejects({ ...manifest, layers: [{ ...desc('b'), digest: 'sha256:../../etc' }] }, '', /layers\[0\]\.digest/);
  rejects({ ...manifest, layers: [{ ...desc('b'), size: -1 }] }, '', /size/);
  rejects({ ...manifest, layers: [{ ...desc('b'), size: 2 ** 60 }] }, '', /size/);
  rejects({ ...manifest, layers: [{ ...desc('b'), size: 1.5 }] }, '', /size/);
  rejects({ ...manifest, layers: [{ ...desc('b'), size: '10' }] }, '', /size/);
  rejects({ ...manifest, layers: [{ ...desc('b'), mediaType: 'a b/c' }] }, '', /mediaType/);
  rejects({ ...manifest, config: { ...desc('a'), annotations: { k: 1 } } }, '', /annotations/);
  rejects({ ...index, manifests: [{ ...desc('c', MediaTypes.ociManifest), platform: { os: 'linux' } }] }, '', /platform/);
  rejects({ ...manifest, layers: 'x' }, '', /layers/);
  rejects({ ...manifest, schemaVersion: 3 }, '', /schemaVersion/);
  rejects([1, 2], '', /JSON object/);
});

test('__proto__ and constructor keys stay plain data', () => {
  const text = `{"schemaVersion":2,"mediaType":"${MediaTypes.ociManifest}","config":${JSON.stringify(desc('a', MediaTypes.ociConfig))},"layers":[],"annotations":{"__proto__":"x","constructor":"y","polluted":"z"}}`;
  const doc = parseDocument(enc(text), '', 's');
  assert.equal(doc.kind, 'manifest');
  const ann = doc.kind === 'manifest' ? doc.manifest.annotations! : {};
  assert.equal(Object.getOwnPropertyDescriptor(ann, '__proto__')?.value, 'x');
  assert.equal(ann.constructor, 'y');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const raw = parseJson('{"__proto__":{"polluted":1},"a":{"__proto__":{"polluted":2}}}', 't') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(raw), null);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('JSON: deep nesting, BOM, invalid UTF-8, trailing bytes, duplicate keys', () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  assert.equal(jsonDepth(deep), 65);
  assert.throws(() => parseJson(deep, 'doc'), /nested more than 64/);
  assert.equal(jsonDepth('{"a":"[[[[[[["}'), 1, 'brackets in strings do not count');
  assert.throws(() => parseJson(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), 'doc'), /byte order mark/);
  assert.throws(() => parseJson(new Uint8Array([0x22, 0xff, 0x22]), 'doc'), /UTF-8/);
  assert.throws(() => parseJson('{} x', 'doc'), /not valid JSON/);
  assert.deepEqual({ ...(parseJson('{"a":1,"a":2}', 'doc') as object) }, { a: 2 }, 'last key wins, as in Go');
});

test('error bodies: distribution errors, HTML, long garbage', () => {
  const body = Buffer.from(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'x' } }] }));
  assert.equal(describeErrorBody(body, 'application/json'), 'MANIFEST_UNKNOWN: manifest unknown');
  assert.match(describeErrorBody(Buffer.from('<!DOCTYPE html><html>login</html>'), 'text/html'), /HTML page/);
  assert.ok(describeErrorBody(Buffer.from('x'.repeat(64 << 10)), 'text/plain').length <= 121);
  assert.equal(describeErrorBody(Buffer.alloc(0), undefined), '');
  assert.ok(describeErrorBody(Buffer.from('{"errors":[{"code":"A","message":"' + 'y'.repeat(1000)), 'application/json').length <= 121, 'a cut JSON body falls back to an excerpt');
});
