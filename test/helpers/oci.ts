/**
 * In-memory OCI/Docker images for tests, and their on-disk forms.
 *
 * An Image is a root descriptor (what a tag points at: a manifest or an
 * index) plus every blob it reaches, keyed by digest. Builders produce it from
 * uncompressed layer tars; it can be written as an OCI image layout, an OCI
 * archive (`ctr images import`), a `docker save` archive, or pushed to a
 * registry (registry.ts). Everything is deterministic: JSON is serialized in
 * a fixed key order and gzip runs with fixed settings, so digests only change
 * when the inputs do.
 *
 * Layout written by writeOciLayout:
 *   <dir>/oci-layout              {"imageLayoutVersion":"1.0.0"}
 *   <dir>/index.json              one entry: the root descriptor (+ ref name)
 *   <dir>/blobs/sha256/<hex>      every blob
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { buildTar, type TarEntry } from './tarball.js';

export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export type MediaStyle = 'oci' | 'docker';
export type Compression = 'gzip' | 'none';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
}

/** The `config` part of an image config (what a container runs). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

export interface ImageConfig {
  created?: string;
  architecture: string;
  variant?: string;
  os: string;
  config: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
}

/** One platform's manifest with its parsed parts. */
export interface PlatformImage {
  descriptor: Descriptor;
  manifest: Manifest;
  config: ImageConfig;
}

export interface Image {
  /** What a tag points at: a manifest, or an index of manifests. */
  root: Descriptor;
  /** Every blob reachable from root (index, manifests, configs, layers) by digest. */
  blobs: Map<string, Buffer>;
  /** Manifests in index order (one for a single-platform image). */
  images: PlatformImage[];
}

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** JSON bytes of a value; key order is the object's, so builders fix it. */
export function jsonBytes(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v));
}

export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };
  return { architecture: arch[process.arch] ?? process.arch, os: 'linux' };
}

export function gzipLayer(tar: Buffer): Buffer {
  // level and memLevel pinned: the output only depends on zlib's version.
  return gzipSync(tar, { level: 6, memLevel: 8 });
}

export interface LayerInput {
  /** Uncompressed tar bytes (see tarball.ts). */
  tar: Buffer;
  /** history created_by text. */
  createdBy?: string;
}

export interface AssembleOptions {
  layers: LayerInput[];
  config: ContainerConfig;
  style?: MediaStyle;
  compression?: Compression;
  /** One manifest per platform; more than one (or `index: true`) makes the root an index. */
  platforms?: Platform[];
  index?: boolean;
  created?: string;
  manifestAnnotations?: Record<string, string>;
}

const CREATED = '2024-01-01T00:00:00Z';

/** Builds an image from uncompressed layer tars. */
export function assembleImage(opts: AssembleOptions): Image {
  const style = opts.style ?? 'oci';
  const compression = opts.compression ?? 'gzip';
  const mt = style === 'oci'
    ? { manifest: MediaType.ociManifest, config: MediaType.ociConfig, index: MediaType.ociIndex,
        layer: compression === 'gzip' ? MediaType.ociLayerGzip : MediaType.ociLayer }
    : { manifest: MediaType.dockerManifest, config: MediaType.dockerConfig, index: MediaType.dockerList,
        layer: compression === 'gzip' ? MediaType.dockerLayerGzip : MediaType.dockerLayer };
  const blobs = new Map<string, Buffer>();
  const put = (mediaType: string, data: Buffer): Descriptor => {
    const digest = sha256(data);
    blobs.set(digest, data);
    return { mediaType, digest, size: data.length };
  };

  const diffIds: string[] = [];
  const layers: Descriptor[] = [];
  for (const l of opts.layers) {
    diffIds.push(sha256(l.tar));
    layers.push(put(mt.layer, compression === 'gzip' ? gzipLayer(l.tar) : l.tar));
  }
  const created = opts.created ?? CREATED;
  const platforms = opts.platforms ?? [hostPlatform()];
  const images: PlatformImage[] = platforms.map((platform) => {
    const config: ImageConfig = {
      created,
      architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
      os: platform.os,
      config: opts.config,
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: opts.layers.map((l) => ({ created, created_by: l.createdBy ?? 'ctrx test fixture' })),
    };
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: mt.manifest,
      config: put(mt.config, jsonBytes(config)),
      layers,
      ...(opts.manifestAnnotations && style === 'oci' ? { annotations: opts.manifestAnnotations } : {}),
    };
    const d = put(mt.manifest, jsonBytes(manifest));
    return { descriptor: { ...d, platform }, manifest, config };
  });

  if (images.length === 1 && !opts.index) {
    const { platform: _omit, ...root } = images[0]!.descriptor;
    return { root, blobs, images };
  }
  const index: Index = { schemaVersion: 2, mediaType: mt.index, manifests: images.map((i) => i.descriptor) };
  return { root: put(mt.index, jsonBytes(index)), blobs, images };
}

/** The manifest for a platform (default: the host's). */
export function platformImage(image: Image, platform: Platform = hostPlatform()): PlatformImage {
  const found = image.images.find(
    (i) => i.config.architecture === platform.architecture && i.config.os === platform.os,
  );
  if (!found) throw new Error(`image has no ${platform.os}/${platform.architecture} manifest`);
  return found;
}

/** Uncompressed layer tars of a manifest, bottom first. */
export function layerTars(image: Image, p: PlatformImage = platformImage(image)): Buffer[] {
  return p.manifest.layers.map((l) => {
    const data = image.blobs.get(l.digest)!;
    return l.mediaType.endsWith('gzip') ? gunzipSync(data) : data;
  });
}

function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return join(dir, 'blobs', alg!, hex!);
}

/** Splits `name:tag` (a registry host's `:port` is not a tag). */
export function tagOf(name: string): string | undefined {
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(colon + 1) : undefined;
}

/** Annotations naming the root in index.json: containerd's and the OCI ref name. */
function nameAnnotations(name?: string): Record<string, string> | undefined {
  if (!name) return undefined;
  const out: Record<string, string> = { 'io.containerd.image.name': name };
  const tag = tagOf(name);
  if (tag) out['org.opencontainers.image.ref.name'] = tag;
  return out;
}

function layoutFiles(image: Image, name?: string): [string, Buffer][] {
  const annotations = nameAnnotations(name);
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [{ ...image.root, ...(annotations ? { annotations } : {}) }],
  };
  const files: [string, Buffer][] = [
    ['oci-layout', jsonBytes({ imageLayoutVersion: '1.0.0' })],
    ['index.json', jsonBytes(index)],
  ];
  for (const [digest, data] of [...image.blobs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    files.push([`blobs/${digest.replace(':', '/')}`, data]);
  }
  return files;
}

/** Writes an OCI image layout directory; `name` (e.g. `docker.io/library/busybox:latest`) annotates the root. */
export function writeOciLayout(image: Image, dir: string, opts: { name?: string } = {}): void {
  for (const [path, data] of layoutFiles(image, opts.name)) {
    const full = join(dir, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, data);
  }
}

/** Reads an OCI layout written by writeOciLayout (or any layout whose index.json has one root). */
export function readOciLayout(dir: string, which = 0): Image {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as Index;
  const entry = index.manifests[which];
  if (!entry) throw new Error(`no manifest #${which} in ${dir}/index.json`);
  const { annotations: _a, ...root } = entry;
  const blobs = new Map<string, Buffer>();
  const load = (d: Descriptor): Buffer => {
    const data = readFileSync(blobPath(dir, d.digest));
    if (sha256(data) !== d.digest || data.length !== d.size) throw new Error(`blob ${d.digest} in ${dir} is corrupt`);
    blobs.set(d.digest, data);
    return data;
  };
  const images: PlatformImage[] = [];
  const loadManifest = (d: Descriptor, data = load(d)): void => {
    const manifest = JSON.parse(data.toString('utf8')) as Manifest;
    const config = JSON.parse(load(manifest.config).toString('utf8')) as ImageConfig;
    manifest.layers.forEach(load);
    images.push({ descriptor: d, manifest, config });
  };
  const rootData = load(root);
  if (root.mediaType === MediaType.ociIndex || root.mediaType === MediaType.dockerList) {
    for (const d of (JSON.parse(rootData.toString('utf8')) as Index).manifests) loadManifest(d);
  } else {
    loadManifest(root, rootData);
  }
  return { root, blobs, images };
}

async function writeTarFile(file: string, files: [string, Buffer][]): Promise<void> {
  const entries: TarEntry[] = [];
  const dirs = new Set<string>();
  for (const [path] of files) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of [...dirs].sort()) entries.push({ path: d, type: 'directory' });
  for (const [path, data] of files) entries.push({ path, type: 'file', data, mode: 0o644 });
  writeFileSync(file, await buildTar(entries));
}

/** Writes the OCI layout as a tar (what `ctr images import` and `ctr images export` use). */
export function writeOciArchive(image: Image, file: string, opts: { name?: string } = {}): Promise<void> {
  return writeTarFile(file, layoutFiles(image, opts.name));
}

/**
 * Writes a `docker save` archive for one platform: manifest.json listing the
 * config and uncompressed layer tars under blobs/sha256 (Docker 25's paths),
 * with `repoTags` such as `busybox:latest`.
 */
export function writeDockerArchive(image: Image, file: string, repoTags: string[], platform?: Platform): Promise<void> {
  const p = platformImage(image, platform);
  const files = new Map<string, Buffer>();
  const configData = image.blobs.get(p.manifest.config.digest)!;
  const configPath = `blobs/${p.manifest.config.digest.replace(':', '/')}`;
  files.set(configPath, configData);
  const layerPaths = layerTars(image, p).map((tar) => {
    const path = `blobs/${sha256(tar).replace(':', '/')}`;
    files.set(path, tar);
    return path;
  });
  const manifest = [{ Config: configPath, RepoTags: repoTags, Layers: layerPaths }];
  const list: [string, Buffer][] = [['manifest.json', jsonBytes(manifest)], ...[...files].sort(([a], [b]) => (a < b ? -1 : 1))];
  return writeTarFile(file, list);
}
