/**
 * `images export`: images of the namespace as an OCI image layout tar that
 * `ctr images import` and `docker load` read, built as containerd 1.6's
 * exporter builds it:
 *
 *  - `index.json` lists each image's target with `io.containerd.image.name`
 *    = the record's name and `org.opencontainers.image.ref.name` = its tag;
 *  - an index target carries the manifests of the chosen platforms (the
 *    host's by default, `--platform` for others, `--all-platforms` for
 *    every one), each with everything below it;
 *  - `manifest.json` (unless skipped) names, per image, the manifest of the
 *    best platform with its config and layers under their blob paths and
 *    the Docker short names as RepoTags;
 *  - entries sorted by name, directories `blobs/` and `blobs/<alg>/`,
 *    owner 0, mtime 0: the same images give the same bytes (for one image,
 *    the bytes of `ctr images export`).
 *
 * One difference from ctr 1.6: when an index image and a manifest image
 * resolve to the same manifest, ctr's manifest.json keeps only the index's
 * RepoTag (it replaces the entry); ctrx keeps both names.
 *
 * Everything is checked before the first byte is written: every blob is
 * in the namespace, every document parses. Blobs are then streamed from the
 * store and re-hashed on the way; a blob that no longer matches its digest
 * ends the stream with an error.
 */
import type { OpContext } from '../../context.js';
import { invalidArgument, notFound } from '../../errdefs.js';
import { parseDigest } from '../../digest.js';
import { findImage } from '../image.js';
import { isDocumentType, isIndexType, isManifestType } from '../media-types.js';
import { formatPlatform } from '../platform.js';
import { parseDocument } from '../registry/documents.js';
import type { Descriptor } from '../registry/types.js';
import { haveBlob, storeFor } from '../content-records.js';
import { goDescriptor, goJson } from './json.js';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, familiarName, ociReferenceName } from './names.js';
import { strictFromFlags } from './platforms.js';
import { padding, tarEnd, tarHeader } from './tar-writer.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts'>;

const MAX_DOCUMENT_BYTES = 20 << 20;
const MAX_DEPTH = 8;

export interface ExportOptions {
  /** Platforms whose manifests an index target keeps (strict match); default the host's. */
  platforms?: string[];
  /** Keep every manifest of an index target (all must be present). */
  allPlatforms?: boolean;
  /** No Docker-compatible manifest.json. */
  skipManifestJson?: boolean;
  /** Leave out non-distributable layers (Windows base layers). */
  skipNonDistributable?: boolean;
}

export interface ExportEntry {
  name: string;
  mode: number;
  type: 'file' | 'dir';
  size: number;
  /** Small generated files. */
  data?: Buffer;
  /** A blob of the store. */
  digest?: string;
}

export interface ExportPlan {
  images: { name: string; digest: string; mediaType: string }[];
  entries: ExportEntry[];
  /** Bytes of the whole tar. */
  size: number;
}

function isNonDistributable(mt: string): boolean {
  return mt.startsWith('application/vnd.oci.image.layer.nondistributable.') || mt.startsWith('application/vnd.docker.image.rootfs.foreign.');
}

const blobName = (digest: string): string => {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex}`;
};

export async function planExport(ctx: Ctx, names: string[], opts: ExportOptions = {}): Promise<ExportPlan> {
  if (names.length === 0) throw invalidArgument('please provide both an output filename and an image reference to export', { subject: 'export' });
  const matcher = strictFromFlags(opts.platforms);
  const store = storeFor(ctx);
  const entries: ExportEntry[] = [];
  const algorithms = new Set<string>();
  const docs = new Map<string, ReturnType<typeof parseDocument>>();

  const readDoc = async (d: Descriptor, subject: string) => {
    const cached = docs.get(d.digest);
    if (cached) return cached;
    if (d.size > MAX_DOCUMENT_BYTES) throw invalidArgument(`document ${d.digest} is larger than ${MAX_DOCUMENT_BYTES >> 20} MiB`, { subject });
    const bytes = await store.readAll(d.digest, { maxSize: MAX_DOCUMENT_BYTES, verify: true });
    if (bytes.length !== d.size) throw invalidArgument(`${d.digest} has ${bytes.length} bytes, its descriptor says ${d.size}`, { subject });
    const doc = parseDocument(bytes, d.mediaType, `${subject}: ${d.digest}`);
    docs.set(d.digest, doc);
    return doc;
  };

  const addBlob = (d: Descriptor, subject: string, platform: string | undefined) => {
    if (opts.skipNonDistributable && isNonDistributable(d.mediaType)) return;
    if (!haveBlob(ctx, d.digest)) {
      throw notFound(`content digest ${d.digest} not found${platform ? ` (content for ${platform})` : ''}`, {
        subject,
        hint: platform ? `this image was pulled for fewer platforms: export the ones present with --platform, or pull with --all-platforms first` : 'the image is incomplete: pull it again',
      });
    }
    algorithms.add(parseDigest(d.digest).algorithm);
    entries.push({ name: blobName(d.digest), mode: 0o444, type: 'file', size: d.size, digest: d.digest });
  };

  /** containerd's getRecords: the descriptor and everything below it, whatever the platform. */
  const walkAll = async (d: Descriptor, subject: string, platform: string | undefined, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) throw invalidArgument(`image indexes nested more than ${MAX_DEPTH} deep`, { subject });
    addBlob(d, subject, platform);
    if (!isDocumentType(d.mediaType)) return;
    const doc = await readDoc(d, subject);
    if (doc.kind === 'index') {
      for (const m of doc.index.manifests) await walkAll(m, subject, m.platform ? formatPlatform(m.platform) : platform, depth + 1);
    } else {
      for (const c of [doc.manifest.config, ...doc.manifest.layers]) await walkAll(c, subject, platform, depth + 1);
    }
  };

  const indexManifests: Record<string, unknown>[] = [];
  const images: ExportPlan['images'] = [];
  const docker = new Map<string, { manifest: Descriptor; names: string[] }>();
  const resolvedIndex = new Map<string, string>();
  for (const input of names) {
    const rec = findImage(ctx, input);
    const subject = `image ${JSON.stringify(rec.name)}`;
    const target = rec.target as Descriptor;
    const annotations = { ...(target.annotations ?? {}), [ANNOTATION_IMAGE_NAME]: rec.name, [ANNOTATION_REF_NAME]: ociReferenceName(rec.name) };
    indexManifests.push(goDescriptor({ mediaType: target.mediaType, digest: target.digest, size: target.size, annotations }));
    images.push({ name: rec.name, digest: target.digest, mediaType: target.mediaType });
    if (isManifestType(target.mediaType)) {
      if (!docker.has(target.digest)) {
        await walkAll(target, subject, undefined, 0);
        docker.set(target.digest, { manifest: target, names: [] });
      }
      if (!opts.skipManifestJson) docker.get(target.digest)!.names.push(rec.name);
    } else if (isIndexType(target.mediaType)) {
      let chosen = resolvedIndex.get(target.digest);
      if (chosen === undefined) {
        addBlob(target, subject, undefined);
        const doc = await readDoc(target, subject);
        if (doc.kind !== 'index') throw invalidArgument('the image target says index but the document is a manifest', { subject });
        const matching: Descriptor[] = [];
        for (const m of doc.index.manifests) {
          if (!m.platform || matcher.match(m.platform)) matching.push(m);
          else if (!opts.allPlatforms) continue;
          await walkAll(m, subject, m.platform ? formatPlatform(m.platform) : undefined, 1);
        }
        chosen = '';
        if (!opts.skipManifestJson) {
          const manifests = matching.filter((m) => isManifestType(m.mediaType));
          manifests.sort((a, b) => (!a.platform ? 1 : !b.platform ? -1 : matcher.compare(a.platform, b.platform)));
          const best = manifests[0];
          if (!best) {
            throw notFound(`no manifest found for platform ${matcher.platforms.map(formatPlatform).join(', ')}`, {
              subject,
              hint: 'choose one the image has with --platform, or leave manifest.json out with --skip-manifest-json',
            });
          }
          chosen = best.digest;
          if (!docker.has(chosen)) docker.set(chosen, { manifest: best, names: [] });
        }
        resolvedIndex.set(target.digest, chosen);
      }
      if (chosen) docker.get(chosen)!.names.push(rec.name);
    } else {
      throw invalidArgument(`only manifests may be exported (the target is ${JSON.stringify(target.mediaType)})`, { subject });
    }
  }

  entries.push({ name: 'oci-layout', mode: 0o444, type: 'file', size: 0, data: Buffer.from(goJson({ imageLayoutVersion: '1.0.0' })) });
  entries.push({ name: 'index.json', mode: 0o644, type: 'file', size: 0, data: Buffer.from(goJson({ schemaVersion: 2, manifests: indexManifests })) });
  if (docker.size > 0 && !opts.skipManifestJson) {
    const list: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] | null }> = [];
    for (const { manifest, names: tagged } of docker.values()) {
      const doc = await readDoc(manifest, `manifest ${manifest.digest}`);
      if (doc.kind !== 'manifest') continue;
      const tags = tagged.map(familiarName).filter((n): n is string => n !== undefined);
      const layers = doc.manifest.layers.map((l) => blobName(l.digest));
      list.push({ Config: blobName(doc.manifest.config.digest), RepoTags: tags.length ? tags : null, Layers: layers.length ? layers : null });
    }
    entries.push({ name: 'manifest.json', mode: 0o644, type: 'file', size: 0, data: Buffer.from(goJson(list)) });
  }
  if (algorithms.size > 0) {
    entries.push({ name: 'blobs/', mode: 0o755, type: 'dir', size: 0 });
    for (const a of algorithms) entries.push({ name: `blobs/${a}/`, mode: 0o755, type: 'dir', size: 0 });
  }
  for (const e of entries) if (e.data) e.size = e.data.length;

  entries.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  const unique = entries.filter((e, i) => i === 0 || entries[i - 1]!.name !== e.name);
  let size = 1024;
  for (const e of unique) size += tarHeader({ name: e.name, mode: e.mode, size: e.size, type: e.type }).length + e.size + padding(e.size);
  return { images, entries: unique, size };
}

/** The tar bytes of a plan; blobs are read from the store and verified while they stream. */
export async function* exportStream(ctx: Ctx, plan: ExportPlan, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const store = storeFor(ctx);
  for (const e of plan.entries) {
    if (signal?.aborted) throw invalidArgument('export interrupted', { subject: 'export' });
    yield tarHeader({ name: e.name, mode: e.mode, size: e.size, type: e.type });
    if (e.data) yield e.data;
    else if (e.digest) {
      for await (const chunk of store.stream(e.digest, { verify: true, expectedSize: e.size })) yield chunk as Buffer;
    }
    const pad = padding(e.size);
    if (pad) yield Buffer.alloc(pad);
  }
  yield tarEnd();
}

export async function exportImages(ctx: Ctx, names: string[], opts: ExportOptions = {}): Promise<{ plan: ExportPlan; stream: AsyncGenerator<Buffer> }> {
  const plan = await planExport(ctx, names, opts);
  return { plan, stream: exportStream(ctx, plan) };
}
