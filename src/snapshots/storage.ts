/**
 * A snapshotter's own metadata.db (containerd snapshots/storage), shared by
 * the overlayfs and native backends: records keyed by backend key
 * "<ns>/<N>/<key>", numeric ids from the snapshots bucket's sequence (the
 * directory snapshots/<id>), and the parents index that stops a parent from
 * being removed under its children.
 */
import type { Bucket, Tx } from '../bolt/types.js';
import { failedPrecondition, internal, notFound, alreadyExists, invalidArgument } from '../errdefs.js';
import { bucketNames, ensure, getStr, path, putInt, putTime, readInt, readLabels, readTime, writeMap, type Labels } from '../metadata/buckets.js';
import { decodeUvarint, encodeUvarint, timeNow, type GoTime } from '../metadata/encoding.js';
import { isInheritedLabel, K, KIND_BY_BYTE, kindByte, type SnapshotKind } from '../metadata/schema.js';

export interface BackendSnapshot {
  key: string;
  id: bigint;
  kind: SnapshotKind;
  parent?: string;
  labels: Labels;
  createdAt?: GoTime;
  updatedAt?: GoTime;
  /** Committed only: stored usage. */
  inodes?: number;
  size?: number;
}

const subject = (key: string) => `snapshot ${key}`;

function readId(b: Bucket): bigint {
  const v = b.get(K.id);
  if (!v) throw internal('snapshot has no id');
  return decodeUvarint(v).value;
}

function readBackend(key: string, b: Bucket): BackendSnapshot {
  const kind = b.get(K.kind);
  const parent = getStr(b, K.parent);
  const inodes = readInt(b, K.inodes);
  const size = readInt(b, K.size);
  return {
    key,
    id: readId(b),
    kind: KIND_BY_BYTE[kind?.[0] ?? 0] ?? 'Unknown',
    ...(parent ? { parent } : {}),
    labels: readLabels(b) ?? {},
    createdAt: readTime(b, K.createdat),
    updatedAt: readTime(b, K.updatedat),
    ...(inodes !== undefined ? { inodes } : {}),
    ...(size !== undefined ? { size } : {}),
  };
}

export function listBackend(tx: Tx): BackendSnapshot[] {
  const sb = path(tx, K.v1, K.snapshots);
  return bucketNames(sb).map((k) => readBackend(k, sb!.bucket(k)!));
}

export function getBackend(tx: Tx, key: string): BackendSnapshot | undefined {
  const b = path(tx, K.v1, K.snapshots, key);
  return b ? readBackend(key, b) : undefined;
}

/** Ids present in the DB, as directory names (storage.IDMap). */
export function idSet(tx: Tx): Set<string> {
  return new Set(listBackend(tx).map((s) => String(s.id)));
}

export function parentKey(parent: bigint, child: bigint): Uint8Array {
  const p = encodeUvarint(parent);
  const c = encodeUvarint(child);
  const out = new Uint8Array(p.length + 1 + c.length);
  out.set(p, 0);
  out.set(c, p.length + 1);
  return out;
}

function hasChildren(pb: Bucket | null, id: bigint): boolean {
  if (!pb) return false;
  const prefix = parentKey(id, 0n).subarray(0, encodeUvarint(id).length + 1);
  const e = pb.cursor().seek(prefix);
  if (!e) return false;
  const k = e[0];
  return k.length > prefix.length && prefix.every((x, i) => k[i] === x);
}

/** storage.CreateSnapshot (Active or View): a new id; the parent must be Committed. */
export function createBackend(tx: Tx, key: string, kind: 'Active' | 'View', parent?: string, labels: Labels = {}): BackendSnapshot {
  const sb = ensure(tx, K.v1, K.snapshots);
  const pb = ensure(tx, K.v1, K.parents);
  if (sb.bucket(key)) throw alreadyExists('already exists', { subject: subject(key) });
  let parentId: bigint | undefined;
  if (parent) {
    const p = sb.bucket(parent);
    if (!p) throw notFound('missing parent bucket', { subject: `snapshot ${parent}` });
    if (KIND_BY_BYTE[p.get(K.kind)?.[0] ?? 0] !== 'Committed') throw invalidArgument('parent is not committed snapshot', { subject: subject(parent) });
    parentId = readId(p);
  }
  const b = sb.createBucket(key);
  const id = sb.nextSequence();
  b.put(K.id, encodeUvarint(id));
  b.put(K.kind, Uint8Array.of(kindByte(kind)));
  if (parent) b.put(K.parent, parent);
  const now = timeNow();
  putTime(b, K.createdat, now);
  putTime(b, K.updatedat, now);
  writeMap(b, K.labels, inherited(labels));
  if (parentId !== undefined) pb.put(parentKey(parentId, id), key);
  return readBackend(key, b);
}

/** storage.CommitActive: same id under the new name, kind Committed, usage stored. */
export function commitBackend(tx: Tx, active: string, name: string, usage: { size: number; inodes: number }, labels: Labels = {}): BackendSnapshot {
  const sb = path(tx, K.v1, K.snapshots);
  const a = sb?.bucket(active);
  if (!sb || !a) throw notFound('not found', { subject: subject(active) });
  if (sb.bucket(name)) throw alreadyExists('already exists', { subject: subject(name) });
  const cur = readBackend(active, a);
  if (cur.kind !== 'Active') throw failedPrecondition('requested snapshot not active', { subject: subject(active) });
  const b = sb.createBucket(name);
  b.put(K.id, encodeUvarint(cur.id));
  b.put(K.kind, Uint8Array.of(kindByte('Committed')));
  if (cur.parent) b.put(K.parent, cur.parent);
  const now = timeNow();
  putTime(b, K.createdat, now);
  putTime(b, K.updatedat, now);
  writeMap(b, K.labels, inherited(labels));
  putInt(b, K.inodes, usage.inodes);
  putInt(b, K.size, usage.size);
  if (cur.parent) {
    const p = sb.bucket(cur.parent);
    if (p) ensure(tx, K.v1, K.parents).put(parentKey(readId(p), cur.id), name);
  }
  sb.deleteBucket(active);
  return readBackend(name, b);
}

/** storage.Remove: refused while a child exists; drops the parents entry. Returns the id. */
export function removeBackend(tx: Tx, key: string): BackendSnapshot {
  const sb = path(tx, K.v1, K.snapshots);
  const b = sb?.bucket(key);
  if (!sb || !b) throw notFound('not found', { subject: subject(key) });
  const cur = readBackend(key, b);
  const pb = path(tx, K.v1, K.parents);
  if (pb) {
    if (hasChildren(pb, cur.id)) throw failedPrecondition('cannot remove snapshot with child', { subject: subject(key) });
    if (cur.parent) {
      const p = sb.bucket(cur.parent);
      if (!p) throw notFound('not found', { subject: subject(key) });
      pb.delete(parentKey(readId(p), cur.id));
    }
  }
  sb.deleteBucket(key);
  return cur;
}

/** storage.UpdateInfo for label fieldpaths: only inherited labels reach the backend. */
export function updateBackendLabels(tx: Tx, key: string, labels: Labels): BackendSnapshot {
  const b = path(tx, K.v1, K.snapshots, key);
  if (!b) throw notFound('not found', { subject: subject(key) });
  putTime(b, K.updatedat, timeNow());
  writeMap(b, K.labels, inherited(labels));
  return readBackend(key, b);
}

export function inherited(labels: Labels): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(labels)) if (isInheritedLabel(k)) out[k] = v;
  return out;
}
