/**
 * An image's descriptor tree as the namespace sees it (`ctr images inspect`
 * of containerd 2.x): index → manifests (with platforms) → config and layers,
 * each with its size, whether its blob is present, and on request the blob
 * record's labels and the JSON documents' text. Reads only.
 */
import type { Tx } from '../bolt/types.js';
import type { OpContext } from '../context.js';
import { CtrxError } from '../errdefs.js';
import { viewMeta } from '../metadata/db.js';
import { getBlob } from '../metadata/content.js';
import type { ImageRecord } from '../metadata/images.js';
import type { Labels } from '../metadata/buckets.js';
import type { Descriptor } from './registry/types.js';
import { isIndexType, isManifestType } from './media-types.js';
import { formatPlatform } from './platform.js';
import { blobPresent, readNsBlob } from './check.js';
import { findImage } from './image.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts'>;

export type NodeRole = 'index' | 'manifest' | 'config' | 'layer' | 'blob';

export interface DescriptorNode {
  role: NodeRole;
  mediaType: string;
  digest: string;
  size: number;
  platform?: string;
  annotations?: Record<string, string>;
  present: boolean;
  /** Blob record labels (with `labels`). */
  labels?: Labels;
  /** The document's bytes as text, for JSON media types (with `content`). */
  content?: string;
  /** Why an index or manifest could not be read although present. */
  error?: string;
  children: DescriptorNode[];
}

export interface InspectOptions {
  /** Read blob record labels and the JSON documents (ctr's --content). */
  content?: boolean;
}

const MAX_DEPTH = 16;

function node(ctx: Ctx, tx: Tx | null, d: Descriptor, role: NodeRole, opts: InspectOptions, depth: number): DescriptorNode {
  const n: DescriptorNode = {
    role,
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.platform?.architecture ? { platform: formatPlatform(d.platform) } : {}),
    ...(d.annotations && Object.keys(d.annotations).length ? { annotations: d.annotations } : {}),
    present: blobPresent(ctx, tx, d.digest),
    children: [],
  };
  if (!n.present) return n;
  if (opts.content && tx) n.labels = getBlob(tx, ctx.namespace, d.digest).labels;
  const isDoc = isIndexType(d.mediaType) || isManifestType(d.mediaType);
  if (!isDoc && !(opts.content && d.mediaType.endsWith('json'))) return n;
  let text: string;
  try {
    text = readNsBlob(ctx, tx, d).toString('utf8');
  } catch (e) {
    if (!(e instanceof CtrxError)) throw e;
    n.error = e.message;
    return n;
  }
  if (opts.content && d.mediaType.endsWith('json')) n.content = text;
  if (!isDoc) return n;
  let doc: { config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] };
  try {
    doc = JSON.parse(text);
  } catch (e) {
    n.error = `invalid JSON: ${(e as Error).message}`;
    return n;
  }
  if (depth >= MAX_DEPTH) {
    n.error = 'index nesting too deep';
    return n;
  }
  if (isManifestType(d.mediaType)) {
    if (doc.config?.digest) n.children.push(node(ctx, tx, doc.config, 'config', opts, depth + 1));
    for (const l of doc.layers ?? []) if (l?.digest) n.children.push(node(ctx, tx, l, 'layer', opts, depth + 1));
  } else {
    for (const m of doc.manifests ?? []) {
      if (!m?.digest) continue;
      const role: NodeRole = isIndexType(m.mediaType) ? 'index' : isManifestType(m.mediaType) ? 'manifest' : 'blob';
      n.children.push(node(ctx, tx, m, role, opts, depth + 1));
    }
  }
  return n;
}

export interface ImageTree {
  image: ImageRecord;
  target: DescriptorNode;
}

export function inspectImage(ctx: Ctx, ref: string, opts: InspectOptions = {}): ImageTree {
  const image = findImage(ctx, ref);
  const target = image.target as Descriptor;
  return viewMeta(ctx, (tx) => {
    const role: NodeRole = isIndexType(target.mediaType) ? 'index' : isManifestType(target.mediaType) ? 'manifest' : 'blob';
    return { image, target: node(ctx, tx, target, role, opts, 0) };
  });
}
