/** Image records (metadata/images.go): name → target descriptor, labels, annotations. */
import type { Bucket, Tx } from '../bolt/types.js';
import { alreadyExists, internal, notFound } from '../errdefs.js';
import { bucketNames, ensure, getStr, mergeLabels, path, putInt, putTime, readInt, readLabels, readMap, readTime, writeMap, type Labels } from './buckets.js';
import { timeNow, type GoTime } from './encoding.js';
import { K } from './schema.js';
import { validateImage, type Descriptor } from './validate.js';

export interface ImageRecord {
  name: string;
  target: Descriptor;
  labels: Labels;
  createdAt?: GoTime;
  updatedAt?: GoTime;
}

const subject = (name: string) => `image ${JSON.stringify(name)}`;

function readImage(name: string, b: Bucket): ImageRecord {
  const t = b.bucket(K.target);
  if (!t) throw internal('unable to read target bucket', { subject: subject(name) });
  const annotations = readMap(b, K.annotations);
  return {
    name,
    target: {
      mediaType: getStr(t, K.mediatype) ?? '',
      digest: getStr(t, K.digest) ?? '',
      size: readInt(t, K.size) ?? 0,
      ...(annotations ? { annotations } : {}),
    },
    labels: readLabels(b) ?? {},
    createdAt: readTime(b, K.createdat),
    updatedAt: readTime(b, K.updatedat),
  };
}

export function listImages(tx: Tx, ns: string): ImageRecord[] {
  const ib = path(tx, K.v1, ns, K.images);
  return bucketNames(ib).map((n) => readImage(n, ib!.bucket(n)!));
}

export function getImage(tx: Tx, ns: string, name: string): ImageRecord {
  const b = path(tx, K.v1, ns, K.images, name);
  if (!b) throw notFound('not found', { subject: subject(name) });
  return readImage(name, b);
}

function writeTarget(b: Bucket, target: Descriptor): void {
  writeMap(b, K.annotations, target.annotations);
  const t = b.createBucketIfNotExists(K.target);
  t.put(K.digest, target.digest);
  t.put(K.mediatype, target.mediaType);
  putInt(t, K.size, target.size);
}

/** imageStore.Create: AlreadyExists when the name is taken. */
export function createImage(tx: Tx, ns: string, img: { name: string; target: Descriptor; labels?: Labels }): ImageRecord {
  validateImage(img.name, img.target, img.labels);
  const ib = ensure(tx, K.v1, ns, K.images);
  if (ib.bucket(img.name)) throw alreadyExists('already exists', { subject: subject(img.name) });
  const b = ib.createBucket(img.name);
  const now = timeNow();
  putTime(b, K.createdat, now);
  putTime(b, K.updatedat, now);
  writeMap(b, K.labels, img.labels);
  writeTarget(b, img.target);
  return readImage(img.name, b);
}

/** Labels edit (ctr images label): "" clears; replaceAll drops labels not given. */
export function updateImageLabels(tx: Tx, ns: string, name: string, edits: Labels, replaceAll = false): ImageRecord {
  const b = path(tx, K.v1, ns, K.images, name);
  if (!b) throw notFound('not found', { subject: subject(name) });
  const cur = readImage(name, b);
  const labels = mergeLabels(cur.labels, edits, replaceAll);
  validateImage(name, cur.target, labels);
  putTime(b, K.updatedat, timeNow());
  writeMap(b, K.labels, labels);
  return readImage(name, b);
}

/** Replace the target (the unit containerd updates it as). */
export function updateImageTarget(tx: Tx, ns: string, name: string, target: Descriptor): ImageRecord {
  const b = path(tx, K.v1, ns, K.images, name);
  if (!b) throw notFound('not found', { subject: subject(name) });
  const cur = readImage(name, b);
  validateImage(name, target, cur.labels);
  putTime(b, K.updatedat, timeNow());
  writeTarget(b, target);
  return readImage(name, b);
}

export function deleteImage(tx: Tx, ns: string, name: string): void {
  const ib = path(tx, K.v1, ns, K.images);
  if (!ib || !ib.bucket(name)) throw notFound('not found', { subject: subject(name) });
  ib.deleteBucket(name);
}
