/**
 * Content records (metadata/content.go): blob records per namespace and
 * ingest records; plus where blob files live in the local content store.
 */
import { join } from 'node:path';
import type { Bucket, Tx } from '../bolt/types.js';
import { alreadyExists, notFound } from '../errdefs.js';
import { bucketNames, ensure, getStr, mergeLabels, path, putInt, putTime, readInt, readLabels, readTime, writeMap, type Labels } from './buckets.js';
import { timeNow, type GoTime } from './encoding.js';
import { CONTENT_DIR, K } from './schema.js';
import { validateDigest, validateLabels } from './validate.js';

export interface BlobRecord {
  digest: string;
  size: number;
  labels: Labels;
  createdAt?: GoTime;
  updatedAt?: GoTime;
}

export interface IngestRecord {
  ref: string;
  backendRef: string;
  expireAt?: GoTime;
  expected?: string;
}

const subject = (d: string) => `content digest ${d}`;

function readBlob(digest: string, b: Bucket): BlobRecord {
  return { digest, size: readInt(b, K.size) ?? 0, labels: readLabels(b) ?? {}, createdAt: readTime(b, K.createdat), updatedAt: readTime(b, K.updatedat) };
}

export function listBlobs(tx: Tx, ns: string): BlobRecord[] {
  const bb = path(tx, K.v1, ns, K.content, K.blob);
  return bucketNames(bb).map((d) => readBlob(d, bb!.bucket(d)!));
}

export function getBlob(tx: Tx, ns: string, digest: string): BlobRecord {
  const b = path(tx, K.v1, ns, K.content, K.blob, digest);
  if (!b) throw notFound('not found', { subject: subject(digest) });
  return readBlob(digest, b);
}

export function hasBlob(tx: Tx, ns: string, digest: string): boolean {
  return path(tx, K.v1, ns, K.content, K.blob, digest) !== null;
}

/** The record a committed writer leaves (createdat = updatedat). The file must already be in place. */
export function createBlob(tx: Tx, ns: string, digest: string, size: number, labels?: Labels): BlobRecord {
  validateDigest(digest);
  validateLabels(labels, 'content.Labels');
  const bb = ensure(tx, K.v1, ns, K.content, K.blob);
  if (bb.bucket(digest)) throw alreadyExists('already exists', { subject: subject(digest) });
  const b = bb.createBucket(digest);
  const now = timeNow();
  putTime(b, K.createdat, now);
  putTime(b, K.updatedat, now);
  writeMap(b, K.labels, labels);
  putInt(b, K.size, size);
  return readBlob(digest, b);
}

export function updateBlobLabels(tx: Tx, ns: string, digest: string, edits: Labels, replaceAll = false): BlobRecord {
  const b = path(tx, K.v1, ns, K.content, K.blob, digest);
  if (!b) throw notFound('not found', { subject: subject(digest) });
  const labels = mergeLabels(readLabels(b), edits, replaceAll);
  validateLabels(labels, 'content.Labels');
  putTime(b, K.updatedat, timeNow());
  writeMap(b, K.labels, labels);
  return readBlob(digest, b);
}

/** Drop the record; the file goes when GC finds no namespace referencing it. */
export function deleteBlob(tx: Tx, ns: string, digest: string): void {
  const bb = path(tx, K.v1, ns, K.content, K.blob);
  if (!bb || !bb.bucket(digest)) throw notFound('not found', { subject: subject(digest) });
  bb.deleteBucket(digest);
}

export function listIngests(tx: Tx, ns: string): IngestRecord[] {
  const ib = path(tx, K.v1, ns, K.content, K.ingests);
  return bucketNames(ib).map((ref) => {
    const b = ib!.bucket(ref)!;
    const expected = getStr(b, K.expected);
    const expireAt = readTime(b, K.expireat);
    return { ref, backendRef: getStr(b, K.ref) ?? '', ...(expireAt ? { expireAt } : {}), ...(expected ? { expected } : {}) };
  });
}

/**
 * An ingest record: backend ref "<ns>/<N>/<ref>" with N from the record's own
 * bucket's sequence. Without a lease give expireAt (containerd uses now+24h).
 */
export function createIngest(tx: Tx, ns: string, ref: string, opts: { expireAt?: GoTime; expected?: string } = {}): IngestRecord {
  const ib = ensure(tx, K.v1, ns, K.content, K.ingests);
  if (ib.bucket(ref)) throw alreadyExists('already exists', { subject: `ingest ${JSON.stringify(ref)}` });
  const b = ib.createBucket(ref);
  const backendRef = `${ns}/${b.nextSequence()}/${ref}`;
  b.put(K.ref, backendRef);
  if (opts.expireAt) putTime(b, K.expireat, opts.expireAt);
  if (opts.expected) b.put(K.expected, opts.expected);
  return { ref, backendRef, ...opts };
}

export function deleteIngest(tx: Tx, ns: string, ref: string): void {
  const ib = path(tx, K.v1, ns, K.content, K.ingests);
  if (!ib || !ib.bucket(ref)) throw notFound('not found', { subject: `ingest ${JSON.stringify(ref)}` });
  ib.deleteBucket(ref);
}

// ---- local content store files ----

export const contentRoot = (root: string): string => join(root, CONTENT_DIR);

/** blobs/<alg>/<hex>; the digest must be valid (it becomes a path). */
export function blobPath(root: string, digest: string): string {
  validateDigest(digest);
  const [alg, hex] = digest.split(':') as [string, string];
  return join(contentRoot(root), 'blobs', alg, hex);
}

export const ingestRoot = (root: string): string => join(contentRoot(root), 'ingest');
