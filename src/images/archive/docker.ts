/**
 * `docker save` archives (manifest.json + config and layer files) turned
 * into what containerd 1.6's importer makes of them: per manifest.json entry
 * a Docker schema 2 manifest (config typed as a Docker config, each layer
 * typed by its magic bytes: gzip, or plain tar), and one OCI index listing
 * a descriptor per RepoTag with `io.containerd.image.name` = the normalised
 * name and `org.opencontainers.image.ref.name` = its tag, the platform taken
 * from the config. The JSON is written the way Go marshals it, so the
 * manifest and index digests equal the ones `ctr images import` produces.
 *
 * Like containerd, a layer file whose digest some blob of the namespace
 * names in its `containerd.io/uncompressed` label is replaced by that
 * (compressed) blob: re-importing a saved image that was pulled before
 * gives back the pulled manifest's layers. One deliberate difference: a
 * zstd layer is typed zstd (containerd 1.6 calls every compressed layer
 * gzip, which its own unpacker then cannot read).
 */
import type { OpContext } from '../../context.js';
import { invalidArgument } from '../../errdefs.js';
import { viewMeta, writeMeta } from '../../metadata/db.js';
import { listBlobs } from '../../metadata/content.js';
import { addLeaseResource } from '../../metadata/leases.js';
import { detectCompression } from '../../archive/compression.js';
import { MediaTypes } from '../media-types.js';
import { normalizePlatform } from '../platform.js';
import { digestOf } from '../../digest.js';
import { recordBlob, storeFor } from '../content-records.js';
import { backendRef } from '../../content/ingest.js';
import type { Descriptor } from '../registry/types.js';
import { goDescriptor, goJson, isObject, parseArchiveJson } from './json.js';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, dockerReference, ociReferenceName } from './names.js';
import { lookupFile, MAX_JSON_BYTES, type ArchiveContents } from './read.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts'>;

/** Images (manifest.json entries) in one archive. */
export const MAX_DOCKER_IMAGES = 4096;
/** Layers of one image (overlayfs stops far below). */
export const MAX_DOCKER_LAYERS = 1024;
/** Tags of all images together: each becomes an index entry and an image record. */
export const MAX_DOCKER_TAGS = 4096;

interface DockerEntry {
  config: string;
  repoTags: string[];
  layers: string[];
}

/** Go decodes struct fields case-insensitively; docker writes Config, RepoTags, Layers. */
function field(o: Record<string, unknown>, name: string): unknown {
  let v: unknown;
  for (const k of Object.keys(o)) if (k.toLowerCase() === name.toLowerCase()) v = o[k];
  return name in o ? o[name] : v;
}

export function parseDockerManifest(bytes: Uint8Array, subject: string): DockerEntry[] {
  const doc = parseArchiveJson(bytes, 'manifest.json', subject);
  if (!Array.isArray(doc)) throw invalidArgument('manifest.json must be a JSON list', { subject });
  if (doc.length > MAX_DOCKER_IMAGES) throw invalidArgument(`manifest.json lists ${doc.length} images, more than the limit of ${MAX_DOCKER_IMAGES}`, { subject });
  let tags = 0;
  return doc.map((e, i) => {
    const where = `manifest.json[${i}]`;
    if (!isObject(e)) throw invalidArgument(`${where} is not an object`, { subject });
    const config = field(e, 'Config');
    const repoTags = field(e, 'RepoTags') ?? [];
    const layers = field(e, 'Layers') ?? [];
    if (typeof config !== 'string' || !config) throw invalidArgument(`${where}.Config must be a file name`, { subject });
    if (!Array.isArray(repoTags) || !repoTags.every((t) => typeof t === 'string')) throw invalidArgument(`${where}.RepoTags must be a list of strings`, { subject });
    if (!Array.isArray(layers) || !layers.every((t) => typeof t === 'string')) throw invalidArgument(`${where}.Layers must be a list of file names`, { subject });
    if (layers.length > MAX_DOCKER_LAYERS) throw invalidArgument(`${where} has ${layers.length} layers, more than the limit of ${MAX_DOCKER_LAYERS}`, { subject });
    tags += repoTags.length;
    if (tags > MAX_DOCKER_TAGS) throw invalidArgument(`manifest.json names more than ${MAX_DOCKER_TAGS} tags`, { subject });
    return { config, repoTags: repoTags as string[], layers: layers as string[] };
  });
}

/** Writes a small document into the store (ref `manifest-<digest>`, as containerd) and records it in the lease. */
export async function storeDocument(ctx: Ctx, lease: string, bytes: Buffer, mediaType: string): Promise<Descriptor> {
  const desc: Descriptor = { mediaType, digest: digestOf(bytes), size: bytes.length };
  const store = storeFor(ctx);
  const ref = `manifest-${desc.digest}`;
  writeMeta(ctx, (tx) => addLeaseResource(tx, ctx.namespace, lease, { type: 'content', id: desc.digest }));
  const w = await store.writer(backendRef(ctx.namespace, ref), { total: desc.size, expected: desc.digest, waitMs: 60_000 });
  try {
    if (!w.existing) {
      if (w.offset > 0) await w.reset();
      await w.write(bytes);
    }
    await w.commit(desc.size, desc.digest);
  } catch (e) {
    await w.abort().catch(() => {});
    throw e;
  }
  recordBlob(ctx, lease, desc, {});
  return desc;
}

/** containerd.io/uncompressed → blob, for the namespace (last in digest order wins, as containerd's Walk). */
function compressedByUncompressed(ctx: Ctx): Map<string, { digest: string; size: number }> {
  const out = new Map<string, { digest: string; size: number }>();
  viewMeta(ctx, (tx) => {
    if (!tx) return;
    for (const b of listBlobs(tx, ctx.namespace)) {
      const u = b.labels['containerd.io/uncompressed'];
      if (u && storeFor(ctx).has(b.digest)) out.set(u, { digest: b.digest, size: b.size });
    }
  });
  return out;
}

async function layerMediaType(ctx: Ctx, digest: string): Promise<string> {
  const h = await storeFor(ctx).open(digest);
  try {
    switch (detectCompression(await h.readAt(0, 10))) {
      case 'gzip':
        return MediaTypes.dockerLayerGzip;
      case 'zstd':
        return MediaTypes.dockerLayerZstd;
      default:
        return MediaTypes.dockerLayer;
    }
  } finally {
    await h.close();
  }
}

async function configPlatform(ctx: Ctx, config: Descriptor, subject: string): Promise<{ architecture: string; os: string } | undefined> {
  const bytes = await storeFor(ctx).readAll(config.digest, { maxSize: MAX_JSON_BYTES, verify: true });
  const doc = parseArchiveJson(bytes, `image config ${config.digest}`, subject);
  if (!isObject(doc)) throw invalidArgument(`image config ${config.digest} is not a JSON object`, { subject });
  const os = typeof doc.os === 'string' ? doc.os : '';
  const architecture = typeof doc.architecture === 'string' ? doc.architecture : '';
  const p = normalizePlatform({ os, architecture });
  return { architecture: p.architecture, os: p.os };
}

/** Builds (and stores) the manifests and the index for a docker archive; returns the index descriptor. */
export async function importDockerArchive(ctx: Ctx, lease: string, c: ArchiveContents, subject: string): Promise<Descriptor> {
  const entries = parseDockerManifest(c.manifestJson!, subject);
  const compressed = compressedByUncompressed(ctx);
  const manifests: Record<string, unknown>[] = [];
  for (const [i, e] of entries.entries()) {
    const cfg = lookupFile(c, e.config);
    if (!cfg) throw invalidArgument(`image config ${JSON.stringify(e.config)} not found in the archive`, { subject, hint: `manifest.json[${i}] names a file the archive does not contain` });
    const config: Descriptor = { mediaType: MediaTypes.dockerConfig, digest: cfg.digest, size: cfg.size };
    const layers: Descriptor[] = [];
    for (const l of e.layers) {
      const f = lookupFile(c, l);
      if (!f) throw invalidArgument(`layer ${JSON.stringify(l)} not found in the archive`, { subject, hint: `manifest.json[${i}] names a file the archive does not contain` });
      const sub = compressed.get(f.digest);
      if (sub) {
        recordBlob(ctx, lease, { mediaType: '', ...sub }, {});
        layers.push({ mediaType: await layerMediaType(ctx, sub.digest), digest: sub.digest, size: sub.size });
      } else layers.push({ mediaType: await layerMediaType(ctx, f.digest), digest: f.digest, size: f.size });
    }
    const body = { schemaVersion: 2, mediaType: MediaTypes.dockerManifest, config: goDescriptor(config), layers: layers.map(goDescriptor) };
    const desc = await storeDocument(ctx, lease, Buffer.from(goJson(body)), MediaTypes.dockerManifest);
    const platform = await configPlatform(ctx, config, subject);
    const base = { ...desc, ...(platform ? { platform } : {}) };
    if (e.repoTags.length === 0) manifests.push(goDescriptor(base));
    for (const tag of e.repoTags) {
      const name = dockerReference(tag, subject);
      manifests.push(goDescriptor({ ...base, annotations: { [ANNOTATION_IMAGE_NAME]: name, [ANNOTATION_REF_NAME]: ociReferenceName(name) } }));
    }
  }
  return storeDocument(ctx, lease, Buffer.from(goJson({ schemaVersion: 2, manifests })), MediaTypes.ociIndex);
}
