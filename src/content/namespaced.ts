/**
 * The content store as a namespace sees it (containerd's metadata content
 * store over the local store): a blob is readable when the namespace has a
 * record for it; an ingest is listed when the namespace has an ingest
 * record and its directory exists; ingesting writes the ingest record first
 * (expiring in 24 h, as containerd does for a writer without a lease), the
 * bytes into the ingest, then commits the blob and in one session replaces
 * the ingest record with a blob record. `ctr content ingest` labels nothing,
 * so the new record is garbage for containerd's next GC unless something
 * references it; ctrx does the same.
 */
import type { Readable } from 'node:stream';
import type { OpContext } from '../context.js';
import { CtrxError, invalidArgument, notFound } from '../errdefs.js';
import { viewMeta, writeMeta } from '../metadata/db.js';
import { createBlob, createIngest, deleteIngest, getBlob, hasBlob, listIngests, updateBlobLabels, type BlobRecord } from '../metadata/content.js';
import { path as bucketPath, getStr, putTime, type Labels } from '../metadata/buckets.js';
import { timeNow, type GoTime } from '../metadata/encoding.js';
import { K } from '../metadata/schema.js';
import { assertWritable } from '../metadata/writable.js';
import { parseDigest } from '../digest.js';
import { ContentStore } from './local-store.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts'>;

const INGEST_TTL_SEC = 24n * 3600n;

function store(ctx: Ctx): ContentStore {
  return ContentStore.forRoot(ctx.root);
}

/** The blob's record in the namespace and a verifying stream of its bytes (fails at the end on a digest mismatch). */
export function readBlobStream(ctx: Ctx, digest: string): { record: BlobRecord; size: number; stream: Readable } {
  try {
    parseDigest(digest);
  } catch (e) {
    throw invalidArgument(`invalid digest: ${(e as Error).message}`, { subject: `digest ${JSON.stringify(digest)}` });
  }
  const record = viewMeta(ctx, (tx) => {
    if (!tx) throw notFound('not found', { subject: `content digest ${digest}` });
    return getBlob(tx, ctx.namespace, digest);
  });
  const s = store(ctx);
  const info = s.info(digest);
  return { record, size: info.size, stream: s.stream(digest, { verify: true, expectedSize: info.size }) };
}

export interface ActiveIngest {
  ref: string;
  backendRef: string;
  offset: number;
  total: number;
  startedAt: Date;
  updatedAt: Date;
  expireAt?: GoTime;
}

/** ctr content active: the namespace's ingests that have a directory, by ref. */
export function activeIngests(ctx: Ctx): ActiveIngest[] {
  const recs = viewMeta(ctx, (tx) => (tx ? listIngests(tx, ctx.namespace) : []));
  const s = store(ctx);
  const out: ActiveIngest[] = [];
  for (const r of recs) {
    try {
      const st = s.ingestStatus(r.backendRef);
      out.push({ ref: r.ref, backendRef: r.backendRef, offset: st.offset, total: st.total, startedAt: st.startedAt, updatedAt: st.updatedAt, ...(r.expireAt ? { expireAt: r.expireAt } : {}) });
    } catch (e) {
      if (!(e instanceof CtrxError && e.category === 'not-found')) throw e;
    }
  }
  return out.sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
}

export interface IngestOptions {
  /** Expected size in bytes (0 = unknown). */
  expectedSize?: number;
  expectedDigest?: string;
  /**
   * Labels for the blob record (merged into an existing record's); a function
   * is called when the record is written, after the source is consumed (a
   * producer's own digests are known only then). ctr content ingest sets none.
   */
  labels?: Labels | (() => Labels);
}

export interface IngestResult {
  digest: string;
  size: number;
  /** A blob record was written (false: the namespace already had one). */
  recorded: boolean;
  /** Bytes copied into the store (0 when the blob file was already there). */
  copied: number;
}

const expireIn24h = (): GoTime => {
  const t = timeNow();
  return { ...t, sec: t.sec + INGEST_TTL_SEC };
};

/** Create or reuse the ingest record for ref (containerd resumes an ingest by ref), fresh expiry. */
function openIngestRecord(ctx: Ctx, ref: string): string {
  return writeMeta(ctx, (tx) => {
    const b = bucketPath(tx, K.v1, ctx.namespace, K.content, K.ingests, ref);
    if (b) {
      putTime(b, K.expireat, expireIn24h());
      const bref = getStr(b, K.ref);
      if (bref) return bref;
      deleteIngest(tx, ctx.namespace, ref);
    }
    return createIngest(tx, ctx.namespace, ref, { expireAt: expireIn24h() }).backendRef;
  });
}

/** The blob record replaces the ingest record (one session). */
function recordBlob(ctx: Ctx, ref: string, digest: string, size: number, labelsOpt: IngestOptions['labels']): boolean {
  const labels = typeof labelsOpt === 'function' ? labelsOpt() : labelsOpt;
  return writeMeta(ctx, (tx) => {
    if (bucketPath(tx, K.v1, ctx.namespace, K.content, K.ingests, ref)) deleteIngest(tx, ctx.namespace, ref);
    if (hasBlob(tx, ctx.namespace, digest)) {
      if (labels && Object.keys(labels).length) updateBlobLabels(tx, ctx.namespace, digest, labels);
      return false;
    }
    createBlob(tx, ctx.namespace, digest, size, labels && Object.keys(labels).length ? labels : undefined);
    return true;
  });
}

/**
 * ctr content ingest: reads `source` into the store under `ref`. An
 * unfinished earlier ingest of the same ref is resumed: its bytes are taken
 * as the first bytes of `source`, which are skipped.
 */
export async function ingest(ctx: Ctx, ref: string, source: AsyncIterable<Uint8Array>, opts: IngestOptions = {}): Promise<IngestResult> {
  if (!ref) throw invalidArgument('must specify a transaction reference');
  const size = opts.expectedSize ?? 0;
  if (!Number.isSafeInteger(size) || size < 0) throw invalidArgument(`invalid expected size ${size}`, { subject: '--expected-size' });
  const expected = opts.expectedDigest || undefined;
  if (expected) {
    try {
      parseDigest(expected);
    } catch (e) {
      throw invalidArgument(`invalid digest: ${(e as Error).message}`, { subject: '--expected-digest' });
    }
  }
  assertWritable(ctx);
  const s = store(ctx);
  if (expected) {
    // the namespace has it: ctr's writer reports AlreadyExists and ctr ignores it
    const rec = viewMeta(ctx, (tx) => (tx && hasBlob(tx, ctx.namespace, expected) ? getBlob(tx, ctx.namespace, expected) : undefined));
    if (rec && !opts.labels) return { digest: expected, size: rec.size, recorded: false, copied: 0 };
    if (rec) return { digest: expected, size: rec.size, recorded: recordBlob(ctx, ref, expected, rec.size, opts.labels), copied: 0 };
    // another namespace's file with the right size is shared without copying
    if (s.has(expected)) {
      const have = s.info(expected).size;
      if (size === 0 || size === have) return { digest: expected, size: have, recorded: recordBlob(ctx, ref, expected, have, opts.labels), copied: 0 };
    }
  }
  const backendRef = openIngestRecord(ctx, ref);
  const w = await s.writer(backendRef, size > 0 ? { total: size } : {});
  let copied = 0;
  try {
    let skip = w.offset;
    for await (const chunk of source) {
      let c = chunk;
      if (skip > 0) {
        const n = Math.min(skip, c.byteLength);
        skip -= n;
        c = c.subarray(n);
      }
      if (c.byteLength === 0) continue;
      await w.write(c);
      copied += c.byteLength;
    }
  } catch (e) {
    // kept for a resume, as containerd keeps a closed writer's ingest
    await w.close();
    throw e;
  }
  const res = await w.commit(size, expected);
  return { digest: res.digest, size: res.size, recorded: recordBlob(ctx, ref, res.digest, res.size, opts.labels), copied };
}
