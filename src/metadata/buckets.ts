/**
 * Small helpers over the bolt interface shared by the stores: bucket paths,
 * label maps, timestamps. Record updates touch only the keys they change, so
 * keys and buckets ctrx does not know survive byte for byte.
 */
import type { Bucket, Bytes, Tx } from '../bolt/types.js';
import { failedPrecondition } from '../errdefs.js';
import { DB_VERSION, K } from './schema.js';
import { decodeTime, decodeVarint, encodeTime, encodeVarint, str, type GoTime } from './encoding.js';

export type Labels = Record<string, string>;

/** Sets an own property even for keys like "__proto__" (labels come from users and images). */
export function setLabel(o: Labels, k: string, v: string): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

export function path(root: Tx | Bucket, ...keys: string[]): Bucket | null {
  let b: Bucket | null = null;
  for (let i = 0; i < keys.length; i++) {
    b = i === 0 ? root.bucket(keys[0]!) : b!.bucket(keys[i]!);
    if (!b) return null;
  }
  return b;
}

export function ensure(root: Tx | Bucket, ...keys: string[]): Bucket {
  let b: Bucket | undefined;
  for (let i = 0; i < keys.length; i++) b = i === 0 ? root.createBucketIfNotExists(keys[0]!) : b!.createBucketIfNotExists(keys[i]!);
  return b!;
}

/** Nested bucket names of b, in key order. */
export function bucketNames(b: Bucket | null): string[] {
  const out: string[] = [];
  b?.forEach((k, v) => {
    if (v === null) out.push(str(k));
  });
  return out;
}

export function isEmpty(b: Bucket | null): boolean {
  return !b || b.cursor().first() === null;
}

export function readMap(b: Bucket, name: string): Labels | undefined {
  const m = b.bucket(name);
  if (!m) return undefined;
  const out: Labels = {};
  m.forEach((k, v) => {
    if (v !== null) setLabel(out, str(k), str(v));
  });
  return out;
}

export const readLabels = (b: Bucket): Labels | undefined => readMap(b, K.labels);

/**
 * boltutil.writeMap: the bucket is dropped and rebuilt; empty values are not
 * stored (setting a label to "" removes it).
 */
export function writeMap(b: Bucket, name: string, labels: Labels | undefined): void {
  if (b.bucket(name)) b.deleteBucket(name);
  const keys = Object.keys(labels ?? {});
  if (keys.length === 0) return;
  const m = b.createBucket(name);
  for (const k of keys) if (labels![k] !== '') m.put(k, labels![k]!);
}

/** Apply "set k=v / clear k when v is empty" edits the way containerd's Update with labels.<k> fieldpaths does. */
export function mergeLabels(current: Labels | undefined, edits: Labels, replaceAll = false): Labels {
  const out: Labels = {};
  if (!replaceAll) for (const [k, v] of Object.entries(current ?? {})) setLabel(out, k, v);
  for (const [k, v] of Object.entries(edits)) setLabel(out, k, v);
  for (const k of Object.keys(out)) if (out[k] === '') delete out[k];
  return out;
}

export function readTime(b: Bucket, key: string): GoTime | undefined {
  const v = b.get(key);
  return v && v.length ? decodeTime(v) : undefined;
}

export function putTime(b: Bucket, key: string, t: GoTime): void {
  b.put(key, encodeTime(t));
}

export function readInt(b: Bucket, key: string): number | undefined {
  const v = b.get(key);
  if (!v || v.length === 0) return undefined;
  return Number(decodeVarint(v).value);
}

export function putInt(b: Bucket, key: string, n: number | bigint): void {
  b.put(key, encodeVarint(n));
}

export function getStr(b: Bucket, key: string): string | undefined {
  const v = b.get(key);
  return v === null ? undefined : str(v);
}

export function keyStr(k: Bytes): string {
  return str(k);
}

/** The schema version containerd keeps in v1/version; 0 when the file has none yet. */
export function schemaVersion(tx: Tx): number {
  const v1 = tx.bucket(K.v1);
  const v = v1?.get(K.version);
  return v && v.length ? Number(decodeVarint(v).value) : 0;
}

/**
 * Writes are only safe on the schema ctrx knows: refuse a meta.db of another
 * containerd major (1.x writes 3; 2.x migrates to 4). A fresh file gets 3.
 */
export function ensureWritableSchema(tx: Tx, file: string): Bucket {
  const v1 = tx.bucket(K.v1);
  const version = schemaVersion(tx);
  if (v1 && version !== DB_VERSION) {
    throw failedPrecondition(`schema version ${version || 'missing'} is not ${DB_VERSION} (containerd 1.6/1.7); ctrx will not write to it`, { subject: file });
  }
  const b = v1 ?? tx.createBucket(K.v1);
  if (!version) putInt(b, K.version, DB_VERSION);
  return b;
}
