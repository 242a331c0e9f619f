/**
 * Test helpers for image archives: raw tar bytes with any names (the rig's
 * tar builder refuses hostile ones), a small synthetic image, a scratch
 * containerd root, and the invariants every refused import must leave.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultFacts } from '../../../src/config/facts.js';
import type { OpContext } from '../../../src/context.js';
import { viewMeta } from '../../../src/metadata/db.js';
import { listImages } from '../../../src/metadata/images.js';
import { listLeases } from '../../../src/metadata/leases.js';
import { listBlobs } from '../../../src/metadata/content.js';
import { makeTempDir } from '../../helpers/tmp.js';

export type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts' | 'onDebug'>;

export const sha = (b: Buffer | string): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

export interface RawEntry {
  name: string;
  type?: 'file' | 'dir' | 'symlink';
  data?: Buffer | string;
  linkname?: string;
  /** Header size when it must differ from the data (truncation tests). */
  size?: number;
}

function octal(b: Buffer, off: number, len: number, n: number): void {
  b.write(n.toString(8).padStart(len - 1, '0'), off, 'latin1');
}

/** One USTAR header, names taken verbatim (up to 100 bytes). */
export function rawHeader(e: RawEntry, size: number): Buffer {
  const b = Buffer.alloc(512);
  b.write(e.name, 0, 100, 'utf8');
  octal(b, 100, 8, e.type === 'dir' ? 0o755 : 0o644);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, size);
  octal(b, 136, 12, 0);
  b.fill(0x20, 148, 156);
  b.write(e.type === 'dir' ? '5' : e.type === 'symlink' ? '2' : '0', 156, 'latin1');
  if (e.linkname) b.write(e.linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 'latin1');
  b.write('00', 263, 'latin1');
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}

export function rawTar(entries: RawEntry[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    parts.push(rawHeader(e, e.size ?? (e.type === 'file' || e.type === undefined ? data.length : 0)), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
};

export interface Synthetic {
  layer: Buffer;
  config: Buffer;
  manifest: Buffer;
  manifestDesc: { mediaType: string; digest: string; size: number };
  /** blobs/sha256/<hex> entries of the layout. */
  blobs: RawEntry[];
}

/** A one-layer image for the host platform (uncompressed layer: nothing to gunzip). */
export function synthetic(marker = 'hello'): Synthetic {
  const layer = rawTar([{ name: 'hello.txt', data: `${marker}\n` }]);
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: { Cmd: ['/hello'] }, rootfs: { type: 'layers', diff_ids: [sha(layer)] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.manifest,
      config: { mediaType: MT.config, digest: sha(config), size: config.length },
      layers: [{ mediaType: MT.layer, digest: sha(layer), size: layer.length }],
    }),
  );
  const blob = (b: Buffer): RawEntry => ({ name: `blobs/sha256/${sha(b).slice(7)}`, data: b });
  return { layer, config, manifest, manifestDesc: { mediaType: MT.manifest, digest: sha(manifest), size: manifest.length }, blobs: [blob(layer), blob(config), blob(manifest)] };
}

export function indexJson(manifests: object[]): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests });
}

export const LAYOUT: RawEntry = { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' };

/** An OCI layout tar of the synthetic image named `name`. */
export function ociTar(s: Synthetic, name = 'docker.io/library/synthetic:1'): Buffer {
  return rawTar([LAYOUT, ...s.blobs, { name: 'index.json', data: indexJson([{ ...s.manifestDesc, annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': '1' } }]) }]);
}

/** A scratch root inside a temp dir; `outside` is a sibling that must stay empty. */
export function scratch(dirs: string[], ns = 'default'): { ctx: Ctx; outside: string } {
  const base = makeTempDir('ctrx-ai-');
  dirs.push(base);
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  return { ctx: { root, namespace: ns, facts: { ...defaultFacts(), root }, onDebug: () => {} }, outside };
}

export async function* chunks(b: Buffer, size = 64 << 10): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

/** Every file under blobs/ hashes to its name. */
export function blobFiles(root: string): string[] {
  const dir = path.join(root, 'io.containerd.content.v1.content', 'blobs', 'sha256');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((hex) => {
    const got = sha(readFileSync(path.join(dir, hex)));
    if (got !== `sha256:${hex}`) throw new Error(`blob ${hex} hashes to ${got}`);
    return `sha256:${hex}`;
  });
}

export function state(ctx: Ctx): { images: string[]; leases: string[]; blobs: string[]; records: string[]; ingests: string[] } {
  const meta = viewMeta(ctx, (tx) => ({
    images: tx ? listImages(tx, ctx.namespace).map((i) => i.name) : [],
    leases: tx ? listLeases(tx, ctx.namespace).map((l) => l.id) : [],
    records: tx ? listBlobs(tx, ctx.namespace).map((b) => b.digest) : [],
  }));
  const ingestDir = path.join(ctx.root, 'io.containerd.content.v1.content', 'ingest');
  return { ...meta, blobs: blobFiles(ctx.root), ingests: existsSync(ingestDir) ? readdirSync(ingestDir) : [] };
}
