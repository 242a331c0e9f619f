/**
 * Tar framing in front of tar-stream. tar-stream slices entry data out of
 * the stream; this framer decides, block by block and before anything is
 * buffered, what the archive means, with Go's archive/tar rules (containerd's
 * reader) where the two differ. Whatever it accepts, Go reads the same way
 * (test/unit/archive/go-oracle.test.ts checks that against Go itself).
 *
 * - metadata entries (PAX `x`, GNU `L`/`K`) are bounded (1 MiB, Go's
 *   maxSpecialFileSize) before they are read; PAX records are parsed
 *   strictly and kept as bytes (tar-stream decodes values as UTF-8, which
 *   would mangle binary xattrs such as security.capability); empty PAX
 *   values and empty GNU long names keep the header's value, as in Go;
 * - global PAX headers (`g`) are dropped, not merged into later entries;
 * - a GNU long name wins over a PAX path (Go's precedence);
 * - names follow Go's formats: USTAR prefix for any `ustar\0` magic, STAR's
 *   131-byte prefix, GNU's atime/ctime (or Go's pre-1.8 prefix fallback);
 * - the archive ends at two zero blocks; what follows is not parsed (the
 *   caller still hashes it, like containerd, which reads trailing data into
 *   the diff ID); a zero block followed by a header is an error; EOF right
 *   after an entry, inside its padding, or after one zero block, is a normal
 *   end; EOF inside a header or an entry's data is a truncated archive;
 * - numbers are parsed like Go (octal trimmed of spaces/NULs up to a NUL, or
 *   base-256); anything else is an invalid header; a size tar-stream would
 *   read differently is refused;
 * - header-only types (links, devices, FIFOs) carrying data, legacy
 *   directories carrying data, checksum-only headers, metadata cut off by a
 *   global header, GNU/PAX sparse files and unknown types are refused instead
 *   of being read two different ways.
 */
import { invalidArgument, notImplemented } from '../errdefs.js';

export interface FrameLimits {
  /** Largest PAX or GNU long-name entry (bytes). */
  maxMetaBytes: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxMetaBytes: 1 << 20 };

export interface RawEntry {
  /** Offset of the entry's header in the uncompressed stream. */
  offset: number;
  /** '0' (also for NUL), '1' hardlink, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo. */
  typeflag: string;
  name: Buffer;
  linkname: Buffer;
  mode: bigint;
  uid: bigint;
  gid: bigint;
  /** Data bytes that follow the header (0 for header-only types). */
  size: number;
  mtimeNs: bigint;
  atimeNs: bigint | undefined;
  devmajor: bigint;
  devminor: bigint;
  pax: Map<string, Buffer>;
}

const BLOCK = 512;
const pad = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

function invalid(msg: string, offset: number): Error {
  return invalidArgument(`invalid tar archive: ${msg} (at byte ${offset})`, { subject: 'layer' });
}

function cstr(b: Buffer, start: number, len: number): Buffer<ArrayBufferLike> {
  const f = b.subarray(start, start + len);
  const z = f.indexOf(0);
  return Buffer.from(z < 0 ? f : f.subarray(0, z));
}

/** Go's parseNumeric: base-256 when the high bit is set, else octal trimmed of spaces and NULs, up to a NUL. */
export function parseNumeric(f: Buffer): bigint | undefined {
  if (f.length > 0 && (f[0]! & 0x80) !== 0) {
    const inv = (f[0]! & 0x40) !== 0 ? 0xff : 0;
    let x = 0n;
    for (let i = 0; i < f.length; i++) {
      let c = f[i]! ^ inv;
      if (i === 0) c &= 0x7f;
      x = (x << 8n) | BigInt(c);
    }
    if (f.length > 9 && x >> 63n !== 0n) return undefined; // does not fit an int64
    return inv === 0xff ? ~x : x;
  }
  let s = 0;
  let e = f.length;
  while (s < e && (f[s] === 0x20 || f[s] === 0)) s++;
  while (e > s && (f[e - 1] === 0x20 || f[e - 1] === 0)) e--;
  const nul = f.indexOf(0, s);
  if (nul >= 0 && nul < e) e = nul; // parseString: the text ends at a NUL
  if (s === e) return 0n;
  let x = 0n;
  for (let i = s; i < e; i++) {
    const c = f[i]!;
    if (c < 0x30 || c > 0x37) return undefined;
    x = x * 8n + BigInt(c - 0x30);
  }
  return x;
}

/** Go's parseOctal: trimmed of spaces and NULs, then octal digits only. */
function parseOctal(f: Buffer): bigint | undefined {
  if (f.length > 0 && (f[0]! & 0x80) !== 0) return undefined;
  return parseNumeric(f);
}

function checksumOk(b: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
  // Go also accepts a signed-char sum; tar-stream does not, so neither does this.
  return parseOctal(b.subarray(148, 156)) === BigInt(sum) && tarStreamNumber(b.subarray(148, 156)) === sum;
}

/**
 * tar-stream's decodeOct, to make sure it reads a size field as Go does
 * (they differ on odd spacing, NULs and base-256 forms; such headers are refused).
 */
function tarStreamNumber(f: Buffer): number | null {
  if (f[0]! & 0x80) {
    if (f[0] !== 0x80 && f[0] !== 0xff) return null;
    const positive = f[0] === 0x80;
    let sum = 0;
    for (let i = f.length - 1, k = 0; i > 0; i--, k++) sum += (positive ? f[i]! : 0xff - f[i]!) * Math.pow(256, k);
    return positive ? sum : -1 * sum;
  }
  let off = 0;
  while (off < f.length && f[off] === 32) off++;
  let end = off;
  while (end < f.length && f[end] !== 32) end++;
  while (off < end && f[off] === 0) off++;
  if (end === off) return 0;
  return parseInt(f.toString('utf8', off, end), 8);
}

const isASCII = (b: Buffer) => b.every((c) => c < 0x80);

type HeaderFormat = 'v7' | 'ustar' | 'star' | 'gnu';

/** The fields of one header block, read as Go's archive/tar reads them (readHeader). */
function decodeHeader(b: Buffer, offset: number) {
  const num = (start: number, len: number, what: string): bigint => {
    const v = parseNumeric(b.subarray(start, start + len));
    if (v === undefined) throw invalid(`bad ${what} field`, offset);
    return v;
  };
  const magic = b.toString('latin1', 257, 263);
  const version = b.toString('latin1', 263, 265);
  const format: HeaderFormat =
    magic === 'ustar\0' ? (b.toString('latin1', 508, 512) === 'tar\0' ? 'star' : 'ustar') : magic === 'ustar ' && version === ' \0' ? 'gnu' : 'v7';
  const size = num(124, 12, 'size');
  if (size < 0n) throw invalid('negative size', offset);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`entry size ${size} is too large`, offset);
  if (tarStreamNumber(b.subarray(124, 136)) !== Number(size)) throw invalid('ambiguous size field', offset);
  const h = {
    format,
    size: Number(size),
    mode: num(100, 8, 'mode'),
    uid: num(108, 8, 'uid'),
    gid: num(116, 8, 'gid'),
    mtimeNs: num(136, 12, 'mtime') * 1_000_000_000n,
    atimeNs: undefined as bigint | undefined,
    devmajor: 0n,
    devminor: 0n,
    name: cstr(b, 0, 100) as Buffer<ArrayBufferLike>,
    linkname: cstr(b, 157, 100),
    /** The name as tar-stream reads it (prefix for any 'ustar\0' magic), for its directory rule. */
    streamName: magic === 'ustar\0' && b[345] !== 0 ? Buffer.concat([cstr(b, 345, 155), Buffer.from('/'), cstr(b, 0, 100)]) : cstr(b, 0, 100),
  };
  if (format === 'v7') return h;
  h.devmajor = num(329, 8, 'devmajor');
  h.devminor = num(337, 8, 'devminor');
  let prefix: Buffer<ArrayBufferLike> = Buffer.alloc(0);
  if (format === 'ustar') prefix = cstr(b, 345, 155);
  else if (format === 'star') {
    prefix = cstr(b, 345, 131);
    h.atimeNs = num(476, 12, 'atime') * 1_000_000_000n;
    num(488, 12, 'ctime');
  } else {
    // GNU: atime/ctime where USTAR has its prefix; if they do not parse and the bytes are ASCII, Go
    // reads them as a prefix after all (files from pre-1.8 Go writers).
    const at = b[345] !== 0 ? parseNumeric(b.subarray(345, 357)) : 0n;
    const ct = b[357] !== 0 ? parseNumeric(b.subarray(357, 369)) : 0n;
    if (at === undefined || ct === undefined) {
      const p = cstr(b, 345, 155);
      if (isASCII(p)) prefix = p;
    } else if (b[345] !== 0) h.atimeNs = at * 1_000_000_000n;
  }
  if (prefix.length) h.name = Buffer.concat([prefix, Buffer.from('/'), h.name]);
  return h;
}

/** Strict PAX record parsing ("%d %s=%s\n"), values kept as bytes; later duplicates win. */
export function parsePax(buf: Buffer, offset: number): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0 || sp === off || sp - off > 20) throw invalid('malformed PAX record length', offset);
    const lenText = buf.toString('latin1', off, sp);
    if (!/^\d+$/.test(lenText)) throw invalid('malformed PAX record length', offset);
    const n = Number(lenText);
    if (n < 5 || off + n > buf.length || sp >= off + n) throw invalid('PAX record length out of range', offset);
    const rec = buf.subarray(sp + 1, off + n);
    if (rec[rec.length - 1] !== 0x0a) throw invalid('PAX record without newline', offset);
    const body = rec.subarray(0, rec.length - 1);
    const eq = body.indexOf(0x3d);
    if (eq <= 0) throw invalid('PAX record without key', offset);
    const key = body.toString('utf8', 0, eq);
    const value = Buffer.from(body.subarray(eq + 1));
    if (key.includes('\0')) throw invalid('NUL in a PAX key', offset);
    if ((key === 'path' || key === 'linkpath' || key === 'uname' || key === 'gname') && value.includes(0)) {
      throw invalid(`NUL in PAX ${key}`, offset);
    }
    out.set(key, value);
    off += n;
  }
  return out;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const inInt64 = (v: bigint) => v >= INT64_MIN && v <= INT64_MAX;

/** Go's parsePAXTime: "<sec>[.<frac>]", possibly negative, to nanoseconds. */
export function parsePaxTime(v: string): bigint | undefined {
  const m = /^(-?)(\d{1,19})(?:\.(\d*))?$/.exec(v);
  if (!m) return undefined;
  const secs = BigInt(m[1]! + m[2]!);
  if (!inInt64(secs)) return undefined;
  const nanos = BigInt(((m[3] ?? '') + '000000000').slice(0, 9));
  return secs * 1_000_000_000n + (m[1] === '-' ? -nanos : nanos);
}

/** A PAX record Go's mergePAX would apply: present and not empty (an empty value keeps the header's). */
function paxValue(pax: Map<string, Buffer>, key: string): Buffer | undefined {
  const v = pax.get(key);
  return v && v.length > 0 ? v : undefined;
}

function paxInt(pax: Map<string, Buffer>, key: string, offset: number): bigint | undefined {
  const v = paxValue(pax, key);
  if (v === undefined) return undefined;
  const s = v.toString('latin1');
  if (!/^-?\d{1,19}$/.test(s) || !inInt64(BigInt(s))) throw invalid(`bad PAX ${key} ${JSON.stringify(s.slice(0, 40))}`, offset);
  return BigInt(s);
}

type State = 'header' | 'meta' | 'data' | 'end';

export class TarFramer {
  private state: State = 'header';
  private hdr = Buffer.alloc(BLOCK);
  private hdrLen = 0;
  private remaining = 0;
  /** Of `remaining`, how many bytes are block padding. */
  private padding = 0;
  private zeroSeen = false;
  private consumed = 0;
  private metaType = '';
  private metaSize = 0;
  private metaParts: Buffer[] = [];
  private metaForward = false;
  private metaOffset = 0;
  private pendingPax: Map<string, Buffer> | undefined;
  private gnuName: Buffer | undefined;
  private gnuLink: Buffer | undefined;
  /** Entries whose headers were forwarded, in order, waiting for the consumer. */
  readonly entries: RawEntry[] = [];

  constructor(private readonly limits: FrameLimits = DEFAULT_FRAME_LIMITS) {}

  /** True once the end-of-archive marker was seen. */
  get ended(): boolean {
    return this.state === 'end';
  }

  /** Bytes of the archive accounted for so far. */
  get offset(): number {
    return this.consumed;
  }

  /** Takes a chunk; returns the parts of it tar-stream should see. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < chunk.length && this.state !== 'end') {
      if (this.state === 'data') {
        const n = Math.min(this.remaining, chunk.length - pos);
        out.push(chunk.subarray(pos, pos + n));
        pos += n;
        this.consumed += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = 'header';
        continue;
      }
      if (this.state === 'meta') {
        const n = Math.min(this.remaining, chunk.length - pos);
        const part = chunk.subarray(pos, pos + n);
        if (this.metaForward) out.push(part);
        const keep = Math.max(0, Math.min(n, this.metaSize - this.metaBytes()));
        if (keep > 0) this.metaParts.push(Buffer.from(part.subarray(0, keep)));
        pos += n;
        this.consumed += n;
        this.remaining -= n;
        if (this.remaining === 0) {
          this.finishMeta();
          this.state = 'header';
        }
        continue;
      }
      const n = Math.min(BLOCK - this.hdrLen, chunk.length - pos);
      chunk.copy(this.hdr, this.hdrLen, pos, pos + n);
      this.hdrLen += n;
      pos += n;
      if (this.hdrLen < BLOCK) continue;
      this.hdrLen = 0;
      const offset = this.consumed;
      this.consumed += BLOCK;
      const fwd = this.header(this.hdr, offset);
      if (fwd) out.push(fwd);
    }
    return out;
  }

  /**
   * At the end of the input: throws when the archive stopped inside a header
   * or an entry's data. Stopping inside the padding after the data is a normal
   * end for Go (tryReadFull); the missing padding is returned for tar-stream.
   */
  finish(): Buffer[] {
    if (this.state === 'end') return [];
    if (this.state === 'header' && this.hdrLen === 0) return [];
    if ((this.state === 'data' || this.state === 'meta') && this.remaining <= this.padding) {
      const fill = Buffer.alloc(this.remaining);
      const forward = this.state === 'data' || this.metaForward;
      if (this.state === 'meta') this.finishMeta();
      this.remaining = 0;
      this.state = 'end';
      return forward && fill.length ? [fill] : [];
    }
    throw invalid('unexpected end of archive: the tar is truncated', this.consumed + this.hdrLen);
  }

  private metaBytes(): number {
    let n = 0;
    for (const p of this.metaParts) n += p.length;
    return n;
  }

  private header(b: Buffer, offset: number): Buffer | undefined {
    if (b.every((c) => c === 0)) {
      if (this.zeroSeen) this.state = 'end';
      this.zeroSeen = true;
      return undefined;
    }
    if (this.zeroSeen) throw invalid('a zero block is followed by another header', offset);
    if (!checksumOk(b)) throw invalid('header checksum mismatch (not a tar archive, or corrupted)', offset);
    // Only a checksum: tar-stream takes it for a zero block, Go for an entry without a name.
    if (b.every((c, i) => c === 0 || (i >= 148 && i < 156))) throw invalid('a header with nothing but a checksum', offset);
    const tf = b[156] === 0 ? '0' : String.fromCharCode(b[156]!);
    const h = decodeHeader(b, offset);

    if (tf === 'g' && (this.pendingPax || this.gnuName || this.gnuLink)) {
      // Go ends an entry's metadata at a global header, tar-stream carries it over: read two ways, refused.
      throw invalid("a global PAX header between an entry's metadata and the entry", offset);
    }
    if (tf === 'x' || tf === 'g' || tf === 'L' || tf === 'K') {
      if (h.size > this.limits.maxMetaBytes) {
        throw invalid(`${tf === 'x' || tf === 'g' ? 'PAX header' : 'GNU long name'} of ${h.size} bytes exceeds the limit of ${this.limits.maxMetaBytes}`, offset);
      }
      this.metaType = tf;
      this.metaSize = h.size;
      this.metaParts = [];
      this.metaForward = tf !== 'g';
      this.metaOffset = offset;
      this.padding = pad(this.metaSize);
      this.remaining = this.metaSize + this.padding;
      if (this.remaining === 0) this.finishMeta();
      else this.state = 'meta';
      return this.metaForward ? Buffer.from(b) : undefined;
    }

    if (tf === 'S') throw notImplemented('GNU sparse files are not supported', { subject: `layer (tar entry at byte ${offset})` });
    if (!'0123456'.includes(tf) || tf.length !== 1) {
      throw invalid(`unhandled tar header type ${JSON.stringify(tf)} (${b[156]})`, offset);
    }
    const pax = this.pendingPax ?? new Map<string, Buffer>();
    for (const k of pax.keys()) {
      if (k.startsWith('GNU.sparse.')) throw notImplemented('PAX sparse files are not supported', { subject: `layer (tar entry at byte ${offset})` });
    }
    let dataSize = h.size;
    const paxSize = paxInt(pax, 'size', offset);
    if (paxSize !== undefined) {
      if (paxSize < 0n || paxSize > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`bad PAX size ${paxSize}`, offset);
      dataSize = Number(paxSize);
    }
    if (HEADER_ONLY.has(tf) && tf !== '5' && dataSize > 0) throw invalid(`a ${describeType(tf)} entry carries ${dataSize} bytes of data`, offset);

    let { uid, gid, mtimeNs, atimeNs } = h;
    uid = paxInt(pax, 'uid', offset) ?? uid;
    gid = paxInt(pax, 'gid', offset) ?? gid;
    for (const [key, set] of [
      ['mtime', (v: bigint) => (mtimeNs = v)],
      ['atime', (v: bigint) => (atimeNs = v)],
    ] as const) {
      const raw = paxValue(pax, key);
      if (raw === undefined) continue;
      const v = parsePaxTime(raw.toString('latin1'));
      if (v === undefined) throw invalid(`bad PAX ${key}`, offset);
      set(v);
    }
    // Go ignores empty GNU long names and empty PAX values.
    const name = (this.gnuName?.length ? this.gnuName : undefined) ?? paxValue(pax, 'path') ?? h.name;
    const linkname = (this.gnuLink?.length ? this.gnuLink : undefined) ?? paxValue(pax, 'linkpath') ?? h.linkname;
    const slash = (n: Buffer) => n.length > 0 && n[n.length - 1] === 0x2f;
    // tar-stream takes a '0' or NUL entry whose ustar name ends in '/' for a directory; Go takes only a
    // NUL entry whose final (PAX / GNU) name ends in '/' for one. Either reads no data for its directory,
    // so such an entry with data would be read two ways: refused.
    const streamDir = tf === '0' && slash(h.streamName);
    const goDir = b[156] === 0 && slash(name);
    if ((streamDir || goDir) && dataSize > 0) throw invalid('a regular entry named like a directory carries data', offset);
    const isDir = tf === '5' || goDir;
    const headerOnly = HEADER_ONLY.has(tf) || streamDir || goDir;
    this.pendingPax = undefined;
    this.gnuName = undefined;
    this.gnuLink = undefined;
    this.entries.push({
      offset,
      typeflag: isDir ? '5' : tf,
      name: Buffer.from(name),
      linkname: Buffer.from(linkname),
      mode: h.mode,
      uid,
      gid,
      size: headerOnly ? 0 : dataSize,
      mtimeNs,
      atimeNs,
      devmajor: h.devmajor,
      devminor: h.devminor,
      pax,
    });
    if (!headerOnly && dataSize > 0) {
      this.padding = pad(dataSize);
      this.remaining = dataSize + this.padding;
      this.state = 'data';
    }
    return Buffer.from(b);
  }

  private finishMeta(): void {
    const data = Buffer.concat(this.metaParts);
    this.metaParts = [];
    switch (this.metaType) {
      case 'x':
        this.pendingPax = parsePax(data, this.metaOffset);
        break;
      case 'g':
        parsePax(data, this.metaOffset); // validated, then ignored (containerd ignores global headers)
        break;
      case 'L':
        this.gnuName = cstr(data, 0, data.length);
        break;
      case 'K':
        this.gnuLink = cstr(data, 0, data.length);
        break;
    }
  }
}

export function describeType(tf: string): string {
  return ({ '0': 'regular file', '1': 'hardlink', '2': 'symlink', '3': 'character device', '4': 'block device', '5': 'directory', '6': 'FIFO' } as Record<string, string>)[tf] ?? `type ${JSON.stringify(tf)}`;
}
