/**
 * The hostile layer corpus (reliability.md §2C). Every case is applied into
 * a fresh root next to a victim tree (util.ts checks the victim, the sibling
 * `rootx`, the base dir and the host's /etc/passwd afterwards) and must end
 * in a contained success with the stated result or in the stated CtrxError.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readlinkSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { ApplyOptions } from '../../../src/archive/apply.js';
import { cleanupTempDirs } from '../../helpers/tmp.js';
import { getXattr } from '../../helpers/xattr.js';
import {
  END, applyInScene, base256, packTar, paxEntry, rawEntry, rawHeader, tarBytes,
  type Outcome, type PackEntry, type Scene,
} from './util.js';
import { diffTrees, snapshot } from './tree.js';

after(() => cleanupTempDirs());

const f = (name: string, data: string | Buffer = 'x', extra: Partial<PackEntry> = {}): PackEntry => ({ name, type: 'file', data, mode: 0o644, ...extra });
const d = (name: string, extra: Partial<PackEntry> = {}): PackEntry => ({ name, type: 'directory', mode: 0o755, ...extra });
const sl = (name: string, linkname: string, extra: Partial<PackEntry> = {}): PackEntry => ({ name, type: 'symlink', linkname, mode: 0o777, ...extra });
const hl = (name: string, linkname: string, extra: Partial<PackEntry> = {}): PackEntry => ({ name, type: 'link', linkname, mode: 0o644, ...extra });
/** mtime with nanoseconds as stat(1) prints it (Deno's lstat reports milliseconds only). */
const statNs = (p: string) => spawnSync('stat', ['-c', '%.9Y', p], { encoding: 'utf8' }).stdout.trim();
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

interface Case {
  name: string;
  layers: (s: Scene) => Buffer[] | Promise<Buffer[]>;
  opts?: Partial<ApplyOptions> | ((s: Scene) => Partial<ApplyOptions>);
  /** Expected error message (the apply must fail with a CtrxError). */
  error?: RegExp;
  category?: string;
  check?: (s: Scene, o: Outcome) => void;
}

/** overlay with one (empty) lower dir, so the overlay whiteout rules apply. */
const overlayOpts = (s: Scene): Partial<ApplyOptions> => ({ mode: 'overlay', parents: [s.rootx + '/no-such-lower'] });
const one = (...entries: PackEntry[]) => async () => [await packTar(entries)];
const content = (s: Scene, rel: string) => readFileSync(join(s.root, rel), 'utf8');
const isType = (s: Scene, rel: string, t: 'file' | 'dir' | 'symlink' | 'char' | 'fifo') => {
  const st = lstatSync(join(s.root, rel));
  return { file: st.isFile(), dir: st.isDirectory(), symlink: st.isSymbolicLink(), char: st.isCharacterDevice(), fifo: st.isFIFO() }[t];
};
const okResult = (o: Outcome) => {
  assert.ok(o.ok, o.ok ? '' : `unexpected error: ${o.error.message}`);
  return o.result;
};

const cases: Case[] = [
  // ---- names ----
  { name: '../victim/x lands inside the root', layers: one(f('../victim/x', 'in')), check: (s) => assert.equal(content(s, 'victim/x'), 'in') },
  { name: '/../victim/x lands inside the root', layers: one(f('/../victim/x', 'in')), check: (s) => assert.equal(content(s, 'victim/x'), 'in') },
  { name: 'a directory named .. is the root itself: skipped', layers: one(d('..', { mode: 0o777 })), check: (s, o) => { assert.equal(okResult(o).skipped.root, 1); assert.notEqual(statSync(s.root).mode & 0o777, 0o777); } },
  { name: 'absolute /etc/passwd is root-relative', layers: one(f('/etc/passwd', 'pwned')), check: (s) => assert.equal(content(s, 'etc/passwd'), 'pwned') },
  { name: '////etc/passwd is root-relative', layers: one(f('////etc/passwd', 'pwned')), check: (s) => assert.equal(content(s, 'etc/passwd'), 'pwned') },
  { name: './a/../../b is cleaned to b', layers: one(f('./a/../../b', 'b')), check: (s) => { assert.equal(content(s, 'b'), 'b'); assert.ok(!existsSync(join(s.root, 'a'))); } },
  { name: 'symlinks named ".", "/" and "" are skipped, the root stays a directory', layers: one(sl('.', '/etc'), sl('/', '/etc'), sl('./', '../victim')), check: (s, o) => { assert.equal(okResult(o).skipped.root, 3); assert.ok(lstatSync(s.root).isDirectory()); } },
  // ---- symlink escapes ----
  { name: 'symlink etc → /etc then etc/passwd: a self-loop inside the root, refused', layers: one(sl('etc', '/etc'), f('etc/passwd', 'pwned')), error: /too many levels of symbolic links/ },
  { name: 'symlink to ../../.. then lnk/victim/x stays inside', layers: one(sl('lnk', '../../..'), f('lnk/victim/x', 'in')), check: (s) => assert.equal(content(s, 'victim/x'), 'in') },
  { name: 'symlink to the victim by absolute host path, then a file under it', layers: (s) => one(sl('up', s.victim), f('up/pwned', 'in'))(), check: (s) => assert.equal(content(s, s.victim.slice(1) + '/pwned'), 'in') },
  { name: 'a directory replaced by a symlink to outside, then a file under it (re-resolved per entry)', layers: one(d('d'), f('d/a'), sl('d', '../victim'), f('d/pwned', 'in')), check: (s) => { assert.ok(isType(s, 'd', 'symlink')); assert.equal(content(s, 'victim/pwned'), 'in'); } },
  { name: 'the same with an absolute host path', layers: (s) => one(d('d'), sl('d', s.victim), f('d/pwned', 'in'))(), check: (s) => assert.equal(content(s, s.victim.slice(1) + '/pwned'), 'in') },
  { name: 'a chain of symlinks climbing out', layers: one(sl('a', 'b'), sl('b', '../../victim'), f('a/x', 'in')), check: (s) => assert.equal(content(s, 'victim/x'), 'in') },
  { name: 'a symlink loop', layers: one(sl('loop', 'loop'), f('loop/x')), error: /too many levels of symbolic links/ },
  { name: '/dev as a symlink to / and /dev/null to /etc/passwd: the file replaces the link', layers: one(f('etc/passwd', 'orig'), sl('dev', '/'), sl('dev/null', '/etc/passwd'), f('dev/null', 'x')), check: (s) => { assert.equal(content(s, 'null'), 'x'); assert.ok(isType(s, 'null', 'file')); assert.equal(content(s, 'etc/passwd'), 'orig'); } },
  { name: 'an entry below a regular file is refused', layers: one(f('file'), f('file/x')), error: /not a directory|ENOTDIR/ },
  // ---- hardlinks ----
  { name: 'hardlink to ../victim/hello', layers: one(hl('h', '../victim/hello')), error: /ENOENT/ },
  { name: 'hardlink to the victim by absolute host path', layers: (s) => one(hl('h', s.victim + '/hello'))(), error: /ENOENT/ },
  { name: "hardlink into a sibling whose name shares the root's prefix", layers: one(hl('h', '../rootx/hello')), error: /ENOENT/ },
  { name: 'hardlink inside the layer', layers: one(f('real', 'data'), hl('h', 'real')), check: (s) => assert.equal(lstatSync(join(s.root, 'h')).ino, lstatSync(join(s.root, 'real')).ino) },
  { name: 'symlink to outside, hardlink to it, chmod on the hardlink: nothing followed', layers: (s) => one(sl('s', s.victim + '/hello'), hl('h', 's', { mode: 0o777 }))(), check: (s) => { assert.ok(isType(s, 'h', 'symlink')); assert.equal(lstatSync(join(s.root, 'h')).ino, lstatSync(join(s.root, 's')).ino); } },
  { name: 'hardlink through a symlinked dir to outside', layers: one(sl('sdir', '../victim'), hl('h', 'sdir/hello')), error: /ENOENT/ },
  { name: 'hardlink to the root', layers: one(hl('h', '/')), error: /hardlink to the root directory/ },
  { name: 'hardlink to a directory', layers: one(d('dd'), hl('h', 'dd')), error: /EPERM/ },
  // ---- whiteouts ----
  { name: 'whiteout .wh.. is refused', layers: one(f('.wh..', '')), error: /invalid whiteout name/ },
  { name: 'whiteout etc/.wh.. is refused', layers: one(d('etc'), f('etc/.wh..', '')), error: /invalid whiteout name/ },
  { name: 'whiteouts .wh. and .wh... are refused', layers: one(f('.wh.', '')), error: /invalid whiteout name/ },
  { name: 'whiteout .wh... is refused', layers: one(f('a/.wh...', '')), error: /invalid whiteout name/ },
  { name: 'dne/../.wh.etc removes the root\'s etc only', layers: async () => [await packTar([d('etc'), f('etc/x')]), await packTar([f('dne/../.wh.etc', '')])], check: (s) => { assert.ok(!existsSync(join(s.root, 'etc'))); assert.ok(!existsSync(join(s.root, 'dne'))); } },
  { name: 'lnk/.wh.x with lnk → /etc removes root/etc/x', layers: async () => [await packTar([d('etc'), f('etc/x'), f('etc/y'), sl('lnk', '/etc')]), await packTar([f('lnk/.wh.x', '')])], check: (s) => { assert.ok(!existsSync(join(s.root, 'etc/x'))); assert.ok(existsSync(join(s.root, 'etc/y'))); } },
  { name: 'lnk/.wh.hello with lnk → the victim (absolute) stays inside', layers: async (s) => [await packTar([sl('lnk', s.victim)]), await packTar([f('lnk/.wh.hello', '')])] },
  { name: 'lnk/.wh.victim with lnk → .. stays inside', layers: async () => [await packTar([sl('lnk', '..'), d('victim'), f('victim/keep')]), await packTar([f('lnk/.wh.victim', '')])], check: (s) => assert.ok(!existsSync(join(s.root, 'victim'))) },
  { name: 'overlay: lnk/.wh.x with lnk → /etc makes a 0/0 device at root/etc/x', opts: overlayOpts, layers: async () => [await packTar([d('etc'), f('etc/x'), sl('lnk', '/etc'), f('lnk/.wh.x', '', { uid: 1000, gid: 1000 })])], check: (s) => { const st = lstatSync(join(s.root, 'etc/x')); assert.ok(st.isCharacterDevice()); assert.equal(st.rdev, 0); assert.equal(st.uid, 1000); assert.equal(st.mode & 0o7777, 0); } },
  { name: 'overlay: the opaque marker sets trusted.overlay.opaque=y', opts: overlayOpts, layers: one(d('o'), f('o/.wh..wh..opq', ''), f('o/new')), check: (s) => { assert.equal(getXattr(join(s.root, 'o'), 'trusted.overlay.opaque')?.toString(), 'y'); assert.deepEqual(readdirSync(join(s.root, 'o')), ['new']); } },
  // ---- xattrs ----
  {
    name: 'trusted.overlay.* and user.overlay.* from the archive are dropped, user.* kept',
    layers: one(d('o', { pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.overlay.redirect': '/x', 'SCHILY.xattr.user.keep': 'v' } })),
    check: (s, o) => { const p = join(s.root, 'o'); assert.equal(getXattr(p, 'trusted.overlay.opaque'), undefined); assert.equal(getXattr(p, 'user.overlay.redirect'), undefined); assert.equal(getXattr(p, 'user.keep')?.toString(), 'v'); assert.equal(okResult(o).skipped.xattrs, 2); },
  },
  {
    name: 'overlay mode: a forged opaque xattr does not make a dir opaque',
    opts: overlayOpts,
    layers: one(d('o', { pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } })),
    check: (s) => assert.equal(getXattr(join(s.root, 'o'), 'trusted.overlay.opaque'), undefined),
  },
  { name: 'binary xattr values survive byte for byte', layers: () => [tarBytes(paxEntry([['SCHILY.xattr.user.bin', Buffer.from([0, 0xff, 0x10, 0x80])]]), rawEntry({ name: 'bin' }, 'b'))], check: (s) => assert.deepEqual([...getXattr(join(s.root, 'bin'), 'user.bin')!], [0, 0xff, 0x10, 0x80]) },
  // ---- devices, FIFOs, modes ----
  { name: 'a character device as root', layers: one({ name: 'null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 }), check: (s) => { const st = lstatSync(join(s.root, 'null')); assert.ok(st.isCharacterDevice()); assert.equal(st.rdev, (1 << 8) | 3); assert.equal(st.mode & 0o7777, 0o666); } },
  { name: 'device major out of range', layers: () => [tarBytes(rawEntry({ name: 'blk', typeflag: '4', devmajor: 4096 }))], error: /device number 4096:0 is out of range/ },
  { name: 'device minor out of range', layers: () => [tarBytes(rawEntry({ name: 'chr', typeflag: '3', devminor: 1 << 20 }))], error: /out of range/ },
  { name: 'devices are skipped without the privilege', opts: { devices: false }, layers: one({ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }), check: (s, o) => { assert.equal(okResult(o).skipped.devices, 1); assert.ok(!existsSync(join(s.root, 'null'))); } },
  { name: 'a FIFO', layers: one({ name: 'p', type: 'fifo', mode: 0o640 }), check: (s) => { assert.ok(isType(s, 'p', 'fifo')); assert.equal(lstatSync(join(s.root, 'p')).mode & 0o777, 0o640); } },
  {
    name: 'setuid, setgid and sticky survive the chown',
    layers: one(f('suid', 'x', { mode: 0o4755, uid: 1000, gid: 1000 }), f('sgid', 'x', { mode: 0o2755, gid: 50 }), d('tmp', { mode: 0o1777 })),
    check: (s) => { const m = (r: string) => lstatSync(join(s.root, r)).mode & 0o7777; assert.equal(m('suid'), 0o4755); assert.equal(lstatSync(join(s.root, 'suid')).uid, 1000); assert.equal(m('sgid'), 0o2755); assert.equal(m('tmp'), 0o1777); },
  },
  { name: 'mode bits beyond 07777 are ignored', layers: () => [tarBytes(rawEntry({ name: 'm', mode: 0o170755 }, 'x'))], check: (s) => { assert.equal(lstatSync(join(s.root, 'm')).mode & 0o7777, 0o755); assert.ok(isType(s, 'm', 'file')); } },
  // ---- the same path twice ----
  { name: 'file then dir', layers: one(f('p'), d('p'), f('p/q')), check: (s) => assert.ok(isType(s, 'p', 'dir')) },
  { name: 'dir then file', layers: one(d('p'), f('p/q'), f('p', 'file')), check: (s) => { assert.ok(isType(s, 'p', 'file')); assert.equal(content(s, 'p'), 'file'); } },
  { name: 'file then symlink', layers: one(f('p', '1'), sl('p', '/etc/passwd')), check: (s) => assert.equal(readlinkSync(join(s.root, 'p')), '/etc/passwd') },
  { name: 'symlink to outside then file: the link is replaced, not written through', layers: (s) => one(sl('p', s.victim + '/hello'), f('p', 'x'))(), check: (s) => { assert.ok(isType(s, 'p', 'file')); assert.equal(content(s, 'p'), 'x'); } },
  { name: 'symlink to outside then dir: the link is replaced', layers: one(sl('p', '../victim'), d('p', { mode: 0o700 })), check: (s) => { assert.ok(isType(s, 'p', 'dir')); assert.deepEqual(readdirSync(join(s.root, 'p')), []); } },
  { name: 'dir, then symlink to /, then a file under it', layers: one(d('p'), f('p/a'), sl('p', '/'), f('p/b', 'b')), check: (s) => { assert.equal(content(s, 'b'), 'b'); assert.ok(!existsSync(join(s.root, 'a'))); } },
  { name: 'symlink to outside then a whiteout of it removes only the link', layers: async () => [await packTar([sl('p', '../victim')]), await packTar([f('.wh.p', '')])], check: (s) => assert.ok(!existsSync(join(s.root, 'p'))) },
  // ---- framing ----
  { name: 'a 100 MB PAX header is refused before it is read', layers: () => [Buffer.concat([rawHeader({ name: 'PaxHeader', typeflag: 'x', size: 100 << 20 }), Buffer.alloc(4096, 0x41)])], error: /PAX header of 104857600 bytes exceeds the limit/ },
  { name: 'a 1 GB GNU long name is refused before it is read', layers: () => [Buffer.concat([rawHeader({ name: '././@LongLink', typeflag: 'L', size: 1 << 30, format: 'gnu' }), Buffer.alloc(4096, 0x41)])], error: /GNU long name of 1073741824 bytes exceeds/ },
  { name: 'NUL in a PAX path', layers: () => [tarBytes(paxEntry([['path', Buffer.from('a\0b')]]), rawEntry({ name: 'x' }))], error: /NUL in PAX path/ },
  { name: 'malformed PAX record', layers: () => [tarBytes(rawEntry({ name: 'P', typeflag: 'x' }, '99 path=x\n'), rawEntry({ name: 'x' }))], error: /PAX record length out of range/ },
  { name: 'a GNU long name wins over a PAX path (Go)', layers: () => [tarBytes(rawEntry({ name: '././@LongLink', typeflag: 'L', format: 'gnu' }, 'gnu-name\0'), paxEntry([['path', 'pax-name']]), rawEntry({ name: 'ustar-name' }, 'x'))], check: (s) => assert.deepEqual(readdirSync(s.root), ['gnu-name']) },
  { name: 'a global PAX header is ignored', layers: () => [tarBytes(paxEntry([['path', '../../evil']], 'g'), rawEntry({ name: 'own' }, 'x'))], check: (s) => assert.deepEqual(readdirSync(s.root), ['own']) },
  { name: 'long names through PAX', layers: one(f('d'.repeat(200) + '/' + 'n'.repeat(250), 'long')), check: (s) => assert.equal(content(s, 'd'.repeat(200) + '/' + 'n'.repeat(250)), 'long') },
  { name: 'a 4097-byte path', layers: one(f(('a'.repeat(200) + '/').repeat(20) + 'b'.repeat(77))), error: /longer than 4096 bytes/ },
  { name: 'a 4096-byte path is refused by the kernel below the root, cleanly', layers: one(f(('a'.repeat(200) + '/').repeat(20) + 'b'.repeat(76))), error: /ENAMETOOLONG/ },
  { name: '10 000-deep nesting', layers: () => [tarBytes(paxEntry([['path', 'a/'.repeat(10_000) + 'x']]), rawEntry({ name: 'x' }))], error: /longer than 4096 bytes|deeper than/ },
  { name: 'invalid UTF-8 in a name', layers: () => [tarBytes(rawEntry({ name: Buffer.from([0x66, 0xff, 0xfe]) }, 'x'))], error: /not valid UTF-8/ },
  { name: 'names that collide only after Unicode normalization stay distinct', layers: one(f('caf\u00e9', 'nfc'), f('cafe\u0301', 'nfd')), check: (s) => { assert.equal(content(s, 'caf\u00e9'), 'nfc'); assert.equal(content(s, 'cafe\u0301'), 'nfd'); } },
  { name: 'truncated inside entry data', layers: async () => [(await packTar([f('big', Buffer.alloc(5000, 1))])).subarray(0, 512 + 3000)], error: /truncated/ },
  { name: 'truncated inside a header', layers: async () => [(await packTar([f('a'), f('b')])).subarray(0, 1024 + 100)], error: /truncated/ },
  { name: 'EOF inside the padding after the last data is a normal end (Go)', layers: async () => [(await packTar([f('a', 'abc')])).subarray(0, 512 + 100)], check: (s) => assert.equal(content(s, 'a'), 'abc') },
  { name: 'EOF one byte short of the data is truncated', layers: async () => [(await packTar([f('a', 'abc')])).subarray(0, 512 + 2)], error: /truncated/ },
  { name: 'EOF right after an entry (no end marker) is a normal end', layers: async () => [Buffer.concat([rawEntry({ name: 'a' }, 'abc')])], check: (s) => assert.equal(content(s, 'a'), 'abc') },
  { name: 'EOF after one zero block is a normal end', layers: async () => [Buffer.concat([rawEntry({ name: 'a' }, 'abc'), Buffer.alloc(512)])], check: (s) => assert.equal(content(s, 'a'), 'abc') },
  { name: 'a zero block followed by a header', layers: () => [Buffer.concat([rawEntry({ name: 'a' }, 'abc'), Buffer.alloc(512), rawEntry({ name: 'b' }, 'x'), END])], error: /zero block is followed by another header/ },
  {
    name: 'trailing garbage after the end marker is tolerated and hashed (diff ID of the whole stream)',
    layers: () => [Buffer.concat([rawEntry({ name: 'a' }, 'abc'), END, Buffer.from('garbage after the end'), Buffer.alloc(700, 0x42)])],
    check: (s, o) => { const r = okResult(o); const whole = Buffer.concat([rawEntry({ name: 'a' }, 'abc'), END, Buffer.from('garbage after the end'), Buffer.alloc(700, 0x42)]); assert.equal(r.diffID, sha(whole)); assert.equal(r.size, whole.length); assert.deepEqual(readdirSync(s.root), ['a']); },
  },
  { name: 'a header checksum mismatch', layers: () => [tarBytes(rawEntry({ name: 'a', badChecksum: true }, 'x'))], error: /checksum mismatch/ },
  { name: 'not a tar at all', layers: () => [Buffer.from('<html>this is not a layer</html>'.repeat(40))], error: /invalid tar archive/ },
  { name: 'a base-256 size is read like Go', layers: () => [tarBytes(rawEntry({ name: 'b256', size: base256(3n, 12) }, 'abc'))], check: (s) => assert.equal(content(s, 'b256'), 'abc') },
  { name: 'a uid of 2^32 (base-256) would wrap to root: refused', layers: () => [tarBytes(rawEntry({ name: 'u', uid: base256(1n << 32n, 8) }, 'x'))], error: /uid 4294967296 is out of range/ },
  { name: 'a negative uid: refused', layers: () => [tarBytes(rawEntry({ name: 'u', uid: base256(-1n, 8) }, 'x'))], error: /uid -1 is out of range/ },
  { name: 'a PAX gid of 4294967295 ("unchanged" to chown): refused', layers: () => [tarBytes(paxEntry([['gid', '4294967295']]), rawEntry({ name: 'g' }, 'x'))], error: /gid 4294967295 is out of range/ },
  { name: 'PAX uid/gid above the octal field range are applied', layers: () => [tarBytes(paxEntry([['uid', '3000000'], ['gid', '3000001']]), rawEntry({ name: 'big-ids' }, 'x'))], check: (s) => { const st = lstatSync(join(s.root, 'big-ids')); assert.equal(st.uid, 3_000_000); assert.equal(st.gid, 3_000_001); } },
  { name: "a '0' entry named x/ is a regular file (Go), not a directory", layers: () => [tarBytes(rawEntry({ name: 'x/', typeflag: '0' }))], check: (s) => assert.ok(isType(s, 'x', 'file')) },
  { name: 'a NUL-type entry named x/ is a directory (legacy)', layers: () => [tarBytes(rawEntry({ name: 'x/', typeflag: '\0' }))], check: (s) => assert.ok(isType(s, 'x', 'dir')) },
  { name: 'a NUL-type entry whose PAX path ends in / is a directory', layers: () => [tarBytes(paxEntry([['path', 'pd/']]), rawEntry({ name: 'pd', typeflag: '\0' }), rawEntry({ name: 'after' }, 'ok'))], check: (s) => { assert.ok(isType(s, 'pd', 'dir')); assert.equal(content(s, 'after'), 'ok'); } },
  { name: 'the same with data (Go reads none for it, tar-stream would): refused', layers: () => [tarBytes(paxEntry([['path', 'pd/']]), rawEntry({ name: 'pd', typeflag: '\0' }, 'abc'), rawEntry({ name: 'after' }, 'ok'))], error: /named like a directory carries data/ },
  { name: 'a regular entry named x/ carrying data is ambiguous: refused', layers: () => [tarBytes(rawEntry({ name: 'x/' }, 'abc'))], error: /regular entry named like a directory carries data/ },
  { name: 'a symlink entry carrying data', layers: () => [tarBytes(rawEntry({ name: 's', typeflag: '2', linkname: 't', size: 10 }, Buffer.alloc(10)))], error: /symlink entry carries 10 bytes/ },
  { name: 'a GNU sparse file', layers: () => [tarBytes(rawEntry({ name: 'sparse', typeflag: 'S', format: 'gnu' }, 'x'))], error: /sparse files are not supported/, category: 'not-implemented' },
  { name: 'a PAX sparse file', layers: () => [tarBytes(paxEntry([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0']]), rawEntry({ name: 'sparse' }, 'x'))], error: /sparse files are not supported/, category: 'not-implemented' },
  { name: 'a 1 TB apparent size with little data: truncated, nothing huge written', layers: () => [Buffer.concat([rawHeader({ name: 'huge', size: 2 ** 40 }), Buffer.alloc(1024, 7)])], error: /truncated/, check: (s) => assert.ok(!existsSync(join(s.root, 'huge')) || statSync(join(s.root, 'huge')).size <= 1024) },
  { name: 'an unknown entry type', layers: () => [tarBytes(rawEntry({ name: 'v', typeflag: 'V' }))], error: /unhandled tar header type "V"/ },
  { name: 'a contiguous file (type 7), unhandled as in containerd', layers: () => [tarBytes(rawEntry({ name: 'c', typeflag: '7' }, 'x'))], error: /unhandled tar header type "7"/ },
  { name: 'an mtime past 2262 is clamped to the epoch', layers: () => [tarBytes(paxEntry([['mtime', '1099511627776']]), rawEntry({ name: 'future' }, 'x'))], check: (s) => assert.equal(lstatSync(join(s.root, 'future'), { bigint: true }).mtimeNs, 0n) },
  { name: 'a negative mtime is clamped to the epoch', layers: () => [tarBytes(rawEntry({ name: 'past', mtime: base256(-86400n, 12) }, 'x'))], check: (s) => assert.equal(lstatSync(join(s.root, 'past'), { bigint: true }).mtimeNs, 0n) },
  { name: 'a PAX mtime keeps its nanoseconds; directories get theirs after their contents', layers: () => [tarBytes(paxEntry([['mtime', '1700000000.123456789']]), rawEntry({ name: 'dir/', typeflag: '5', mode: 0o755 }), rawEntry({ name: 'dir/f' }, 'x'))], check: (s) => { assert.equal(statNs(join(s.root, 'dir')), '1700000000.123456789'); assert.equal(lstatSync(join(s.root, 'dir/f')).mtimeMs, 1704067200000); } },
  // ---- compression ----
  { name: 'gzip', layers: async () => [gzipSync(await packTar([f('g', 'zipped')]))], check: (s, o) => { assert.equal(okResult(o).compression, 'gzip'); assert.equal(content(s, 'g'), 'zipped'); } },
  { name: 'concatenated gzip members', layers: async () => { const t = await packTar([f('a', 'A'.repeat(3000)), f('b', 'B')]); return [Buffer.concat([gzipSync(t.subarray(0, 1000)), gzipSync(t.subarray(1000))])]; }, check: (s, o) => { assert.equal(okResult(o).diffID.length, 71); assert.equal(content(s, 'b'), 'B'); } },
  { name: 'garbage after the last gzip member', layers: async () => [Buffer.concat([gzipSync(await packTar([f('a')])), Buffer.from('garbage!')])], error: /invalid gzip data/ },
  { name: 'a corrupted gzip stream', layers: async () => { const z = gzipSync(await packTar([f('a', Buffer.alloc(20000, 3))])); z[z.length >> 1] ^= 0xff; return [z]; }, error: /invalid gzip data|invalid tar archive/ },
  { name: 'a gzip bomb stops at the byte limit', opts: { limits: { maxBytes: 8 << 20 } }, layers: async () => [gzipSync(Buffer.concat([rawHeader({ name: 'bomb', size: 64 << 20 }), Buffer.alloc(64 << 20)]), { level: 9 })], error: /larger than the limit of 8388608 uncompressed bytes/ },
  { name: 'a wrong diff ID', opts: { expectedDiffID: 'sha256:' + '0'.repeat(64) }, layers: one(f('a')), error: /wrong diff id/, category: 'failed-precondition' },
  { name: 'too many entries', opts: { limits: { maxEntries: 3 } }, layers: one(f('a'), f('b'), f('c'), f('d')), error: /more than 3 entries/ },
];

function zstdAvailable(): boolean {
  return spawnSync('zstd', ['--version']).status === 0;
}

/** A zstd frame whose header demands a 2 GiB window (Window_Descriptor exponent 21), with one raw block. */
function bigWindowZstd(payload: Buffer): Buffer {
  const block = Buffer.alloc(3);
  block.writeUIntLE(1 | (0 << 1) | (payload.length << 3), 0, 3);
  return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3]), block, payload]);
}

if (zstdAvailable()) {
  cases.push(
    { name: 'zstd', layers: async () => [spawnSync('zstd', ['-c', '-q'], { input: await packTar([f('z', 'zstd')]) }).stdout], check: (s, o) => { assert.equal(okResult(o).compression, 'zstd'); assert.equal(content(s, 'z'), 'zstd'); } },
    { name: 'a zstd frame with a window over 128 MiB', layers: async () => [bigWindowZstd(await packTar([f('z')]))], error: /invalid zstd data/ },
  );
}

describe('hostile layer corpus', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const opts = (s: Scene) => ({ mode: 'native', ...(typeof c.opts === 'function' ? c.opts(s) : c.opts) }) as ApplyOptions;
      await applyInScene(c.layers, opts, (s, o) => {
        if (c.error) {
          assert.ok(!o.ok, `expected an error matching ${c.error}, the apply succeeded`);
          assert.match(o.error.message, c.error);
          if (c.category) assert.equal(o.error.category, c.category);
        } else if (!o.ok) {
          assert.fail(`unexpected error: ${o.error.message} (${o.error.subject})`);
        }
        c.check?.(s, o);
      });
    });
  }
  test(`corpus size: ${cases.length} cases`, () => assert.ok(cases.length >= 60));
});

describe('opaque directories and resource exhaustion', () => {
  const lower = () => packTar([d('o'), f('o/old'), f('o/keep', 'lower'), d('o/sub'), f('o/sub/z'), d('o/kept'), f('o/kept/inner')]);
  const upper = (markerFirst: boolean) => {
    const marker = f('o/.wh..wh..opq', '');
    const rest = [d('o'), f('o/keep', 'upper'), f('o/new'), d('o/kept'), f('o/kept/fresh')];
    return packTar(markerFirst ? [rest[0]!, marker, ...rest.slice(1)] : [...rest, marker]);
  };

  test('native: the opaque marker before or after its siblings gives the same tree', async () => {
    const trees: ReturnType<typeof snapshot>[] = [];
    for (const first of [true, false]) {
      await applyInScene(async () => [await lower(), await upper(first)], { mode: 'native' }, (s, o) => {
        okResult(o);
        assert.deepEqual(readdirSync(join(s.root, 'o')).sort(), ['keep', 'kept', 'new']);
        assert.equal(content(s, 'o/keep'), 'upper');
        assert.deepEqual(readdirSync(join(s.root, 'o/kept')), ['fresh']);
        trees.push(snapshot(s.root));
      });
    }
    assert.deepEqual(diffTrees(trees[0]!, trees[1]!, ['ino', 'mtimeNs']), []);
  });

  test('the disk filling up during a file: a clean "no space" error', async () => {
    await applyInScene(
      async (s) => {
        const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'ctrx-test-space', s.root], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        return [await packTar([f('big', Buffer.alloc(4 << 20, 1))])];
      },
      { mode: 'native' },
      (_s, o) => {
        assert.ok(!o.ok);
        assert.equal(o.error.category, 'unavailable');
        assert.match(o.error.message, /extracting file: no space left on device/);
        assert.match(o.error.subject ?? '', /big/);
      },
    );
  });

  test('inodes running out: a clean "no space" error', async () => {
    const entries = Array.from({ length: 400 }, (_, i) => f(`f${i}`, ''));
    await applyInScene(
      async (s) => {
        const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,nr_inodes=100', 'ctrx-test-inodes', s.root], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        return [await packTar(entries)];
      },
      { mode: 'native' },
      (_s, o) => {
        assert.ok(!o.ok);
        assert.equal(o.error.category, 'unavailable');
        assert.match(o.error.message, /no space left on device/);
      },
    );
  });
});


