/**
 * Damaged files: a torn or bad meta falls back to the other one; two bad
 * metas, foreign files and damaged pages give a CtrxError, never a crash,
 * a wrong-type exception or a hang.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CtrxError } from '../../../src/errdefs.js';
import { inspect, openDB, type Bucket, type DB } from '../../../src/bolt/index.js';
import { assertGoCheck, goSkipReason, tsDump } from '../../helpers/bbolt.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { applyTx, MBucket, randomOp, Rng } from './model.js';

const goSkip = goSkipReason();
const PS = 4096;
let dir = '';
before(() => {
  dir = makeTempDir('ctrx-bolt-corrupt-');
});
after(() => {
  if (dir) removeTempDir(dir);
});

function patch(file: string, off: number, bytes: number[] | Buffer): void {
  const b = readFileSync(file);
  Buffer.from(bytes).copy(b, off);
  writeFileSync(file, b);
}

function metaTxid(file: string, slot: number): bigint {
  return readFileSync(file).readBigUInt64LE(slot * PS + 16 + 48);
}

function isCtrx(e: unknown, category?: string): boolean {
  return e instanceof CtrxError && (category === undefined || e.category === category);
}

function value(db: DB, k: string): string | null {
  return db.view((tx) => {
    const v = tx.bucket('b')?.get(k);
    return v ? Buffer.from(v).toString() : null;
  });
}

function twoCommits(file: string): void {
  const db = openDB(file, { create: true });
  db.update((tx) => tx.createBucket('b').put('a', '1'));
  db.update((tx) => tx.bucket('b')!.put('a', '2'));
  db.close();
}

describe('bolt damaged files', () => {
  it('a torn current meta falls back to the previous commit, and the next commit repairs it', () => {
    const file = join(dir, 'torn.db');
    twoCommits(file);
    const slot = Number(metaTxid(file, 0) > metaTxid(file, 1) ? 0 : 1);
    const prevTxid = metaTxid(file, 1 - slot);
    // A torn write: the second half of the meta (pgid, txid, checksum) never reached the disk.
    patch(file, slot * PS + 16 + 40, Buffer.alloc(24));
    const db = openDB(file);
    try {
      assert.equal(value(db, 'a'), '1');
      assert.equal(inspect(db).txid, prevTxid);
      db.update((tx) => tx.bucket('b')!.put('c', '3'));
      assert.equal(metaTxid(file, slot), prevTxid + 1n, 'the new commit goes into the torn slot');
      assert.equal(value(db, 'a'), '1');
      assert.equal(value(db, 'c'), '3');
    } finally {
      db.close();
    }
    if (!goSkip) assertGoCheck(file);
  });

  it('a bad older meta is ignored; a checksum-valid meta with an impossible root is not trusted', () => {
    const file = join(dir, 'older.db');
    twoCommits(file);
    const cur = Number(metaTxid(file, 0) > metaTxid(file, 1) ? 0 : 1);
    const saved = readFileSync(file);
    patch(file, (1 - cur) * PS + 16, [0, 0, 0, 0]); // magic of the older meta
    let db = openDB(file);
    assert.equal(value(db, 'a'), '2');
    db.close();

    // Valid checksum, but root beyond the high-water mark: Go would crash on it, we use the other meta.
    writeFileSync(file, saved);
    const m = Buffer.from(saved.subarray(cur * PS + 16, cur * PS + 80));
    m.writeBigUInt64LE(1000n, 16);
    let h = 0xcbf29ce484222325n;
    for (let i = 0; i < 56; i++) h = BigInt.asUintN(64, (h ^ BigInt(m[i]!)) * 0x100000001b3n);
    m.writeBigUInt64LE(h, 56);
    patch(file, cur * PS + 16, m);
    db = openDB(file);
    assert.equal(value(db, 'a'), '1');
    db.close();
  });

  it('finds the page size from meta 1 when meta 0 is unreadable (16 KiB pages)', () => {
    const file = join(dir, 'ps16k.db');
    const db = openDB(file, { create: true, pageSize: 16384 });
    db.update((tx) => tx.createBucket('b').put('a', '1')); // txid 2 -> slot 0
    db.update((tx) => tx.bucket('b')!.put('a', '2')); // txid 3 -> slot 1
    db.update((tx) => tx.bucket('b')!.put('a', '3')); // txid 4 -> slot 0
    db.close();
    patch(file, 16, Buffer.alloc(64)); // meta 0 (the newest) wiped
    const again = openDB(file);
    try {
      assert.equal(again.pageSize, 16384);
      assert.equal(value(again, 'a'), '2');
      again.update((tx) => tx.bucket('b')!.put('a', '4'));
      assert.equal(value(again, 'a'), '4');
    } finally {
      again.close();
    }
    if (!goSkip) assertGoCheck(file);
  });

  it('create finishes an initialization that was cut short, at every point', () => {
    const ref = join(dir, 'init-ref.db');
    openDB(ref, { create: true }).close();
    const full = readFileSync(ref);
    // What a killed creator can leave: the file, then pages 2-3, then meta 1, then meta 0.
    const states = [
      Buffer.alloc(0),
      Buffer.concat([Buffer.alloc(2 * PS), full.subarray(2 * PS, 3 * PS)]),
      Buffer.concat([Buffer.alloc(2 * PS), full.subarray(2 * PS)]),
      Buffer.concat([Buffer.alloc(PS), full.subarray(PS)]),
    ];
    for (const [i, st] of states.entries()) {
      const file = join(dir, `init-${i}.db`);
      writeFileSync(file, st);
      if (i < 3) assert.throws(() => openDB(file), (e: unknown) => isCtrx(e, 'failed-precondition'), `state ${i} without create`);
      const db = openDB(file, { create: true });
      db.update((tx) => tx.createBucket('b').put('a', '1'));
      db.close();
      if (!goSkip) assertGoCheck(file, `init state ${i}`);
    }
    // A small file whose metas were wiped after it held data is not "unborn": create must not reinitialize it.
    const used = join(dir, 'used.db');
    twoCommits(used);
    patch(used, 0, Buffer.alloc(2 * PS));
    assert.throws(() => openDB(used, { create: true }), (e: unknown) => isCtrx(e, 'failed-precondition'));
  });

  it('two bad metas, foreign and empty files give a clear CtrxError', () => {
    const file = join(dir, 'both.db');
    twoCommits(file);
    patch(file, 16 + 56, [1, 2, 3]);
    patch(file, PS + 16 + 56, [1, 2, 3]);
    assert.throws(() => openDB(file), (e: unknown) => isCtrx(e, 'failed-precondition') && /meta pages/.test((e as Error).message));

    const text = join(dir, 'text.db');
    writeFileSync(text, 'not a database\n'.repeat(1000));
    assert.throws(() => openDB(text), (e: unknown) => isCtrx(e, 'failed-precondition'));
    const empty = join(dir, 'empty.db');
    writeFileSync(empty, '');
    assert.throws(() => openDB(empty), (e: unknown) => isCtrx(e, 'failed-precondition'));
    assert.throws(() => openDB(join(dir, 'missing.db')), (e: unknown) => isCtrx(e, 'not-found'));
    const short = join(dir, 'short.db');
    twoCommits(short);
    writeFileSync(short, readFileSync(short).subarray(0, 2 * PS)); // metas only: every tree page is gone
    assert.throws(() => openDB(short).view((tx) => tx.bucket('b')), (e: unknown) => isCtrx(e, 'failed-precondition'));
  });

  it('damaged pages give CtrxErrors, never other exceptions or hangs (fuzz)', (t) => {
    const seed = Number(process.env.CTRX_BOLT_SEED ?? 12345);
    const base = join(dir, 'fuzz-base.db');
    const rng = new Rng(seed);
    const model = new MBucket();
    const db = openDB(base, { create: true });
    for (let i = 0; i < 60; i++) {
      db.update((tx) => {
        for (let k = 0; k < 25; k++) applyTx(tx, randomOp(rng, model, { bigValue: 0.03, keySpace: 200 }));
      });
    }
    const pgid = inspect(db).highWater;
    db.close();
    const pristine = readFileSync(base);
    const work = join(dir, 'fuzz.db');
    let failures = 0;
    let clean = 0;
    const start = Date.now();
    const ITER = 250;
    for (let it = 0; it < ITER; it++) {
      const b = Buffer.from(pristine);
      const page = 2 + rng.int(pgid - 2);
      const flips = 1 + rng.int(6);
      for (let f = 0; f < flips; f++) {
        const off = page * PS + (rng.chance(0.6) ? rng.int(96) : rng.int(PS));
        b[off] = rng.chance(0.3) ? 0xff : rng.int(256);
      }
      writeFileSync(work, b);
      const t0 = Date.now();
      try {
        exercise(work);
        clean++;
      } catch (e) {
        if (!isCtrx(e)) throw new Error(`iteration ${it} (seed ${seed}, page ${page}): non-CtrxError ${(e as Error)?.stack ?? e}`);
        failures++;
      }
      assert.ok(Date.now() - t0 < 5000, `iteration ${it} took ${Date.now() - t0} ms`);
    }
    t.diagnostic(`fuzz (seed ${seed}): ${ITER} damaged files, ${failures} rejected with CtrxError, ${clean} read and written without error, ${Date.now() - start} ms`);
    assert.ok(failures > ITER / 10, 'the damage should be noticed in many cases');
  });

  it('cycles and out-of-range page ids are caught', () => {
    const file = join(dir, 'cycle.db');
    const db = openDB(file, { create: true });
    db.update((tx) => {
      const b = tx.createBucket('b');
      for (let i = 0; i < 2000; i++) b.put(`key-${String(i).padStart(5, '0')}`, Buffer.alloc(30, i & 0xff));
    });
    const info = inspect(db);
    db.close();
    const bucket = info.buckets.find((x) => x.path.length === 1)!;
    assert.ok(bucket.depth >= 2);
    const root = bucket.root;
    const pristine = readFileSync(file);
    // Branch element 1's child pointer (offset 16 + 16 + 8 within the root branch page).
    for (const target of [BigInt(root), 0n, 1n, BigInt(info.highWater), 0xffff_ffff_ffff_fff0n]) {
      writeFileSync(file, pristine);
      const p = Buffer.alloc(8);
      p.writeBigUInt64LE(target);
      patch(file, root * PS + 16 + 16 + 8, p);
      const d = openDB(file);
      try {
        assert.throws(() => d.view((tx) => tx.bucket('b')!.forEach(() => {})), (e: unknown) => isCtrx(e, 'failed-precondition'), `child -> ${target}`);
        assert.throws(() => d.update((tx) => tx.bucket('b')!.put('zzz', '1')), (e: unknown) => isCtrx(e, 'failed-precondition'), `write with child -> ${target}`);
      } finally {
        d.close();
      }
      assert.deepEqual(readFileSync(file).subarray(2 * PS), (() => {
        const c = Buffer.from(pristine);
        p.copy(c, root * PS + 16 + 16 + 8);
        return c.subarray(2 * PS);
      })(), 'a refused write leaves the pages alone');
    }
  });
});

/** Everything a command might do: open, dump, walk cursors both ways, inspect, commit. */
function exercise(file: string): void {
  const db = openDB(file);
  try {
    tsDump(db);
    db.view((tx) => {
      const walk = (b: Bucket, depth: number): void => {
        const c = b.cursor();
        for (let e = c.last(); e; e = c.prev()) if (e[1] === null && depth < 8) walk(b.bucket(e[0])!, depth + 1);
        c.seek('k5');
        c.next();
      };
      tx.forEach((k, v) => v === null && walk(tx.bucket(k)!, 0));
    });
    inspect(db);
    db.update((tx) => {
      const top = tx.cursor().first();
      if (top && top[1] === null) {
        const b = tx.bucket(top[0])!;
        b.put('fuzz', 'x');
        const c = b.cursor();
        const e = c.first();
        if (e && e[1] !== null) c.delete();
      }
    });
  } finally {
    db.close();
  }
}

