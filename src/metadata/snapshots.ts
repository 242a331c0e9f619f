/**
 * Snapshot records on the metadata side (metadata/snapshot.go): per
 * namespace and snapshotter, key → backend key "<ns>/<N>/<key>", parent,
 * labels and the children set. The per-snapshotter bucket's sequence is
 * containerd's backend key counter, so ctrx must bump it for new keys.
 */
import type { Bucket, Tx } from '../bolt/types.js';
import { alreadyExists, failedPrecondition, notFound } from '../errdefs.js';
import { bucketNames, ensure, getStr, mergeLabels, path, putTime, readLabels, readTime, writeMap, type Labels } from './buckets.js';
import { str, timeNow, type GoTime } from './encoding.js';
import { K } from './schema.js';
import { validateLabels } from './validate.js';

export interface SnapshotRecord {
  key: string;
  /** backend key */
  name: string;
  parent?: string;
  labels: Labels;
  createdAt?: GoTime;
  updatedAt?: GoTime;
  children: string[];
}

const subject = (key: string) => `snapshot ${key}`;

function readRecord(key: string, b: Bucket): SnapshotRecord {
  const parent = getStr(b, K.parent);
  const children: string[] = [];
  b.bucket(K.children)?.forEach((k) => children.push(str(k)));
  return {
    key,
    name: getStr(b, K.name) ?? '',
    ...(parent ? { parent } : {}),
    labels: readLabels(b) ?? {},
    createdAt: readTime(b, K.createdat),
    updatedAt: readTime(b, K.updatedat),
    children,
  };
}

/** Snapshotter names that have a bucket in this namespace. */
export function snapshotterNames(tx: Tx, ns: string): string[] {
  return bucketNames(path(tx, K.v1, ns, K.snapshots));
}

export function listSnapshotRecords(tx: Tx, ns: string, snapshotter: string): SnapshotRecord[] {
  const sb = path(tx, K.v1, ns, K.snapshots, snapshotter);
  return bucketNames(sb).map((k) => readRecord(k, sb!.bucket(k)!));
}

export function getSnapshotRecord(tx: Tx, ns: string, snapshotter: string, key: string): SnapshotRecord {
  const b = path(tx, K.v1, ns, K.snapshots, snapshotter, key);
  if (!b) throw notFound('does not exist', { subject: subject(key) });
  return readRecord(key, b);
}

/** Label edits; returns the record (the caller mirrors inherited labels into the backend). */
export function updateSnapshotLabels(tx: Tx, ns: string, snapshotter: string, key: string, edits: Labels, replaceAll = false): SnapshotRecord {
  const b = path(tx, K.v1, ns, K.snapshots, snapshotter, key);
  if (!b) throw notFound('does not exist', { subject: subject(key) });
  const labels = mergeLabels(readLabels(b), edits, replaceAll);
  validateLabels(labels, 'info.Labels');
  putTime(b, K.updatedat, timeNow());
  writeMap(b, K.labels, labels);
  return readRecord(key, b);
}

/** Remove the record: refused with children; unlinks it from its parent's children. */
export function removeSnapshotRecord(tx: Tx, ns: string, snapshotter: string, key: string): SnapshotRecord {
  const sb = path(tx, K.v1, ns, K.snapshots, snapshotter);
  const b = sb?.bucket(key);
  if (!sb || !b) throw notFound('does not exist', { subject: subject(key) });
  const rec = readRecord(key, b);
  if (rec.children.length) throw failedPrecondition('cannot remove snapshot with child', { subject: subject(key) });
  if (rec.parent) {
    const pb = sb.bucket(rec.parent);
    if (!pb) throw notFound('does not exist', { subject: `parent snapshot ${rec.parent}` });
    pb.bucket(K.children)?.delete(key);
  }
  sb.deleteBucket(key);
  return rec;
}

/**
 * A new record for key (Prepare/View on the metadata side): allocates N from
 * the snapshotter bucket's sequence and returns the backend key to create.
 */
export function createSnapshotRecord(tx: Tx, ns: string, snapshotter: string, key: string, parent: string | undefined, labels: Labels = {}): SnapshotRecord {
  validateLabels(labels, 'info.Labels');
  const sb = ensure(tx, K.v1, ns, K.snapshots, snapshotter);
  if (sb.bucket(key)) throw alreadyExists('already exists', { subject: subject(key) });
  if (parent && !sb.bucket(parent)) throw notFound('does not exist', { subject: `parent snapshot ${parent}` });
  const b = sb.createBucket(key);
  const n = sb.nextSequence();
  b.put(K.name, `${ns}/${n}/${key}`);
  if (parent) {
    b.put(K.parent, parent);
    sb.bucket(parent)!.createBucketIfNotExists(K.children).put(key, new Uint8Array(0));
  }
  const now = timeNow();
  putTime(b, K.createdat, now);
  putTime(b, K.updatedat, now);
  writeMap(b, K.labels, labels);
  return readRecord(key, b);
}

/**
 * Commit on the metadata side: a record under `name` (new N) replacing
 * `active`; the parent's children entry is repointed. Returns both backend keys.
 */
export function commitSnapshotRecord(tx: Tx, ns: string, snapshotter: string, name: string, active: string, labels: Labels = {}): { activeBackend: string; record: SnapshotRecord } {
  validateLabels(labels, 'info.Labels');
  const sb = path(tx, K.v1, ns, K.snapshots, snapshotter);
  const a = sb?.bucket(active);
  if (!sb || !a) throw notFound('does not exist', { subject: subject(active) });
  if (sb.bucket(name)) throw alreadyExists('already exists', { subject: subject(name) });
  const cur = readRecord(active, a);
  if (cur.children.length) throw failedPrecondition('cannot commit snapshot with child', { subject: subject(active) });
  const b = sb.createBucket(name);
  const n = sb.nextSequence();
  b.put(K.name, `${ns}/${n}/${name}`);
  if (cur.parent) {
    b.put(K.parent, cur.parent);
    const cb = sb.bucket(cur.parent)?.createBucketIfNotExists(K.children);
    cb?.delete(active);
    cb?.put(name, new Uint8Array(0));
  }
  const now = timeNow();
  putTime(b, K.createdat, now);
  putTime(b, K.updatedat, now);
  // containerd's Commit writes only the labels given to it; the active snapshot's labels do not carry over.
  writeMap(b, K.labels, labels);
  sb.deleteBucket(active);
  return { activeBackend: cur.name, record: readRecord(name, b) };
}
