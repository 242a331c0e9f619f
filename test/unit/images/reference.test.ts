import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CtrxError } from '../../../src/errdefs.js';
import { familiarString, formatReference, objectOf, parseReference, withDigest, withTag } from '../../../src/images/reference.js';

const D = 'sha256:' + 'a'.repeat(64);
const D512 = 'sha512:' + 'b'.repeat(128);

// input → normalised full reference, familiar form
const valid: [string, string, string][] = [
  ['redis', 'docker.io/library/redis:latest', 'redis:latest'],
  ['redis:7', 'docker.io/library/redis:7', 'redis:7'],
  ['library/redis', 'docker.io/library/redis:latest', 'redis:latest'],
  ['docker.io/redis', 'docker.io/library/redis:latest', 'redis:latest'],
  ['docker.io/library/redis:latest', 'docker.io/library/redis:latest', 'redis:latest'],
  ['index.docker.io/redis', 'docker.io/library/redis:latest', 'redis:latest'],
  ['index.docker.io/user/app', 'docker.io/user/app:latest', 'user/app:latest'],
  ['user/app:1', 'docker.io/user/app:1', 'user/app:1'],
  ['user/app/sub:1', 'docker.io/user/app/sub:1', 'user/app/sub:1'],
  ['docker.io/library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest'],
  ['localhost/x', 'localhost/x:latest', 'localhost/x:latest'],
  ['localhost:5000/x', 'localhost:5000/x:latest', 'localhost:5000/x:latest'],
  ['localhost', 'docker.io/library/localhost:latest', 'localhost:latest'],
  ['127.0.0.1:5000/a/b:t', '127.0.0.1:5000/a/b:t', '127.0.0.1:5000/a/b:t'],
  [`host:5000/a/b@${D}`, `host:5000/a/b@${D}`, `host:5000/a/b@${D}`],
  [`redis@${D}`, `docker.io/library/redis@${D}`, `redis@${D}`],
  [`redis:7@${D}`, `docker.io/library/redis:7@${D}`, `redis:7@${D}`],
  [`quay.io/a/b:v1@${D512}`, `quay.io/a/b:v1@${D512}`, `quay.io/a/b:v1@${D512}`],
  ['ghcr.io/owner/repo', 'ghcr.io/owner/repo:latest', 'ghcr.io/owner/repo:latest'],
  ['Registry.Example.com/x', 'Registry.Example.com/x:latest', 'Registry.Example.com/x:latest'],
  ['Foo/bar', 'Foo/bar:latest', 'Foo/bar:latest'],
  ['[::1]:5000/x', '[::1]:5000/x:latest', '[::1]:5000/x:latest'],
  ['[fe80::1]/x:y', '[fe80::1]/x:y', '[fe80::1]/x:y'],
  ['a.b/c', 'a.b/c:latest', 'a.b/c:latest'],
  ['a-b_c/d.e', 'docker.io/a-b_c/d.e:latest', 'a-b_c/d.e:latest'],
  ['my__repo', 'docker.io/library/my__repo:latest', 'my__repo:latest'],
  ['my---repo', 'docker.io/library/my---repo:latest', 'my---repo:latest'],
  ['my.repo_x', 'docker.io/library/my.repo_x:latest', 'my.repo_x:latest'],
  ['x:Tag_1.0-rc', 'docker.io/library/x:Tag_1.0-rc', 'x:Tag_1.0-rc'],
  ['x:_t', 'docker.io/library/x:_t', 'x:_t'],
  [`x:${'t'.repeat(128)}`, `docker.io/library/x:${'t'.repeat(128)}`, `x:${'t'.repeat(128)}`],
  ['0/1', 'docker.io/0/1:latest', '0/1:latest'],
  ['registry:5000', 'docker.io/library/registry:5000', 'registry:5000'],
];

for (const [input, full, familiar] of valid) {
  test(`reference ${JSON.stringify(input)} → ${full}`, () => {
    const r = parseReference(input);
    assert.equal(formatReference(r), full);
    assert.equal(familiarString(r), familiar);
  });
}

// input → fragment of the message
const invalid: [string, RegExp][] = [
  ['', /empty/],
  ['Alpine', /must be lowercase/],
  ['library/Alpine', /must be lowercase/],
  ['docker.io/Alpine', /must be lowercase/],
  ['a//b', /empty path component/],
  ['a/', /empty path component/],
  ['/a', /invalid registry host|empty/],
  ['a/../b', /"\.\." is not allowed/],
  ['a/./b', /"\." is not allowed/],
  ['host.io/../b', /"\.\." is not allowed/],
  ['a b', /whitespace/],
  [' redis', /whitespace/],
  ['redis\n', /whitespace/],
  ['redis\0', /control/],
  ['re\tdis', /whitespace/],
  ['redis\x7f', /control/],
  ['redis:', /invalid tag/],
  ['redis:.x', /invalid tag/],
  ['redis:-x', /invalid tag/],
  [`redis:${'t'.repeat(129)}`, /invalid tag/],
  ['redis:a/b', /invalid path component|invalid registry/],
  [`redis@sha256:${'A'.repeat(64)}`, /lowercase/],
  ['redis@sha256:abc', /64 hex/],
  ['redis@sha256:../../x', /hexadecimal|64 hex|"@" must/],
  [`redis@md5:${'a'.repeat(32)}`, /"@" must be followed by a digest/],
  ['redis@', /"@" must be followed/],
  ['a'.repeat(64), /64-character hexadecimal/],
  [`example.com/${'a'.repeat(250)}`, /longer than 255/],
  ['https://docker.io/redis', /URL scheme/],
  ['exa_mple.com:5000/x', /invalid registry host/],
  ['a-b.c_d/e', /invalid registry host/],
  ['host:99999/x', /invalid port/],
  ['host:0/x', /invalid port/],
  ['a/b!c', /invalid path component/],
  ['a/-b', /invalid path component/],
  ['a/b_', /invalid path component/],
  ['a/b.', /invalid path component/],
  ['@sha256:' + 'a'.repeat(64), /missing repository/],
  [':tag', /missing repository/],
];

for (const [input, re] of invalid) {
  test(`reference ${JSON.stringify(input.length > 40 ? input.slice(0, 40) + '…' : input)} is rejected`, () => {
    assert.throws(
      () => parseReference(input),
      (e: unknown) => {
        assert.ok(e instanceof CtrxError, 'a CtrxError');
        assert.equal(e.category, 'invalid-argument');
        assert.match(`${e.subject}: ${e.message}`, re);
        return true;
      },
    );
  });
}

const secretRefs = ['user:hunter2secret@registry.example.com/x:1', 'user:hunter2secret@host:5000', 'https://user:hunter2secret@host/x', 'user:hunter2secret@host/x@sha256:abc', 'a:hunter2secret@b@c'];
for (const input of secretRefs) {
  test(`credentials in ${JSON.stringify(input.replace('hunter2secret', '…'))} are refused and never echoed`, () => {
    assert.throws(
      () => parseReference(input),
      (e: unknown) => {
        assert.ok(e instanceof CtrxError);
        const text = `${e.subject} ${e.message} ${e.hint ?? ''}`;
        assert.doesNotMatch(text, /hunter2secret/);
        return true;
      },
    );
  });
}

test('no default tag when a digest is given, or when asked not to', () => {
  assert.equal(parseReference(`redis@${D}`).tag, undefined);
  assert.equal(parseReference('redis', { defaultTag: false }).tag, undefined);
  assert.equal(formatReference(parseReference('redis', { defaultTag: false })), 'docker.io/library/redis');
});

test('the object asked of the registry is the digest when there is one', () => {
  assert.equal(objectOf(parseReference(`redis:7@${D}`)), D);
  assert.equal(objectOf(parseReference('redis:7')), '7');
});

test('withDigest and withTag validate', () => {
  const r = parseReference('redis');
  assert.equal(formatReference(withDigest(r, D)), `docker.io/library/redis:latest@${D}`);
  assert.throws(() => withDigest(r, 'sha256:nope'), CtrxError);
  assert.equal(formatReference(withTag(r, 'v2')), 'docker.io/library/redis:v2');
  assert.throws(() => withTag(r, 'bad tag'), CtrxError);
});

test('long hostile input is cut in messages', () => {
  try {
    parseReference('A'.repeat(10000));
    assert.fail('accepted');
  } catch (e) {
    assert.ok(e instanceof CtrxError);
    assert.ok((e.subject ?? '').length < 200, 'subject cut');
  }
});
