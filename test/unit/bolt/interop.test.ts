/**
 * Interoperability with Go bbolt (Debian's go.etcd.io/bbolt): files written
 * by either side read back identically on the other, pass tx.Check(), and
 * either side can commit on top of the other's file, in both freelist modes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect, openDB } from '../../../src/bolt/index.js';
import { assertGoCheck, goApply, goDump, goSkipReason, hex, tsDump, type GoOp } from '../../helpers/bbolt.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { applyModel, applyTx, dumpModel, MBucket, Rng } from './model.js';

const skip = goSkipReason();
let dir = '';
before(() => {
  dir = makeTempDir('ctrx-bolt-interop-');
});
after(() => {
  if (dir) removeTempDir(dir);
});

/** meta.freelist and meta.pgid of the current meta, read straight from the file. */
function rawMeta(file: string): { freelist: bigint; pgid: bigint; txid: bigint } {
  const b = readFileSync(file);
  const ps = b.readUInt32LE(24);
  const m = [0, ps].map((off) => ({ freelist: b.readBigUInt64LE(off + 48), pgid: b.readBigUInt64LE(off + 56), txid: b.readBigUInt64LE(off + 64) }));
  return m[0]!.txid > m[1]!.txid ? m[0]! : m[1]!;
}
const NO_FREELIST = 0xffff_ffff_ffff_ffffn;

/** A varied workload: inline buckets, nested buckets, a 3500-key bucket, overflow values, sequences, deletes. */
function workload(seed: number): GoOp[][] {
  const rng = new Rng(seed);
  const txs: GoOp[][] = [];
  const h = (s: string): string => hex(s);
  txs.push([
    { op: 'createBucket', path: [], key: h('v1') },
    { op: 'createBucket', path: [h('v1')], key: h('small') },
    { op: 'put', path: [h('v1'), h('small')], key: h('a'), value: h('1') },
    { op: 'put', path: [h('v1'), h('small')], key: h('empty'), value: '' },
    { op: 'createBucket', path: [h('v1')], key: h('nested') },
    { op: 'createBucket', path: [h('v1'), h('nested')], key: h('deeper') },
    { op: 'createBucket', path: [h('v1'), h('nested'), h('deeper')], key: h('deepest') },
    { op: 'put', path: [h('v1'), h('nested'), h('deeper'), h('deepest')], key: h('x'), value: h('y') },
    { op: 'setSequence', path: [h('v1'), h('nested')], seq: '18446744073709551000' },
    { op: 'nextSequence', path: [h('v1')] },
    { op: 'createBucket', path: [], key: h('big') },
    { op: 'createBucket', path: [], key: h('blobs') },
  ]);
  for (let t = 0; t < 5; t++) {
    const ops: GoOp[] = [];
    for (let i = 0; i < 700; i++) {
      const k = t * 700 + i;
      ops.push({ op: 'put', path: [h('big')], key: h(`key-${String(k).padStart(6, '0')}`), value: rng.bytes(rng.int(60)).toString('hex') });
    }
    txs.push(ops);
  }
  txs.push([
    { op: 'put', path: [h('blobs')], key: h('20k'), value: rng.bytes(20_000).toString('hex') },
    { op: 'put', path: [h('blobs')], key: h('100k'), value: rng.bytes(100_000).toString('hex') },
    { op: 'put', path: [h('blobs')], key: Buffer.from([0, 1, 2, 0xff]).toString('hex'), value: h('binary key') },
  ]);
  const dels: GoOp[] = [];
  for (let k = 0; k < 3500; k += 3) dels.push({ op: 'delete', path: [h('big')], key: h(`key-${String(k).padStart(6, '0')}`) });
  txs.push(dels);
  txs.push([{ op: 'delete', path: [h('blobs')], key: h('20k') }, { op: 'deleteBucket', path: [h('v1')], key: h('small') }]);
  return txs;
}

/** Changes on top of workload(): new and deleted keys, a bucket recreated, one removed, overflow values swapped. */
function followUp(seed: number): GoOp[][] {
  const rng = new Rng(seed);
  const h = (s: string): string => hex(s);
  const puts: GoOp[] = [];
  for (let i = 0; i < 600; i++) {
    puts.push({ op: 'put', path: [h('big')], key: h(`key-${String(rng.int(5000)).padStart(6, '0')}`), value: rng.bytes(rng.int(80)).toString('hex') });
  }
  const dels: GoOp[] = [];
  for (let i = 0; i < 900; i++) dels.push({ op: 'delete', path: [h('big')], key: h(`key-${String(rng.int(5000)).padStart(6, '0')}`) });
  return [
    puts,
    dels,
    [
      { op: 'put', path: [h('blobs')], key: h('50k'), value: rng.bytes(50_000).toString('hex') },
      { op: 'delete', path: [h('blobs')], key: h('100k') },
      { op: 'createBucket', path: [h('v1')], key: h('small') },
      { op: 'put', path: [h('v1'), h('small')], key: h('again'), value: h('here') },
      { op: 'deleteBucket', path: [h('v1')], key: h('nested') },
      { op: 'nextSequence', path: [h('big')] },
    ],
  ];
}

function modelOf(txs: GoOp[][], root = new MBucket()): MBucket {
  for (const ops of txs) for (const op of ops) applyModel(root, op);
  return root;
}

function tsApply(file: string, txs: GoOp[][]): void {
  const db = openDB(file, { create: true });
  try {
    for (const ops of txs) db.update((tx) => ops.forEach((op) => applyTx(tx, op)));
  } finally {
    db.close();
  }
}

function assertCursorBothWays(file: string): void {
  const db = openDB(file, { readOnly: true });
  try {
    db.view((tx) => {
      const b = tx.bucket('big')!;
      const fwd: string[] = [];
      const c = b.cursor();
      for (let e = c.first(); e; e = c.next()) fwd.push(hex(e[0]));
      const back: string[] = [];
      for (let e = c.last(); e; e = c.prev()) back.push(hex(e[0]));
      assert.deepEqual(back.reverse(), fwd);
      assert.ok(fwd.length > 2000);
    });
  } finally {
    db.close();
  }
}

describe('bolt interop with Go bbolt', { skip: skip ?? false }, () => {
  it('creates the same initial 4-page file as Go', () => {
    const goFile = join(dir, 'init-go.db');
    const tsFile = join(dir, 'init-ts.db');
    goApply(goFile, { pageSize: 4096, txs: [] });
    openDB(tsFile, { create: true }).close();
    assert.deepEqual(readFileSync(tsFile), readFileSync(goFile));
  });

  for (const noFreelistSync of [false, true]) {
    const mode = noFreelistSync ? 'NoFreelistSync' : 'freelist page';
    it(`reads Go-written files exactly (${mode})`, () => {
      const file = join(dir, `go-${noFreelistSync}.db`);
      const txs = workload(1);
      goApply(file, { noFreelistSync, txs });
      assert.equal(rawMeta(file).freelist === NO_FREELIST, noFreelistSync);
      const expected = dumpModel(modelOf(txs));
      assert.deepEqual(goDump(file), expected);
      const db = openDB(file);
      try {
        assert.deepEqual(tsDump(db), expected);
      } finally {
        db.close();
      }
      assertCursorBothWays(file);
    });

    it(`commits on top of Go's files, and Go on top of that (${mode})`, () => {
      const file = join(dir, `go-then-ts-${noFreelistSync}.db`);
      const txs = workload(2);
      goApply(file, { noFreelistSync, txs });
      const more = followUp(3);
      tsApply(file, more);
      assertGoCheck(file, 'after ctrx commits on a Go file');
      // ctrx keeps the file in the freelist mode it found.
      assert.equal(rawMeta(file).freelist === NO_FREELIST, noFreelistSync);
      const model = modelOf(more, modelOf(txs));
      assert.deepEqual(goDump(file), dumpModel(model));
      const again = [[{ op: 'put', path: [hex('v1')], key: hex('from-go'), value: hex('yes') } as GoOp]];
      goApply(file, { noFreelistSync, txs: again });
      assertGoCheck(file, 'after Go commits again');
      const db = openDB(file);
      try {
        assert.deepEqual(tsDump(db), dumpModel(modelOf(again, model)));
      } finally {
        db.close();
      }
    });
  }

  it('Go reads ctrx-written files exactly and commits on top (both Go modes)', () => {
    for (const noFreelistSync of [false, true]) {
      const file = join(dir, `ts-then-go-${noFreelistSync}.db`);
      const txs = workload(4);
      tsApply(file, txs);
      assertGoCheck(file, 'ctrx-written');
      const model = modelOf(txs);
      assert.deepEqual(goDump(file), dumpModel(model));
      const more = followUp(5);
      goApply(file, { noFreelistSync, txs: more });
      assertGoCheck(file, 'Go on top of ctrx');
      assert.equal(rawMeta(file).freelist === NO_FREELIST, noFreelistSync);
      const db = openDB(file);
      try {
        assert.deepEqual(tsDump(db), dumpModel(modelOf(more, model)));
      } finally {
        db.close();
      }
      tsApply(file, [[{ op: 'put', path: [hex('v1')], key: hex('ts-again'), value: '00' }]]);
      assertGoCheck(file, 'ctrx on top of Go on top of ctrx');
    }
  });

  it('writes inline buckets the way Go does and never inlines a bucket with sub-buckets', () => {
    const file = join(dir, 'inline.db');
    tsApply(file, [
      [
        { op: 'createBucket', path: [], key: hex('t') },
        { op: 'createBucket', path: [hex('t')], key: hex('tiny') },
        { op: 'put', path: [hex('t'), hex('tiny')], key: hex('k'), value: hex('v') },
        { op: 'createBucket', path: [hex('t')], key: hex('parent') },
        { op: 'createBucket', path: [hex('t'), hex('parent')], key: hex('child') },
        { op: 'createBucket', path: [hex('t')], key: hex('grows') },
      ],
      // 4096/4 = 1024 bytes inline budget: 20 × (16+3+40) = 1196 > 1024, so "grows" gets its own page.
      Array.from({ length: 20 }, (_, i): GoOp => ({ op: 'put', path: [hex('t'), hex('grows')], key: hex(`k${String(i).padStart(2, '0')}`), value: '00'.repeat(40) })),
    ]);
    assertGoCheck(file);
    const db = openDB(file);
    try {
      const info = inspect(db);
      assert.deepEqual(info.problems, []);
      const byName = new Map(info.buckets.map((b) => [b.path.map((p) => Buffer.from(p, 'hex').toString()).join('/'), b]));
      assert.equal(byName.get('t/tiny')?.inline, true, 'tiny bucket is inline');
      assert.equal(byName.get('t/parent/child')?.inline, true, 'empty leaf bucket is inline');
      assert.equal(byName.get('t/parent')?.inline, false, 'bucket with a sub-bucket is not inline');
      assert.equal(byName.get('t/grows')?.inline, false, 'bucket over pageSize/4 is not inline');
      // Shrinking it again brings it back inline, freeing its page.
      db.update((tx) => {
        const g = tx.bucket('t')!.bucket('grows')!;
        for (let i = 1; i < 20; i++) g.delete(`k${String(i).padStart(2, '0')}`);
      });
      assert.equal(inspect(db).buckets.find((b) => b.path.length === 2 && Buffer.from(b.path[1]!, 'hex').toString() === 'grows')?.inline, true);
    } finally {
      db.close();
    }
    assertGoCheck(file, 'after re-inlining');
  });
});
