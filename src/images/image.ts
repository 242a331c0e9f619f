/**
 * Reading an image that is in the store: its record, the manifest for a
 * platform, the config, and the chain of layer snapshots (chainIDs) that
 * unpacking produces. Reads only: works while containerd runs.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { OpContext } from '../context.js';
import { invalidArgument, notFound } from '../errdefs.js';
import { viewMeta } from '../metadata/db.js';
import { getImage, listImages, type ImageRecord } from '../metadata/images.js';
import { blobPath, hasBlob } from '../metadata/content.js';
import type { Descriptor } from './registry/types.js';
import { isIndexType, isManifestType, isSchema1Type } from './media-types.js';
import { defaultMatcher, formatPlatform, type PlatformMatcher } from './platform.js';
import { digestOf } from '../digest.js';
import { normalizeReference } from './reference.js';

/** Manifests, indexes and configs are small: containerd bounds them the same way. */
export const MAX_DOCUMENT_SIZE = 4 << 20;

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts'>;

export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
    ExposedPorts?: Record<string, unknown>;
    Volumes?: Record<string, unknown>;
  };
  rootfs?: { type: string; diff_ids: string[] };
}

export interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ResolvedImage {
  record: ImageRecord;
  manifestDesc: Descriptor;
  manifest: Manifest;
  config: ImageConfig;
  diffIds: string[];
  chainIds: string[];
  platform: string;
}

/** Read a blob that must be a small JSON document, checking size and digest. */
export function readDocument<T>(root: string, d: Descriptor): T {
  if (d.size > MAX_DOCUMENT_SIZE) throw invalidArgument(`document is ${d.size} bytes, more than ${MAX_DOCUMENT_SIZE}`, { subject: `content ${d.digest}` });
  let fd: number;
  try {
    fd = openSync(blobPath(root, d.digest), 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('blob is missing from the content store', { subject: `content ${d.digest}` });
    throw e;
  }
  try {
    const size = fstatSync(fd).size;
    if (size !== d.size) throw invalidArgument(`blob has ${size} bytes, the descriptor says ${d.size}`, { subject: `content ${d.digest}` });
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    if (digestOf(buf) !== d.digest) throw invalidArgument('blob does not hash to its name', { subject: `content ${d.digest}` });
    return JSON.parse(buf.toString('utf8')) as T;
  } finally {
    closeSync(fd);
  }
}

/** chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : digestOf(`${out[out.length - 1]} ${d}`));
  return out;
}

/**
 * The image record for what a user typed: the exact name if it exists,
 * else the normalised reference (`redis` → `docker.io/library/redis:latest`).
 */
export function findImage(ctx: Ctx, input: string): ImageRecord {
  return viewMeta(ctx, (tx) => {
    const names = tx ? listImages(tx, ctx.namespace).map((i) => i.name) : [];
    let name = input;
    if (!names.includes(name)) {
      let norm: string | undefined;
      try {
        norm = normalizeReference(input);
      } catch {
        /* not a reference: report the name as given */
      }
      if (norm && names.includes(norm)) name = norm;
    }
    if (!tx || !names.includes(name)) throw notFound('not found', { subject: `image ${JSON.stringify(input)}`, hint: `pull it first (ctrx -n ${ctx.namespace} images pull ${input})` });
    return getImage(tx, ctx.namespace, name);
  });
}

/** Pick the manifest for the platform from an index (recursively), or take the manifest itself. */
export function selectManifest(root: string, target: Descriptor, matcher: PlatformMatcher = defaultMatcher()): Descriptor {
  if (isManifestType(target.mediaType)) return target;
  if (isSchema1Type(target.mediaType)) throw invalidArgument('Docker schema 1 images are not supported', { subject: `content ${target.digest}` });
  if (!isIndexType(target.mediaType)) throw invalidArgument(`unexpected media type ${JSON.stringify(target.mediaType)}`, { subject: `content ${target.digest}` });
  const index = readDocument<{ manifests?: Descriptor[] }>(root, target);
  const candidates = (index.manifests ?? []).filter((m) => (m.platform ? matcher.match(m.platform) : isIndexType(m.mediaType)));
  candidates.sort((a, b) => (a.platform && b.platform ? matcher.compare(a.platform, b.platform) : 0));
  for (const c of candidates) {
    if (isManifestType(c.mediaType)) return c;
    try {
      return selectManifest(root, c, matcher);
    } catch {
      /* try the next one */
    }
  }
  throw notFound(`no manifest for platform ${matcher.platforms.map(formatPlatform).join(', ')}`, { subject: `image index ${target.digest}` });
}

export function resolveImage(ctx: Ctx, input: string, matcher: PlatformMatcher = defaultMatcher()): ResolvedImage {
  const record = findImage(ctx, input);
  const manifestDesc = selectManifest(ctx.root, record.target as Descriptor, matcher);
  const manifest = readDocument<Manifest>(ctx.root, manifestDesc);
  if (!manifest.config?.digest) throw invalidArgument('manifest has no config', { subject: `manifest ${manifestDesc.digest}` });
  const config = readDocument<ImageConfig>(ctx.root, manifest.config);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw invalidArgument(`config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, { subject: `image ${record.name}` });
  }
  const platform = formatPlatform({ os: config.os ?? 'linux', architecture: config.architecture ?? '', ...(config.variant ? { variant: config.variant } : {}) });
  return { record, manifestDesc, manifest, config, diffIds, chainIds: chainIds(diffIds), platform };
}

/** Whether every blob of the manifest is present (for `images check`). */
export function missingBlobs(ctx: Ctx, descs: Descriptor[]): string[] {
  return viewMeta(ctx, (tx) => descs.filter((d) => !tx || !hasBlob(tx, ctx.namespace, d.digest)).map((d) => d.digest));
}
