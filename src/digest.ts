/**
 * Content digests (`<algorithm>:<hex>`), validated as go-digest does before
 * any path is built from them: a registered algorithm, lowercase hex of that
 * algorithm's exact length. Anything else (`sha256:../../x`, uppercase hex,
 * short or long hex, `md5:`) is an invalid-argument error, so a digest that
 * passes here is always safe as two path components `blobs/<alg>/<hex>`.
 * The one digest module: the content store, the metadata records, the
 * registry client and the archives all use it.
 */
import { createHash, type Hash } from 'node:crypto';
import { invalidArgument } from './errdefs.js';

export type DigestAlgorithm = 'sha256' | 'sha384' | 'sha512';

/** Algorithms containerd registers, with their hex lengths. The store writes only sha256 (digest.Canonical). */
export const DIGEST_ALGORITHMS: Readonly<Record<DigestAlgorithm, number>> = Object.freeze({ sha256: 64, sha384: 96, sha512: 128 });
export const CANONICAL_ALGORITHM: DigestAlgorithm = 'sha256';

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
  /** The canonical string, `<algorithm>:<hex>`. */
  value: string;
}

/** A value shown in a message: quoted, control characters escaped, long input cut. */
export function quoteForMessage(s: string, max = 100): string {
  const cut = s.length > max ? s.slice(0, max) + '…' : s;
  return JSON.stringify(cut);
}

function why(s: unknown): string | undefined {
  if (typeof s !== 'string') return 'not a string';
  if (s.length === 0) return 'empty';
  if (s.length > 200) return 'too long';
  const colon = s.indexOf(':');
  if (colon < 0) return 'missing "<algorithm>:" prefix';
  const alg = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/.test(alg)) return `malformed algorithm ${quoteForMessage(alg, 20)}`;
  if (!Object.hasOwn(DIGEST_ALGORITHMS, alg)) return `unsupported algorithm ${quoteForMessage(alg, 20)} (sha256, sha384 or sha512)`;
  const want = DIGEST_ALGORITHMS[alg as DigestAlgorithm];
  if (/[A-F]/.test(hex) && /^[0-9a-fA-F]*$/.test(hex)) return 'hex must be lowercase';
  if (!/^[0-9a-f]*$/.test(hex)) return 'the encoded part is not hexadecimal';
  if (hex.length !== want) return `${alg} needs ${want} hex characters, got ${hex.length}`;
  return undefined;
}

/** Parses and validates a digest; throws invalid-argument with the reason. */
export function parseDigest(s: string, subject?: string): ParsedDigest {
  const reason = why(s);
  if (reason !== undefined) throw invalidArgument(`invalid digest ${quoteForMessage(String(s))}: ${reason}`, { subject });
  const colon = s.indexOf(':');
  return { algorithm: s.slice(0, colon) as DigestAlgorithm, hex: s.slice(colon + 1), value: s };
}

export function isDigest(s: unknown): s is string {
  return why(s) === undefined;
}

/** Returns the digest unchanged when valid, throws otherwise. */
export function validateDigest(s: string, subject?: string): string {
  return parseDigest(s, subject).value;
}

/** The digest of some bytes. */
export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = CANONICAL_ALGORITHM): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/**
 * An incremental hash that renders as `<alg>:<hex>`. `hash` may be a
 * node:crypto Hash already fed with a prefix (resuming a download).
 * digest() leaves the digester usable.
 */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  private readonly h: Hash;
  private bytes = 0;
  constructor(algorithm: DigestAlgorithm = CANONICAL_ALGORITHM, hash?: Hash) {
    this.algorithm = algorithm;
    this.h = hash ?? createHash(algorithm);
  }
  update(chunk: Uint8Array): this {
    this.h.update(chunk);
    this.bytes += chunk.byteLength;
    return this;
  }
  /** Bytes fed through update() so far. */
  get size(): number {
    return this.bytes;
  }
  digest(): string {
    return `${this.algorithm}:${this.h.copy().digest('hex')}`;
  }
}

export function digesterFor(expected: string, hash?: Hash): Digester {
  return new Digester(parseDigest(expected).algorithm, hash);
}

/** Shortened form for display: the first 12 hex characters, like docker. */
export function shortDigest(d: string): string {
  const colon = d.indexOf(':');
  return colon < 0 ? d.slice(0, 12) : d.slice(colon + 1, colon + 13);
}
