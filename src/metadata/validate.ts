/**
 * containerd's validation, with its messages, so a record ctrx writes is one
 * containerd would have accepted (and the same inputs fail the same way).
 */
import { Buffer } from 'node:buffer';
import { parseDigest, isDigest } from '../digest.js';
import { invalidArgument } from '../errdefs.js';

const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/;
const MAX_IDENTIFIER = 76;
const MAX_LABEL = 4096;

/** identifiers.Validate (namespaces, container ids). */
export function validateIdentifier(s: string, what?: string): void {
  const sub = what ? { subject: what } : undefined;
  if (s.length === 0) throw invalidArgument('identifier must not be empty', sub);
  if (s.length > MAX_IDENTIFIER) throw invalidArgument(`identifier ${JSON.stringify(s)} greater than maximum length (${MAX_IDENTIFIER} characters)`, sub);
  if (!IDENTIFIER.test(s)) throw invalidArgument(`identifier ${JSON.stringify(s)} must match ${IDENTIFIER.source}`, sub);
}

/** labels.Validate: len(key)+len(value) in bytes at most 4096. */
export function validateLabel(k: string, v: string, what?: string): void {
  if (Buffer.byteLength(k) + Buffer.byteLength(v) > MAX_LABEL) {
    throw invalidArgument(`label key and value greater than maximum size (${MAX_LABEL} bytes), key: ${Buffer.from(k).subarray(0, 10).toString()}`, what ? { subject: what } : undefined);
  }
}

export function validateLabels(labels: Record<string, string> | undefined, what?: string): void {
  for (const [k, v] of Object.entries(labels ?? {})) validateLabel(k, v, what);
}

/** go-digest's Validate for the algorithms containerd registers (src/digest.ts). */
export function validateDigest(d: string): void {
  parseDigest(d);
}

export { isDigest as isValidDigest };

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** metadata.validateImage. */
export function validateImage(name: string, target: Descriptor, labels?: Record<string, string>): void {
  if (!name) throw invalidArgument('image name must not be empty');
  validateLabels(labels, 'image.Labels');
  try {
    validateDigest(target.digest);
  } catch (e) {
    throw invalidArgument(`Target.Digest ${JSON.stringify(target.digest)} invalid: ${(e as Error).message}`, { subject: `image ${JSON.stringify(name)}` });
  }
  if (!(target.size > 0)) throw invalidArgument('Target.Size must be greater than zero', { subject: `image ${JSON.stringify(name)}` });
  if (!target.mediaType) throw invalidArgument('Target.MediaType must be set', { subject: `image ${JSON.stringify(name)}` });
}

/** "k=v" arguments the way ctr reads them (commands.LabelArgs): no '=' means value "true". */
export function parseLabelArgs(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const set = (k: string, v: string) => Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const a of args) {
    const i = a.indexOf('=');
    if (i < 0) set(a, 'true');
    else set(a.slice(0, i), a.slice(i + 1));
  }
  return out;
}
