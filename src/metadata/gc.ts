/**
 * containerd's garbage collector (metadata/gc.go, db.go GarbageCollect), so
 * that ctrx deletes exactly what containerd would: mark from the roots of
 * every namespace, sweep unmarked lease, snapshot, ingest and blob records,
 * then clean the backends the sweep dirtied (snapshotter records and dirs,
 * blob files, ingest dirs). Never more: after ctrx's GC, containerd's own
 * finds nothing else to remove and nothing kept is missing.
 */
import type { Bucket, Tx } from '../bolt/types.js';
import { bucketNames, path, readTime } from './buckets.js';
import { parseRFC3339, str, timeToMillis } from './encoding.js';
import { K, LABELS } from './schema.js';

export type NodeType = 'content' | 'snapshot' | 'lease' | 'ingest';

export interface GcNode {
  type: NodeType;
  ns: string;
  /** digest, "<snapshotter>/<key>", lease id, ingest ref */
  key: string;
  /** gc.flat lease resources: labels are not followed */
  flat?: boolean;
}

const id = (n: { type: NodeType; ns: string; key: string }) => `${n.type}\u0000${n.ns}\u0000${n.key}`;

function labelsOf(b: Bucket | null): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  b?.bucket(K.labels)?.forEach((k, v) => {
    if (v !== null) out.push([str(k), str(v)]);
  });
  return out;
}

/** sendLabelRefs: gc.ref.content[.|/…] → blob, gc.ref.snapshot.<sn>[/…] → snapshot. */
function labelRefs(ns: string, b: Bucket | null, out: GcNode[]): void {
  const ref = LABELS.gcRefContent;
  for (const [k, v] of labelsOf(b)) {
    if (k.startsWith(ref) && (k.length === ref.length || k[ref.length] === '.' || k[ref.length] === '/')) out.push({ type: 'content', ns, key: v });
  }
  for (const [k, v] of labelsOf(b)) {
    if (!k.startsWith(LABELS.gcRefSnapshot)) continue;
    let sn = k.slice(LABELS.gcRefSnapshot.length);
    const slash = sn.indexOf('/');
    if (slash >= 0) sn = sn.slice(0, slash);
    out.push({ type: 'snapshot', ns, key: `${sn}/${v}` });
  }
}

const isRoot = (b: Bucket | null): boolean => b?.bucket(K.labels)?.get(LABELS.gcRoot) != null;

/** scanRoots. */
export function roots(tx: Tx, now: number): GcNode[] {
  const out: GcNode[] = [];
  const v1 = tx.bucket(K.v1);
  for (const ns of bucketNames(v1)) {
    const nb = v1!.bucket(ns)!;
    const lb = nb.bucket(K.leases);
    for (const lid of bucketNames(lb)) {
      const l = lb!.bucket(lid)!;
      const lab = l.bucket(K.labels);
      const exp = lab?.get(LABELS.gcExpire);
      if (exp) {
        const at = parseRFC3339(str(exp));
        if (at !== null && now > at) continue;
      }
      const flat = lab?.get(LABELS.gcFlat) != null;
      out.push({ type: 'lease', ns, key: lid });
      l.bucket(K.content)?.forEach((k) => out.push({ type: 'content', ns, key: str(k), flat }));
      const sb = l.bucket(K.snapshots);
      for (const sn of bucketNames(sb)) sb!.bucket(sn)!.forEach((k) => out.push({ type: 'snapshot', ns, key: `${sn}/${str(k)}`, flat }));
      l.bucket(K.ingests)?.forEach((k) => out.push({ type: 'ingest', ns, key: str(k) }));
    }
    const ib = nb.bucket(K.images);
    for (const name of bucketNames(ib)) {
      const img = ib!.bucket(name)!;
      const t = img.bucket(K.target);
      if (t) out.push({ type: 'content', ns, key: str(t.get(K.digest)) });
      labelRefs(ns, img, out);
    }
    const cb = nb.bucket(K.content);
    const ing = cb?.bucket(K.ingests) ?? null;
    for (const ref of bucketNames(ing)) {
      const ea = readTime(ing!.bucket(ref)!, K.expireat);
      if (!ea || now > timeToMillis(ea)) continue;
      out.push({ type: 'ingest', ns, key: ref });
    }
    const bb = cb?.bucket(K.blob) ?? null;
    for (const d of bucketNames(bb)) if (isRoot(bb!.bucket(d))) out.push({ type: 'content', ns, key: d });
    const ctr = nb.bucket(K.containers);
    for (const cid of bucketNames(ctr)) {
      const c = ctr!.bucket(cid)!;
      const sn = str(c.get(K.snapshotter));
      if (sn !== '') out.push({ type: 'snapshot', ns, key: `${sn}/${str(c.get(K.snapshotKey))}` });
      labelRefs(ns, c, out);
    }
    const ssb = nb.bucket(K.snapshots);
    for (const sn of bucketNames(ssb)) {
      const s = ssb!.bucket(sn)!;
      for (const key of bucketNames(s)) if (isRoot(s.bucket(key))) out.push({ type: 'snapshot', ns, key: `${sn}/${key}` });
    }
  }
  return out;
}

/** references. */
export function references(tx: Tx, n: GcNode): GcNode[] {
  const out: GcNode[] = [];
  if (n.type === 'content') {
    if (n.flat) return out;
    const b = path(tx, K.v1, n.ns, K.content, K.blob, n.key);
    if (b) labelRefs(n.ns, b, out);
  } else if (n.type === 'snapshot') {
    const slash = n.key.indexOf('/');
    if (slash < 0) return out;
    const sn = n.key.slice(0, slash);
    const b = path(tx, K.v1, n.ns, K.snapshots, sn, n.key.slice(slash + 1));
    if (!b) return out;
    const parent = b.get(K.parent);
    if (parent && parent.length) out.push({ type: 'snapshot', ns: n.ns, key: `${sn}/${str(parent)}`, flat: n.flat });
    if (!n.flat) labelRefs(n.ns, b, out);
  } else if (n.type === 'ingest') {
    const b = path(tx, K.v1, n.ns, K.content, K.ingests, n.key);
    const exp = b?.get(K.expected);
    if (exp && exp.length) out.push({ type: 'content', ns: n.ns, key: str(exp) });
  }
  return out;
}

/** gc.Tricolor: the set of reachable nodes (flat and normal marks count the same). */
export function mark(tx: Tx, now: number = Date.now()): Set<string> {
  const seen = new Set<string>();
  const reachable = new Set<string>();
  const grays = roots(tx, now);
  while (grays.length) {
    const n = grays.pop()!;
    const sid = id(n) + (n.flat ? '\u0000flat' : '');
    if (seen.has(sid)) continue;
    seen.add(sid);
    for (const r of references(tx, n)) if (!seen.has(id(r) + (r.flat ? '\u0000flat' : ''))) grays.push(r);
    reachable.add(id(n));
  }
  return reachable;
}

export interface SweepResult {
  removed: GcNode[];
  /** snapshotters that lost a record: their backends need cleaning */
  dirtySnapshotters: Set<string>;
  /** a blob or ingest record went: the content store needs cleaning */
  dirtyContent: boolean;
}

/** scanAll + remove: deletes every unmarked lease, snapshot, ingest and blob record. */
export function sweep(tx: Tx, marked: Set<string>): SweepResult {
  const res: SweepResult = { removed: [], dirtySnapshotters: new Set(), dirtyContent: false };
  const v1 = tx.bucket(K.v1);
  for (const ns of bucketNames(v1)) {
    const nb = v1!.bucket(ns)!;
    const lb = nb.bucket(K.leases);
    for (const lid of bucketNames(lb)) {
      if (marked.has(id({ type: 'lease', ns, key: lid }))) continue;
      lb!.deleteBucket(lid);
      res.removed.push({ type: 'lease', ns, key: lid });
    }
    const ssb = nb.bucket(K.snapshots);
    for (const sn of bucketNames(ssb)) {
      const s = ssb!.bucket(sn)!;
      for (const key of bucketNames(s)) {
        if (marked.has(id({ type: 'snapshot', ns, key: `${sn}/${key}` }))) continue;
        s.deleteBucket(key);
        res.removed.push({ type: 'snapshot', ns, key: `${sn}/${key}` });
        res.dirtySnapshotters.add(sn);
      }
    }
    const cb = nb.bucket(K.content);
    const ing = cb?.bucket(K.ingests) ?? null;
    for (const ref of bucketNames(ing)) {
      if (marked.has(id({ type: 'ingest', ns, key: ref }))) continue;
      ing!.deleteBucket(ref);
      res.removed.push({ type: 'ingest', ns, key: ref });
      res.dirtyContent = true;
    }
    const bb = cb?.bucket(K.blob) ?? null;
    for (const d of bucketNames(bb)) {
      if (marked.has(id({ type: 'content', ns, key: d }))) continue;
      bb!.deleteBucket(d);
      res.removed.push({ type: 'content', ns, key: d });
      res.dirtyContent = true;
    }
  }
  return res;
}

/** Backend keys still named by a metadata record of this snapshotter, in any namespace. */
export function backendKeysInUse(tx: Tx, snapshotter: string): Set<string> {
  const seen = new Set<string>();
  const v1 = tx.bucket(K.v1);
  for (const ns of bucketNames(v1)) {
    const s = path(v1!, ns, K.snapshots, snapshotter);
    for (const key of bucketNames(s)) {
      const name = s!.bucket(key)!.get(K.name);
      if (name && name.length) seen.add(str(name));
    }
  }
  return seen;
}

/** Blob digests named by a record (or an ingest's expected) and backend ingest refs in use, across namespaces. */
export function contentInUse(tx: Tx): { blobs: Set<string>; ingestRefs: Set<string> } {
  const blobs = new Set<string>();
  const ingestRefs = new Set<string>();
  const v1 = tx.bucket(K.v1);
  for (const ns of bucketNames(v1)) {
    const cb = path(v1!, ns, K.content);
    for (const d of bucketNames(cb?.bucket(K.blob) ?? null)) blobs.add(d);
    const ing = cb?.bucket(K.ingests) ?? null;
    for (const ref of bucketNames(ing)) {
      const b = ing!.bucket(ref)!;
      const exp = b.get(K.expected);
      if (exp && exp.length) blobs.add(str(exp));
      const r = b.get(K.ref);
      if (r && r.length) ingestRefs.add(str(r));
    }
  }
  return { blobs, ingestRefs };
}
