/**
 * Writing fetched content the way containerd's client does: bytes into the
 * store through an ingest (resumable, verified), then, in one locked
 * session, the ingest record replaced by a blob record with its gc.ref and
 * distribution.source labels, the blob added to the operation's lease.
 */
import type { OpContext } from '../context.js';
import { ContentStore } from '../content/local-store.js';
import { isCategory } from '../errdefs.js';
import { lockHolder, metaDbPath, writeMeta, viewMeta } from '../metadata/db.js';
import { createBlob, createIngest, deleteIngest, getBlob, hasBlob, updateBlobLabels, type BlobRecord } from '../metadata/content.js';
import { addLeaseResource } from '../metadata/leases.js';
import { path as bucketPath, getStr, type Labels } from '../metadata/buckets.js';
import { K } from '../metadata/schema.js';
import type { Descriptor } from './registry/types.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts'>;

export function storeFor(ctx: Ctx): ContentStore {
  return ContentStore.forRoot(ctx.root);
}

/** Whether this namespace already has the blob (record and file). */
export function haveBlob(ctx: Ctx, digest: string): boolean {
  if (!storeFor(ctx).has(digest)) return false;
  return viewMeta(ctx, (tx) => Boolean(tx && hasBlob(tx, ctx.namespace, digest)));
}

/** The ingest record for ref inside the lease (reused when an earlier, killed run left it): its backend ref. */
export function openIngest(ctx: Ctx, lease: string, ref: string): string {
  return writeMeta(ctx, (tx) => {
    let backend: string | undefined;
    const b = bucketPath(tx, K.v1, ctx.namespace, K.content, K.ingests, ref);
    if (b) backend = getStr(b, K.ref);
    if (!backend) {
      if (b) deleteIngest(tx, ctx.namespace, ref);
      backend = createIngest(tx, ctx.namespace, ref).backendRef;
    }
    addLeaseResource(tx, ctx.namespace, lease, { type: 'ingests', id: ref });
    return backend;
  });
}

/**
 * The blob record (labels merged when it exists), the ingest record gone,
 * the blob in the lease. One session.
 */
export function recordBlob(ctx: Ctx, lease: string, desc: Descriptor, labels: Labels, ingestRef?: string): BlobRecord {
  return writeMeta(ctx, (tx) => {
    if (ingestRef && bucketPath(tx, K.v1, ctx.namespace, K.content, K.ingests, ingestRef)) deleteIngest(tx, ctx.namespace, ingestRef);
    addLeaseResource(tx, ctx.namespace, lease, { type: 'content', id: desc.digest });
    if (!hasBlob(tx, ctx.namespace, desc.digest)) return createBlob(tx, ctx.namespace, desc.digest, desc.size, labels);
    const current = getBlob(tx, ctx.namespace, desc.digest).labels ?? {};
    const merged: Labels = { ...labels };
    for (const [k, v] of Object.entries(labels)) {
      // Several repositories share a blob: containerd keeps them all, sorted, comma-separated.
      if (k.startsWith(SOURCE_PREFIX) && current[k] && current[k] !== v) merged[k] = [...new Set([...current[k]!.split(','), ...v.split(',')])].sort().join(',');
    }
    const changed = Object.entries(merged).some(([k, v]) => current[k] !== v);
    return changed ? updateBlobLabels(tx, ctx.namespace, desc.digest, merged) : getBlob(tx, ctx.namespace, desc.digest);
  });
}

export function labelBlob(ctx: Ctx, digest: string, labels: Labels): void {
  writeMeta(ctx, (tx) => {
    updateBlobLabels(tx, ctx.namespace, digest, labels);
  });
}

/** Children labels of a parent blob, as containerd's remotes handlers set them. */
export function childLabels(kind: 'index' | 'manifest', children: { config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] }): Labels {
  const l: Labels = {};
  if (kind === 'index') (children.manifests ?? []).forEach((m, i) => (l[`containerd.io/gc.ref.content.m.${i}`] = m.digest));
  else {
    if (children.config) l['containerd.io/gc.ref.content.config'] = children.config.digest;
    (children.layers ?? []).forEach((d, i) => (l[`containerd.io/gc.ref.content.l.${i}`] = d.digest));
  }
  return l;
}

const SOURCE_PREFIX = 'containerd.io/distribution.source.';

/** containerd.io/distribution.source.<registry host without port> = <repository>. */
export function sourceLabel(domain: string, repo: string): Labels {
  const host = domain.replace(/^\[/, '').replace(/\](:\d+)?$/, '').replace(/:\d+$/, '');
  return { [`${SOURCE_PREFIX}${host}`]: repo };
}

/** How long a write session waits for other ctrx processes' sessions before giving up. */
const BUSY_WAIT_MS = 20_000;

/**
 * Runs a write session, retrying while another process (a concurrent ctrx
 * pull) holds meta.db or a snapshotter DB for one of its short sessions. A
 * refused session has written nothing, so running it again is safe. A lock
 * held by containerd (or by a process that cannot be named) fails at once.
 */
export async function whenFree<T>(ctx: Pick<OpContext, 'root'>, session: () => T, waitMs = BUSY_WAIT_MS): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    try {
      return session();
    } catch (e) {
      if (!isCategory(e, 'unavailable') || !/^locked by /.test((e as Error).message) || Date.now() > deadline) throw e;
      const who = lockHolder(metaDbPath(ctx.root));
      if (who.pid !== undefined && (!who.name || /containerd/.test(who.name))) throw e;
    }
    await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
  }
}
