/**
 * Writing tar headers the way Go's archive/tar writes PAX-format archives:
 * USTAR fields where the value fits (ASCII names split into prefix/name,
 * octal numbers), a PAX extended header for what does not (long or non-ASCII
 * names, large ids, sizes and times) and for extra records such as
 * `SCHILY.xattr.*`, whose values are written as raw bytes.
 */
import { Buffer } from 'node:buffer';

export interface TarHeader {
  name: string;
  /** '0' file, '1' hardlink, '2' symlink, '3' char, '4' block, '5' dir, '6' FIFO. */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeSec: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extra PAX records (e.g. SCHILY.xattr.security.capability), bytes as they are. */
  pax?: Map<string, Buffer>;
}

const BLOCK = 512;
export const padding = (n: number): Buffer => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);
/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

const isASCII = (s: string) => /^[\x00-\x7f]*$/.test(s);

function fitsOctal(v: number, width: number): boolean {
  return Number.isSafeInteger(v) && v >= 0 && v < 8 ** (width - 1);
}

function putOctal(b: Buffer, off: number, width: number, v: number): void {
  b.write(v.toString(8).padStart(width - 1, '0') + '\0', off, width, 'latin1');
}

/** Go's splitUSTARPath (ASCII names): a prefix of at most 155 bytes and a name of at most 100, split at a '/'. */
function splitUSTAR(name: string): [string, string] | undefined {
  let length = name.length;
  if (length <= 100) return ['', name];
  if (length > 156) length = 156;
  else if (name[length - 1] === '/') length--;
  const i = name.lastIndexOf('/', length - 1);
  const nlen = name.length - i - 1;
  if (i <= 0 || nlen > 100 || nlen === 0 || i > 155) return undefined;
  return [name.slice(0, i), name.slice(i + 1)];
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let n = body.length + 1;
  while (String(n).length + body.length !== n) n = String(n).length + body.length;
  return Buffer.concat([Buffer.from(String(n)), body]);
}

function block(h: { name: string; prefix: string; typeflag: string; mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string; devmajor: number; devminor: number }): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, 'utf8');
  putOctal(b, 100, 8, h.mode);
  putOctal(b, 108, 8, h.uid);
  putOctal(b, 116, 8, h.gid);
  putOctal(b, 124, 12, h.size);
  putOctal(b, 136, 12, h.mtime);
  b.write(h.typeflag, 156, 1, 'latin1');
  b.write(h.linkname, 157, 100, 'utf8');
  b.write('ustar\x0000', 257, 8, 'latin1');
  putOctal(b, 329, 8, h.devmajor);
  putOctal(b, 337, 8, h.devminor);
  b.write(h.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

/** The header blocks of one entry (a PAX header first when needed); the caller writes the data and its padding. */
export function encodeHeader(h: TarHeader): Buffer {
  const records: [string, Buffer][] = [];
  let name = h.name;
  let prefix = '';
  const split = isASCII(h.name) ? splitUSTAR(h.name) : undefined;
  if (split) [prefix, name] = split;
  else {
    records.push(['path', Buffer.from(h.name)]);
    name = '';
  }
  let linkname = h.linkname ?? '';
  if (linkname && (!isASCII(linkname) || Buffer.byteLength(linkname) > 100)) {
    records.push(['linkpath', Buffer.from(linkname)]);
    linkname = '';
  }
  const num = (key: string, v: number, width: number): number => {
    if (fitsOctal(v, width)) return v;
    records.push([key, Buffer.from(String(v))]);
    return 0;
  };
  const uid = num('uid', h.uid, 8);
  const gid = num('gid', h.gid, 8);
  const size = num('size', h.size, 12);
  const mtime = num('mtime', h.mtimeSec, 12);
  for (const [k, v] of [...(h.pax ?? new Map<string, Buffer>())].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) records.push([k, v]);
  const main = block({ name, prefix, typeflag: h.typeflag, mode: h.mode & 0o7777, uid, gid, size, mtime, linkname, devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0 });
  if (!records.length) return main;
  const data = Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));
  const paxName = ('PaxHeaders.0/' + (h.name.split('/').filter(Boolean).pop() ?? 'x')).slice(0, 99);
  const paxHeader = block({ name: isASCII(paxName) ? paxName : 'PaxHeaders.0/entry', prefix: '', typeflag: 'x', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 0, linkname: '', devmajor: 0, devminor: 0 });
  return Buffer.concat([paxHeader, data, padding(data.length), main]);
}
