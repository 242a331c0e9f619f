/**
 * Image names inside archives, the way containerd 1.6 derives them
 * (images/archive/reference.go, client import.go), so that `ctrx images
 * import` creates the records `ctr images import` would and an export
 * carries the annotations `ctr images import` reads back.
 *
 * Import: `io.containerd.image.name` is taken as it is; otherwise the
 * `org.opencontainers.image.ref.name` goes through a translator: a tag-only
 * name gets the prefix (`--base-name`, or `import-<yyyy-mm-dd>`); a full
 * name is kept, or, with `--base-name`, kept only when it lies under that
 * prefix. Export: the record's name plus its OCI ref name (the part after
 * the repository: tag, `tag@digest` or `@digest`).
 */
import { invalidArgument } from '../../errdefs.js';
import { familiarString, formatReference, parseReference } from '../reference.js';

export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

/** Image names longer than this are refused rather than written as bbolt keys. */
const MAX_NAME_BYTES = 4096;

function isImagePrefix(s: string, prefix: string): boolean {
  if (!s.startsWith(prefix)) return false;
  if (s.length > prefix.length) return '/:@'.includes(s[prefix.length]!);
  return true;
}

/**
 * containerd's refTranslator: tag-only refs get `image:` in front; full
 * refs (containing `/`, `:` or `@`) are kept, or with `checkPrefix` dropped
 * ('') unless they are under `image`.
 */
export function refTranslator(image: string, checkPrefix: boolean): (ref: string) => string {
  return (ref) => {
    if (/[/:@]/.test(ref)) return checkPrefix && !isImagePrefix(ref, image) ? '' : ref;
    return `${image}:${ref}`;
  };
}

/** `import-2006-01-02` in local time, ctr's default base name. */
export function defaultBaseName(now: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `import-${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}`;
}

/** The image name for an index entry: the containerd annotation, else the translated OCI ref name, else ''. */
export function imageNameOf(annotations: Record<string, string> | undefined, translate: (ref: string) => string): string {
  const full = annotations?.[ANNOTATION_IMAGE_NAME];
  if (full) return full;
  const ref = annotations?.[ANNOTATION_REF_NAME];
  return ref ? translate(ref) : '';
}

/** Names taken from an archive become bbolt keys: bounded, no control characters. */
export function checkArchiveImageName(name: string, subject: string): string {
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw invalidArgument(`an image name in the archive is longer than ${MAX_NAME_BYTES} bytes`, { subject });
  if (/[\x00-\x1f\x7f]/.test(name)) throw invalidArgument(`the image name ${JSON.stringify(name.slice(0, 80))} in the archive contains control characters`, { subject });
  return name;
}

/**
 * containerd's ociReferenceName: reference.Parse(name).Object, or the whole
 * name when it does not parse (no host part, a port that is not a number).
 */
export function ociReferenceName(name: string): string {
  if (name.includes('://')) return name;
  const slash = name.indexOf('/');
  const host = slash < 0 ? name : name.slice(0, slash);
  const rest = slash < 0 ? '' : name.slice(slash);
  if (!host) return name;
  // url.Parse refuses a host whose port is not numeric ("import-2024-01-01:latest").
  const bracket = host.startsWith('[') ? host.indexOf(']') : -1;
  const colon = host.lastIndexOf(':');
  if (colon > bracket && !/^[0-9]*$/.test(host.slice(colon + 1))) return name;
  const m = /[:@]/.exec(rest);
  if (!m) return '';
  const object = rest.slice(m.index);
  return object.startsWith(':') ? object.slice(1) : object;
}

/** distribution's ParseDockerRef: normalised, `:latest` added, a tag dropped when a digest is present. */
export function dockerReference(input: string, subject: string): string {
  let r;
  try {
    r = parseReference(input);
  } catch (e) {
    throw invalidArgument(`normalize image ref ${JSON.stringify(input.slice(0, 200))}: ${(e as Error).message}`, { subject });
  }
  if (r.digest) delete r.tag;
  return formatReference(r);
}

/** The short Docker form used in manifest.json RepoTags (`busybox:latest`), or undefined when the name is not a reference. */
export function familiarName(name: string): string | undefined {
  try {
    return familiarString(parseReference(name));
  } catch {
    return undefined;
  }
}
