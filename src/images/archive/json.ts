/**
 * JSON for documents containerd's Go code would write byte for byte the
 * same: a manifest ctrx builds from a `docker save` archive, or the
 * index.json and manifest.json of an export, must hash like ctr's so both
 * tools name the same image by the same digest.
 */
import { invalidArgument } from '../../errdefs.js';
import { isObject, parseJson } from '../registry/json.js';

/**
 * Go's json.Marshal: compact, `<`, `>`, `&`, U+2028 and U+2029 escaped
 * (they only occur inside strings, so a textual replace is exact). Objects
 * are written in the key order they have; Go sorts map keys, so callers
 * build maps with `sortedMap`.
 */
export function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** A copy of a string map with its keys in Go's order (bytewise ascending). */
export function sortedMap(m: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const k of Object.keys(m).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) out[k] = m[k]!;
  return out;
}

/** A descriptor in the field order of Go's ocispec.Descriptor (empty fields left out). */
export function goDescriptor(d: {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; 'os.version'?: string; 'os.features'?: string[]; variant?: string };
}): Record<string, unknown> {
  const out: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls?.length) out.urls = d.urls;
  if (d.annotations && Object.keys(d.annotations).length) out.annotations = sortedMap(d.annotations);
  if (d.platform) {
    const p = d.platform;
    const po: Record<string, unknown> = { architecture: p.architecture, os: p.os };
    if (p['os.version']) po['os.version'] = p['os.version'];
    if (p['os.features']?.length) po['os.features'] = p['os.features'];
    if (p.variant) po.variant = p.variant;
    out.platform = po;
  }
  return out;
}

/** Parses a JSON file from an archive (UTF-8, depth-limited, null-prototype objects). */
export function parseArchiveJson(data: Uint8Array, what: string, subject: string): unknown {
  return parseJson(data, what, subject);
}

export function expectObject(v: unknown, what: string, subject: string): Record<string, unknown> {
  if (!isObject(v)) throw invalidArgument(`${what} must be a JSON object`, { subject });
  return v;
}

export { isObject };
