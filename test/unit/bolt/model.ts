/**
 * An in-memory model of a bbolt tree and random operations over it, shared by
 * the model-based test and the crash writer. Operations are hex-encoded in the
 * same shape the Go checker's `apply` mode takes, so one script can drive
 * ctrx, the model and Go bbolt.
 */
import type { Bucket, Tx } from '../../../src/bolt/index.js';
import type { DumpBucket, DumpEntry, GoOp } from '../../helpers/bbolt.js';

export type Op = GoOp;

export class MBucket {
  seq = 0n;
  /** hex key -> value (Buffer) or sub-bucket. Hex order is byte order. */
  entries = new Map<string, Buffer | MBucket>();

  clone(): MBucket {
    const c = new MBucket();
    c.seq = this.seq;
    for (const [k, v] of this.entries) c.entries.set(k, v instanceof MBucket ? v.clone() : v);
    return c;
  }

  sortedKeys(): string[] {
    return [...this.entries.keys()].sort();
  }
}

/** Small, fast, seedable PRNG (sfc32 seeded through splitmix32). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
  pick<T>(xs: T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

export function dumpModel(root: MBucket): DumpBucket {
  const conv = (b: MBucket): DumpBucket => ({
    seq: b.seq.toString(),
    entries: b.sortedKeys().map((k): DumpEntry => {
      const v = b.entries.get(k)!;
      return v instanceof MBucket ? { k, b: conv(v) } : { k, v: v.toString('hex') };
    }),
  });
  return { seq: '0', entries: conv(root).entries };
}

function modelBucket(root: MBucket, path: string[]): MBucket {
  let b = root;
  for (const p of path) {
    const x = b.entries.get(p);
    if (!(x instanceof MBucket)) throw new Error(`model: no bucket at ${path.join('/')}`);
    b = x;
  }
  return b;
}

export function applyModel(root: MBucket, op: Op): void {
  const b = modelBucket(root, op.path);
  switch (op.op) {
    case 'put':
      b.entries.set(op.key, Buffer.from(op.value, 'hex'));
      return;
    case 'delete':
      b.entries.delete(op.key);
      return;
    case 'createBucket':
      if (!b.entries.has(op.key)) b.entries.set(op.key, new MBucket());
      return;
    case 'deleteBucket':
      b.entries.delete(op.key);
      return;
    case 'setSequence':
      b.seq = BigInt(op.seq);
      return;
    case 'nextSequence':
      b.seq += 1n;
      return;
  }
}

function txBucket(tx: Tx, path: string[]): Bucket {
  let b = tx.bucket(Buffer.from(path[0]!, 'hex'));
  for (const p of path.slice(1)) b = b?.bucket(Buffer.from(p, 'hex')) ?? null;
  if (!b) throw new Error(`tx: no bucket at ${path.join('/')}`);
  return b;
}

export function applyTx(tx: Tx, op: Op): void {
  const key = 'key' in op ? Buffer.from(op.key, 'hex') : Buffer.alloc(0);
  if (op.path.length === 0) {
    if (op.op === 'createBucket') tx.createBucketIfNotExists(key);
    else if (op.op === 'deleteBucket') tx.deleteBucket(key);
    else throw new Error(`tx: ${op.op} needs a bucket`);
    return;
  }
  const b = txBucket(tx, op.path);
  switch (op.op) {
    case 'put':
      b.put(key, Buffer.from(op.value, 'hex'));
      return;
    case 'delete':
      b.delete(key);
      return;
    case 'createBucket':
      b.createBucketIfNotExists(key);
      return;
    case 'deleteBucket':
      b.deleteBucket(key);
      return;
    case 'setSequence':
      b.setSequence(BigInt(op.seq));
      return;
    case 'nextSequence':
      b.nextSequence();
      return;
  }
}

/** Every bucket path in the model (top-level buckets and nested). */
export function bucketPaths(root: MBucket, max = 200): string[][] {
  const out: string[][] = [];
  const walk = (b: MBucket, path: string[]): void => {
    // Sorted, not insertion order: a model loaded from a file must generate the same operations.
    for (const k of b.sortedKeys()) {
      const v = b.entries.get(k)!;
      if (out.length >= max) return;
      if (v instanceof MBucket) {
        out.push([...path, k]);
        walk(v, [...path, k]);
      }
    }
  };
  walk(root, []);
  return out;
}

export interface GenOptions {
  /** Probability of a value large enough to overflow a page. */
  bigValue?: number;
  /** Relative weight of deletes (higher = shrinking). */
  deleteBias?: number;
  /** Keys drawn from this many per bucket, so puts and deletes collide. */
  keySpace?: number;
  maxDepth?: number;
}

export function randomKey(rng: Rng, space: number): string {
  const n = rng.int(space);
  // Mostly printable, sometimes binary or long, so ordering covers prefixes and high bytes.
  const r = rng.int(20);
  if (r === 0) return Buffer.concat([Buffer.from([0xff, n & 0xff]), Buffer.from(String(n))]).toString('hex');
  if (r === 1) return Buffer.from(`k${n}`.padEnd(40 + (n % 200), '~')).toString('hex');
  return Buffer.from(`k${n}`).toString('hex');
}

export function randomValue(rng: Rng, big: number): string {
  if (rng.chance(big)) return rng.bytes(4096 + rng.int(30000)).toString('hex');
  const r = rng.int(10);
  if (r === 0) return '';
  if (r < 3) return rng.bytes(rng.int(400)).toString('hex');
  return rng.bytes(rng.int(40)).toString('hex');
}

/**
 * One random operation valid against `root`, applied to it. Returns the op.
 */
export function randomOp(rng: Rng, root: MBucket, o: GenOptions = {}): Op {
  const space = o.keySpace ?? 300;
  const paths = bucketPaths(root);
  const tops = root.entries.size;
  if (paths.length === 0 || (tops < 3 && rng.chance(0.3))) {
    const op: Op = { op: 'createBucket', path: [], key: Buffer.from(`top${rng.int(6)}`).toString('hex') };
    applyModel(root, op);
    return op;
  }
  const path = rng.pick(paths);
  const b = modelBucket(root, path);
  const keys = b.sortedKeys();
  const plain = keys.filter((k) => !(b.entries.get(k) instanceof MBucket));
  const subs = keys.filter((k) => b.entries.get(k) instanceof MBucket);
  const del = o.deleteBias ?? 1;
  const r = rng.u32() / 0x1_0000_0000;
  let op: Op;
  if (r < 0.5 / (0.5 + 0.3 * del) * 0.85) {
    let key = randomKey(rng, space);
    if (subs.includes(key)) key = key + '00';
    if (b.entries.get(key) instanceof MBucket) key = key + '01';
    op = { op: 'put', path, key, value: randomValue(rng, o.bigValue ?? 0.01) };
  } else if (r < 0.85) {
    const key = plain.length && rng.chance(0.9) ? rng.pick(plain) : randomKey(rng, space);
    op = b.entries.get(key) instanceof MBucket ? { op: 'nextSequence', path } : { op: 'delete', path, key };
  } else if (r < 0.91) {
    if (path.length >= (o.maxDepth ?? 4)) op = { op: 'nextSequence', path };
    else {
      const key = Buffer.from(`b${rng.int(8)}`).toString('hex');
      op = b.entries.has(key) && !(b.entries.get(key) instanceof MBucket) ? { op: 'delete', path, key } : { op: 'createBucket', path, key };
    }
  } else if (r < 0.94) {
    if (subs.length) op = { op: 'deleteBucket', path, key: rng.pick(subs) };
    else if (path.length > 1 || rng.chance(0.2)) op = { op: 'deleteBucket', path: path.slice(0, -1), key: path[path.length - 1]! };
    else op = { op: 'nextSequence', path };
  } else if (r < 0.97) {
    op = { op: 'nextSequence', path };
  } else {
    const big = rng.chance(0.2);
    op = { op: 'setSequence', path, seq: (big ? 0xffff_ffff_0000_0000n + BigInt(rng.u32()) : BigInt(rng.int(1000))).toString() };
  }
  applyModel(root, op);
  return op;
}
