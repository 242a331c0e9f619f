/**
 * Differential test against containerd 1.6: the rig's fixture images are
 * imported (and unpacked) by a private containerd, and the same layer blobs
 * are applied with applyLayer into fresh dirs the way containerd's overlay
 * snapshotter does it (layer 0 without parents, then overlay mode with the
 * lower dirs nearest first). Every layer's tree must match containerd's
 * `snapshots/<id>/fs`: paths, types, modes, owners, sizes, contents, mtimes,
 * xattrs (opaque markers included), symlink targets, device numbers of
 * whiteouts and hardlink groups; and the digests must equal the diff_ids.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { applyLayer } from '../../../src/archive/apply.js';
import { writeDiff } from '../../../src/archive/diff.js';
import { readTar } from '../../../src/archive/tar.js';
import { Digester } from '../../../src/digest.js';
import { startContainerd, type Containerd } from '../../helpers/containerd.js';
import { buildFixture, fixtureUnavailable, LAYERED, type FixtureName } from '../../helpers/fixtures.js';
import { assembleImage, platformImage, sha256, writeOciArchive, type Image } from '../../helpers/oci.js';
import { cleanupTempDirs, makeTempDir } from '../../helpers/tmp.js';
import { diffTrees, linkGroups, snapshot, type Node } from '../../unit/archive/tree.js';
import { END, packTar, paxEntry, rawEntry, type PackEntry } from '../../unit/archive/util.js';

const skip = fixtureUnavailable('layered');
let cd: Containerd | undefined;
let work: string;

before(async () => {
  if (skip) return;
  cd = await startContainerd();
  work = makeTempDir('ctrx-archive-diff-');
});

after(async () => {
  await cd?.stop();
  cleanupTempDirs();
});

function chainIDs(diffIDs: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIDs) out.push(out.length ? sha256(`${out[out.length - 1]} ${d}`) : d);
  return out;
}

/** containerd's fs dirs for each layer of an imported image, bottom first (from the lowerdir of a probe snapshot). */
async function containerdLayerDirs(c: Containerd, top: string, probe: string): Promise<string[]> {
  await c.ctrOk(['snapshots', 'prepare', probe, top]);
  const out = (await c.ctrOk(['snapshots', 'mounts', '/mnt', probe])).stdout;
  await c.ctrOk(['snapshots', 'rm', probe]);
  const m = /lowerdir=(\S+)/.exec(out);
  assert.ok(m, `no lowerdir in ${out}`);
  return m[1]!.split(':').reverse();
}

const f = (name: string, data: string | Buffer = 'x', extra: Partial<PackEntry> = {}): PackEntry => ({ name, type: 'file', data, mode: 0o644, ...extra });
const d = (name: string, extra: Partial<PackEntry> = {}): PackEntry => ({ name, type: 'directory', mode: 0o755, ...extra });
const sl = (name: string, linkname: string): PackEntry => ({ name, type: 'symlink', linkname, mode: 0o777 });
const hl = (name: string, linkname: string): PackEntry => ({ name, type: 'link', linkname, mode: 0o644 });

/** pack's tar without its end marker, so raw entries can follow. */
async function packBody(entries: PackEntry[]): Promise<Buffer> {
  const t = await packTar(entries);
  return t.subarray(0, t.length - 1024);
}

/**
 * Valid but unusual layers, to compare the Go rules themselves: owners and
 * special modes, PAX nanosecond mtimes and binary xattrs, devices, links of
 * every kind, absolute and `..` names, paths replaced by other types, implicit
 * parents (with and without a lower dir to copy from, and below a lower
 * symlink), GNU and PAX long names, whiteouts, opaque markers before and after
 * their siblings, and trailing data after the end of the archive.
 */
async function edgeImage(): Promise<Image> {
  const l0 = Buffer.concat([
    await packBody([
      d('dirs/private', { mode: 0o700, uid: 1000, gid: 1000 }), d('dirs/sticky', { mode: 0o1777 }), d('dirs/setgid', { mode: 0o2755, gid: 50 }),
      f('files/suid', 'x', { mode: 0o4755, uid: 1000 }), f('files/owned', 'o', { uid: 1234, gid: 5678, mode: 0o640 }),
      { name: 'fifo', type: 'fifo', mode: 0o600 }, { name: 'devnull', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      sl('links/abs', '/etc/passwd'), sl('links/rel', '../files/owned'), sl('links/dangling', 'nowhere'),
      f('links/target', 't'), hl('links/hard', 'links/target'), hl('links/hard2', '/links/target'),
      sl('links/sym-for-hl', 'target'), hl('links/hl-to-sym', 'links/sym-for-hl'),
      f('/abs/file'), f('../up/file'), f('./dot/file'),
      d('replaced-dir'), f('replaced-dir/x'), f('replaced-dir', 'now a file'),
      f('replaced-file'), d('replaced-file'), f('replaced-file/inner'),
      f('implicit/a/b', 'deep'), f('long/' + 'n'.repeat(120) + '/' + 'm'.repeat(200)),
      d('lowerdir', { mode: 0o750, uid: 1000, pax: { 'SCHILY.xattr.user.dirattr': 'v' } }),
      d('opq1'), f('opq1/a'), f('opq1/b'), d('opq2'), f('opq2/a'),
      d('wh'), f('wh/file'), d('wh/dir'), f('wh/dir/x'), d('real'), f('real/old'), sl('lnk', '/real'), sl('symparent', 'real'),
    ]),
    paxEntry([['mtime', '1700000000.123456789'], ['atime', '1700000001.5'], ['SCHILY.xattr.user.bin', Buffer.from([0, 0xff, 0x80, 1])]]),
    rawEntry({ name: 'files/nsmtime' }, 'ns'),
    rawEntry({ name: '././@LongLink', typeflag: 'L', format: 'gnu' }, 'gnu/' + 'g'.repeat(150) + '\0'),
    rawEntry({ name: 'gnu-short' }, 'gnu'),
    rawEntry({ name: 'legacy-file/', typeflag: '0' }),
    rawEntry({ name: 'legacy-dir/', typeflag: '\0', mode: 0o700 }),
    paxEntry([['path', 'legacy-pax-dir/']]),
    rawEntry({ name: 'legacy-pax', typeflag: '\0', mode: 0o750 }),
    END,
    Buffer.from('trailing data after the end of the archive'),
  ]);
  const l1 = await packTar([
    f('.wh.fifo', ''), f('wh/.wh.file', ''), f('wh/.wh.dir', ''),
    d('opq1'), f('opq1/c'), f('opq1/.wh..wh..opq', ''), d('opq2'), f('opq2/.wh..wh..opq', ''), f('opq2/z'),
    f('lnk/new'), f('lowerdir/sub/new'), f('symparent/x'), d('dirs/private', { mode: 0o755 }),
  ]);
  const l2 = await packTar([f('.wh.implicit', ''), f('h/a', 'a'), hl('h/b', 'h/a'), f('files/owned', 'replaced', { uid: 7, gid: 8, mode: 0o600 })]);
  return assembleImage({ layers: [{ tar: l0 }, { tar: l1 }, { tar: l2 }], config: { Cmd: ['sh'] } });
}

const started = BigInt(Date.now() - 1000) * 1_000_000n;

async function compareImage(name: FixtureName | 'edge'): Promise<{ layers: number; paths: number; theirs: Map<string, Node>[]; mine: Map<string, Node>[] }> {
  const c = cd!;
  const image: Image = name === 'edge' ? await edgeImage() : await buildFixture(name);
  const ref = `docker.io/library/${name}:diff`;
  const archive = join(work, `${name}.tar`);
  await writeOciArchive(image, archive, { name: ref });
  await c.ctrOk(['images', 'import', archive]);
  const p = platformImage(image);
  const diffIDs = p.config.rootfs.diff_ids;
  const chain = chainIDs(diffIDs);
  const theirDirs = await containerdLayerDirs(c, chain[chain.length - 1]!, `probe-${name}`);
  assert.equal(theirDirs.length, diffIDs.length);

  const mineDirs: string[] = [];
  const theirs: Map<string, Node>[] = [];
  const mine: Map<string, Node>[] = [];
  let paths = 0;
  for (const [i, layer] of p.manifest.layers.entries()) {
    const fs = join(work, name, String(i), 'fs');
    mkdirSync(fs, { recursive: true, mode: 0o755 });
    const r = await applyLayer(Readable.from([image.blobs.get(layer.digest)!]), fs, { mode: 'overlay', parents: [...mineDirs].reverse() });
    assert.equal(r.diffID, diffIDs[i], `layer ${i}: uncompressed digest = diff_ids[${i}]`);
    assert.equal(r.compression, 'gzip');
    mineDirs.push(fs);
    const a = snapshot(theirDirs[i]!);
    const b = snapshot(fs);
    // Made at apply time, not from the layer: the fs dir itself (by the snapshotter) and
    // overlay whiteout devices (containerd's mknod sets no times). Their mtimes are when they were made.
    a.get('')!.mtimeNs = b.get('')!.mtimeNs = 0n;
    for (const t of [a, b]) for (const n of t.values()) if (n.type === 'char' && n.rdev === 0) n.mtimeNs = 0n;
    // Parent dirs a layer implies without an entry of their own are likewise dated "now" on both sides.
    for (const [k, n] of a) {
      const m = b.get(k);
      if (n.type === 'dir' && m?.type === 'dir' && n.mtimeNs > started && m.mtimeNs > started) n.mtimeNs = m.mtimeNs = 0n;
    }
    const diff = diffTrees(a, b, ['ino']);
    assert.deepEqual(diff, [], `layer ${i} of ${name} differs from containerd's snapshots/${theirDirs[i]!.split('/').slice(-2, -1)[0]}/fs`);
    assert.deepEqual(linkGroups(a), linkGroups(b), `layer ${i}: hardlink groups`);
    paths += a.size;
    theirs.push(a);
    mine.push(b);
  }
  return { layers: diffIDs.length, paths, theirs, mine };
}

describe('applyLayer against containerd 1.6', { skip }, () => {
  test('busybox (one layer) unpacks to the same tree', async (t) => {
    const r = await compareImage('busybox');
    t.diagnostic(`busybox: ${r.layers} layer, ${r.paths} paths identical`);
    assert.ok(r.paths > 100);
  });

  test('layered (whiteouts, opaque dir, hardlinks, symlink, setuid, xattr, FIFO) unpacks to the same trees', async (t) => {
    const r = await compareImage('layered');
    t.diagnostic(`layered: ${r.layers} layers, ${r.paths} paths identical`);
    // The comparison covered what the fixture is for, in containerd's form.
    const top = r.mine[r.mine.length - 1]!;
    const rel = (p: string) => p.slice(1);
    for (const gone of [LAYERED.whitedOutFile, LAYERED.whitedOutDir]) {
      const n = top.get(rel(gone));
      assert.equal(n?.type, 'char', `${gone} is a whiteout device`);
      assert.equal(n?.rdev, 0);
    }
    assert.equal(Buffer.from(top.get(rel(LAYERED.opaqueDir))!.xattrs['trusted.overlay.opaque']!, 'base64').toString(), 'y');
    assert.equal(top.get(rel(LAYERED.symlink.path))?.target, LAYERED.symlink.target);
    assert.deepEqual(linkGroups(top), [LAYERED.hardlinks.map(rel)]);
    const all = new Map(r.mine.flatMap((m) => [...m]));
    assert.equal(all.get(rel(LAYERED.setuid.path))?.mode, LAYERED.setuid.mode);
    assert.equal(Buffer.from(all.get(rel(LAYERED.xattr.path))!.xattrs[LAYERED.xattr.name]!, 'base64').toString(), LAYERED.xattr.value);
    assert.equal(all.get(rel(LAYERED.fifo))?.type, 'fifo');
  });

  test('unusual but valid layers unpack to the same trees', async (t) => {
    const r = await compareImage('edge');
    t.diagnostic(`edge: ${r.layers} layers, ${r.paths} paths identical`);
    const [l0, l1] = r.mine;
    // stat(1): Deno's lstat reports milliseconds only.
    const nsmtime = spawnSync('stat', ['-c', '%.9Y', join(work, 'edge', '0', 'fs', 'files', 'nsmtime')], { encoding: 'utf8' }).stdout.trim();
    assert.equal(nsmtime, '1700000000.123456789');
    assert.equal(l0!.get('devnull')?.type, 'char');
    assert.deepEqual(['legacy-file', 'legacy-dir', 'legacy-pax-dir'].map((k) => l0!.get(k)?.type), ['file', 'dir', 'dir']);
    assert.equal(l1!.get('lnk')?.type, 'dir', 'a file below a lower symlink makes a real dir in the upper, as containerd does');
    assert.equal(l1!.get('lowerdir')?.mode, 0o750, 'an implicit parent copies the lower dir');
    assert.equal(l1!.get('lowerdir')?.uid, 1000);
  });

  test('writeDiff gives the entries of `ctr snapshots diff` for each layer of the layered and edge images', async (t) => {
    const c = cd!;
    let compared = 0;
    for (const name of ['layered', 'edge'] as const) {
      const image: Image = name === 'edge' ? await edgeImage() : await buildFixture(name);
      const archive = join(work, `${name}-d.tar`);
      await writeOciArchive(image, archive, { name: `docker.io/library/${name}:diffs` });
      await c.ctrOk(['images', 'import', archive]);
      const p = platformImage(image);
      const chain = chainIDs(p.config.rootfs.diff_ids);
      // Overlay upper dirs as containerd unpacks them, seen through read-only overlay mounts like its views.
      const uppers: string[] = [];
      const views: string[] = [];
      for (const [i, layer] of p.manifest.layers.entries()) {
        const fs = join(work, `${name}-layers`, String(i));
        mkdirSync(fs, { recursive: true, mode: 0o755 });
        await applyLayer(Readable.from([image.blobs.get(layer.digest)!]), fs, { mode: 'overlay', parents: [...uppers].reverse() });
        uppers.push(fs);
        let view = fs;
        if (i > 0) {
          view = join(work, `${name}-view`, String(i));
          mkdirSync(view, { recursive: true });
          const m = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${[...uppers].reverse().join(':')}`, view], { encoding: 'utf8' });
          assert.equal(m.status, 0, m.stderr);
        }
        views.push(view);
        if (i === 0) continue;
        const r = spawnSync('ctr', ['--address', c.address, 'snapshots', 'diff', '--media-type', 'application/vnd.oci.image.layer.v1.tar', chain[i]!], { maxBuffer: 1 << 28, timeout: 60_000 });
        assert.equal(r.status, 0, r.stderr.toString());
        const parts: Buffer[] = [];
        for await (const b of writeDiff(views[i - 1], view)) parts.push(b);
        const [theirs, mine] = [await entriesOf(r.stdout), await entriesOf(Buffer.concat(parts))];
        assert.deepEqual(mine, theirs, `${name}: diff of layer ${i} (${layer.digest}) differs from containerd's`);
        compared += theirs.length;
      }
      for (const v of views.slice(1).reverse()) spawnSync('umount', [v]);
    }
    t.diagnostic(`${compared} diff entries identical to containerd's`);
    assert.ok(compared > 20);
  });
});

/** A tar's entries for comparison; times made at apply time (whiteouts, implied dirs) are left out. */
async function entriesOf(tar: Buffer): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readTar(Readable.from([tar]), new Digester())) {
    const d = new Digester();
    for await (const chunk of e.body) d.update(chunk);
    const name = e.name.toString();
    const base = name.split('/').filter(Boolean).pop() ?? '';
    const recent = e.mtimeNs > started;
    const mtime = base.startsWith('.wh.') || (e.typeflag === '5' && recent) ? '-' : String(e.mtimeNs);
    const xattrs = [...e.pax].filter(([k]) => k.startsWith('SCHILY.xattr.')).map(([k, v]) => `${k}=${v.toString('hex')}`);
    out.push([name, e.typeflag, e.linkname.toString(), e.mode.toString(8), e.uid, e.gid, d.size, d.digest().slice(7, 19), mtime, `${e.devmajor}:${e.devminor}`, ...xattrs].join(' '));
  }
  return out;
}

