/** Container records (metadata/containers.go). */
import type { Bucket, Tx } from '../bolt/types.js';
import { alreadyExists, invalidArgument, notFound } from '../errdefs.js';
import { bucketNames, ensure, getStr, mergeLabels, path, putTime, readLabels, readTime, writeMap, type Labels } from './buckets.js';
import { decodeAny, encodeAny, str, timeNow, type AnyValue, type GoTime } from './encoding.js';
import { K } from './schema.js';
import { validateIdentifier, validateLabels } from './validate.js';

export interface ContainerRecord {
  id: string;
  labels: Labels;
  image: string;
  runtime: { name: string; options?: AnyValue };
  spec?: AnyValue;
  snapshotKey: string;
  snapshotter: string;
  /** containerd 1.7 only; undefined when the key is absent. */
  sandboxId?: string;
  createdAt?: GoTime;
  updatedAt?: GoTime;
  extensions: Record<string, AnyValue>;
}

const subject = (id: string) => `container ${JSON.stringify(id)}`;

function readContainer(id: string, b: Bucket): ContainerRecord {
  const rt = b.bucket(K.runtime);
  const opts = rt?.get(K.options);
  const spec = b.get(K.spec);
  const extensions: Record<string, AnyValue> = {};
  b.bucket(K.extensions)?.forEach((k, v) => {
    if (v !== null) extensions[str(k)] = decodeAny(v);
  });
  const sandbox = getStr(b, K.sandboxid);
  return {
    id,
    labels: readLabels(b) ?? {},
    image: getStr(b, K.image) ?? '',
    runtime: { name: rt ? (getStr(rt, K.name) ?? '') : '', ...(opts ? { options: decodeAny(opts) } : {}) },
    ...(spec ? { spec: decodeAny(spec) } : {}),
    snapshotKey: getStr(b, K.snapshotKey) ?? '',
    snapshotter: getStr(b, K.snapshotter) ?? '',
    ...(sandbox !== undefined ? { sandboxId: sandbox } : {}),
    createdAt: readTime(b, K.createdat),
    updatedAt: readTime(b, K.updatedat),
    extensions,
  };
}

export function listContainers(tx: Tx, ns: string): ContainerRecord[] {
  const cb = path(tx, K.v1, ns, K.containers);
  return bucketNames(cb).map((id) => readContainer(id, cb!.bucket(id)!));
}

export function getContainer(tx: Tx, ns: string, id: string): ContainerRecord {
  const b = path(tx, K.v1, ns, K.containers, id);
  if (!b) throw notFound('not found', { subject: subject(id) });
  return readContainer(id, b);
}

export interface NewContainer {
  id: string;
  labels?: Labels;
  image?: string;
  runtime: { name: string; options?: AnyValue };
  spec: AnyValue;
  snapshotKey?: string;
  snapshotter?: string;
  extensions?: Record<string, AnyValue>;
}

/** metadata.validateContainer. */
export function validateContainer(c: NewContainer): void {
  validateIdentifier(c.id, 'container.ID');
  for (const k of Object.keys(c.extensions ?? {})) if (k === '') throw invalidArgument('container.Extension keys must not be zero-length');
  validateLabels(c.labels, 'containers.Labels');
  if (!c.runtime.name) throw invalidArgument('container.Runtime.Name must be set');
  if (!c.spec) throw invalidArgument('container.Spec must be set');
  if (c.snapshotKey && !c.snapshotter) throw invalidArgument('container.Snapshotter must be set if container.SnapshotKey is set');
}

export function createContainer(tx: Tx, ns: string, c: NewContainer): ContainerRecord {
  validateContainer(c);
  const cb = ensure(tx, K.v1, ns, K.containers);
  if (cb.bucket(c.id)) throw alreadyExists('already exists', { subject: subject(c.id) });
  const b = cb.createBucket(c.id);
  const now = timeNow();
  putTime(b, K.createdat, now);
  putTime(b, K.updatedat, now);
  b.put(K.spec, encodeAny(c.spec));
  const rt = b.createBucket(K.runtime);
  rt.put(K.name, c.runtime.name);
  if (c.runtime.options) rt.put(K.options, encodeAny(c.runtime.options));
  writeMap(b, K.labels, c.labels);
  if (c.extensions && Object.keys(c.extensions).length) {
    const eb = b.createBucket(K.extensions);
    for (const [k, v] of Object.entries(c.extensions)) eb.put(k, encodeAny(v));
  }
  b.put(K.image, c.image ?? '');
  b.put(K.snapshotter, c.snapshotter ?? '');
  b.put(K.snapshotKey, c.snapshotKey ?? '');
  return readContainer(c.id, b);
}

export function updateContainerLabels(tx: Tx, ns: string, id: string, edits: Labels, replaceAll = false): ContainerRecord {
  const b = path(tx, K.v1, ns, K.containers, id);
  if (!b) throw notFound('not found', { subject: subject(id) });
  const labels = mergeLabels(readLabels(b), edits, replaceAll);
  validateLabels(labels, 'containers.Labels');
  putTime(b, K.updatedat, timeNow());
  writeMap(b, K.labels, labels);
  return readContainer(id, b);
}

export function deleteContainer(tx: Tx, ns: string, id: string): ContainerRecord {
  const cb = path(tx, K.v1, ns, K.containers);
  const b = cb?.bucket(id);
  if (!cb || !b) throw notFound('not found', { subject: subject(id) });
  const rec = readContainer(id, b);
  cb.deleteBucket(id);
  return rec;
}
