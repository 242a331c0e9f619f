/**
 * The files of one in-progress write, exactly as containerd's local store
 * keeps them:
 *
 *   ingest/<hex(sha256(backend ref))>/
 *     ref        the backend ref "<ns>/<N>/<ingest ref>", no newline
 *     data       the bytes so far (its size is the offset)
 *     total      expected size in decimal, only when known
 *     startedat  RFC3339Nano text, written as startedat.tmp + rename
 *     updatedat  RFC3339Nano text, likewise
 *
 * containerd's GC skips an ingest dir without `ref` and deletes one whose
 * `ref` no ingest record names, so `ref` is written first and nothing else
 * of ctrx's lives in these dirs (the writer lock is kept outside).
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, renameSync, statSync, writeSync, constants as C } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument, notFound } from '../errdefs.js';

export interface IngestStatus {
  /** Backend ref, as stored in the `ref` file. */
  ref: string;
  /** Bytes in `data`: where a resumed download continues (Range: bytes=<offset>-). */
  offset: number;
  /** Expected size, 0 when unknown (containerd's convention). */
  total: number;
  startedAt: Date;
  updatedAt: Date;
}

const MAX_REF_BYTES = 64 * 1024;

/** The directory name containerd uses for a backend ref. */
export function ingestDirName(backendRef: string): string {
  return createHash('sha256').update(backendRef).digest('hex');
}

/** containerd's backend ref for an ingest ref in a namespace (N is the ingest record's sequence, normally 1). */
export function backendRef(namespace: string, ref: string, sequence = 1): string {
  if (!namespace || namespace.includes('/')) throw invalidArgument('namespace must be a non-empty name without "/"', { subject: `namespace ${JSON.stringify(namespace)}` });
  if (!ref) throw invalidArgument('ref must not be empty');
  return `${namespace}/${sequence}/${ref}`;
}

export function validateBackendRef(ref: string): void {
  if (typeof ref !== 'string' || ref.length === 0) throw invalidArgument('ref must not be empty');
  if (Buffer.byteLength(ref) > MAX_REF_BYTES) throw invalidArgument(`ref is longer than ${MAX_REF_BYTES} bytes`);
  if (ref.includes('\0')) throw invalidArgument('ref must not contain NUL', { subject: `ref ${JSON.stringify(ref.slice(0, 80))}` });
}

/**
 * Go's time.Time.MarshalText (RFC3339Nano): fraction without trailing zeros,
 * none at all for whole seconds. Written in UTC ("Z"), which Go parses back to
 * the same instant.
 */
export function formatRFC3339Nano(d: Date, extraNanos = 0): string {
  const iso = d.toISOString(); // 2024-01-01T00:00:00.123Z
  const base = iso.slice(0, 19);
  const nanos = d.getUTCMilliseconds() * 1_000_000 + Math.max(0, Math.min(999_999, Math.trunc(extraNanos)));
  if (nanos === 0) return `${base}Z`;
  return `${base}.${String(nanos).padStart(9, '0').replace(/0+$/, '')}Z`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Parses RFC3339 with optional fraction and any offset (what containerd writes, in any zone). */
export function parseRFC3339(text: string): Date | undefined {
  const m = RFC3339.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, da, h, mi, s, frac, z, sign, oh, om] = m;
  const ms = frac ? Number((frac + '000').slice(0, 3)) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(da), Number(h), Number(mi), Number(s), ms);
  if (!z) t -= (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  return Number.isFinite(t) ? new Date(t) : undefined;
}

/** Writes `<file>.tmp` synchronously (O_SYNC like containerd's atomicWrite) and renames it over `<file>`. */
export function atomicWrite(file: string, data: string | Uint8Array, mode = 0o666): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, C.O_RDWR | C.O_CREAT | C.O_TRUNC | C.O_SYNC | C.O_NOFOLLOW, mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function writeTimestamp(file: string, d: Date): void {
  atomicWrite(file, formatRFC3339Nano(d));
}

/** Plain write with fsync, for `ref` and `total` (containerd writes them with os.WriteFile, 0666). */
export function writeSmallFile(file: string, text: string): void {
  const fd = openSync(file, C.O_WRONLY | C.O_CREAT | C.O_TRUNC | C.O_NOFOLLOW, 0o666);
  try {
    const buf = Buffer.from(text);
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readSmall(file: string, limit = MAX_REF_BYTES): string {
  const fd = openSync(file, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    const buf = Buffer.alloc(limit + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.byteLength - n, null);
      if (r === 0) break;
      n += r;
      if (n > limit) throw invalidArgument(`${file} is larger than ${limit} bytes`);
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export const ingestFiles = (dir: string) => ({
  ref: join(dir, 'ref'),
  data: join(dir, 'data'),
  total: join(dir, 'total'),
  startedat: join(dir, 'startedat'),
  updatedat: join(dir, 'updatedat'),
});

/** The `total` file as a number; 0 when absent or unreadable (containerd's s.total). */
export function readTotal(dir: string): number {
  try {
    const t = readSmall(ingestFiles(dir).total, 64).trim();
    if (!/^\d{1,16}$/.test(t)) return 0;
    return Number(t);
  } catch {
    return 0;
  }
}

export function readRef(dir: string): string {
  return readSmall(ingestFiles(dir).ref);
}

/**
 * containerd's store.status: fails (not-found) when `data` or `ref` is
 * missing; `updatedAt` is the later of the file and data's mtime, because the
 * file is only rewritten when a writer closes.
 */
export function readStatus(dir: string): IngestStatus {
  const f = ingestFiles(dir);
  let st;
  try {
    st = statSync(f.data);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('ingest has no data', { subject: dir, cause: e });
    throw e;
  }
  let ref: string;
  let startedText: string;
  let updatedText: string;
  try {
    ref = readSmall(f.ref);
    startedText = readSmall(f.startedat, 128);
    updatedText = readSmall(f.updatedat, 128);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('ingest is incomplete', { subject: dir, cause: e });
    throw e;
  }
  const startedAt = parseRFC3339(startedText);
  let updatedAt = parseRFC3339(updatedText);
  if (!startedAt || !updatedAt) throw invalidArgument('ingest has an unreadable timestamp', { subject: dir });
  if (st.mtime > updatedAt) updatedAt = st.mtime;
  return { ref, offset: st.size, total: readTotal(dir), startedAt, updatedAt };
}
