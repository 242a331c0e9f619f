/**
 * Reading blobs with their digest as the check: a blob file can rot, be
 * truncated or be replaced behind the store's back, so whole reads hash what
 * they return and fail at the end on a mismatch. Files are opened with
 * O_NOFOLLOW: a symlink planted under blobs/ is never followed.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { constants as C } from 'node:fs';
import { Readable } from 'node:stream';
import { failedPrecondition, fromSystemError, invalidArgument, notFound } from '../errdefs.js';
import { Digester, parseDigest } from '../digest.js';

export interface BlobHandle {
  readonly digest: string;
  readonly size: number;
  /** Reads up to `length` bytes at `position` (fewer at the end). */
  readAt(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface ReadAllOptions {
  /** Refuse blobs larger than this many bytes (required: manifests and configs are small). */
  maxSize: number;
  /** Hash and compare with the digest (default true). */
  verify?: boolean;
}

export interface StreamOptions {
  /** First byte (default 0). Verification needs the whole blob, so it is off when start > 0 or end is set. */
  start?: number;
  /** Byte after the last one to read (default: the size). */
  end?: number;
  /** Default true for whole reads. */
  verify?: boolean;
  /** Fail when the blob's size is not this (the descriptor's size). */
  expectedSize?: number;
  highWaterMark?: number;
}

const subj = (digest: string) => ({ subject: `content digest ${digest}` });

async function openFile(path: string, digest: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, C.O_RDONLY | C.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw notFound('not found', subj(digest));
    if (code === 'ELOOP') throw failedPrecondition('blob file is a symlink', subj(digest));
    throw fromSystemError(e, `content digest ${digest}`);
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw failedPrecondition('blob is not a regular file', subj(digest));
  }
  return { fh, size: st.size };
}

export async function openBlob(path: string, digest: string): Promise<BlobHandle> {
  const { fh, size } = await openFile(path, digest);
  return {
    digest,
    size,
    async readAt(position: number, length: number): Promise<Buffer> {
      if (!Number.isSafeInteger(position) || position < 0 || !Number.isSafeInteger(length) || length < 0) throw invalidArgument('invalid read range', subj(digest));
      const n = Math.max(0, Math.min(length, size - position));
      const buf = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await fh.read(buf, got, n - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    },
    close: () => fh.close(),
  };
}

function mismatch(digest: string, got: string): Error {
  return failedPrecondition(`content digest mismatch: read ${got}`, { ...subj(digest), hint: 'the blob file is corrupt; remove it and fetch the content again' });
}

export async function readBlob(path: string, digest: string, opts: ReadAllOptions): Promise<Buffer> {
  const { algorithm } = parseDigest(digest);
  const { fh, size } = await openFile(path, digest);
  try {
    if (size > opts.maxSize) throw failedPrecondition(`blob is ${size} bytes, more than the limit of ${opts.maxSize}`, subj(digest));
    // One byte more than the limit: a file that grew after the stat is caught too.
    const buf = Buffer.alloc(Math.min(size, opts.maxSize) + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.byteLength - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > opts.maxSize) throw failedPrecondition(`blob grew past the limit of ${opts.maxSize} bytes`, subj(digest));
      if (got === buf.byteLength) break;
    }
    const data = buf.subarray(0, got);
    if (opts.verify !== false) {
      const d = new Digester(algorithm).update(data).digest();
      if (d !== digest) throw mismatch(digest, d);
    }
    return data;
  } finally {
    await fh.close();
  }
}

export function blobStream(path: string, digest: string, opts: StreamOptions = {}): Readable {
  const { algorithm } = parseDigest(digest);
  const start = opts.start ?? 0;
  const partial = start > 0 || opts.end !== undefined;
  const verify = opts.verify ?? !partial;
  if (verify && partial) throw invalidArgument('a partial read cannot be verified', subj(digest));
  const chunk = opts.highWaterMark ?? 1 << 20;
  async function* gen(): AsyncGenerator<Buffer> {
    const { fh, size } = await openFile(path, digest);
    try {
      if (opts.expectedSize !== undefined && opts.expectedSize !== size) {
        throw failedPrecondition(`blob is ${size} bytes, expected ${opts.expectedSize}`, subj(digest));
      }
      const end = Math.min(opts.end ?? size, size);
      const h = verify ? new Digester(algorithm) : undefined;
      let pos = start;
      while (pos < end) {
        const buf = Buffer.allocUnsafe(Math.min(chunk, end - pos));
        const { bytesRead } = await fh.read(buf, 0, buf.byteLength, pos);
        if (bytesRead === 0) break;
        const part = buf.subarray(0, bytesRead);
        h?.update(part);
        pos += bytesRead;
        yield part;
      }
      if (h) {
        if (h.size !== size) throw failedPrecondition(`blob changed while reading: ${h.size} of ${size} bytes`, subj(digest));
        const d = h.digest();
        if (d !== digest) throw mismatch(digest, d);
      }
    } finally {
      await fh.close();
    }
  }
  return Readable.from(gen(), { objectMode: false });
}
