/**
 * Byte-level codecs: meta checksum and layout, freelist pages in both count
 * encodings, file growth steps; and view()'s bounded retry.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import { CtrxError } from '../../../src/errdefs.js';
import { openDB } from '../../../src/bolt/index.js';
import { grownSize } from '../../../src/bolt/file.js';
import { decodeFreelist, decodeMeta, encodeFreelist, encodeMetaPage, freelistSize } from '../../../src/bolt/page.js';
import { assertGoCheck, goSkipReason } from '../../helpers/bbolt.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const goSkip = goSkipReason();

let dir = '';
before(() => {
  dir = makeTempDir('ctrx-bolt-page-');
});
after(() => {
  if (dir) removeTempDir(dir);
});

describe('bolt page codecs', () => {
  it('meta pages: the worked example from the format notes', () => {
    // Page 0 of an overlayfs metadata.db at txid 26: root 6, freelist 7, pgid 10.
    const page = encodeMetaPage({ pageSize: 4096, flags: 0, root: 6, sequence: 0n, freelist: 7, pgid: 10, txid: 26n }, 4096);
    assert.deepEqual([...page.subarray(72, 80)], [0xfa, 0xa2, 0xbb, 0xe2, 0xd4, 0x51, 0xaa, 0x32]);
    assert.deepEqual(decodeMeta(page, 16), { pageSize: 4096, flags: 0, root: 6, sequence: 0n, freelist: 7, pgid: 10, txid: 26n });
    page[40] ^= 1;
    assert.equal(decodeMeta(page, 16), null, 'checksum mismatch');
    const nofl = encodeMetaPage({ pageSize: 4096, flags: 0, root: 3, sequence: 0n, freelist: null, pgid: 4, txid: 3n }, 4096);
    assert.equal(nofl.readBigUInt64LE(48), 0xffff_ffff_ffff_ffffn);
    assert.equal(nofl.readUInt32LE(0), 1, 'txid 3 goes to slot 1 and says so in its header');
    assert.equal(decodeMeta(nofl, 16)!.freelist, null);
  });

  it('freelist pages: short and extended (>= 0xFFFF ids) counts round-trip', () => {
    for (const n of [0, 5, 0xfffe, 0xffff, 70000]) {
      const ids = Array.from({ length: n }, (_, i) => 2 + i * 2);
      const pages = Math.ceil(freelistSize(n) / 4096);
      const buf = Buffer.alloc(pages * 4096);
      encodeFreelist(buf, 9, pages - 1, ids);
      assert.equal(buf.readUInt16LE(10), Math.min(n, 0xffff));
      if (n >= 0xffff) assert.equal(Number(buf.readBigUInt64LE(16)), n);
      assert.deepEqual(decodeFreelist(buf, 9, 2 + n * 2 + 1), ids);
    }
    const buf = Buffer.alloc(4096);
    encodeFreelist(buf, 9, 0, [5, 5]);
    assert.throws(() => decodeFreelist(buf, 9, 100), (e: unknown) => e instanceof CtrxError);
    encodeFreelist(buf, 9, 0, [1]);
    assert.throws(() => decodeFreelist(buf, 9, 100), (e: unknown) => e instanceof CtrxError);
  });

  it('grows files like bbolt: doubling from 32 KiB to 16 MiB, then 16 MiB steps', () => {
    assert.equal(grownSize(5 * 4096, 4096), 32768);
    assert.equal(grownSize(40000, 4096), 65536);
    assert.equal(grownSize(16 * 1048576, 4096), 16 * 1048576);
    assert.equal(grownSize(16 * 1048576 + 1, 4096), 32 * 1048576);
    assert.equal(grownSize(5 * 65536, 65536), 512 * 1024);
    const file = join(dir, 'grow.db');
    const db = openDB(file, { create: true });
    assert.equal(statSync(file).size, 4 * 4096, "a new file is bbolt's 4 pages");
    db.update((tx) => tx.createBucket('b').put('k', Buffer.alloc(100_000)));
    assert.equal(statSync(file).size, 131072);
    db.close();
    if (!goSkip) assertGoCheck(file);
  });

  it('view() retries while writers commit under it, a bounded number of times', () => {
    const file = join(dir, 'retry.db');
    const a = openDB(file, { create: true });
    const b = openDB(file);
    try {
      a.update((tx) => tx.createBucket('b'));
      let calls = 0;
      // Every attempt sees a commit land during it: the read must give up with a clear error.
      assert.throws(
        () => a.view(() => b.update((tx) => tx.bucket('b')!.put(`k${++calls}`, 'v'))),
        (e: unknown) => e instanceof CtrxError && e.category === 'unavailable' && /kept changing/.test(e.message),
      );
      assert.ok(calls > 1 && calls <= 100, `${calls} attempts`);
      // One commit during the first attempt: the second attempt sees it.
      let once = false;
      const seen = a.view((tx) => {
        if (!once) {
          once = true;
          b.update((t2) => t2.bucket('b')!.put('late', 'x'));
        }
        return tx.bucket('b')!.get('late') !== null;
      });
      assert.equal(seen, true);
    } finally {
      a.close();
      b.close();
    }
    if (!goSkip) assertGoCheck(file);
  });
});
