/**
 * containerd's bucket tree, as containerd 1.6/1.7 writes it (schema "v1",
 * dbVersion 3). ctrx reads and writes these files in place, so every name
 * here must match containerd byte for byte.
 *
 * meta.db  (<root>/io.containerd.metadata.v1.bolt/meta.db)
 *
 *   v1/
 *   ├─ version = varint(3)                      (zigzag: byte 06)
 *   ╘═ <namespace>/
 *      ├─ labels/      ╘ <k> = <v>
 *      ├─ images/      ╘ <name>/
 *      │     createdat, updatedat = go time
 *      │     target/ { digest, mediatype, size = varint }
 *      │     labels/, annotations/ (optional)
 *      ├─ containers/  ╘ <id>/
 *      │     createdat, updatedat, spec = Any, image, snapshotter, snapshotKey,
 *      │     sandboxid (1.7), runtime/ { name, options = Any }, labels/, extensions/ ╘ <name> = Any
 *      ├─ snapshots/   ╘ <snapshotter>/        (sequence = backend key counter)
 *      │     ╘ <key>/ { name = "<ns>/<N>/<key>", parent, createdat, updatedat, labels/, children/ ╘ <child> = "" }
 *      ├─ content/
 *      │  ├─ blob/     ╘ <digest>/ { createdat, updatedat, size = varint, labels/ }
 *      │  └─ ingests/  ╘ <ref>/ { ref = "<ns>/<N>/<ref>", expireat, expected }
 *      └─ leases/      ╘ <id>/
 *            createdat, labels/, content/ ╘ <digest> = "",
 *            snapshots/ ╘ <snapshotter>/ ╘ <key> = "", ingests/ ╘ <ref> = ""
 *
 * Other top-level buckets (1.7 sandboxes live at /<ns>/sandboxes) are
 * tolerated and never touched.
 *
 * snapshotter metadata.db (<root>/io.containerd.snapshotter.v1.<name>/metadata.db)
 *
 *   v1/
 *   ├─ snapshots/  (sequence = last numeric id)
 *   │  ╘ <backend key>/ { id = uvarint, kind = 1 byte, parent, createdat, updatedat,
 *   │                     labels/ (inherited only), inodes, size = varint (Committed) }
 *   └─ parents/    ╘ uvarint(parentID) 00 uvarint(childID) = <child backend key>
 */

export const DB_VERSION = 3;
export const SCHEMA = 'v1';

export const K = {
  v1: 'v1',
  version: 'version',
  labels: 'labels',
  annotations: 'annotations',
  images: 'images',
  containers: 'containers',
  snapshots: 'snapshots',
  content: 'content',
  blob: 'blob',
  ingests: 'ingests',
  leases: 'leases',
  createdat: 'createdat',
  updatedat: 'updatedat',
  expireat: 'expireat',
  expected: 'expected',
  ref: 'ref',
  target: 'target',
  digest: 'digest',
  mediatype: 'mediatype',
  size: 'size',
  spec: 'spec',
  image: 'image',
  runtime: 'runtime',
  name: 'name',
  options: 'options',
  snapshotter: 'snapshotter',
  snapshotKey: 'snapshotKey',
  sandboxid: 'sandboxid',
  extensions: 'extensions',
  parent: 'parent',
  children: 'children',
  // backend
  id: 'id',
  kind: 'kind',
  inodes: 'inodes',
  parents: 'parents',
} as const;

/** Plugin directories under containerd's root. */
export const METADATA_DIR = 'io.containerd.metadata.v1.bolt';
export const META_DB = 'meta.db';
export const CONTENT_DIR = 'io.containerd.content.v1.content';
export const snapshotterDir = (name: string): string => `io.containerd.snapshotter.v1.${name}`;
export const SNAPSHOTTER_DB = 'metadata.db';

/** Labels with meaning to containerd's GC and snapshotters. */
export const LABELS = {
  gcRoot: 'containerd.io/gc.root',
  gcRefSnapshot: 'containerd.io/gc.ref.snapshot.',
  gcRefContent: 'containerd.io/gc.ref.content',
  gcExpire: 'containerd.io/gc.expire',
  gcFlat: 'containerd.io/gc.flat',
  snapshotRef: 'containerd.io/snapshot.ref',
  inheritedPrefix: 'containerd.io/snapshot/',
} as const;

export type SnapshotKind = 'Unknown' | 'View' | 'Active' | 'Committed';
export const KIND_BY_BYTE: SnapshotKind[] = ['Unknown', 'View', 'Active', 'Committed'];
export function kindByte(kind: SnapshotKind): number {
  const i = KIND_BY_BYTE.indexOf(kind);
  return i < 0 ? 0 : i;
}

/** Labels a backend snapshot keeps (containerd's snapshots.FilterInheritedLabels). */
export function isInheritedLabel(key: string): boolean {
  return key === LABELS.snapshotRef || key.startsWith(LABELS.inheritedPrefix);
}
