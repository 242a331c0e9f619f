import type { SnapshotInfo } from '../../src/metadata/api.js';
import { formatRFC3339Nano } from '../../src/metadata/encoding.js';

/** ctrx's JSON view of a snapshot (stable camelCase). Not a verb. */
export function snapshotJSON(r: SnapshotInfo): unknown {
  return {
    key: r.key,
    parent: r.parent ?? '',
    kind: r.kind,
    labels: r.labels,
    createdAt: r.createdAt ? formatRFC3339Nano(r.createdAt) : null,
    updatedAt: r.updatedAt ? formatRFC3339Nano(r.updatedAt) : null,
    backendKey: r.backendKey,
    backendId: r.backend ? String(r.backend.id) : null,
  };
}

/** ctr snapshots info: snapshots.Info through json.MarshalIndent (Go field names, omitempty). */
export function ctrSnapshotInfo(r: SnapshotInfo): Record<string, unknown> {
  const zero = '0001-01-01T00:00:00Z';
  return {
    Kind: r.kind,
    Name: r.key,
    ...(r.parent ? { Parent: r.parent } : {}),
    ...(Object.keys(r.labels).length ? { Labels: r.labels } : {}),
    Created: r.createdAt ? formatRFC3339Nano(r.createdAt) : zero,
    Updated: r.updatedAt ? formatRFC3339Nano(r.updatedAt) : zero,
  };
}
