/**
 * ctrx and containerd on the same state, both directions: containerd (the
 * Debian 1.6 daemon, private root/state) pulls the rig's 1-layer and 2-layer
 * images into two namespaces and creates a container; ctrx must list
 * exactly what ctr lists, while the daemon runs and after it stopped; every
 * ctrx write must refuse while it runs (exit 7, no byte changed); and what
 * ctrx writes while it is stopped must be what ctr then shows, with
 * containerd's own GC finding nothing more to delete.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupWorld, unavailableReason, type World } from './_setup.js';
import { goCheck, goSkipReason } from '../../helpers/bbolt.js';
import { defaultFacts } from '../../../src/config/facts.js';
import { metaDbPath, snapshotterDbPath, viewMeta, viewSnapshotter, writeWith } from '../../../src/metadata/db.js';
import { bucketNames, path } from '../../../src/metadata/buckets.js';
import { createBlob } from '../../../src/metadata/content.js';
import { createSnapshotRecord } from '../../../src/metadata/snapshots.js';
import { createBackend, listBackend } from '../../../src/snapshots/storage.js';

const skip = unavailableReason() ?? (process.getuid?.() !== 0 ? 'needs root' : undefined);
let w: World;
const NS = ['default', 'second'];

before(async () => {
  if (!skip) w = await setupWorld({ namespaces: NS });
}, { timeout: 300_000 });
after(async () => {
  await w?.stop();
});

/** Commands whose output ctrx must reproduce byte for byte (ctr 1.6.20 prints these deterministically). */
const EXACT: string[][] = [
  ['namespaces', 'ls'],
  ['namespaces', 'ls', '-q'],
  ['images', 'ls'],
  ['images', 'ls', '-q'],
  ['content', 'ls', '-q'],
  ['snapshots', 'ls'],
  ['snapshots', 'tree'],
  ['snapshots', 'usage'],
  ['snapshots', 'usage', '-b'],
  ['leases', 'ls'],
  ['containers', 'ls'],
  ['containers', 'ls', '-q'],
];

/** ctr's content ls prints labels in Go map order: compare digest, size and the label set. */
function contentRows(out: string): string[] {
  return out
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => {
      const [digest, size, , labels] = l.split(/\t+/);
      return `${digest} ${size} ${(labels ?? '').split(',').sort().join(',')}`;
    });
}

interface Captured {
  [key: string]: string;
}
const captured: Captured = {};

async function captureCtr(ns: string): Promise<void> {
  for (const args of [...EXACT, ['content', 'ls'], ['containers', 'info', 'c1'], ['snapshots', 'info', 'c1']]) {
    if (ns !== 'default' && args[1] === 'info') continue;
    const r = await w.cd.ctrOk(args, { namespace: ns });
    captured[`${ns} ${args.join(' ')}`] = r.stdout;
  }
}

function compareWithCaptured(ns: string, when: string): number {
  let n = 0;
  for (const [key, ctrOut] of Object.entries(captured)) {
    if (!key.startsWith(ns + ' ')) continue;
    const args = key.slice(ns.length + 1).split(' ');
    const r = w.x(args, ns);
    assert.equal(r.code, 0, `${when}: ctrx ${key}: ${r.stderr}`);
    if (args[0] === 'content' && args[1] === 'ls' && args.length === 2) {
      assert.deepEqual(contentRows(r.stdout), contentRows(ctrOut), `${when}: ${key}`);
      // ctrx's AGE column uses ctr's wording
      assert.match(r.stdout.split('\n')[1] ?? '', /\t(Less than a second|\d+ seconds?|About a minute|\d+ minutes)\t/);
    } else {
      assert.equal(r.stdout, ctrOut, `${when}: ctrx ${key} differs from ctr`);
      if (args[1] === 'info') assert.deepEqual(JSON.parse(r.stdout), JSON.parse(ctrOut));
    }
    n++;
  }
  return n;
}

const sha = (f: string) => (existsSync(f) ? createHash('sha256').update(readFileSync(f)).digest('hex') : 'missing');

test('while containerd runs, ctrx lists what ctr lists, field for field (lock-free reads)', { skip, timeout: 120_000 }, async () => {
  for (const ns of NS) await captureCtr(ns);
  let n = 0;
  for (const ns of NS) n += compareWithCaptured(ns, 'daemon running');
  assert.ok(n >= 2 * EXACT.length + 3, `compared ${n} outputs`);
  // the index image: platforms from the index, size of the host's manifest, config and layers
  assert.match(captured['second images ls']!, /library\/multi:v1 +application\/vnd\.docker\.distribution\.manifest\.list\.v2\+json .*,linux\/arm64\/v8 /);
  // JSON views carry the same facts as the tables
  const imgs = JSON.parse(w.x(['images', 'ls', '--format', 'json']).stdout) as Array<{ name: string; digest: string; platforms: string[] }>;
  assert.deepEqual(imgs.map((i) => i.name).join('\n') + '\n', captured['default images ls -q']);
  const snaps = JSON.parse(w.x(['snapshots', 'ls', '--format', 'json']).stdout) as Array<{ key: string; kind: string; parent: string }>;
  const table = captured['default snapshots ls']!.trimEnd().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  assert.deepEqual(snaps.map((s) => [s.key, ...(s.parent ? [s.parent] : []), s.kind]), table);
});

test('the native snapshotter lists the same through $CONTAINERD_SNAPSHOTTER (ctr and ctrx)', { skip, timeout: 60_000 }, async () => {
  const env = { CONTAINERD_SNAPSHOTTER: 'native' };
  for (const args of [['snapshots', 'ls'], ['snapshots', 'tree'], ['snapshots', 'usage', '-b'], ['snapshots', 'info', 'cn']]) {
    const want = (await w.cd.ctrOk(args, { namespace: 'second', env: { ...process.env, ...env } })).stdout;
    assert.ok(want.includes('cn'), want);
    const got = w.x(args, 'second', env);
    assert.equal(got.stdout, want, `native: ${args.join(' ')}: ${got.stderr}`);
  }
});

test('while containerd runs, every ctrx write fails fast naming the daemon (exit 7) and writes nothing', { skip, timeout: 120_000 }, async () => {
  const metaFile = metaDbPath(w.cd.root);
  const snFile = join(w.cd.root, 'io.containerd.snapshotter.v1.overlayfs', 'metadata.db');
  const busybox = w.refs.busybox;
  const digest = captured['default content ls -q']!.split('\n')[0]!;
  const writes: string[][] = [
    ['namespaces', 'create', 'newns', 'a=b'],
    ['namespaces', 'rm', 'second'],
    ['namespaces', 'label', 'default', 'a=b'],
    ['images', 'tag', busybox, busybox + '-x'],
    ['images', 'rm', busybox],
    ['images', 'label', busybox, 'a=b'],
    ['leases', 'create', '--id', 'l1'],
    ['leases', 'rm', 'l1'],
    ['content', 'rm', digest],
    ['content', 'label', digest, 'a=b'],
    ['content', 'prune'],
    ['snapshots', 'rm', 'c1'],
    ['snapshots', 'label', 'c1', 'a=b'],
    ['containers', 'rm', 'c1'],
    ['containers', 'label', 'c1', 'a=b'],
  ];
  const pid = w.cd.pid();
  for (const args of writes) {
    const before = [sha(metaFile), sha(snFile)];
    const t0 = Date.now();
    const r = w.x(args);
    const ms = Date.now() - t0;
    assert.equal(r.code, 7, `ctrx ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^ctrx: meta\\.db: locked by containerd \\(pid ${pid}\\): ctrx cannot write while the daemon runs; stop it or use ctr\\n$`));
    assert.equal(r.stdout, '');
    assert.ok(ms < 5000, `${args.join(' ')} took ${ms} ms`);
    assert.deepEqual([sha(metaFile), sha(snFile)], before, `ctrx ${args.join(' ')} changed a database`);
  }
});

test('with containerd stopped, ctrx lists the same as ctr did', { skip, timeout: 120_000 }, async () => {
  await w.cd.stop({ keepDirs: true });
  for (const ns of NS) compareWithCaptured(ns, 'daemon stopped');
});

/** Every record and file GC could touch, for before/after comparisons. */
function inventory(root: string) {
  const ctx = { root, namespace: 'default', facts: { ...defaultFacts(), root } };
  const records = viewMeta(ctx, (tx) => {
    const out: string[] = [];
    const v1 = tx!.bucket('v1');
    for (const ns of bucketNames(v1)) {
      for (const kind of ['images', 'containers', 'leases']) for (const n of bucketNames(path(v1!, ns, kind))) out.push(`${ns} ${kind} ${n}`);
      for (const n of bucketNames(path(v1!, ns, 'content', 'blob'))) out.push(`${ns} blob ${n}`);
      for (const n of bucketNames(path(v1!, ns, 'content', 'ingests'))) out.push(`${ns} ingest ${n}`);
      for (const sn of bucketNames(path(v1!, ns, 'snapshots'))) for (const n of bucketNames(path(v1!, ns, 'snapshots', sn))) out.push(`${ns} snapshot ${sn}/${n}`);
    }
    return out;
  });
  const backend = viewSnapshotter(ctx, 'overlayfs', (tx) => (tx ? listBackend(tx).map((b) => `${b.key}#${b.id}`) : []));
  const ls = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);
  const content = join(root, 'io.containerd.content.v1.content');
  return {
    records,
    backend,
    blobs: ls(join(content, 'blobs', 'sha256')),
    ingests: ls(join(content, 'ingest')),
    snapshotDirs: ls(join(root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots')),
  };
}

test('ctrx writes while containerd is stopped; containerd then shows exactly those changes and its GC removes nothing ctrx kept', { skip, timeout: 240_000 }, async () => {
  const { busybox, layered } = w.refs;
  const tagged = busybox.replace(/:latest$/, ':ctrx');
  const ok = (args: string[], ns = 'default') => {
    const r = w.x(args, ns);
    assert.equal(r.code, 0, `ctrx ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  ok(['namespaces', 'create', 'made-by-ctrx', 'team=infra', 'tier=2']);
  assert.equal(ok(['images', 'tag', busybox, tagged]), tagged + '\n');
  assert.equal(ok(['images', 'label', tagged, 'owner=ctrx']), 'owner=ctrx\n');
  assert.equal(ok(['leases', 'create', '--id', 'keep-me', '--expires', '0', 'purpose=test']), 'keep-me\n');
  const chain = captured['default snapshots ls']!.split('\n').find((l) => l.startsWith('c1 '))!.trim().split(/\s+/)[1]!;
  const blobs = JSON.parse(ok(['content', 'ls', '--format', 'json'])) as Array<{ digest: string; labels: Record<string, string> }>;
  const config = blobs.find((b) => b.labels['containerd.io/gc.ref.snapshot.overlayfs'] === chain)!.digest;
  assert.match(ok(['content', 'label', config, 'ctrx.test=1']), /(^|,)ctrx\.test=1(,|\n)/);
  assert.match(ok(['snapshots', 'label', chain, 'ctrx.snap=1', 'containerd.io/snapshot/ctrx=2']), /containerd\.io\/snapshot\/ctrx=2.*ctrx\.snap=1/);
  assert.match(ok(['containers', 'label', 'c1', 'ctrx.c=1']), /ctrx\.c=1/);
  const before = inventory(w.cd.root);
  assert.equal(ok(['images', 'rm', layered], 'second'), layered + '\n');
  assert.equal(ok(['images', 'rm', layered]), layered + '\n');
  assert.equal(ok(['containers', 'rm', 'c1']), '');
  const prune = JSON.parse(ok(['content', 'prune', '--format', 'json']));
  assert.deepEqual(prune.removed, [], 'nothing left for a second GC');
  const afterCtrx = inventory(w.cd.root);
  // the layered image's own blobs and snapshots went; busybox's (shared layer included) stayed
  const layeredOnly = before.blobs.filter((b) => !afterCtrx.blobs.includes(b));
  assert.equal(layeredOnly.length, 4, `removed blobs: ${layeredOnly}`);
  assert.ok(before.records.includes('default snapshot overlayfs/c1'));
  assert.ok(!afterCtrx.records.includes('default containers c1') && !afterCtrx.records.includes('default snapshot overlayfs/c1'), 'the container and its snapshot went');
  assert.equal(afterCtrx.snapshotDirs.length, afterCtrx.backend.length);
  assert.equal(before.snapshotDirs.length - afterCtrx.snapshotDirs.length, 5, "two layered-only snapshots in each namespace and c1's");

  if (!goSkipReason()) {
    assert.equal(goCheck(metaDbPath(w.cd.root)), null);
    assert.equal(goCheck(join(w.cd.root, 'io.containerd.snapshotter.v1.overlayfs', 'metadata.db')), null);
  }

  // Decoys containerd's GC must remove, so that its content and overlay cleanup both run in full.
  const ctx = { root: w.cd.root, namespace: 'default', facts: { ...defaultFacts(), root: w.cd.root } };
  const decoyDigest = 'sha256:' + 'd'.repeat(64);
  writeWith(ctx, ['overlayfs'], (tx, sn) => {
    createBlob(tx, 'default', decoyDigest, 1);
    const r = createSnapshotRecord(tx, 'default', 'overlayfs', 'decoy', undefined);
    createBackend(sn.overlayfs!, r.name, 'Active');
  });
  assert.ok(existsSync(snapshotterDbPath(ctx, 'overlayfs')));

  await w.cd.start();
  // startup GC (~100 ms after start); then a lease round trip schedules another
  await new Promise((r) => setTimeout(r, 1500));
  await w.cd.ctrOk(['leases', 'create', '--id', 'poke']);
  await w.cd.ctrOk(['leases', 'rm', 'poke']);
  await new Promise((r) => setTimeout(r, 1500));
  await w.cd.stop({ keepDirs: true });
  const afterDaemon = inventory(w.cd.root);
  assert.deepEqual(afterDaemon.records, afterCtrx.records, 'containerd removed only the decoys');
  assert.deepEqual(afterDaemon.blobs, afterCtrx.blobs);
  assert.deepEqual(afterDaemon.snapshotDirs, afterCtrx.snapshotDirs);
  assert.deepEqual(afterDaemon.backend, afterCtrx.backend);
  assert.deepEqual(afterDaemon.ingests, afterCtrx.ingests);
  await w.cd.start();

  const ns = await w.cd.ctrOk(['namespaces', 'ls']);
  assert.match(ns.stdout, /^made-by-ctrx\s+team=infra,tier=2\s*$/m);
  const imgs = await w.cd.ctrOk(['images', 'ls']);
  assert.match(imgs.stdout, new RegExp(`^${tagged.replace(/[.:/]/g, '\\$&')}\\s.*\\sowner=ctrx\\s*$`, 'm'));
  assert.ok(!imgs.stdout.includes(layered));
  assert.equal((await w.cd.ctrOk(['images', 'ls', '-q'], { namespace: 'second' })).stdout, [busybox, w.refs.multi].sort().join('\n') + '\n');
  assert.match((await w.cd.ctrOk(['containers', 'ls', '-q'], { namespace: 'second' })).stdout, /^cn$/m);
  assert.match((await w.cd.ctrOk(['leases', 'ls'])).stdout, /^keep-me\s+\S+\s+purpose=test\s*$/m);
  const cls = (await w.cd.ctrOk(['content', 'ls'])).stdout.split('\n').find((l) => l.startsWith(config))!;
  assert.ok(cls.split('\t').pop()!.split(',').includes('ctrx.test=1'), cls);
  const sinfo = JSON.parse((await w.cd.ctrOk(['snapshots', 'info', chain])).stdout);
  assert.equal(sinfo.Labels['ctrx.snap'], '1');
  assert.equal(sinfo.Labels['containerd.io/snapshot/ctrx'], '2');
  assert.equal((await w.cd.ctrOk(['containers', 'ls', '-q'])).stdout, '');
  // ctrx still reads what containerd shows, field for field
  for (const args of [['images', 'ls'], ['snapshots', 'tree'], ['namespaces', 'ls']]) {
    assert.equal(w.x(args).stdout, (await w.cd.ctrOk(args)).stdout, args.join(' '));
  }
  const run = await w.cd.ctrOk(['run', '--rm', tagged, 'ctrx-run', 'echo', 'hello from ctrx tag']);
  assert.equal(run.stdout.trim(), 'hello from ctrx tag');
});
