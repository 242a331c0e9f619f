/** Leases (metadata/leases.go): GC roots holding content, snapshots and ingests. */
import type { Tx } from '../bolt/types.js';
import { alreadyExists, invalidArgument, notFound } from '../errdefs.js';
import { bucketNames, ensure, path, putTime, readLabels, readTime, writeMap, type Labels } from './buckets.js';
import { formatRFC3339, str, timeNow, type GoTime } from './encoding.js';
import { K, LABELS } from './schema.js';
import { validateLabels } from './validate.js';

export interface LeaseResource {
  /** "content", "snapshots/<snapshotter>", "ingests" (containerd's resource types) */
  type: string;
  id: string;
}

export interface LeaseRecord {
  id: string;
  createdAt?: GoTime;
  labels: Labels;
}

const subject = (id: string) => `lease ${JSON.stringify(id)}`;

export function listLeases(tx: Tx, ns: string): LeaseRecord[] {
  const lb = path(tx, K.v1, ns, K.leases);
  return bucketNames(lb).map((id) => {
    const b = lb!.bucket(id)!;
    return { id, createdAt: readTime(b, K.createdat), labels: readLabels(b) ?? {} };
  });
}

/** A lease id like containerd's WithRandomID: "<nanoseconds of now>-<base64url of 3 random bytes>". */
export function randomLeaseId(): string {
  const now = timeNow();
  const bytes = new Uint8Array(3);
  globalThis.crypto.getRandomValues(bytes);
  const b64 = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
  return `${now.nsec}-${b64}`;
}

/** The gc.expire label value for a lease that lives `ms` from now (RFC3339, seconds, UTC). */
export function expireLabel(ms: number): string {
  const t = timeNow();
  const at = Number(t.sec) * 1000 + t.nsec / 1e6 + ms;
  return formatRFC3339({ sec: BigInt(Math.floor(at / 1000)), nsec: 0, offsetMin: null });
}

export function createLease(tx: Tx, ns: string, id: string, labels: Labels = {}): LeaseRecord {
  if (!id) throw invalidArgument('lease id must be provided');
  validateLabels(labels, 'lease.Labels');
  const lb = ensure(tx, K.v1, ns, K.leases);
  if (lb.bucket(id)) throw alreadyExists('already exists', { subject: subject(id) });
  const b = lb.createBucket(id);
  const now = timeNow();
  putTime(b, K.createdat, now);
  writeMap(b, K.labels, labels);
  return { id, createdAt: now, labels: readLabels(b) ?? {} };
}

export function deleteLease(tx: Tx, ns: string, id: string): void {
  const lb = path(tx, K.v1, ns, K.leases);
  if (!lb || !lb.bucket(id)) throw notFound('not found', { subject: subject(id) });
  lb.deleteBucket(id);
}

function resourceBucketPath(r: LeaseResource): string[] {
  if (r.type === 'content') return [K.content];
  if (r.type === 'ingests') return [K.ingests];
  if (r.type.startsWith('snapshots/') && r.type.length > 'snapshots/'.length) return [K.snapshots, r.type.slice('snapshots/'.length)];
  throw invalidArgument(`unsupported lease resource type ${JSON.stringify(r.type)}`);
}

export function addLeaseResource(tx: Tx, ns: string, id: string, r: LeaseResource): void {
  const b = path(tx, K.v1, ns, K.leases, id);
  if (!b) throw notFound('not found', { subject: subject(id) });
  const rb = ensure(b, ...resourceBucketPath(r));
  rb.put(r.id, new Uint8Array(0));
}

export function deleteLeaseResource(tx: Tx, ns: string, id: string, r: LeaseResource): void {
  const b = path(tx, K.v1, ns, K.leases, id);
  if (!b) throw notFound('not found', { subject: subject(id) });
  path(b, ...resourceBucketPath(r))?.delete(r.id);
}

export function listLeaseResources(tx: Tx, ns: string, id: string): LeaseResource[] {
  const b = path(tx, K.v1, ns, K.leases, id);
  if (!b) throw notFound('not found', { subject: subject(id) });
  const out: LeaseResource[] = [];
  b.bucket(K.content)?.forEach((k) => out.push({ type: 'content', id: str(k) }));
  b.bucket(K.ingests)?.forEach((k) => out.push({ type: 'ingests', id: str(k) }));
  const sb = b.bucket(K.snapshots);
  for (const sn of bucketNames(sb)) sb!.bucket(sn)!.forEach((k) => out.push({ type: `snapshots/${sn}`, id: str(k) }));
  return out;
}

export { LABELS };
