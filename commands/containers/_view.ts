import { Buffer } from 'node:buffer';
import type { ContainerRecord } from '../../src/metadata/containers.js';
import { formatRFC3339Nano, OCI_SPEC_TYPE_URL, str, type AnyValue, type GoTime } from '../../src/metadata/encoding.js';

const zero = '0001-01-01T00:00:00Z';
const t = (x?: GoTime) => (x ? formatRFC3339Nano(x) : zero);
const b64 = (v: Uint8Array) => Buffer.from(v).toString('base64');

/** gogo types.Any through encoding/json: type_url and value (base64), both omitempty. */
function goAny(a: AnyValue | undefined): unknown {
  if (!a) return null;
  return { ...(a.typeUrl ? { type_url: a.typeUrl } : {}), ...(a.value.length ? { value: b64(a.value) } : {}) };
}

/** The spec as ctr decodes it: the OCI spec JSON for containerd's type URL, else the raw Any. */
export function decodeSpec(a: AnyValue | undefined): unknown {
  if (!a) return undefined;
  if (a.typeUrl === OCI_SPEC_TYPE_URL) return JSON.parse(str(a.value));
  return goAny(a);
}

/** ctr containers info: containers.Container with Spec decoded (Go field names). */
export function ctrContainerInfo(c: ContainerRecord): Record<string, unknown> {
  const spec = c.spec && c.spec.value.length ? decodeSpec(c.spec) : goAny(c.spec);
  const ext: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.extensions)) ext[k] = goAny(v);
  return {
    ID: c.id,
    Labels: Object.keys(c.labels).length ? c.labels : null,
    Image: c.image,
    Runtime: { Name: c.runtime.name, Options: goAny(c.runtime.options) },
    SnapshotKey: c.snapshotKey,
    Snapshotter: c.snapshotter,
    CreatedAt: t(c.createdAt),
    UpdatedAt: t(c.updatedAt),
    // the client gets nil for an empty map over gRPC
    Extensions: Object.keys(ext).length ? ext : null,
    ...(spec !== undefined && spec !== null ? { Spec: spec } : {}),
  };
}

/** ctrx's stable JSON view. */
export function containerJSON(c: ContainerRecord): unknown {
  return {
    id: c.id,
    image: c.image,
    runtime: { name: c.runtime.name, options: c.runtime.options ? { typeUrl: c.runtime.options.typeUrl, value: b64(c.runtime.options.value) } : null },
    snapshotter: c.snapshotter,
    snapshotKey: c.snapshotKey,
    labels: c.labels,
    createdAt: c.createdAt ? formatRFC3339Nano(c.createdAt) : null,
    updatedAt: c.updatedAt ? formatRFC3339Nano(c.updatedAt) : null,
    ...(c.sandboxId !== undefined ? { sandboxId: c.sandboxId } : {}),
    extensions: Object.keys(c.extensions),
  };
}
