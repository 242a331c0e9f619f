/**
 * Model-based test: thousands of random operations over hundreds of
 * transactions (some rolled back by throwing) and reopens, compared after
 * every transaction with an in-memory model; cursor walks in both
 * directions with seeks and cursor deletes; Go bbolt's check at several
 * points; and page accounting that proves merging keeps files compact.
 *
 * The seed is random per run (override with CTRX_BOLT_SEED) and printed in
 * every failure.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { inspect, openDB, type Bucket, type DB, type Tx } from '../../../src/bolt/index.js';
import { assertGoCheck, goApply, goSkipReason, hex, tsDumpTx } from '../../helpers/bbolt.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { applyModel, applyTx, bucketPaths, dumpModel, MBucket, randomKey, randomOp, Rng, type Op } from './model.js';

const goSkip = goSkipReason();
const SEED = process.env.CTRX_BOLT_SEED ? Number(process.env.CTRX_BOLT_SEED) : (Date.now() ^ (process.pid << 8)) >>> 0;

let dir = '';
before(() => {
  dir = makeTempDir('ctrx-bolt-model-');
});
after(() => {
  if (dir) removeTempDir(dir);
});

class Rollback extends Error {}

function modelBucketAt(root: MBucket, path: string[]): MBucket {
  let b = root;
  for (const p of path) b = b.entries.get(p) as MBucket;
  return b;
}

function txBucketAt(tx: Tx, path: string[]): Bucket {
  let b = tx.bucket(Buffer.from(path[0]!, 'hex'))!;
  for (const p of path.slice(1)) b = b.bucket(Buffer.from(p, 'hex'))!;
  return b;
}

/**
 * Random cursor moves over one bucket checked against the model's sorted
 * keys. With `deletes`, sometimes deletes the current plain value through the
 * cursor (applied to the model too) and checks that next/prev continue from
 * the neighbours.
 */
function cursorWalk(rng: Rng, tx: Tx, root: MBucket, deletes: boolean): number {
  const paths = bucketPaths(root);
  if (!paths.length) return 0;
  const path = rng.pick(paths);
  const mb = modelBucketAt(root, path);
  const b = txBucketAt(tx, path);
  const c = b.cursor();
  let keys = mb.sortedKeys();
  let pos = -2; // -2 unpositioned (next = first, prev = last), -1 before start, keys.length past end
  let afterDelete = false;
  const trace: string[] = [];
  const expectAt = (p: number, what: string): void => {
    const got = what === 'next' ? c.next() : what === 'prev' ? c.prev() : what === 'first' ? c.first() : c.last();
    check(p, got, what);
  };
  const check = (p: number, got: [Uint8Array, Uint8Array | null] | null, what: string): void => {
    trace.push(`${what} -> ${p}/${keys.length} ${got ? Buffer.from(got[0]).toString('latin1') : 'null'}`);
    what = `${what} (moves: ${trace.slice(-12).join('; ')}; keys ${keys.map((k) => Buffer.from(k, 'hex').toString('latin1').slice(0, 12)).join(',')})`;
    if (p < 0 || p >= keys.length) {
      assert.equal(got, null, `${what} past the ends in ${path.join('/')}`);
      return;
    }
    assert.ok(got, `${what} returned null at ${p}/${keys.length} in ${path.join('/')}`);
    assert.equal(hex(got[0]), keys[p], `${what} key`);
    const v = mb.entries.get(keys[p]!)!;
    if (v instanceof MBucket) assert.equal(got[1], null);
    else assert.equal(hex(got[1]!), v.toString('hex'), `${what} value of ${keys[p]}`);
  };
  const moves = 5 + rng.int(60);
  for (let i = 0; i < moves; i++) {
    const r = rng.int(10);
    if (r === 0) {
      pos = keys.length ? 0 : keys.length;
      afterDelete = false;
      expectAt(pos, 'first');
    } else if (r === 1) {
      pos = keys.length - 1;
      afterDelete = false;
      expectAt(pos, 'last');
    } else if (r === 2) {
      const k = rng.chance(0.5) && keys.length ? rng.pick(keys) : randomKey(rng, 400);
      pos = keys.findIndex((x) => x >= k);
      if (pos < 0) pos = keys.length;
      afterDelete = false;
      check(pos, c.seek(Buffer.from(k, 'hex')), `seek ${k}`);
    } else if (r < 7) {
      pos = afterDelete ? pos : pos === -2 ? 0 : Math.min(pos + 1, keys.length);
      afterDelete = false;
      expectAt(pos, 'next');
    } else if (r < 9 || !deletes) {
      pos = pos === -2 ? keys.length - 1 : Math.max(pos - 1, -1);
      afterDelete = false;
      expectAt(pos, 'prev');
    } else if (!afterDelete && pos >= 0 && pos < keys.length && !(mb.entries.get(keys[pos]!) instanceof MBucket)) {
      c.delete();
      trace.push(`delete ${Buffer.from(keys[pos]!, 'hex').toString('latin1')}`);
      mb.entries.delete(keys[pos]!);
      keys = mb.sortedKeys();
      // The deleted key's successor now sits at pos: next() returns it, prev() the one before.
      afterDelete = true;
    }
  }
  return moves;
}

/** 150-500 new keys into one bucket, or most of one bucket's values deleted; applied to the model. */
function bulkOps(rng: Rng, root: MBucket): Op[] {
  const paths = bucketPaths(root);
  if (!paths.length) return [];
  const path = rng.pick(paths);
  const b = modelBucketAt(root, path);
  const ops: Op[] = [];
  if (rng.chance(0.5)) {
    const base = rng.int(1_000_000);
    const count = 150 + rng.int(350);
    for (let i = 0; i < count; i++) {
      ops.push({ op: 'put', path, key: Buffer.from(`bulk${String(base + i * 7).padStart(8, '0')}`).toString('hex'), value: rng.bytes(rng.int(60)).toString('hex') });
    }
  } else {
    const share = 0.5 + rng.int(45) / 100;
    for (const [k, v] of [...b.entries]) if (!(v instanceof MBucket) && rng.chance(share)) ops.push({ op: 'delete', path, key: k });
  }
  for (const op of ops) applyModel(root, op);
  return ops;
}

interface RunStats {
  maxDepth?: number;
  maxPages?: number;
  inline?: number;
  buckets?: number;
  ops: number;
  txs: number;
  rollbacks: number;
  reopens: number;
  cursorMoves: number;
  goChecks: number;
}

function assertSame(db: DB, model: MBucket, ctx: string): void {
  const got = db.view(tsDumpTx);
  assert.deepEqual(got, dumpModel(model), `tree differs from the model ${ctx}`);
}

function runRandom(t: TestContext, file: string, seed: number, txCount: number, stats: RunStats): void {
  const rng = new Rng(seed);
  let model = new MBucket();
  let db = openDB(file, { create: true });
  // Start from what is in the file (the no-freelist variant starts from a Go-created empty file).
  try {
    for (let i = 0; i < txCount; i++) {
      const ctx = `(seed ${seed}, tx ${i})`;
      const next = model.clone();
      const n = 1 + rng.int(rng.chance(0.1) ? 120 : 30);
      const ops: Op[] = [];
      const rollback = rng.chance(0.1);
      const walk = rng.chance(0.3);
      try {
        db.update((tx) => {
          // Now and then a bulk load or a mass delete in one bucket: many splits, then many merges.
          for (const op of rng.chance(0.06) ? bulkOps(rng, next) : []) {
            ops.push(op);
            applyTx(tx, op);
          }
          for (let k = 0; k < n; k++) {
            const op = randomOp(rng, next, { bigValue: 0.01, deleteBias: i > txCount * 0.7 ? 2.5 : 1, keySpace: 300 });
            ops.push(op);
            applyTx(tx, op);
          }
          if (walk) stats.cursorMoves += cursorWalk(rng, tx, next, true);
          if (rollback) throw new Rollback();
        });
      } catch (e) {
        if (!(e instanceof Rollback)) throw new Error(`${ctx}: ${(e as Error).stack}\nops: ${JSON.stringify(ops.slice(-5))}`);
      }
      stats.txs++;
      stats.ops += ops.length;
      if (rollback) stats.rollbacks++;
      else model = next;
      assertSame(db, model, ctx);
      if (rng.chance(0.15)) stats.cursorMoves += db.view((tx) => cursorWalk(rng, tx, model, false));
      if (rng.chance(0.04)) {
        db.close();
        db = openDB(file);
        stats.reopens++;
        assertSame(db, model, `${ctx} after reopen`);
      }
      if (!goSkip && (i % 60 === 59 || i === txCount - 1)) {
        assertGoCheck(file, ctx);
        stats.goChecks++;
      }
      const info = inspect(db);
      assert.deepEqual(info.problems, [], `page accounting ${ctx}`);
      stats.maxDepth = Math.max(stats.maxDepth ?? 0, ...info.buckets.map((b) => b.depth));
      stats.maxPages = Math.max(stats.maxPages ?? 0, info.reachable);
    }
    // The random workload must have produced the shapes it is meant to cover.
    const shape = inspect(db).buckets;
    stats.inline = shape.filter((b) => b.inline).length;
    stats.buckets = shape.length - 1;
  } finally {
    db.close();
  }
  t.diagnostic(
    `seed ${seed}: ${stats.txs} txs, ${stats.ops} ops, ${stats.rollbacks} rolled back, ${stats.reopens} reopens, ${stats.cursorMoves} cursor moves, ` +
      `${stats.goChecks} Go checks; deepest B+tree ${stats.maxDepth} levels, at most ${stats.maxPages} live pages; final tree ${stats.buckets} buckets (${stats.inline} inline)`,
  );
  assert.ok((stats.maxDepth ?? 0) >= 2, `no bucket grew branch pages (seed ${seed})`);
  assert.ok(stats.inline >= 1, `no inline bucket left (seed ${seed})`);
}

/** Fill one bucket far past a page, delete most of it, and require the tree to shrink and free space to be reused. */
function compaction(t: TestContext, file: string, seed: number): void {
  const rng = new Rng(seed ^ 0x5bd1e995);
  const db = openDB(file, { create: true });
  const key = (i: number): string => `bulk-${String(i).padStart(7, '0')}`;
  const pagesOf = (name: string): { pages: number; depth: number } => {
    const info = inspect(db);
    assert.deepEqual(info.problems, []);
    const b = info.buckets.find((x) => x.path.length === 1 && Buffer.from(x.path[0]!, 'hex').toString() === name);
    return { pages: b?.pages ?? 0, depth: b?.depth ?? 0 };
  };
  try {
    const N = 6000;
    db.update((tx) => {
      const b = tx.createBucketIfNotExists('bulk');
      for (let i = 0; i < N; i++) b.put(key(i), rng.bytes(20 + rng.int(60)));
    });
    const full = pagesOf('bulk');
    const hwFull = inspect(db).highWater;
    assert.ok(full.depth >= 2, `6000 keys need branch pages (depth ${full.depth})`);
    // Delete 97% in several transactions, leaving every 33rd key.
    for (let part = 0; part < 4; part++) {
      db.update((tx) => {
        const b = tx.bucket('bulk')!;
        for (let i = part; i < N; i += 4) if (i % 33 !== 0) b.delete(key(i));
      });
    }
    const sparse = pagesOf('bulk');
    // Copy-on-write: the first delete pass rewrote nearly every leaf while the old ones were still live, so the file grew once.
    const hwSparse = inspect(db).highWater;
    t.diagnostic(`compaction (seed ${seed}): 6000 keys ${full.pages} pages depth ${full.depth}; 182 keys left ${sparse.pages} pages depth ${sparse.depth}`);
    assert.ok(sparse.pages * 10 <= full.pages, `merging must shrink the tree: ${full.pages} -> ${sparse.pages} pages`);
    let count = 0;
    db.view((tx) => tx.bucket('bulk')!.forEach(() => count++));
    assert.equal(count, Math.ceil(N / 33));
    // Churn: refill and empty repeatedly; freed pages must be reused, so the file stops growing.
    const hw: number[] = [];
    for (let cycle = 0; cycle < 6; cycle++) {
      db.update((tx) => {
        const b = tx.bucket('bulk')!;
        for (let i = 0; i < 3000; i++) b.put(`churn-${cycle}-${i}`, rng.bytes(40));
      });
      db.update((tx) => {
        const b = tx.bucket('bulk')!;
        for (let i = 0; i < 3000; i++) b.delete(`churn-${cycle}-${i}`);
      });
      hw.push(inspect(db).highWater);
    }
    t.diagnostic(`high-water mark: ${hwFull} after fill, ${hwSparse} after deletes, per churn cycle ${hw.join(' ')}`);
    assert.ok(Math.max(...hw) <= hwSparse + 4, `churn of 3000 keys must reuse the pages 6000 keys left free: ${hwSparse} -> ${hw.join(' ')}`);
    db.update((tx) => tx.deleteBucket('bulk'));
    const info = inspect(db);
    assert.deepEqual(info.problems, []);
    assert.ok(info.reachable <= 6, `after deleting everything only metas, freelist and roots remain (${info.reachable})`);
  } finally {
    db.close();
  }
  if (!goSkip) assertGoCheck(file, `compaction, seed ${seed}`);
}

describe('bolt model-based test', () => {
  it(`random operations match the model, freelist mode (seed ${SEED})`, (t) => {
    const stats: RunStats = { ops: 0, txs: 0, rollbacks: 0, reopens: 0, cursorMoves: 0, goChecks: 0 };
    runRandom(t, join(dir, 'model-freelist.db'), SEED, 320, stats);
  });

  it(`random operations match the model, no-freelist mode (seed ${SEED + 1})`, { skip: goSkip ?? false }, (t) => {
    const file = join(dir, 'model-nofreelist.db');
    goApply(file, { noFreelistSync: true, txs: [[]] });
    const stats: RunStats = { ops: 0, txs: 0, rollbacks: 0, reopens: 0, cursorMoves: 0, goChecks: 0 };
    runRandom(t, file, SEED + 1, 240, stats);
    const db = openDB(file);
    try {
      assert.equal(inspect(db).freelistPage, null, 'stays in no-freelist mode');
    } finally {
      db.close();
    }
  });

  it(`merging keeps files compact under churn, freelist mode (seed ${SEED})`, (t) => {
    compaction(t, join(dir, 'compact-freelist.db'), SEED);
  });

  it(`merging keeps files compact under churn, no-freelist mode (seed ${SEED})`, { skip: goSkip ?? false }, (t) => {
    const file = join(dir, 'compact-nofreelist.db');
    goApply(file, { noFreelistSync: true, txs: [[]] });
    compaction(t, file, SEED);
  });
});

