import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT_CODES, fromSystemError, notFound, CtrxError } from '../../../src/errdefs.js';
import { validateId, validateLabel } from '../../../src/identifiers.js';

test('exit codes are distinct per category (usage and not-implemented share 2)', () => {
  const codes = Object.entries(EXIT_CODES).filter(([k]) => k !== 'not-implemented').map(([, v]) => v);
  assert.equal(new Set(codes).size, codes.length);
  assert.ok(codes.every((c) => c > 0 && c < 126));
});

test('system errors map to categories and keep the subject', () => {
  const e = fromSystemError(Object.assign(new Error('ENOENT: x'), { code: 'ENOENT' }), 'blob "sha256:ab"');
  assert.equal(e.category, 'not-found');
  assert.equal(e.subject, 'blob "sha256:ab"');
  assert.equal(fromSystemError(Object.assign(new Error('x'), { code: 'EAGAIN' })).category, 'unavailable');
  const own = notFound('gone');
  assert.equal(fromSystemError(own), own);
  assert.ok(own instanceof CtrxError);
});

test("ids follow containerd's rule", () => {
  for (const ok of ['default', 'k8s.io', 'a-b_c.d', 'A1', 'x'.repeat(76)]) assert.equal(validateId(ok), ok);
  for (const bad of ['', '../../etc', 'a/b', '.', '-rf', 'id\n', 'a..b', 'a-', '_a', 'x'.repeat(77), 'a b']) {
    assert.throws(() => validateId(bad), (e: CtrxError) => e.category === 'invalid-argument', bad);
  }
});

test('labels are limited to 4096 bytes of key plus value', () => {
  validateLabel('k', 'v'.repeat(4095));
  assert.throws(() => validateLabel('k', 'v'.repeat(4096)), /4096/);
  assert.throws(() => validateLabel('', 'v'), /empty/);
});
