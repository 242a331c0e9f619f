/**
 * Child process for the bolt crash test: commits a deterministic sequence of
 * transactions to FILE and prints each committed transaction's number on
 * stdout right after its commit returns, until killed or until `limit`.
 *
 *   node bolt-crash-writer.js FILE SEED [LIMIT]
 *
 * Transaction i's operations depend only on SEED, i and the tree after
 * transaction i-1, so the parent can replay them (crashTx) to know what the
 * file must contain. A restarted writer takes that tree from the file. The number of the last committed transaction is stored
 * in the file itself (bucket CRASH_BUCKET, key "n"), so a restarted writer
 * continues where the killed one stopped.
 */
import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openDB, type Bucket, type Tx } from '../../src/bolt/index.js';
import { applyTx, MBucket, randomOp, Rng, type Op } from '../unit/bolt/model.js';

export const CRASH_BUCKET = '~crash';

/** The operations of transaction i (1-based), applied to `model` as they are generated. */
export function crashTx(seed: number, i: number, model: MBucket): Op[] {
  const rng = new Rng((seed ^ Math.imul(i, 0x9e3779b1)) >>> 0);
  const n = 1 + rng.int(rng.chance(0.1) ? 150 : 40);
  const ops: Op[] = [];
  for (let k = 0; k < n; k++) ops.push(randomOp(rng, model, { bigValue: 0.03, keySpace: 250 }));
  return ops;
}

/** The tree in the file (without the counter bucket) as a model. */
export function modelFromTx(tx: Tx): MBucket {
  const load = (b: Bucket): MBucket => {
    const m = new MBucket();
    m.seq = b.sequence();
    b.forEach((k, v) => m.entries.set(Buffer.from(k).toString('hex'), v === null ? load(b.bucket(k)!) : Buffer.from(v)));
    return m;
  };
  const root = new MBucket();
  tx.forEach((k) => {
    if (Buffer.from(k).toString() !== CRASH_BUCKET) root.entries.set(Buffer.from(k).toString('hex'), load(tx.bucket(k)!));
  });
  return root;
}

export function committedCount(tx: Tx): number {
  const v = tx.bucket(CRASH_BUCKET)?.get('n');
  return v ? Number(Buffer.from(v).toString()) : 0;
}

function main(): void {
  const [file, seedArg, limitArg] = process.argv.slice(2);
  if (!file || !seedArg) {
    process.stderr.write('usage: bolt-crash-writer FILE SEED [LIMIT]\n');
    process.exit(2);
  }
  const seed = Number(seedArg);
  const limit = limitArg ? Number(limitArg) : Infinity;
  const db = openDB(file, { create: true });
  // The file is the model: replaying every earlier transaction would make each restart slower than the last.
  const { done, model } = db.view((tx) => ({ done: committedCount(tx), model: modelFromTx(tx) }));
  for (let i = done + 1; i <= limit; i++) {
    const ops = crashTx(seed, i, model);
    db.update((tx) => {
      for (const op of ops) applyTx(tx, op);
      tx.createBucketIfNotExists(CRASH_BUCKET).put('n', String(i));
    });
    writeSync(1, `${i}\n`);
  }
  db.close();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
