/**
 * Digests as the content store uses them. A digest becomes a path
 * (`blobs/<alg>/<hex>`), so nothing builds a path from one that has not been
 * through parseDigest: `sha256:../../x`, upper-case hex, a wrong length or an
 * unknown algorithm are refused before any file is touched.
 */
import { createHash, type Hash } from 'node:crypto';
import { invalidArgument } from '../errdefs.js';

/** Algorithms containerd registers, with their hex lengths. The store writes only sha256 (digest.Canonical). */
export const DIGEST_ALGORITHMS: Readonly<Record<string, number>> = Object.freeze({ sha256: 64, sha384: 96, sha512: 128 });

export const CANONICAL_ALGORITHM = 'sha256';

export interface ParsedDigest {
  algorithm: string;
  hex: string;
}

/** Splits and validates `<alg>:<hex>` (go-digest's Validate, restricted to registered algorithms). */
export function parseDigest(digest: string): ParsedDigest {
  const sub = { subject: `digest ${JSON.stringify(String(digest).slice(0, 140))}` };
  if (typeof digest !== 'string') throw invalidArgument('invalid checksum digest format', sub);
  const i = digest.indexOf(':');
  if (i <= 0) throw invalidArgument('invalid checksum digest format', sub);
  const algorithm = digest.slice(0, i);
  const hex = digest.slice(i + 1);
  if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/.test(algorithm)) throw invalidArgument('invalid checksum digest format', sub);
  const want = DIGEST_ALGORITHMS[algorithm];
  if (!Object.hasOwn(DIGEST_ALGORITHMS, algorithm) || want === undefined) throw invalidArgument('unsupported digest algorithm', sub);
  if (hex.length !== want || !/^[a-f0-9]+$/.test(hex)) throw invalidArgument('invalid checksum digest length', sub);
  return { algorithm, hex };
}

export function isValidDigest(digest: string): boolean {
  try {
    parseDigest(digest);
    return true;
  } catch {
    return false;
  }
}

/** An incremental hash that renders as `<alg>:<hex>`. */
export class Digester {
  private hash: Hash;
  private bytes = 0;
  constructor(readonly algorithm: string = CANONICAL_ALGORITHM) {
    this.hash = createHash(algorithm);
  }
  update(chunk: Uint8Array): this {
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
    return this;
  }
  /** Bytes hashed so far. */
  get size(): number {
    return this.bytes;
  }
  /** The digest of everything so far; the digester stays usable. */
  digest(): string {
    return `${this.algorithm}:${this.hash.copy().digest('hex')}`;
  }
}

export function digestOf(data: Uint8Array | string, algorithm: string = CANONICAL_ALGORITHM): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}
