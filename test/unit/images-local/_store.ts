/**
 * A synthetic containerd root for the images-local unit tests: blobs written
 * as containerd's local store keeps them (blobs/sha256/<hex>, 0444) with
 * their namespace records, and OCI images assembled from JSON documents.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { defaultFacts } from '../../../src/config/facts.js';
import type { OpContext } from '../../../src/context.js';
import { writeMeta } from '../../../src/metadata/db.js';
import { blobPath, createBlob } from '../../../src/metadata/content.js';
import { createImage } from '../../../src/metadata/images.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

export type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts'> & Pick<OpContext, 'state'>;

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
}

export const sha = (b: Buffer | string): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

export function newRoot(dirs: string[], ns = 'default'): Ctx {
  const root = makeTempDir('ctrx-il-');
  dirs.push(root);
  return { root, state: path.join(root, 'state'), namespace: ns, facts: { ...defaultFacts(), root } };
}

export const cleanup = (dirs: string[]) => () => dirs.forEach(removeTempDir);

/** Writes the file (if missing) and, unless `record` is false, the namespace's record. */
export function putBlob(ctx: Ctx, data: Buffer | string, mediaType: string, opts: { record?: boolean; labels?: Record<string, string> } = {}): Desc {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const digest = sha(buf);
  const p = blobPath(ctx.root, digest);
  mkdirSync(path.dirname(p), { recursive: true, mode: 0o755 });
  try {
    writeFileSync(p, buf, { flag: 'wx', mode: 0o444 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  chmodSync(p, 0o444);
  if (opts.record !== false) {
    writeMeta(ctx, (tx) => {
      try {
        createBlob(tx, ctx.namespace, digest, buf.length, opts.labels);
      } catch (e) {
        if ((e as { category?: string }).category !== 'already-exists') throw e;
      }
    });
  }
  return { mediaType, digest, size: buf.length };
}

export const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

export interface Built {
  target: Desc;
  manifest: Desc;
  config: Desc;
  layers: Desc[];
}

/** A one-platform OCI image with `n` layers (layer bytes are arbitrary: only their digests matter here). */
export function buildImage(ctx: Ctx, name: string, opts: { layers?: number; arch?: string; tag?: string; skip?: Array<'config' | 'manifest' | number> } = {}): Built {
  const n = opts.layers ?? 2;
  const skip = new Set(opts.skip ?? []);
  const layers = Array.from({ length: n }, (_, i) => putBlob(ctx, `layer ${i} of ${name} ${opts.tag ?? ''}`, MT.layer, { record: !skip.has(i) }));
  const diffIds = layers.map((l) => sha(`diff ${l.digest}`));
  const cfg = { architecture: opts.arch ?? 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } };
  const config = putBlob(ctx, JSON.stringify(cfg), MT.config, { record: !skip.has('config') });
  const man = { schemaVersion: 2, mediaType: MT.manifest, config, layers };
  const manifest = putBlob(ctx, JSON.stringify(man), MT.manifest, { record: !skip.has('manifest') });
  writeMeta(ctx, (tx) => createImage(tx, ctx.namespace, { name, target: manifest }));
  return { target: manifest, manifest, config, layers };
}

/** An index over several single-platform manifests (each built like buildImage, without image records). */
export function buildIndex(ctx: Ctx, name: string, archs: string[], opts: { skipManifestOf?: string } = {}): { target: Desc; manifests: Desc[] } {
  const manifests: Desc[] = [];
  for (const arch of archs) {
    const layer = putBlob(ctx, `layer of ${name} ${arch}`, MT.layer);
    const config = putBlob(ctx, JSON.stringify({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(`diff ${arch}`)] } }), MT.config);
    const m = putBlob(ctx, JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config, layers: [layer] }), MT.manifest, { record: opts.skipManifestOf !== arch });
    manifests.push({ ...m, platform: { os: 'linux', architecture: arch } });
  }
  const target = putBlob(ctx, JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests }), MT.index);
  writeMeta(ctx, (tx) => createImage(tx, ctx.namespace, { name, target }));
  return { target, manifests };
}
