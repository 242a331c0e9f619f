import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CtrxError } from '../../src/errdefs.js';
import { Digester, digestOf, digesterFor, isDigest, parseDigest, shortDigest, validateDigest } from '../../src/digest.js';

const hex = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

test('a valid sha256 digest parses into algorithm and hex', () => {
  const d = parseDigest(`sha256:${hex}`);
  assert.deepEqual(d, { algorithm: 'sha256', hex, value: `sha256:${hex}` });
  assert.equal(validateDigest(`sha512:${'0'.repeat(128)}`), `sha512:${'0'.repeat(128)}`);
  assert.equal(parseDigest(`sha384:${'1'.repeat(96)}`).algorithm, 'sha384');
});

const bad: [string, RegExp][] = [
  ['', /empty/],
  [hex, /missing "<algorithm>:"/],
  ['sha256:../../x', /not hexadecimal/],
  ['sha256:../../../etc/passwd', /not hexadecimal/],
  [`sha256:${hex.toUpperCase()}`, /lowercase/],
  [`sha256:${hex.slice(1)}`, /64 hex characters, got 63/],
  [`sha256:${hex}0`, /got 65/],
  [`md5:${'a'.repeat(32)}`, /unsupported algorithm "md5"/],
  [`sha1:${'a'.repeat(40)}`, /unsupported algorithm/],
  [`SHA256:${hex}`, /malformed algorithm/],
  [`../sha256:${hex}`, /malformed algorithm/],
  [`sha256:${hex}\n`, /not hexadecimal/],
  [`sha256:${hex.slice(0, 63)}\0`, /not hexadecimal/],
  ['sha256:', /got 0/],
  [':' + hex, /malformed algorithm/],
  [`sha256:${hex}/x`, /not hexadecimal/],
  ['sha256:' + 'a'.repeat(300), /too long/],
  [`sha512:${hex}`, /128 hex/],
];
for (const [input, re] of bad) {
  test(`digest ${JSON.stringify(input.slice(0, 50))} is rejected`, () => {
    assert.equal(isDigest(input), false);
    assert.throws(
      () => parseDigest(input, 'blob'),
      (e: unknown) => e instanceof CtrxError && e.category === 'invalid-argument' && re.test(e.message) && e.subject === 'blob',
    );
  });
}

test('digestOf and Digester agree with node:crypto', () => {
  assert.equal(digestOf(''), `sha256:${hex}`);
  const dg = new Digester();
  dg.update(Buffer.from('hello '));
  dg.update(Buffer.from('world'));
  assert.equal(dg.digest(), digestOf('hello world'));
  assert.equal(digestOf('x', 'sha512'), `sha512:${createHash('sha512').update('x').digest('hex')}`);
});

test('a digester can continue a hash fed with a prefix (resume)', () => {
  const h = createHash('sha256').update('hello ');
  const dg = digesterFor(digestOf('hello world'), h);
  dg.update(Buffer.from('world'));
  assert.equal(dg.digest(), digestOf('hello world'));
});

test('short digests are 12 hex characters', () => {
  assert.equal(shortDigest(`sha256:${hex}`), hex.slice(0, 12));
});

test('non-strings are not digests', () => {
  assert.equal(isDigest(undefined), false);
  assert.equal(isDigest(42), false);
});
