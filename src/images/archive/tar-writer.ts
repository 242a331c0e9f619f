/**
 * The few tar headers an image archive needs (regular files and
 * directories), written as Go's archive/tar writes them for containerd's
 * exporter: USTAR, owner 0:0, mtime 0, octal fields zero-padded and
 * NUL-terminated. Names that do not fit USTAR (a sha512 blob path) get a PAX
 * `path` record; sizes past USTAR's 8 GiB a PAX `size` record.
 */
import { invalidArgument } from '../../errdefs.js';

export const BLOCK = 512;
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

export interface TarHeader {
  name: string;
  mode: number;
  size: number;
  type: 'file' | 'dir';
}

function putString(b: Buffer, off: number, len: number, s: string): void {
  const bytes = Buffer.from(s, 'utf8');
  bytes.copy(b, off, 0, Math.min(len, bytes.length));
}

function putOctal(b: Buffer, off: number, len: number, n: number): void {
  const s = n.toString(8).padStart(len - 1, '0');
  putString(b, off, len, s);
}

/** USTAR name/prefix split: a prefix of at most 155 bytes ending at a '/', a name of at most 100. */
function splitName(name: string): { prefix: string; name: string } | undefined {
  const n = Buffer.byteLength(name);
  if (n <= 100) return { prefix: '', name };
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) return { prefix, name: rest };
  }
  return undefined;
}

function rawHeader(name: string, prefix: string, mode: number, size: number, typeflag: string): Buffer {
  const b = Buffer.alloc(BLOCK);
  putString(b, 0, 100, name);
  putOctal(b, 100, 8, mode);
  putOctal(b, 108, 8, 0);
  putOctal(b, 116, 8, 0);
  putOctal(b, 124, 12, size);
  putOctal(b, 136, 12, 0);
  b.fill(0x20, 148, 156);
  b.write(typeflag, 156, 'latin1');
  b.write('ustar\0', 257, 'latin1');
  b.write('00', 263, 'latin1');
  putOctal(b, 329, 8, 0);
  putOctal(b, 337, 8, 0);
  putString(b, 345, 155, prefix);
  let sum = 0;
  for (const x of b) sum += x;
  putOctal(b, 148, 7, sum);
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body);
  for (;;) {
    const total = String(len).length + Buffer.byteLength(body);
    if (total === len) return `${len}${body}`;
    len = total;
  }
}

/** The header block(s) for one entry. */
export function tarHeader(h: TarHeader): Buffer {
  if (!Number.isSafeInteger(h.size) || h.size < 0) throw invalidArgument(`invalid size ${h.size}`, { subject: `archive entry ${JSON.stringify(h.name)}` });
  const typeflag = h.type === 'dir' ? '5' : '0';
  const split = splitName(h.name);
  const pax: string[] = [];
  if (!split) pax.push(paxRecord('path', h.name));
  if (h.size > MAX_OCTAL_SIZE) pax.push(paxRecord('size', String(h.size)));
  const main = rawHeader(split ? split.name : h.name.slice(0, 99), split ? split.prefix : '', h.mode, h.size > MAX_OCTAL_SIZE ? 0 : h.size, typeflag);
  if (pax.length === 0) return main;
  const data = Buffer.from(pax.join(''), 'utf8');
  const paxName = `PaxHeaders.0/${(split ? split.name : h.name.split('/').pop() ?? 'x').slice(0, 80)}`;
  return Buffer.concat([rawHeader(paxName, '', 0o644, data.length, 'x'), data, Buffer.alloc(padding(data.length)), main]);
}

/** Zero bytes after `size` bytes of data up to the next block. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The end-of-archive marker: two zero blocks. */
export function tarEnd(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}
