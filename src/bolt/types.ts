/**
 * The public surface of ctrx's bbolt-compatible engine (src/bolt/). Other
 * modules (src/metadata, src/snapshots) code against these interfaces only.
 *
 * Keys and values are Uint8Array (Buffer is fine). A value of `null` from a
 * cursor or forEach means "this key is a nested bucket". All calls are
 * synchronous: a ctrx command is a short process that opens, does one or two
 * transactions, and exits.
 */
export type Bytes = Uint8Array;
export type Key = Bytes | string;

export interface OpenOptions {
  /** Create the file (bbolt's initial 4-page layout) when it does not exist. Default false. */
  create?: boolean;
  /** Mode for a created file. Default 0o644. */
  mode?: number;
  /** Open read-only: no write transactions, no lock taken for reads. */
  readOnly?: boolean;
  /** Page size for a created file. Default 4096. */
  pageSize?: number;
}

export interface DB {
  readonly path: string;
  readonly pageSize: number;
  /**
   * Run fn in a read transaction over a consistent snapshot. Takes no lock:
   * if the meta txid moves during the walk (another process committed), the
   * read is retried, so fn must be free of side effects outside the tx.
   */
  view<T>(fn: (tx: Tx) => T): T;
  /**
   * Run fn in a write transaction: flock(LOCK_EX|LOCK_NB) on the file (held
   * only for the transaction), copy-on-write commit when fn returns, rollback
   * when it throws. Throws CtrxError 'unavailable' naming the holder's pid
   * when another process (containerd) holds the lock.
   */
  update<T>(fn: (tx: Tx) => T): T;
  /** Whether another process currently holds the file's flock (non-blocking probe); the holder's pid if known. */
  lockedBy(): { locked: boolean; pid?: number; name?: string };
  close(): void;
}

export interface Tx {
  readonly writable: boolean;
  readonly txid: bigint;
  /** Top-level bucket, or null when missing (or when the key is a plain value). */
  bucket(name: Key): Bucket | null;
  createBucket(name: Key): Bucket;
  createBucketIfNotExists(name: Key): Bucket;
  deleteBucket(name: Key): void;
  /** Cursor over the top-level (root) bucket. */
  cursor(): Cursor;
  forEach(fn: (key: Bytes, value: Bytes | null) => void): void;
}

export interface Bucket {
  readonly writable: boolean;
  /** Value for key; null when absent or when the key is a nested bucket. */
  get(key: Key): Bytes | null;
  put(key: Key, value: Bytes | string): void;
  /** Delete a plain key (no-op when absent). Throws when the key is a bucket. */
  delete(key: Key): void;
  bucket(name: Key): Bucket | null;
  createBucket(name: Key): Bucket;
  createBucketIfNotExists(name: Key): Bucket;
  /** Delete a nested bucket and everything under it. NotFound when absent. */
  deleteBucket(name: Key): void;
  cursor(): Cursor;
  /** Iterate in key order; value null = nested bucket. Do not mutate while iterating. */
  forEach(fn: (key: Bytes, value: Bytes | null) => void): void;
  sequence(): bigint;
  setSequence(n: bigint): void;
  /** Increment the sequence and return the new value (bbolt's NextSequence). */
  nextSequence(): bigint;
}

export interface Cursor {
  first(): Entry | null;
  last(): Entry | null;
  next(): Entry | null;
  prev(): Entry | null;
  /** First entry with key >= seek. */
  seek(key: Key): Entry | null;
  /** Delete the entry under the cursor (plain values only). */
  delete(): void;
}

/** [key, value]; value null = nested bucket. */
export type Entry = [Bytes, Bytes | null];
