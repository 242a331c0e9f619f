/**
 * Creating a container without a daemon, as `ctr containers create` does
 * through containerd: the image's unpacked chain must exist; the container
 * gets an active snapshot (key = container id, parent = the image's top
 * chainID) and a record in meta.db with the OCI spec, the runtime and its
 * options. Both are written in one locked session, so either both exist or
 * neither does. containerd lists the record (`ctr c ls`) and its GC keeps
 * the snapshot.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { OpContext } from '../context.js';
import { alreadyExists, failedPrecondition, isCategory } from '../errdefs.js';
import { validateId } from '../identifiers.js';
import { viewMeta, writeWith } from '../metadata/db.js';
import { createContainer as createRecord, type ContainerRecord } from '../metadata/containers.js';
import { getSnapshotRecord } from '../metadata/snapshots.js';
import { OCI_SPEC_TYPE_URL, RUNC_OPTIONS_TYPE_URL, utf8 } from '../metadata/encoding.js';
import { path as bucketPath } from '../metadata/buckets.js';
import { K } from '../metadata/schema.js';
import { resolveImage, type ResolvedImage } from '../images/image.js';
import { prepareIn, mounts as snapshotMounts, checkSnapshotter, type SnapshotterName } from '../snapshots/snapshotter.js';
import { mountAll, unmountAll } from '../snapshots/mount.js';
import { generateSpec, type SpecOptions } from './spec.js';
import { encodeRuncOptions } from './runtime-options.js';

export const RUNC_V2 = 'io.containerd.runc.v2';

export interface CreateOptions extends Omit<SpecOptions, 'namespace' | 'id' | 'image' | 'rootfs'> {
  id: string;
  /** Image name or short reference (`redis`). */
  image: string;
  snapshotter?: string;
  /** runc options stored with the record (containerd's runc.v1.Options). */
  runtime?: { binaryName?: string; systemdCgroup?: boolean };
}

export interface CreatedContainer {
  record: ContainerRecord;
  image: ResolvedImage;
}

/** Run fn with the image's committed chain mounted read-only (users and groups are looked up inside it). */
function withImageRoot<T>(ctx: OpContext, sn: SnapshotterName, top: string, fn: (dir: string) => T): T {
  const base = path.join(ctx.state, 'ctrx', 'tmpmounts');
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(path.join(base, 'image-'));
  try {
    mountAll(snapshotMounts(ctx, sn, top), dir);
    try {
      return fn(dir);
    } finally {
      unmountAll(dir, { detach: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NOT_UNPACKED = 'image is not unpacked in snapshotter';

/** createContainer refused because the image has no unpacked chain in that snapshotter (the caller may unpack it and retry). */
export function isNotUnpacked(e: unknown): boolean {
  return isCategory(e, 'failed-precondition') && (e as Error).message.startsWith(NOT_UNPACKED);
}

export function createContainer(ctx: OpContext, o: CreateOptions): CreatedContainer {
  validateId(o.id, 'container id');
  const sn = checkSnapshotter(o.snapshotter ?? ctx.facts.snapshotter);
  const image = resolveImage(ctx, o.image);
  const top = image.chainIds[image.chainIds.length - 1];
  viewMeta(ctx, (tx) => {
    if (tx && bucketPath(tx, K.v1, ctx.namespace, K.containers, o.id)) throw alreadyExists('already exists', { subject: `container ${JSON.stringify(o.id)}` });
    if (top && (!tx || !bucketPath(tx, K.v1, ctx.namespace, K.snapshots, sn, top))) {
      throw failedPrecondition(`${NOT_UNPACKED} ${sn}`, { subject: `image ${JSON.stringify(image.record.name)}`, hint: `unpack it: ctrx -n ${ctx.namespace} images pull ${image.record.name} (or pick --snapshotter)` });
    }
  });
  const { spec, labels } = top
    ? withImageRoot(ctx, sn, top, (rootfs) => generateSpec({ ...o, namespace: ctx.namespace, id: o.id, image: image.config.config ?? {}, rootfs }))
    : generateSpec({ ...o, namespace: ctx.namespace, id: o.id, image: image.config.config ?? {} });
  const record = writeWith(
    ctx,
    [sn],
    (meta, s) => {
      // Checked again under the lock: a concurrent create of the same id may have won since the read above.
      if (bucketPath(meta, K.v1, ctx.namespace, K.containers, o.id)) throw alreadyExists('already exists', { subject: `container ${JSON.stringify(o.id)}` });
      if (top) getSnapshotRecord(meta, ctx.namespace, sn, top);
      prepareIn(ctx, meta, s[sn]!, sn, o.id, top);
      return createRecord(meta, ctx.namespace, {
        id: o.id,
        image: image.record.name,
        labels,
        runtime: { name: RUNC_V2, options: { typeUrl: RUNC_OPTIONS_TYPE_URL, value: encodeRuncOptions(o.runtime ?? {}) } },
        spec: { typeUrl: OCI_SPEC_TYPE_URL, value: utf8(JSON.stringify(spec)) },
        snapshotter: sn,
        snapshotKey: o.id,
      });
    },
    { create: true },
  );
  return { record, image };
}
