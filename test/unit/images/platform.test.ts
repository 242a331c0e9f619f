import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CtrxError } from '../../../src/errdefs.js';
import { anyPlatform, defaultPlatform, formatPlatform, normalizePlatform, onlyPlatform, parsePlatform, platformVector } from '../../../src/images/platform.js';

test('platform strings are parsed and normalised like containerd', () => {
  const cases: [string, string][] = [
    ['linux/amd64', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/x86-64', 'linux/amd64'],
    ['Linux/AMD64', 'linux/amd64'],
    ['linux/amd64/v1', 'linux/amd64'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm64/8', 'linux/arm64'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/arm/6', 'linux/arm/v6'],
    ['linux/i386', 'linux/386'],
    ['windows/amd64', 'windows/amd64'],
    ['linux/s390x', 'linux/s390x'],
    ['linux/riscv64', 'linux/riscv64'],
  ];
  for (const [input, want] of cases) assert.equal(formatPlatform(parsePlatform(input)), want, input);
});

test('a bare OS takes the host architecture; a bare architecture takes the host OS', () => {
  const host = defaultPlatform();
  assert.equal(formatPlatform(parsePlatform('linux')), formatPlatform(host));
  assert.deepEqual(parsePlatform('arm64'), { os: host.os, architecture: 'arm64' });
});

test('malformed platforms are rejected', () => {
  for (const bad of ['', 'linux/amd64/v8/x', 'linux/../etc', 'linux/amd 64', 'plan10/amd64', 'linux//v7', 'linux/amd64\n']) {
    assert.throws(() => parsePlatform(bad), (e: unknown) => e instanceof CtrxError && e.category === 'invalid-argument', JSON.stringify(bad));
  }
});

test('the default platform is the host platform, normalised', () => {
  const p = defaultPlatform();
  assert.equal(p.os, 'linux');
  assert.ok(['amd64', 'arm64', 'arm', '386', 'ppc64le', 's390x', 'riscv64'].includes(p.architecture));
  assert.deepEqual(normalizePlatform(p), p);
});

test('arm/v7 also runs v6 and v5, preferring v7, but not v8', () => {
  const m = onlyPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.ok(m.match({ os: 'linux', architecture: 'arm', variant: 'v7' }));
  assert.ok(m.match({ os: 'linux', architecture: 'arm', variant: 'v6' }));
  assert.ok(m.match({ os: 'linux', architecture: 'arm', variant: 'v5' }));
  assert.ok(m.match({ os: 'linux', architecture: 'arm' }), 'arm without variant is v7');
  assert.ok(!m.match({ os: 'linux', architecture: 'arm', variant: 'v8' }));
  assert.ok(!m.match({ os: 'linux', architecture: 'arm64' }));
  const sorted = [{ os: 'linux', architecture: 'arm', variant: 'v5' }, { os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'arm', variant: 'v6' }].sort(m.compare);
  assert.deepEqual(sorted.map((p) => p.variant), ['v7', 'v6', 'v5']);
});

test('arm64 matches arm64 with or without v8, then 32-bit arm', () => {
  const m = onlyPlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.equal(m.rank({ os: 'linux', architecture: 'arm64' }), 0);
  assert.equal(m.rank({ os: 'linux', architecture: 'arm64', variant: 'v8' }), 0);
  assert.ok(m.match({ os: 'linux', architecture: 'arm', variant: 'v7' }));
  assert.ok(m.rank({ os: 'linux', architecture: 'arm', variant: 'v7' }) > 0);
  assert.ok(!m.match({ os: 'linux', architecture: 'amd64' }));
  assert.ok(!m.match({ os: 'windows', architecture: 'arm64' }));
});

test('amd64 variants: v3 runs v2 and v1; v1 does not run v2', () => {
  assert.deepEqual(platformVector({ os: 'linux', architecture: 'amd64', variant: 'v3' }).map(formatPlatform), ['linux/amd64/v3', 'linux/amd64/v2', 'linux/amd64']);
  const v1 = onlyPlatform({ os: 'linux', architecture: 'amd64' });
  assert.ok(!v1.match({ os: 'linux', architecture: 'amd64', variant: 'v2' }));
  assert.ok(v1.match({ os: 'linux', architecture: 'x86_64' }));
});

test('several platforms: any matches, in the given order', () => {
  const m = anyPlatform([parsePlatform('linux/s390x'), parsePlatform('linux/amd64')]);
  assert.ok(m.match({ os: 'linux', architecture: 'amd64' }));
  assert.ok(m.rank({ os: 'linux', architecture: 's390x' }) < m.rank({ os: 'linux', architecture: 'amd64' }));
  assert.ok(!m.match({ os: 'linux', architecture: 'ppc64le' }));
});

test('garbage platform objects never match', () => {
  const m = onlyPlatform(defaultPlatform());
  assert.ok(!m.match(undefined as never));
  assert.ok(!m.match({ os: 1, architecture: null } as never));
});
