/**
 * writeDiff round trips: a random lower tree, an upper tree made from it by
 * random changes (add, modify with and without a size change, same-second
 * content changes, chmod/chown, delete, type replacements, hardlinks,
 * symlinks, FIFOs, file capabilities), the diff applied onto a copy of the
 * lower must give the upper. Seeds are fixed and printed on failure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, lchownSync, linkSync, lutimesSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { applyLayer } from '../../../src/archive/apply.js';
import { changes, directoryCompare, writeDiff } from '../../../src/archive/diff.js';
import { lsetxattr } from '../../../src/platform/index.js';
import { cleanupTempDirs, makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { getXattr } from '../../helpers/xattr.js';
import { diffTrees, snapshot } from './tree.js';

after(() => cleanupTempDirs());

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T0 = 1_700_000_000;
/** A v2 file capability (cap_net_bind_service permitted), which the kernel accepts. */
const CAP = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/** cp -a: hardlinks, FIFOs, xattrs and nanosecond times preserved (Node's cpSync keeps none of them all). */
function copyTree(from: string, to: string): void {
  const r = spawnSync('cp', ['-a', from, to], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

function allPaths(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const n of readdirSync(join(root, rel))) {
    const r = rel ? `${rel}/${n}` : n;
    out.push(r);
    const st = lstatSync(join(root, r));
    if (st.isDirectory()) out.push(...allPaths(root, r));
  }
  return out;
}

function buildLower(root: string, r: () => number): void {
  const dirs = [''];
  for (let i = 0; i < 25; i++) {
    const parent = dirs[Math.floor(r() * dirs.length)]!;
    const name = join(parent, `n${i}${r() < 0.2 ? '-' + 'x'.repeat(Math.floor(r() * 120)) : ''}`);
    const p = join(root, name);
    const x = r();
    if (x < 0.3) {
      mkdirSync(p);
      dirs.push(name);
    } else if (x < 0.8) writeFileSync(p, 'content '.repeat(Math.floor(r() * 20)), { mode: 0o644 });
    else if (x < 0.9) symlinkSync(r() < 0.5 ? '../target' : '/abs', p);
    else spawnSync('mkfifo', [p]);
  }
}

/** Whole-second times everywhere, so the diff's truncation loses nothing. */
function settle(root: string): void {
  for (const rel of allPaths(root).reverse()) {
    const p = join(root, rel);
    if (lstatSync(p).isSymbolicLink()) lutimesSync(p, T0, T0 + 1);
    else utimesSync(p, T0, T0 + (rel.length % 7));
  }
}

function mutate(root: string, r: () => number, log: string[]): void {
  for (let i = 0; i < 12; i++) {
    const paths = allPaths(root);
    const pick = paths.length ? paths[Math.floor(r() * paths.length)]! : undefined;
    const x = r();
    const p = pick ? join(root, pick) : undefined;
    const st = p ? lstatSync(p) : undefined;
    if (!p || x < 0.15) {
      const dir = st?.isDirectory() ? pick! : '';
      const name = join(dir, `add${i}`);
      writeFileSync(join(root, name), `added ${i}`);
      log.push(`add ${name}`);
    } else if (x < 0.3 && st!.isFile()) {
      writeFileSync(p, 'modified '.repeat(1 + Math.floor(r() * 5)));
      log.push(`modify ${pick}`);
    } else if (x < 0.4 && st!.isFile() && st!.size > 0) {
      // same size, same second: only the content tells
      const b = Buffer.alloc(st!.size, 0x5a);
      writeFileSync(p, b);
      log.push(`same-size ${pick}`);
    } else if (x < 0.5 && !st!.isSymbolicLink()) {
      chmodSync(p, r() < 0.5 ? 0o600 : 0o4755);
      log.push(`chmod ${pick}`);
    } else if (x < 0.58) {
      lchownSync(p, 1000 + i, 2000);
      log.push(`chown ${pick}`);
    } else if (x < 0.7) {
      rmSync(p, { recursive: true });
      log.push(`delete ${pick}`);
    } else if (x < 0.78) {
      rmSync(p, { recursive: true });
      if (st!.isDirectory()) writeFileSync(p, 'was a dir');
      else {
        mkdirSync(p);
        writeFileSync(join(p, 'inside'), 'i');
      }
      log.push(`replace ${pick}`);
    } else if (x < 0.86 && st!.isFile()) {
      linkSync(p, join(root, `hl${i}`));
      log.push(`hardlink hl${i} → ${pick}`);
    } else if (x < 0.92 && st!.isFile()) {
      assert.equal(lsetxattr(p, 'security.capability', CAP), 0);
      log.push(`setcap ${pick}`);
    } else {
      symlinkSync(`t${i}`, join(root, `sym${i}`));
      log.push(`symlink sym${i}`);
    }
  }
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

describe('writeDiff', () => {
  test('directoryCompare sorts / before every other byte, as continuity does', () => {
    const paths = ['/a.b', '/a/b', '/a', '/a-b', '/ab'].sort(directoryCompare);
    assert.deepEqual(paths, ['/a', '/a/b', '/a-b', '/a.b', '/ab']);
  });

  test('random changes: the diff applied onto the lower gives the upper', async () => {
    const runs = Number(process.env.CTRX_DIFF_RUNS ?? 40);
    const base = Number(process.env.CTRX_DIFF_SEED ?? 77);
    for (let i = 0; i < runs; i++) {
      const seed = base + i;
      const r = mulberry32(seed);
      const dir = makeTempDir('ctrx-diff-');
      const log: string[] = [];
      try {
        const lower = join(dir, 'lower');
        const upper = join(dir, 'upper');
        const target = join(dir, 'target');
        mkdirSync(lower);
        buildLower(lower, r);
        settle(lower);
        copyTree(lower, upper);
        copyTree(lower, target);
        settle(upper);
        settle(target);
        mutate(upper, r, log);
        settle(upper);
        const tar = await collect(writeDiff(lower, upper));
        await applyLayer(Readable.from([tar]), target, { mode: 'native' });
        const want = snapshot(upper);
        const got = snapshot(target);
        want.get('')!.mtimeNs = got.get('')!.mtimeNs = 0n;
        assert.deepEqual(diffTrees(want, got, ['ino']), []);
      } catch (e) {
        (e as Error).message = `seed ${seed} (CTRX_DIFF_SEED=${seed} CTRX_DIFF_RUNS=1), changes: ${log.join('; ')}\n${(e as Error).message}`;
        throw e;
      } finally {
        removeTempDir(dir);
      }
    }
  });

  test('no lower: every path is added; unchanged trees give an empty diff', async () => {
    const dir = makeTempDir('ctrx-diff-');
    const a = join(dir, 'a');
    mkdirSync(join(a, 'd'), { recursive: true });
    writeFileSync(join(a, 'd', 'f'), 'f');
    const added: string[] = [];
    for await (const c of changes(undefined, a)) added.push(`${c.kind} ${c.path}`);
    assert.deepEqual(added, ['add /d', 'add /d/f']);
    copyTree(a, join(dir, 'b'));
    const tar = await collect(writeDiff(a, join(dir, 'b')));
    assert.equal(tar.length, 1024, 'only the end-of-archive marker');
  });

  test('hardlinks: an unchanged path that shares an inode with a new one is written as a link after it', async () => {
    const dir = makeTempDir('ctrx-diff-');
    const lower = join(dir, 'lower');
    const upper = join(dir, 'upper');
    mkdirSync(lower);
    writeFileSync(join(lower, 'a'), 'same');
    copyTree(lower, upper);
    linkSync(join(upper, 'a'), join(upper, 'z'));
    writeFileSync(join(upper, 'c'), 'new');
    linkSync(join(upper, 'c'), join(upper, 'b-link'));
    const tar = await collect(writeDiff(lower, upper));
    const listed = spawnSync('tar', ['-t', '-v'], { input: tar, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    assert.deepEqual(listed.map((l) => l.replace(/^\S+ \S+ +\d+ \S+ \S+ /, '')), ['b-link', 'c link to b-link', 'z', 'a link to z']);
    const target = join(dir, 'target');
    copyTree(lower, target);
    await applyLayer(Readable.from([tar]), target, { mode: 'native' });
    assert.equal(lstatSync(join(target, 'a')).ino, lstatSync(join(target, 'z')).ino);
    assert.equal(lstatSync(join(target, 'c')).ino, lstatSync(join(target, 'b-link')).ino);
  });

  test('a file capability is carried as SCHILY.xattr.security.capability; other xattrs are not', async () => {
    const dir = makeTempDir('ctrx-diff-');
    const lower = join(dir, 'lower');
    const upper = join(dir, 'upper');
    mkdirSync(lower);
    mkdirSync(upper);
    writeFileSync(join(upper, 'bin'), 'x');
    assert.equal(lsetxattr(join(upper, 'bin'), 'security.capability', CAP), 0);
    assert.equal(lsetxattr(join(upper, 'bin'), 'user.other', Buffer.from('v')), 0);
    const target = join(dir, 'target');
    mkdirSync(target);
    await applyLayer(Readable.from([await collect(writeDiff(lower, upper))]), target, { mode: 'native' });
    assert.deepEqual(getXattr(join(target, 'bin'), 'security.capability'), CAP);
    assert.equal(getXattr(join(target, 'bin'), 'user.other'), undefined);
  });
});
