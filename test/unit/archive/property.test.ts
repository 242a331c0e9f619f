/**
 * Property-based layers: random tars from a small alphabet (`a`, `..`, `.`,
 * `/`, empty and 200-byte components, whiteouts, opaque markers; files, dirs,
 * symlinks, hardlinks, FIFOs; link targets that try to escape) applied in a
 * fresh root next to the victim. Invariants: a CtrxError or a success, never
 * anything else; the victim, the sibling and the host's /etc/passwd are
 * unchanged; every hardlink group lies inside the root; the same layers give
 * the same tree (or the same error) twice. A second property moves an opaque
 * marker through its siblings and expects one result.
 *
 * Seeds are fixed (CTRX_ARCHIVE_SEED / CTRX_ARCHIVE_RUNS override); a failure
 * names its seed so it can be replayed alone.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { ApplyOptions } from '../../../src/archive/apply.js';
import { cleanupTempDirs } from '../../helpers/tmp.js';
import { applyInScene, packTar, type Outcome, type PackEntry, type Scene } from './util.js';
import { diffTrees, snapshot, type Node } from './tree.js';

after(() => cleanupTempDirs());

const BASE_SEED = Number(process.env.CTRX_ARCHIVE_SEED ?? 0x5eed);
const RUNS = Number(process.env.CTRX_ARCHIVE_RUNS ?? 250);

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

const COMPONENTS = ['a', 'b', 'a', 'b', 'a', 'b', '..', '.', '', 'lnk', 'lnk', 'victim', 'rootx', 'l'.repeat(200)];
const TARGETS = ['a', 'b', '..', '../..', '/', '/etc', '../victim', '../../victim', '@VICTIM@', '@BASE@', 'a/b', '.', 'lnk', '@ROOTX@/hello', '../rootx/hello', 'l'.repeat(200)];
const LINK_EXTRA = ['../victim/hello', '@VICTIM@/hello', '../rootx/hello', '/', 'lnk/hello', 'lnk/../victim/hello', '@ROOTX@/hello'];

interface Gen {
  layers: PackEntry[][];
  overlay: boolean;
}

function generate(seed: number): Gen {
  const r = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const files: string[] = [];
  const name = (): string => {
    const k = 1 + Math.floor(r() * 3);
    const comps = Array.from({ length: k }, () => pick(COMPONENTS));
    // A file named "a/" would be a directory to tar readers; keep trailing slashes for directories.
    return ((r() < 0.2 ? '/' : '') + comps.join(r() < 0.1 ? '//' : '/')).replace(/\/+$/, '') || pick(['.', '..', '/']);
  };
  const whiteoutBase = () => (r() < 0.15 ? pick(['', '.', '..']) : pick(['a', 'b', 'lnk', 'victim', 'l'.repeat(200)]));
  const layers: PackEntry[][] = [];
  const nLayers = 1 + Math.floor(r() * 3);
  for (let l = 0; l < nLayers; l++) {
    const entries: PackEntry[] = [];
    const n = 1 + Math.floor(r() * 8);
    for (let i = 0; i < n; i++) {
      const x = r();
      const nm = name();
      const mode = pick([0o644, 0o755, 0o4755, 0o1777, 0o600]);
      const dirOf = nm.replace(/[^/]*$/, '');
      if (x < 0.3) {
        entries.push({ name: nm, type: 'file', data: 'd'.repeat(Math.floor(r() * 50)), mode });
        files.push(nm);
      } else if (x < 0.5) entries.push({ name: nm + (r() < 0.3 ? '/' : ''), type: 'directory', mode });
      else if (x < 0.67) entries.push({ name: nm, type: 'symlink', linkname: pick(TARGETS) });
      else if (x < 0.77) entries.push({ name: nm, type: 'link', linkname: files.length && r() < 0.8 ? pick(files) : pick(LINK_EXTRA), mode });
      else if (x < 0.87) entries.push({ name: dirOf + '.wh.' + whiteoutBase(), type: 'file', data: '' });
      else if (x < 0.95) entries.push({ name: dirOf + '.wh..wh..opq', type: 'file', data: '' });
      else entries.push({ name: nm, type: 'fifo', mode });
    }
    layers.push(entries);
  }
  return { layers, overlay: r() < 0.3 };
}

function materialize(g: Gen, s: Scene): Promise<Buffer[]> {
  const sub = (t: string | undefined) => t?.replaceAll('@VICTIM@', s.victim).replaceAll('@BASE@', s.base).replaceAll('@ROOTX@', s.rootx);
  return Promise.all(g.layers.map((entries) => packTar(entries.map((e) => ({ ...e, linkname: sub(e.linkname) })))));
}

function optsFor(g: Gen, s: Scene): ApplyOptions {
  return g.overlay ? { mode: 'overlay', parents: [s.rootx + '/no-lower'] } : { mode: 'native' };
}

/** Snapshot with the scene's own paths replaced, so two scenes compare. */
function normalized(s: Scene): Map<string, Node> {
  const out = new Map<string, Node>();
  const rel = s.base.slice(1);
  for (const [k, n] of snapshot(s.root)) {
    out.set(k.replaceAll(rel, '@BASE@'), { ...n, target: n.target?.replaceAll(s.base, '@BASE@') });
  }
  return out;
}

function checkLinkGroups(tree: Map<string, Node>): void {
  const count = new Map<bigint, number>();
  for (const n of tree.values()) if (n.type !== 'dir') count.set(n.ino, (count.get(n.ino) ?? 0) + 1);
  for (const [k, n] of tree) {
    if (n.type !== 'dir' && n.nlink > 1) assert.equal(count.get(n.ino), n.nlink, `hardlink group of ${k} reaches outside the root`);
  }
}

const describeOutcome = (o: Outcome) => (o.ok ? 'ok' : `${o.error.category}: ${o.error.message}`);

describe('property-based layers', () => {
  test(`${RUNS} random layer stacks from seed ${BASE_SEED}: contained, deterministic`, async (t) => {
    let ok = 0;
    let failed = 0;
    const errors = new Map<string, number>();
    for (let i = 0; i < RUNS; i++) {
      const seed = BASE_SEED + i;
      const g = generate(seed);
      try {
        let first: { outcome: string; tree?: Map<string, Node> } | undefined;
        for (let round = 0; round < 2; round++) {
          await applyInScene((s) => materialize(g, s), (s) => optsFor(g, s), (s, o) => {
            const tree = o.ok ? normalized(s) : undefined;
            if (tree) checkLinkGroups(tree);
            const outcome = describeOutcome(o).replaceAll(s.base, '@BASE@');
            if (!first) first = { outcome, tree };
            else {
              assert.equal(outcome, first.outcome, 'same outcome twice');
              if (tree && first.tree) assert.deepEqual(diffTrees(first.tree, tree, ['ino', 'mtimeNs']), [], 'same tree twice');
            }
            if (round === 0) {
              if (o.ok) ok++;
              else {
                failed++;
                const kind = o.error.message.replace(/"[^"]*"|\d+/g, '…').slice(0, 60);
                errors.set(kind, (errors.get(kind) ?? 0) + 1);
              }
            }
          });
        }
      } catch (e) {
        (e as Error).message = `seed ${seed} (CTRX_ARCHIVE_SEED=${seed} CTRX_ARCHIVE_RUNS=1): ${(e as Error).message}\nlayers: ${JSON.stringify(g)}`;
        throw e;
      }
    }
    t.diagnostic(`applied ${ok}, refused ${failed}: ${[...errors].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n}× ${k}`).join('; ')}`);
    // Both outcomes must occur, or the generator is not exploring.
    assert.ok(ok > RUNS / 10 && failed > RUNS / 20, `ok ${ok}, errors ${failed}`);
  });

  test('an opaque marker anywhere among its siblings gives one tree (native)', async () => {
    for (let i = 0; i < 40; i++) {
      const seed = BASE_SEED + 10_000 + i;
      const r = mulberry32(seed);
      const names = ['x', 'y', 'z', 'sub'];
      const lower: PackEntry[] = [{ name: 'o', type: 'directory', mode: 0o755 }];
      for (const n of names) if (r() < 0.7) lower.push(n === 'sub' ? { name: 'o/sub', type: 'directory', mode: 0o755 } : { name: `o/${n}`, type: 'file', data: 'lower', mode: 0o644 });
      lower.push({ name: 'o/sub/inner', type: 'file', data: 'i', mode: 0o644 }, { name: 'keep', type: 'file', data: 'k', mode: 0o644 });
      const siblings: PackEntry[] = [];
      for (const n of names) {
        if (r() < 0.5) continue;
        if (n === 'sub') siblings.push({ name: 'o/sub', type: 'directory', mode: 0o700 }, { name: 'o/sub/fresh', type: 'file', data: 'f', mode: 0o644 });
        else siblings.push(r() < 0.5 ? { name: `o/${n}`, type: 'file', data: `upper-${n}`, mode: 0o600 } : { name: `o/${n}`, type: 'symlink', linkname: '../keep' });
      }
      let reference: Map<string, Node> | undefined;
      for (let pos = 0; pos <= siblings.length; pos++) {
        const upper: PackEntry[] = [{ name: 'o', type: 'directory', mode: 0o755 }, ...siblings.slice(0, pos), { name: 'o/.wh..wh..opq', type: 'file', data: '' }, ...siblings.slice(pos)];
        await applyInScene(async () => [await packTar(lower), await packTar(upper)], { mode: 'native' }, (s, o) => {
          assert.ok(o.ok, `seed ${seed} position ${pos}: ${o.ok ? '' : o.error.message}`);
          const tree = snapshot(s.root);
          if (!reference) reference = tree;
          else assert.deepEqual(diffTrees(reference, tree, ['ino', 'mtimeNs']), [], `seed ${seed}: marker at position ${pos} differs`);
          for (const k of tree.keys()) {
            if (!k.startsWith('o/') || k === 'o/sub/fresh') continue;
            const top = k.split('/').slice(0, 2).join('/');
            assert.ok(siblings.some((e) => e.name === top), `seed ${seed}: ${k} from the lower layer survived the opaque marker`);
          }
        });
      }
    }
  });
});
