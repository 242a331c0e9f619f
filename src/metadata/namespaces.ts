/** Namespaces: the buckets under v1, with optional labels (metadata/namespaces.go). */
import type { Tx } from '../bolt/types.js';
import { alreadyExists, failedPrecondition, notFound } from '../errdefs.js';
import { bucketNames, ensure, isEmpty, path, readLabels, type Labels } from './buckets.js';
import { str } from './encoding.js';
import { K } from './schema.js';
import { validateIdentifier, validateLabel, validateLabels } from './validate.js';

export interface NamespaceInfo {
  name: string;
  labels: Labels;
}

export function listNamespaces(tx: Tx): NamespaceInfo[] {
  const v1 = tx.bucket(K.v1);
  return bucketNames(v1).map((name) => ({ name, labels: readLabels(v1!.bucket(name)!) ?? {} }));
}

export function namespaceExists(tx: Tx, name: string): boolean {
  return path(tx, K.v1, name) !== null;
}

/** Create with labels; the labels bucket is always created, as containerd does. */
export function createNamespace(tx: Tx, name: string, labels: Labels = {}): void {
  const v1 = ensure(tx, K.v1);
  validateIdentifier(name, 'namespace');
  validateLabels(labels, 'namespace.Labels');
  if (v1.bucket(name)) throw alreadyExists('already exists', { subject: `namespace ${JSON.stringify(name)}` });
  const lb = v1.createBucket(name).createBucket(K.labels);
  for (const [k, v] of Object.entries(labels)) lb.put(k, v);
}

/** SetLabel: an empty value deletes; the namespace (and labels bucket) is created when missing. */
export function setNamespaceLabel(tx: Tx, name: string, key: string, value: string): void {
  validateLabel(key, value, 'namespace.Labels');
  const lb = ensure(tx, K.v1, name, K.labels);
  if (value === '') lb.delete(key);
  else lb.put(key, value);
}

/** What still lives in a namespace, in containerd's words (listNs). */
export function namespaceContents(tx: Tx, name: string): string[] {
  const out: string[] = [];
  if (!isEmpty(path(tx, K.v1, name, K.images))) out.push('images');
  if (!isEmpty(path(tx, K.v1, name, K.content, K.blob))) out.push('blobs');
  if (!isEmpty(path(tx, K.v1, name, K.containers))) out.push('containers');
  const sn = path(tx, K.v1, name, K.snapshots);
  sn?.forEach((k, v) => {
    if (v === null && !isEmpty(sn.bucket(k))) out.push(`snapshots on ${JSON.stringify(str(k))} snapshotter`);
  });
  return out;
}

export function deleteNamespace(tx: Tx, name: string): void {
  const types = namespaceContents(tx, name);
  if (types.length) throw failedPrecondition(`namespace ${JSON.stringify(name)} must be empty, but it still has ${types.join(', ')}`);
  const v1 = tx.bucket(K.v1);
  if (!v1 || !v1.bucket(name)) throw notFound('not found', { subject: `namespace ${JSON.stringify(name)}` });
  v1.deleteBucket(name);
}
