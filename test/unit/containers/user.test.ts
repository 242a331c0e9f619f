import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { CtrxError } from '../../../src/errdefs.js';
import { readImageFile, resolveInRoot, resolveUser } from '../../../src/containers/user.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const PASSWD = ['root:x:0:0:root:/root:/bin/sh', 'app:x:1000:1000::/home/app:/bin/sh', 'svc:x:1001:50::/:/bin/false', 'nobody:x:65534:65534::/:/bin/false', ''].join('\n');
const GROUP = ['root:x:0:', 'staff:x:50:app,svc', 'app:x:1000:app', 'audio:x:63: app ', 'nogroup:x:65534:', 'wheel:x:10:root', ''].join('\n');

const dirs: string[] = [];
after(() => dirs.forEach(removeTempDir));

function rootfs(files: Record<string, string> = { 'etc/passwd': PASSWD, 'etc/group': GROUP }): string {
  const d = makeTempDir('ctrx-user-');
  dirs.push(d);
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(d, p, '..'), { recursive: true });
    writeFileSync(join(d, p), c);
  }
  return d;
}

function category(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CtrxError, String(e));
    return e.category;
  }
  return 'none';
}

describe('resolveUser', () => {
  let root: string;
  beforeEach(() => {
    root = rootfs();
  });

  test('empty user is root with root\'s supplementary groups', () => {
    assert.deepEqual(resolveUser('', root), { uid: 0, gid: 0, additionalGids: [0, 10] });
  });

  test('a name: uid and gid from passwd, supplementary groups from group membership (CVE-2023-25173)', () => {
    // app's own-named group is not a supplementary group; 'audio' lists " app " with spaces.
    assert.deepEqual(resolveUser('app', root), { uid: 1000, gid: 1000, additionalGids: [1000, 50, 63] });
    assert.deepEqual(resolveUser('svc', root), { uid: 1001, gid: 50, additionalGids: [50] });
  });

  test('uid only: gid from passwd when the uid is there, 0 otherwise', () => {
    assert.deepEqual(resolveUser('1000', root), { uid: 1000, gid: 1000, additionalGids: [1000, 50, 63] });
    assert.deepEqual(resolveUser('4242', root), { uid: 4242, gid: 0, additionalGids: [0] });
  });

  test('uid:gid, user:group, uid:group, user:gid', () => {
    assert.deepEqual(resolveUser('1000:1000', root), { uid: 1000, gid: 1000, additionalGids: [1000, 50, 63] });
    assert.deepEqual(resolveUser('app:staff', root), { uid: 1000, gid: 50, additionalGids: [50, 63] });
    assert.deepEqual(resolveUser('4242:nogroup', root), { uid: 4242, gid: 65534, additionalGids: [65534] });
    assert.deepEqual(resolveUser('app:7', root), { uid: 1000, gid: 7, additionalGids: [7, 50, 63] });
  });

  test('out-of-range ids never become root (CVE-2024-40635)', () => {
    for (const u of ['4294967296', '-1', '2147483648', '99999999999999999999', '0:4294967296', '1000:-1']) {
      assert.equal(category(() => resolveUser(u, root)), 'invalid-argument', u);
    }
    assert.deepEqual(resolveUser('2147483647', root).uid, 2147483647);
  });

  test('unknown names, malformed values', () => {
    assert.equal(category(() => resolveUser('ghost', root)), 'not-found');
    assert.equal(category(() => resolveUser('app:ghosts', root)), 'not-found');
    for (const u of ['a:b:c', ':1', '1:', 'ro\0ot']) assert.equal(category(() => resolveUser(u, root)), 'invalid-argument', u);
  });

  test('an entry whose uid is not a number is an error, not root', () => {
    const r = rootfs({ 'etc/passwd': 'evil:x:abc:0::/:/bin/sh\n' });
    assert.equal(category(() => resolveUser('evil', r)), 'invalid-argument');
  });

  test('without /etc/passwd: numeric users work, names do not', () => {
    const r = rootfs({ 'bin/x': '' });
    assert.deepEqual(resolveUser('1000:1000', r), { uid: 1000, gid: 1000, additionalGids: [1000] });
    assert.deepEqual(resolveUser('', r), { uid: 0, gid: 0, additionalGids: [0] });
    assert.equal(category(() => resolveUser('root', r)), 'not-found');
  });

  test('without a rootfs: numeric only', () => {
    assert.deepEqual(resolveUser('5:6', undefined), { uid: 5, gid: 6, additionalGids: [6] });
    assert.equal(category(() => resolveUser('app', undefined)), 'failed-precondition');
  });
});

describe('reading inside the rootfs only', () => {
  test('an absolute symlink resolves inside the rootfs, never to the host file', () => {
    const r = rootfs({ 'etc/real/passwd': 'inside:x:7:7::/:/bin/sh\n' });
    symlinkSync('/etc/real/passwd', join(r, 'etc/passwd'));
    assert.deepEqual(resolveUser('inside', r).uid, 7);
    // The host's /etc/passwd has root, the image's does not.
    assert.equal(category(() => resolveUser('root', r)), 'not-found');
  });

  test('.. in a link target stops at the rootfs', () => {
    const r = rootfs({ 'etc/x/passwd': 'deep:x:8:8::/:/bin/sh\n' });
    symlinkSync('../../../../../../etc/x/passwd', join(r, 'etc/passwd'));
    assert.equal(resolveInRoot(r, '/etc/passwd'), join(r, 'etc/x/passwd'));
    assert.equal(resolveUser('deep', r).uid, 8);
  });

  test('a directory symlinked to an absolute path stays in the rootfs; etc -> /etc is a loop, not the host', () => {
    const r = rootfs({ 'alt/passwd': 'alt:x:9:9::/:/bin/sh\n' });
    symlinkSync('/alt', join(r, 'etc'));
    assert.equal(resolveInRoot(r, '/etc/passwd'), join(r, 'alt/passwd'));
    assert.equal(resolveUser('alt', r).uid, 9);
    const r2 = rootfs({ 'bin/x': '' });
    symlinkSync('/etc', join(r2, 'etc'));
    assert.equal(category(() => resolveUser('root', r2)), 'invalid-argument');
  });

  test('symlink loops are an error', () => {
    const r = rootfs({ 'bin/x': '' });
    mkdirSync(join(r, 'etc'));
    symlinkSync('/etc/passwd', join(r, 'etc/passwd'));
    assert.equal(category(() => resolveUser('root', r)), 'invalid-argument');
  });

  test('a FIFO is refused without blocking', () => {
    const r = rootfs({ 'bin/x': '' });
    mkdirSync(join(r, 'etc'));
    execFileSync('mkfifo', [join(r, 'etc/passwd')]);
    const t0 = Date.now();
    assert.equal(category(() => resolveUser('app', r)), 'invalid-argument');
    assert.ok(Date.now() - t0 < 2000);
  });

  test('a link to /dev/zero resolves to the rootfs\'s /dev/zero (absent here), a device is refused', () => {
    const r = rootfs({ 'bin/x': '' });
    mkdirSync(join(r, 'etc'));
    symlinkSync('/dev/zero', join(r, 'etc/passwd'));
    assert.equal(readImageFile(r, '/etc/passwd'), undefined);
    mkdirSync(join(r, 'dev'));
    execFileSync('mknod', [join(r, 'dev/zero'), 'c', '1', '5']);
    assert.equal(category(() => resolveUser('app', r)), 'invalid-argument');
  });

  test('a huge (sparse) file is refused without reading it', () => {
    const r = rootfs({ 'etc/passwd': '' });
    truncateSync(join(r, 'etc/passwd'), 2 * 1024 * 1024 * 1024);
    const t0 = Date.now();
    assert.equal(category(() => resolveUser('app', r)), 'invalid-argument');
    assert.ok(Date.now() - t0 < 2000);
  });
});
