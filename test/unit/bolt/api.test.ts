/**
 * The engine's API contract: values and buckets, limits, error categories,
 * transaction lifetime and rollback, sequences, cursors (including deletes
 * while iterating), preservation of untouched pages, page sizes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CtrxError } from '../../../src/errdefs.js';
import { inspect, MAX_KEY_SIZE, openDB, type Bucket, type DB, type Tx } from '../../../src/bolt/index.js';
import { assertGoCheck, goDump, goSkipReason, tsDump } from '../../helpers/bbolt.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const goSkip = goSkipReason();
let dir = '';
let n = 0;
before(() => {
  dir = makeTempDir('ctrx-bolt-api-');
});
after(() => {
  if (dir) removeTempDir(dir);
});

function fresh(opts: { pageSize?: number } = {}): { db: DB; file: string } {
  const file = join(dir, `api-${++n}.db`);
  return { db: openDB(file, { create: true, ...opts }), file };
}

function category(fn: () => unknown, cat: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CtrxError, `expected a CtrxError, got ${(e as Error)?.stack ?? e}`);
    assert.equal(e.category, cat, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

const str = (v: Uint8Array | null | undefined): string | null => (v ? Buffer.from(v).toString() : null);

describe('bolt API', () => {
  it('stores values and buckets with bbolt semantics and error categories', () => {
    const { db, file } = fresh();
    try {
      db.update((tx) => {
        const b = tx.createBucket('b');
        b.put('k', 'v');
        b.put(new Uint8Array([0xff, 0]), new Uint8Array([1, 2, 3]));
        b.put('empty', '');
        b.createBucket('sub');
        assert.equal(str(b.get('k')), 'v');
        assert.deepEqual([...b.get(Buffer.from([0xff, 0]))!], [1, 2, 3]);
        assert.equal(b.get('empty')!.length, 0, 'empty values are values, not absent');
        assert.equal(b.get('missing'), null);
        assert.equal(b.get('sub'), null, 'a bucket is not a value');
        category(() => b.put('sub', 'x'), 'invalid-argument');
        category(() => b.delete('sub'), 'invalid-argument');
        b.delete('missing'); // no-op
        category(() => b.createBucket('sub'), 'already-exists');
        category(() => b.createBucket('k'), 'invalid-argument');
        category(() => b.createBucketIfNotExists('k'), 'invalid-argument');
        category(() => b.deleteBucket('nope'), 'not-found');
        category(() => b.deleteBucket('k'), 'invalid-argument');
        category(() => b.put('', 'x'), 'invalid-argument', /empty/);
        category(() => b.put(Buffer.alloc(MAX_KEY_SIZE + 1, 1), 'x'), 'invalid-argument');
        b.put(Buffer.alloc(MAX_KEY_SIZE, 7), 'longest key');
        assert.equal(b.createBucketIfNotExists('sub'), b.bucket('sub'), 'same bucket handle within a transaction');
        category(() => tx.createBucket('b'), 'already-exists');
        assert.equal(tx.bucket('nope'), null);
      });
      assert.equal(db.view((tx) => str(tx.bucket('b')!.get(Buffer.alloc(MAX_KEY_SIZE, 7)))), 'longest key');
    } finally {
      db.close();
    }
    if (!goSkip) assertGoCheck(file);
  });

  it('rolls back on throw, returns values, and refuses misuse of transactions', async () => {
    const { db, file } = fresh();
    try {
      assert.equal(db.update((tx) => (tx.createBucket('b').put('a', '1'), 42)), 42);
      assert.throws(() =>
        db.update((tx) => {
          tx.bucket('b')!.put('a', 'changed');
          tx.createBucket('new');
          throw new Error('boom');
        }), /boom/);
      assert.equal(db.view((tx) => str(tx.bucket('b')!.get('a'))), '1');
      assert.equal(db.view((tx) => tx.bucket('new')), null);

      category(() => db.update((async () => undefined) as unknown as (tx: Tx) => void), 'invalid-argument', /synchronous/);
      category(() => db.view((tx) => tx.bucket('b')!.put('x', 'y')), 'failed-precondition', /read-only/);
      category(() => db.view((tx) => tx.createBucket('x')), 'failed-precondition');
      let leaked: Bucket | null = null;
      db.view((tx) => (leaked = tx.bucket('b')));
      category(() => leaked!.get('a'), 'failed-precondition', /closed/);
      category(() => db.update(() => db.update(() => undefined)), 'failed-precondition');
      assert.equal(db.update(() => db.view((t2) => str(t2.bucket('b')!.get('a')))), '1', 'view inside update sees the committed state');

      const before = readFileSync(file);
      const txid = db.view((tx) => tx.txid);
      db.update((tx) => tx.bucket('b')!.get('a'));
      assert.deepEqual(readFileSync(file), before, 'an update that changes nothing writes nothing');
      db.update((tx) => {
        assert.equal(tx.txid, txid + 1n);
        tx.bucket('b')!.put('c', '3');
      });
      assert.equal(db.view((tx) => tx.txid), txid + 1n);
    } finally {
      db.close();
    }
    if (!goSkip) assertGoCheck(file);
    category(() => db.view(() => 1), 'failed-precondition', /closed/);
    const ro = openDB(file, { readOnly: true });
    try {
      assert.equal(ro.view((tx) => str(tx.bucket('b')!.get('c'))), '3');
      category(() => ro.update(() => undefined), 'failed-precondition', /read-only/);
    } finally {
      ro.close();
    }
  });

  it('keeps bucket sequences like NextSequence/SetSequence', () => {
    const { db, file } = fresh();
    try {
      db.update((tx) => {
        const b = tx.createBucket('b');
        assert.equal(b.sequence(), 0n);
        assert.equal(b.nextSequence(), 1n);
        assert.equal(b.nextSequence(), 2n);
        b.createBucket('inner').setSequence(41n);
      });
      assert.throws(() =>
        db.update((tx) => {
          tx.bucket('b')!.nextSequence();
          throw new Error('rollback');
        }));
      db.update((tx) => {
        const b = tx.bucket('b')!;
        assert.equal(b.sequence(), 2n);
        assert.equal(b.bucket('inner')!.nextSequence(), 42n);
        b.setSequence(0xffff_ffff_ffff_ffffn);
        category(() => b.nextSequence(), 'failed-precondition', /overflow/);
        category(() => b.setSequence(-1n), 'invalid-argument');
        category(() => b.setSequence(1n << 64n), 'invalid-argument');
      });
      db.close();
      const again = openDB(file);
      assert.deepEqual(again.view((tx) => [tx.bucket('b')!.sequence(), tx.bucket('b')!.bucket('inner')!.sequence()]), [0xffff_ffff_ffff_ffffn, 42n]);
      again.close();
    } finally {
      db.close();
    }
    if (!goSkip) {
      assertGoCheck(file);
      assert.equal(goDump(file).entries[0]!.b!.seq, '18446744073709551615');
    }
  });

  it('cursors: ordering, seeks, buckets as null, deletes while iterating, copies out', () => {
    const { db, file } = fresh();
    const key = (i: number): string => `k${String(i).padStart(5, '0')}`;
    try {
      db.update((tx) => {
        const b = tx.createBucket('b');
        for (let i = 0; i < 3000; i++) b.put(key(i), `v${i}`);
        b.createBucket('k00500x');
      });
      db.view((tx) => {
        const c = tx.bucket('b')!.cursor();
        assert.equal(str(c.seek('k00500')![0]), 'k00500');
        const e = c.next()!;
        assert.equal(str(e[0]), 'k00500x');
        assert.equal(e[1], null, 'bucket entries have a null value');
        assert.equal(str(c.next()![0]), 'k00501');
        assert.equal(str(c.seek('k004999')![0]), 'k00500', 'seek lands on the first key >= the target');
        assert.equal(c.seek('zzz'), null);
        assert.equal(str(c.prev()![0]), key(2999), 'prev after running off the end gives the last key');
        assert.equal(str(c.first()![0]), key(0));
        assert.equal(c.prev(), null);
        assert.equal(str(c.next()![0]), key(0));
        const v = tx.bucket('b')!.get(key(1))!;
        v[0] = 0x58;
        assert.equal(str(tx.bucket('b')!.get(key(1))), 'v1', 'returned bytes are copies');
      });
      db.update((tx) => {
        const b = tx.bucket('b')!;
        // Delete every other key through the bucket while a cursor walks: it re-seeks and continues.
        const c = b.cursor();
        let seen = 0;
        for (let e = c.first(); e; e = c.next()) {
          seen++;
          const i = Number(str(e[0])!.slice(1, 6));
          if (e[1] !== null && i % 2 === 0) b.delete(e[0]);
        }
        assert.equal(seen, 3001);
        // Then delete everything left through the cursor itself except the sub-bucket.
        for (let e = c.first(); e; e = c.next()) if (e[1] !== null) c.delete();
        const left: string[] = [];
        b.forEach((k) => left.push(str(k)!));
        assert.deepEqual(left, ['k00500x']);
      });
      const info = inspect(db);
      const b = info.buckets.find((x) => x.path.length === 1)!;
      assert.equal(b.inline, false, 'a bucket holding a bucket is never inline');
      assert.equal(b.depth, 1, 'emptied tree collapsed to one leaf');
      assert.equal(b.pages, 1);
    } finally {
      db.close();
    }
    if (!goSkip) assertGoCheck(file);
  });

  it('leaves untouched subtrees on their pages, byte for byte', () => {
    const { db, file } = fresh();
    try {
      db.update((tx) => {
        const keep = tx.createBucket('keep');
        for (let i = 0; i < 2000; i++) keep.put(`key${i}`, Buffer.alloc(40, i & 0xff));
        keep.put('blob', Buffer.alloc(30000, 9));
        tx.createBucket('other').put('x', '1');
      });
      const pagesOf = (name: string): Map<number, Buffer> => {
        const root = inspect(db).buckets.find((x) => x.path.length === 1 && Buffer.from(x.path[0]!, 'hex').toString() === name)!.root;
        const bytes = readFileSync(file);
        const out = new Map<number, Buffer>();
        const visit = (id: number): void => {
          const off = id * 4096;
          const overflow = bytes.readUInt32LE(off + 12);
          out.set(id, Buffer.from(bytes.subarray(off, off + (overflow + 1) * 4096)));
          if (bytes.readUInt16LE(off + 8) === 1) {
            for (let i = 0; i < bytes.readUInt16LE(off + 10); i++) visit(Number(bytes.readBigUInt64LE(off + 16 + 16 * i + 8)));
          }
        };
        visit(root);
        return out;
      };
      const before = pagesOf('keep');
      assert.ok(before.size > 20);
      for (let i = 0; i < 5; i++) db.update((tx) => tx.bucket('other')!.put(`y${i}`, Buffer.alloc(2000, i)));
      assert.deepEqual(pagesOf('keep'), before);
      db.update((tx) => tx.bucket('keep')!.put('key1000', 'changed'));
      const after = pagesOf('keep');
      const changed = [...after.keys()].filter((id) => !before.has(id));
      assert.equal(changed.length, 2, `one leaf and the root branch are rewritten, nothing else (${changed.length})`);
    } finally {
      db.close();
    }
    if (!goSkip) assertGoCheck(file);
  });

  it('supports other page sizes, large values, created file mode, deep nesting', () => {
    category(() => openDB(join(dir, 'bad-ps.db'), { create: true, pageSize: 1000 }), 'invalid-argument');
    const file = join(dir, 'ps16k.db');
    const db = openDB(file, { create: true, pageSize: 16384, mode: 0o600 });
    try {
      assert.equal(db.pageSize, 16384);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const big = Buffer.alloc(3 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
      db.update((tx) => {
        let b = tx.createBucket('l0');
        for (let d = 1; d < 12; d++) b = b.createBucket(`l${d}`);
        b.put('big', big);
        b.put('small', 's');
      });
      const pagesWithBig = inspect(db).reachable;
      assert.ok(pagesWithBig > 3 * 64, `3 MiB needs an overflow run (${pagesWithBig} pages)`);
      db.update((tx) => {
        let b = tx.bucket('l0')!;
        for (let d = 1; d < 12; d++) b = b.bucket(`l${d}`)!;
        assert.ok(Buffer.from(b.get('big')!).equals(big));
        b.delete('big');
      });
      assert.ok(inspect(db).reachable < 30, 'the overflow run is released');
      db.update((tx) => tx.deleteBucket('l0'));
      const info = inspect(db);
      assert.deepEqual(info.problems, []);
      assert.equal(info.reachable, 4, 'metas, freelist and the empty root leaf');
      db.update((tx) => tx.createBucket('again').put('k', 'v'));
    } finally {
      db.close();
    }
    if (!goSkip) {
      assertGoCheck(file);
      const reopened = openDB(file);
      try {
        assert.deepEqual(tsDump(reopened), goDump(file));
      } finally {
        reopened.close();
      }
    }
  });

  it('refuses to use a bucket after deleting it', () => {
    const { db, file } = fresh();
    try {
      db.update((tx) => {
        const b = tx.createBucket('b');
        const inner = b.createBucket('inner');
        tx.deleteBucket('b');
        category(() => b.put('k', 'v'), 'failed-precondition', /deleted/);
        category(() => inner.get('k'), 'failed-precondition', /deleted/);
        assert.equal(tx.bucket('b'), null);
        tx.createBucket('b').put('k', 'v2');
      });
      assert.equal(db.view((tx) => str(tx.bucket('b')!.get('k'))), 'v2');
    } finally {
      db.close();
    }
    if (!goSkip) assertGoCheck(file);
  });
});
