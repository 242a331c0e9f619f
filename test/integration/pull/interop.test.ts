// `ctrx images pull` writes what `ctr images pull` writes: containerd started
// on a root ctrx pulled into sees complete, unpacked images it can run
// without fetching anything, and its GC (at startup and after deletions)
// keeps every blob and snapshot; blob labels and snapshot records are those
// of a real `ctr images pull` of the same images into a second root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startContainerd, type Containerd } from '../../helpers/containerd.js';
import { buildFixture } from '../../helpers/fixtures.js';
import { pushImage, startRegistry, type Registry } from '../../helpers/registry.js';
import { waitFor } from '../../helpers/run.js';
import { assertGoCheck } from '../../helpers/bbolt.js';
import { metaDbPath } from '../../../src/metadata/db.js';
import { join } from 'node:path';
import {
  assertConsistent, blobFiles, ingestDirs, newBox, reachable, readState, skipReason, snapshotDirs, snapshotterDir, type Box, type State,
} from './_world.js';

const skip = skipReason({ containerd: true });
let reg: Registry;
let refs: string[] = [];
const boxes: Box[] = [];
const daemons: Containerd[] = [];
let overlayBox: Box | undefined;

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  const images = [
    ['library/busybox', 'latest', await buildFixture('busybox')],
    ['library/layered', 'latest', await buildFixture('layered', { style: 'docker' })],
    ['library/redis', 'latest', await buildFixture('redis', { compression: 'none' })],
    ['library/busybox', 'docker-tar', await buildFixture('busybox', { style: 'docker', compression: 'none' })],
  ] as const;
  for (const [repo, tag, img] of images) await pushImage(reg, repo, tag, img);
  refs = images.map(([repo, tag]) => `${reg.host}/${repo}:${tag}`);
}, { timeout: 180_000 });

after(async () => {
  for (const d of daemons) await d.stop();
  await reg?.stop();
  for (const b of boxes) b.remove();
});

const rows = (s: string) => s.trimEnd().split('\n').slice(1).map((l) => l.trim().split(/\s+/));

/** Pulls every ref with the CLI, then checks the state before any daemon saw it. */
async function pullAll(box: Box, extra: string[] = []): Promise<State> {
  for (const r of refs) {
    const out = await box.xOk(['images', 'pull', ...extra, r]);
    assert.match(out.stdout, new RegExp(`^${r.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: sha256:[0-9a-f]{64} \\(`, 'm'));
  }
  const st = assertConsistent(box.root, 'after ctrx pulls');
  assert.deepEqual(st.leases, [], 'the pull leases are gone');
  assert.deepEqual(st.ingests, [], 'no ingest records left');
  assert.deepEqual(ingestDirs(box.root), [], 'no ingest dirs left');
  assert.deepEqual(st.images.map((i) => i.name).sort(), [...refs].sort());
  const reach = reachable(st);
  for (const d of st.blobs.keys()) assert.ok(reach.has(d), `blob ${d} is reachable from an image`);
  return st;
}

/** containerd on the box; waits until its startup GC has swept (the junk blob is gone). */
async function daemonOn(box: Box, junk: string): Promise<Containerd> {
  const cd = await startContainerd({ root: box.root, state: box.state });
  daemons.push(cd);
  await waitFor('containerd GC to remove the unreferenced junk blob', () => !blobFiles(box.root).includes(junk), { timeoutMs: 15_000 });
  return cd;
}

async function ingestJunk(box: Box): Promise<string> {
  const before = blobFiles(box.root);
  await box.xOk(['content', 'ingest', 'junk-ref'], { input: 'junk\n' });
  const junk = blobFiles(box.root).filter((d) => !before.includes(d));
  assert.equal(junk.length, 1, 'the junk blob is on disk');
  return junk[0]!;
}

for (const sn of ['overlayfs', 'native'] as const) {
  test(`pulled into ${sn}: containerd sees complete unpacked images, runs them offline, its GC keeps everything`, { skip, timeout: 240_000 }, async () => {
    const box = newBox();
    boxes.push(box);
    const st = await pullAll(box, sn === 'native' ? ['--snapshotter', 'native'] : []);
    if (sn === 'overlayfs') overlayBox = box;
    const chains = st.snapshots[sn] ?? [];
    assert.ok(chains.length >= 4, `committed snapshots in ${sn}: ${chains.length}`);
    assert.ok(!Object.keys(st.snapshots).some((s) => s !== sn), `nothing unpacked elsewhere: ${Object.keys(st.snapshots)}`);
    for (const s of chains) assert.ok(!s.key.startsWith('extract-'), `extraction snapshot left: ${s.key}`);
    assert.deepEqual(st.backend[sn]!.map((b) => b.kind).filter((k) => k !== 'Committed'), []);

    // an unreferenced blob makes containerd's startup GC sweep the content store
    const junk = await ingestJunk(box);
    const blobs = blobFiles(box.root).filter((d) => d !== junk);
    const snaps = snapshotDirs(box.root, sn);

    const cd = await daemonOn(box, junk);
    assert.deepEqual(blobFiles(box.root), blobs, 'startup GC kept every pulled blob');
    assert.deepEqual(snapshotDirs(box.root, sn), snaps, 'startup GC kept every snapshot dir');

    const ls = rows((await cd.ctrOk(['images', 'ls'])).stdout);
    assert.deepEqual(ls.map((r) => r[0]).sort(), [...refs].sort());
    const check = rows((await cd.ctrOk(['images', 'check', '--snapshotter', sn])).stdout);
    for (const r of check) {
      assert.equal(r[3], 'complete', `ctr images check: ${r.join(' ')}`);
      assert.equal(r.at(-1), 'true', `unpacked in ${sn}: ${r.join(' ')}`);
    }
    for (const [i, r] of refs.entries()) {
      // the short sleep: ctr can lose the output of a process that exits at once
      const out = await cd.ctr(['run', '--rm', '--snapshotter', sn, r, `t${i}`, 'sh', '-c', 'echo ok; sleep 0.2']);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout.trim(), 'ok', `ctr run ${r}`);
    }
    // --rm removed the container snapshots (a snapshot sweep); removing a junk blob makes a content sweep
    await cd.ctrOk(['content', 'ingest', 'junk2'], { input: 'junk two\n' });
    const junk2 = blobFiles(box.root).find((d) => !blobs.includes(d));
    assert.ok(junk2, 'ctr ingested a blob');
    await cd.ctrOk(['content', 'rm', junk2]);
    await waitFor('GC to remove the second junk blob', () => !blobFiles(box.root).includes(junk2), { timeoutMs: 15_000 });
    await cd.ctrOk(['snapshots', '--snapshotter', sn, 'prepare', 'junk-snap']);
    await cd.ctrOk(['snapshots', '--snapshotter', sn, 'rm', 'junk-snap']);
    await waitFor('GC after the snapshot removal', () => snapshotDirs(box.root, sn).length === snaps.length, { timeoutMs: 15_000 });
    assert.deepEqual(blobFiles(box.root), blobs, 'GC kept every pulled blob');
    assert.deepEqual(snapshotDirs(box.root, sn), snaps, 'GC kept every snapshot dir');
    assert.deepEqual(rows((await cd.ctrOk(['images', 'check', '--snapshotter', sn])).stdout).map((r) => `${r[3]} ${r.at(-1)}`), refs.map(() => 'complete true'));
    await cd.stop({ keepDirs: true });
    assertGoCheck(metaDbPath(box.root), 'after containerd');
    assertGoCheck(join(snapshotterDir(box.root, sn), 'metadata.db'), 'after containerd');
  });
}

test('labels, snapshot records and listings equal those of a real `ctr images pull`', { skip, timeout: 180_000 }, async () => {
  assert.ok(overlayBox, 'the overlayfs test ran first');
  const cd = await startContainerd();
  daemons.push(cd);
  for (const r of refs) await cd.ctrOk(['images', 'pull', '--plain-http', r]);
  const theirs = readState(cd.root);
  const ours = readState(overlayBox.root);
  assert.deepEqual(ours.images, theirs.images);
  assert.deepEqual([...ours.blobs.keys()].sort(), [...theirs.blobs.keys()].sort());
  for (const [d, labels] of theirs.blobs) assert.deepEqual(ours.blobs.get(d), labels, `labels of ${d}`);
  const snaps = (st: State) => (st.snapshots.overlayfs ?? []).map((s) => ({ key: s.key, parent: s.parent, labels: s.labels })).sort((a, b) => a.key.localeCompare(b.key));
  assert.deepEqual(snaps(ours), snaps(theirs));
  const kinds = (st: State) => st.backend.overlayfs!.map((b) => b.kind).sort();
  assert.deepEqual(kinds(ours), kinds(theirs));

  // ctrx's listings of its own root against ctr's of containerd's
  const labelSets = (out: string) => new Map(rows(out).map((r) => [r[0], (r.at(-1) ?? '').split(',').sort().join(',')]));
  const ctrContent = labelSets((await cd.ctrOk(['content', 'ls'])).stdout);
  const ctrxContent = labelSets((await overlayBox.xOk(['content', 'ls'])).stdout);
  assert.deepEqual(ctrxContent, ctrContent);
  assert.equal((await overlayBox.xOk(['snapshots', 'ls'])).stdout, (await cd.ctrOk(['snapshots', 'ls'])).stdout);
  assert.equal((await overlayBox.xOk(['images', 'ls'])).stdout, (await cd.ctrOk(['images', 'ls'])).stdout);
});
