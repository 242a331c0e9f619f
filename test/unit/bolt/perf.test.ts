/**
 * Speed on a ~2 MB containerd-shaped meta.db: a ctrx command opens the file,
 * reads a few records and maybe commits one small transaction, so each of
 * those must cost milliseconds. Thresholds are generous (shared CI machines);
 * the measured figures are printed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { inspect, openDB, type Bucket, type DB } from '../../../src/bolt/index.js';
import { assertGoCheck, goApply, goSkipReason } from '../../helpers/bbolt.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const goSkip = goSkipReason();
let dir = '';
before(() => {
  dir = makeTempDir('ctrx-bolt-perf-');
});
after(() => {
  if (dir) removeTempDir(dir);
});

const digest = (i: number): string => `sha256:${i.toString(16).padStart(64, '0')}`;

/** content blobs with labels, images, snapshots: the shapes of containerd 1.6's meta.db (§2.2). */
function populate(db: DB, records: number): void {
  const now = Buffer.alloc(15, 1);
  for (const ns of ['default', 'k8s.io', 'moby']) {
    db.update((tx) => {
      const n = tx.createBucketIfNotExists('v1').createBucketIfNotExists(ns);
      const blobs = n.createBucketIfNotExists('content').createBucketIfNotExists('blob');
      for (let i = 0; i < records; i++) {
        const b = blobs.createBucket(digest(i));
        b.put('createdat', now);
        b.put('updatedat', now);
        b.put('size', Buffer.alloc(8, i & 0xff));
        const l = b.createBucket('labels');
        l.put('containerd.io/gc.ref.content.l.0', digest(i + 1));
        l.put('containerd.io/distribution.source.docker.io', 'library/redis');
      }
      const images = n.createBucketIfNotExists('images');
      for (let i = 0; i < records / 10; i++) {
        const im = images.createBucket(`docker.io/library/image-${i}:latest`);
        im.put('createdat', now);
        im.put('updatedat', now);
        const t = im.createBucket('target');
        t.put('digest', digest(i));
        t.put('mediatype', 'application/vnd.oci.image.index.v1+json');
        t.put('size', Buffer.alloc(8));
      }
      const snaps = n.createBucketIfNotExists('snapshots').createBucketIfNotExists('overlayfs');
      for (let i = 0; i < records / 2; i++) {
        const s = snaps.createBucket(`${ns}/${i}/${digest(i)}`);
        s.put('name', digest(i));
        s.createBucket('labels').put('containerd.io/gc.root', 'x');
      }
    });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function blob(tx: { bucket(n: string): Bucket | null }, ns: string, i: number): Bucket {
  return tx.bucket('v1')!.bucket(ns)!.bucket('content')!.bucket('blob')!.bucket(digest(i))!;
}

function measure(file: string): { openRead: number[]; scanMs: number; entries: number; commit: number[] } {
  const openRead: number[] = [];
  for (let r = 0; r < 30; r++) {
    const t0 = performance.now();
    const db = openDB(file);
    const size = db.view((tx) => blob(tx, 'k8s.io', 77).get('size'));
    const labels = db.view((tx) => {
      let count = 0;
      blob(tx, 'moby', 55).bucket('labels')!.forEach(() => count++);
      return count;
    });
    db.close();
    openRead.push(performance.now() - t0);
    assert.equal(size![0], 77);
    assert.equal(labels, 2);
  }
  const db = openDB(file);
  try {
    const t0 = performance.now();
    let entries = 0;
    db.view((tx) => {
      const walk = (b: Bucket): void => b.forEach((k, v) => (entries++, v === null && walk(b.bucket(k)!)));
      walk(tx.bucket('v1')!);
    });
    const scanMs = performance.now() - t0;
    const commit: number[] = [];
    for (let r = 0; r < 20; r++) {
      const t1 = performance.now();
      db.update((tx) => blob(tx, 'default', r * 3).put('updatedat', Buffer.alloc(15, r)));
      commit.push(performance.now() - t1);
    }
    return { openRead, scanMs, entries, commit };
  } finally {
    db.close();
  }
}

describe('bolt speed', () => {
  for (const mode of ['freelist page', 'NoFreelistSync']) {
    it(`opens, reads and commits a small transaction in milliseconds on a ~2 MB file (${mode})`, { skip: mode === 'NoFreelistSync' && goSkip ? goSkip : false }, (t) => {
      const file = join(dir, `perf-${mode === 'NoFreelistSync' ? 'nofl' : 'fl'}.db`);
      if (mode === 'NoFreelistSync') goApply(file, { noFreelistSync: true, txs: [[]] });
      const db = openDB(file, { create: true });
      populate(db, 90);
      const pages = inspect(db).reachable;
      db.close();
      const size = statSync(file).size;
      const m = measure(file);
      const fmt = (xs: number[]): string => `median ${median(xs).toFixed(2)} ms (first ${xs[0]!.toFixed(2)}, max ${Math.max(...xs).toFixed(2)})`;
      t.diagnostic(
        `${mode}: ${(size / 1048576).toFixed(1)} MiB file, ${pages} reachable pages; open + 2 lookups + close ${fmt(m.openRead)}; ` +
          `full scan of ${m.entries} entries ${m.scanMs.toFixed(1)} ms; small commit ${fmt(m.commit)}`,
      );
      assert.ok(size >= 1.5 * 1048576 && size <= 4 * 1048576, `file is ${size} bytes`);
      assert.ok(median(m.openRead) < 20, `open + read median ${median(m.openRead)} ms`);
      assert.ok(median(m.commit) < 60, `commit median ${median(m.commit)} ms`);
      if (!goSkip) assertGoCheck(file);
    });
  }
});
