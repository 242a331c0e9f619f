/**
 * Locking against a process that holds the database open the way containerd
 * does (Go bbolt, read-write, flock LOCK_EX for its whole life): writes fail
 * fast naming the holder and leave the file alone; lock-free reads keep
 * working and see the holder's commits, even while it rewrites pages under
 * them as fast as it can.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CtrxError } from '../../../src/errdefs.js';
import { openDB } from '../../../src/bolt/index.js';
import { assertGoCheck, goHold, goSkipReason, type GoHolder } from '../../helpers/bbolt.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const skip = goSkipReason();
let dir = '';
const holders: GoHolder[] = [];
before(() => {
  dir = makeTempDir('ctrx-bolt-lock-');
});
after(async () => {
  for (const h of holders) await h.close();
  if (dir) removeTempDir(dir);
});

describe('bolt locking', { skip: skip ?? false }, () => {
  it('update() fails fast naming the holder, leaves the file unchanged; view() sees the holder commits', async (t) => {
    const file = join(dir, 'locked.db');
    const db = openDB(file, { create: true });
    try {
      db.update((tx) => tx.createBucket('mine').put('k', 'before'));
      const holder = await goHold(file);
      holders.push(holder);
      const bytes = readFileSync(file);

      const t0 = performance.now();
      assert.throws(
        () => db.update((tx) => tx.bucket('mine')!.put('k', 'after')),
        (e: unknown) => {
          assert.ok(e instanceof CtrxError);
          assert.equal(e.category, 'unavailable');
          assert.match(e.message, new RegExp(`locked by bboltcheck \\(pid ${holder.pid}\\)`));
          return true;
        },
      );
      const ms = performance.now() - t0;
      assert.ok(ms < 500, `update() took ${ms.toFixed(1)} ms to give up`);
      assert.deepEqual(readFileSync(file), bytes, 'a refused update must not touch the file');
      assert.deepEqual(db.lockedBy(), { locked: true, pid: holder.pid, name: 'bboltcheck' });

      assert.equal(db.view((tx) => Buffer.from(tx.bucket('mine')!.get('k')!).toString()), 'before');
      await holder.put('fromgo', 'hello', 'world');
      assert.equal(db.view((tx) => Buffer.from(tx.bucket('fromgo')!.get('hello')!).toString()), 'world');

      // Lock-free snapshots while Go rewrites and reuses pages continuously: every
      // snapshot must be exactly one of Go's commits.
      const N = 400;
      const churning = holder.churn(N);
      const seen = new Set<number>();
      const deadline = Date.now() + 20_000;
      let reads = 0;
      while (Date.now() < deadline) {
        const counter = db.view((tx) => {
          const b = tx.bucket('churn');
          if (!b) return 0;
          const i = Number(Buffer.from(b.get('counter')!).toString());
          let keys = 0;
          b.forEach((k, v) => {
            const key = Buffer.from(k).toString();
            if (key === 'counter') return;
            keys++;
            assert.ok(key.startsWith(`${i}-`), `snapshot at counter ${i} holds key ${key}`);
            assert.ok(v && v.length === 200 && v.every((x) => x === (i & 0xff)), `value of ${key} at counter ${i}`);
          });
          assert.equal(keys, 50, `snapshot at counter ${i}`);
          return i;
        });
        reads++;
        seen.add(counter);
        if (counter === N) break;
      }
      await churning;
      t.diagnostic(`${reads} lock-free snapshots during ${N} Go commits; ${seen.size} distinct commits observed`);
      assert.ok(seen.size >= 3, `reads did not overlap the writer (${[...seen].join(',')})`);

      await holder.close();
      holders.pop();
      assert.deepEqual(db.lockedBy(), { locked: false });
      db.update((tx) => tx.bucket('mine')!.put('k', 'after'));
      assert.equal(db.view((tx) => Buffer.from(tx.bucket('mine')!.get('k')!).toString()), 'after');
    } finally {
      db.close();
    }
    assertGoCheck(file);
  });

  it('a second handle in the same process is refused while the first writes', () => {
    const file = join(dir, 'self.db');
    const a = openDB(file, { create: true });
    const b = openDB(file);
    try {
      a.update(() => {
        assert.throws(() => b.update(() => undefined), (e: unknown) => e instanceof CtrxError && e.category === 'unavailable' && /locked by .*\(pid \d+\)/.test(e.message));
        assert.equal(b.lockedBy().locked, true);
      });
      b.update((tx) => tx.createBucket('ok'));
    } finally {
      a.close();
      b.close();
    }
  });
});
