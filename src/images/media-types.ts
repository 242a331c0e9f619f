/**
 * Media types of OCI and Docker schema 2 documents and layers, and the
 * Accept header a resolver sends. Docker schema 1 is recognised only to be
 * refused with a clear message (containerd 2.x refuses it as well).
 */

export const MediaTypes = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What a resolver accepts, in containerd's order of preference. */
export const MANIFEST_ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.dockerManifestList,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifest,
  '*/*;q=0.1',
].join(', ');

/** The media type without parameters, lower-cased (`application/json; charset=utf-8` → `application/json`). */
export function baseMediaType(value: string | undefined): string {
  if (!value) return '';
  return value.split(';')[0]!.trim().toLowerCase();
}

export function isIndexType(mt: string): boolean {
  return mt === MediaTypes.ociIndex || mt === MediaTypes.dockerManifestList;
}

export function isManifestType(mt: string): boolean {
  return mt === MediaTypes.ociManifest || mt === MediaTypes.dockerManifest;
}

/** Index or manifest: fetched from `/manifests/`, size-capped, parsed as JSON. */
export function isDocumentType(mt: string): boolean {
  return isIndexType(mt) || isManifestType(mt);
}

export function isSchema1Type(mt: string): boolean {
  return mt === MediaTypes.dockerSchema1 || mt === MediaTypes.dockerSchema1Signed || mt === 'application/json+prettyjws';
}

export function isConfigType(mt: string): boolean {
  return mt === MediaTypes.ociConfig || mt === MediaTypes.dockerConfig;
}

export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** The compression of a layer media type, or undefined when it is not a layer. */
export function layerCompression(mt: string): LayerCompression | undefined {
  switch (mt) {
    case MediaTypes.ociLayer:
    case MediaTypes.ociLayerNondistributable:
    case MediaTypes.dockerLayer:
      return 'none';
    case MediaTypes.ociLayerGzip:
    case MediaTypes.ociLayerNondistributableGzip:
    case MediaTypes.dockerLayerGzip:
    case MediaTypes.dockerForeignLayerGzip:
      return 'gzip';
    case MediaTypes.ociLayerZstd:
    case MediaTypes.ociLayerNondistributableZstd:
    case MediaTypes.dockerLayerZstd:
      return 'zstd';
    default:
      return undefined;
  }
}

export function isLayerType(mt: string): boolean {
  return layerCompression(mt) !== undefined;
}

/** containerd's ingest ref prefix for a descriptor (manifest-, index-, config-, layer-, unknown-). */
export function ingestKind(mt: string): 'manifest' | 'index' | 'config' | 'layer' | 'unknown' {
  if (isIndexType(mt)) return 'index';
  if (isManifestType(mt)) return 'manifest';
  if (isConfigType(mt)) return 'config';
  if (isLayerType(mt)) return 'layer';
  return 'unknown';
}
