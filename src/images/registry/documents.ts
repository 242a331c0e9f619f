/**
 * Manifests and indexes as registries serve them, validated before anyone
 * uses them: JSON through json.ts, schema 2 only (schema 1 is refused with
 * an explanation), the declared media type agreeing with the document's own
 * `mediaType`, no ambiguous document that has both `manifests` and
 * `layers`/`config` (CVE-2021-41190), and every descriptor well-formed (a
 * valid digest, a safe non-negative integer size, string media type,
 * string-valued annotations).
 */
import { invalidArgument, failedPrecondition } from '../../errdefs.js';
import { isDigest } from '../../digest.js';
import { baseMediaType, isIndexType, isManifestType, isSchema1Type, MediaTypes } from '../media-types.js';
import { isObject, parseJson } from './json.js';
import type { Descriptor } from './types.js';

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type ImageDocument = { kind: 'index'; mediaType: string; index: Index } | { kind: 'manifest'; mediaType: string; manifest: Manifest };

const SCHEMA1_MESSAGE = 'Docker schema 1 manifests are not supported (deprecated by Docker and removed from containerd 2.0); push the image again with a current client';

function stringMap(v: unknown, where: string, subject: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalidArgument(`${where} must be an object of strings`, { subject });
  const out = Object.create(null) as Record<string, string>;
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw invalidArgument(`${where}[${JSON.stringify(k.slice(0, 40))}] is not a string`, { subject });
    out[k] = val;
  }
  return out;
}

const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** Validates a descriptor object (from a manifest, an index or an API caller). */
export function validateDescriptor(v: unknown, where: string, subject: string): Descriptor {
  if (!isObject(v)) throw invalidArgument(`${where} is not an object`, { subject });
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || !MEDIA_TYPE.test(mediaType)) throw invalidArgument(`${where}.mediaType is missing or malformed`, { subject });
  if (!isDigest(digest)) throw invalidArgument(`${where}.digest is missing or not a valid digest`, { subject });
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalidArgument(`${where}.size must be a non-negative integer (got ${JSON.stringify(size)?.slice(0, 30)})`, { subject });
  const d: Descriptor = { mediaType, digest, size };
  if (v.urls !== undefined) {
    if (!Array.isArray(v.urls) || !v.urls.every((u) => typeof u === 'string')) throw invalidArgument(`${where}.urls must be a list of strings`, { subject });
    d.urls = [...(v.urls as string[])];
  }
  const ann = stringMap(v.annotations, `${where}.annotations`, subject);
  if (ann) d.annotations = ann;
  if (v.platform !== undefined) {
    const p = v.platform;
    if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') throw invalidArgument(`${where}.platform needs string os and architecture`, { subject });
    d.platform = { os: p.os, architecture: p.architecture };
    if (typeof p.variant === 'string' && p.variant) d.platform.variant = p.variant;
    if (typeof p['os.version'] === 'string') d.platform['os.version'] = p['os.version'];
    if (Array.isArray(p['os.features']) && p['os.features'].every((x) => typeof x === 'string')) d.platform['os.features'] = [...(p['os.features'] as string[])];
  }
  if (typeof v.artifactType === 'string') d.artifactType = v.artifactType;
  return d;
}

const GENERIC = new Set(['', 'application/json', 'text/plain', 'application/octet-stream', 'binary/octet-stream']);

/**
 * Parses a manifest or an index. `declared` is the media type it was
 * served or referenced with (a descriptor's, or Content-Type); a generic or
 * empty one lets the document's own `mediaType` and shape decide.
 */
export function parseDocument(data: Uint8Array, declared: string, subject: string): ImageDocument {
  const served = baseMediaType(declared);
  if (isSchema1Type(served)) throw failedPrecondition(SCHEMA1_MESSAGE, { subject });
  if (served === 'text/html') throw invalidArgument('the registry sent an HTML page instead of a manifest (a proxy or login portal in the way?)', { subject });
  const doc = parseJson(data, 'manifest', subject);
  if (!isObject(doc)) throw invalidArgument('a manifest must be a JSON object', { subject });
  if (doc.schemaVersion === 1 || (typeof doc.mediaType === 'string' && isSchema1Type(doc.mediaType))) throw failedPrecondition(SCHEMA1_MESSAGE, { subject });
  if (doc.schemaVersion !== 2) throw invalidArgument(`unsupported schemaVersion ${JSON.stringify(doc.schemaVersion)?.slice(0, 20)} (2 expected)`, { subject });
  const own = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (doc.mediaType !== undefined && own === undefined) throw invalidArgument('mediaType must be a string', { subject });

  const hasManifests = 'manifests' in doc;
  const hasImageParts = 'layers' in doc || 'config' in doc;
  if (hasManifests && hasImageParts) throw invalidArgument('ambiguous document: it has both "manifests" and "layers"/"config" (refused, see CVE-2021-41190)', { subject });

  const knownServed = GENERIC.has(served) ? undefined : served;
  if (knownServed && !isIndexType(knownServed) && !isManifestType(knownServed)) {
    throw invalidArgument(`unsupported media type ${JSON.stringify(knownServed)} for a manifest`, { subject });
  }
  if (knownServed && own && own !== knownServed) throw invalidArgument(`the document says ${JSON.stringify(own)} but was served as ${JSON.stringify(knownServed)}`, { subject });
  const mt = knownServed ?? own ?? (hasManifests ? MediaTypes.ociIndex : MediaTypes.ociManifest);
  if (!isIndexType(mt) && !isManifestType(mt)) throw invalidArgument(`unsupported media type ${JSON.stringify(mt.slice(0, 80))} for a manifest`, { subject });

  const annotations = stringMap(doc.annotations, 'annotations', subject);
  const subjectDesc = doc.subject !== undefined ? validateDescriptor(doc.subject, 'subject', subject) : undefined;
  if (isIndexType(mt)) {
    if (hasImageParts) throw invalidArgument('an index cannot have "layers" or "config"', { subject });
    if (!Array.isArray(doc.manifests)) throw invalidArgument('an index needs a "manifests" list', { subject });
    const manifests = doc.manifests.map((m, i) => validateDescriptor(m, `manifests[${i}]`, subject));
    const index: Index = { schemaVersion: 2, manifests };
    if (own) index.mediaType = own;
    if (typeof doc.artifactType === 'string') index.artifactType = doc.artifactType;
    if (subjectDesc) index.subject = subjectDesc;
    if (annotations) index.annotations = annotations;
    return { kind: 'index', mediaType: mt, index };
  }
  if (hasManifests) throw invalidArgument('an image manifest cannot have "manifests"', { subject });
  if (!isObject(doc.config)) throw invalidArgument('an image manifest needs a "config" descriptor', { subject });
  if (!Array.isArray(doc.layers)) throw invalidArgument('an image manifest needs a "layers" list', { subject });
  const manifest: Manifest = {
    schemaVersion: 2,
    config: validateDescriptor(doc.config, 'config', subject),
    layers: doc.layers.map((l, i) => validateDescriptor(l, `layers[${i}]`, subject)),
  };
  if (own) manifest.mediaType = own;
  if (typeof doc.artifactType === 'string') manifest.artifactType = doc.artifactType;
  if (subjectDesc) manifest.subject = subjectDesc;
  if (annotations) manifest.annotations = annotations;
  return { kind: 'manifest', mediaType: mt, manifest };
}

/** The media type a document declares or implies, for descriptors built from a response (resolve by tag). */
export function sniffMediaType(data: Uint8Array, declared: string, subject: string): string {
  return parseDocument(data, declared, subject).mediaType;
}
