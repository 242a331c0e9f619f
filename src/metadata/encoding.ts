/**
 * The value encodings containerd uses inside its bbolt files: Go's
 * binary.PutVarint (zigzag) and PutUvarint, time.MarshalBinary, and the
 * protobuf google.protobuf.Any wrapper. Decoders reject what Go rejects so a
 * corrupt value is an error here too, never a silently wrong number.
 */
import { internal } from '../errdefs.js';

const MAX_VARINT_LEN = 10;

/** Go binary.PutUvarint. */
export function encodeUvarint(n: number | bigint): Uint8Array {
  let v = BigInt(n);
  if (v < 0n) throw internal(`uvarint of negative ${v}`);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/** Go binary.Uvarint: value and bytes read; throws on truncation or overflow. */
export function decodeUvarint(buf: Uint8Array, offset = 0): { value: bigint; length: number } {
  let x = 0n;
  let s = 0n;
  for (let i = 0; i < MAX_VARINT_LEN; i++) {
    const at = offset + i;
    if (at >= buf.length) throw internal('truncated varint');
    const b = buf[at]!;
    if (b < 0x80) {
      if (i === MAX_VARINT_LEN - 1 && b > 1) throw internal('varint overflows 64 bits');
      return { value: x | (BigInt(b) << s), length: i + 1 };
    }
    x |= BigInt(b & 0x7f) << s;
    s += 7n;
  }
  throw internal('varint overflows 64 bits');
}

/** Go binary.PutVarint: zigzag, then uvarint. 430 → dc 06, 3 → 06. */
export function encodeVarint(n: number | bigint): Uint8Array {
  const v = BigInt.asIntN(64, BigInt(n));
  const u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  return encodeUvarint(u);
}

export function decodeVarint(buf: Uint8Array, offset = 0): { value: bigint; length: number } {
  const { value: u, length } = decodeUvarint(buf, offset);
  const v = u >> 1n;
  return { value: u & 1n ? ~v : v, length };
}

/** A varint value as a JS number (sizes, inodes); throws beyond 2^53. */
export function varintNumber(buf: Uint8Array | null | undefined): number | undefined {
  if (!buf || buf.length === 0) return undefined;
  const { value } = decodeVarint(buf);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw internal(`varint ${value} does not fit a number`);
  return Number(value);
}

// ---- Go time.MarshalBinary ----

/** Seconds from 0001-01-01T00:00:00Z to the Unix epoch. */
export const UNIX_TO_INTERNAL = 62135596800n;

/** A Go time.Time: Unix seconds, nanoseconds, and the zone offset in minutes (null = UTC). */
export interface GoTime {
  sec: bigint;
  nsec: number;
  offsetMin: number | null;
  offsetSec?: number;
}

export function timeFromDate(d: Date): GoTime {
  const ms = d.getTime();
  const sec = Math.floor(ms / 1000);
  return { sec: BigInt(sec), nsec: (ms - sec * 1000) * 1e6, offsetMin: null };
}

/** The current time in UTC with microsecond resolution where the runtime has it. */
export function timeNow(): GoTime {
  const perf = globalThis.performance;
  const ns = perf ? BigInt(Math.round((perf.timeOrigin + perf.now()) * 1000)) * 1000n : BigInt(Date.now()) * 1000000n;
  return { sec: ns / 1000000000n, nsec: Number(ns % 1000000000n), offsetMin: null };
}

export function timeToDate(t: GoTime): Date {
  return new Date(Number(t.sec) * 1000 + Math.floor(t.nsec / 1e6));
}

export function timeToMillis(t: GoTime): number {
  return Number(t.sec) * 1000 + t.nsec / 1e6;
}

/** Always v1, 15 bytes, as containerd writes (UTC when offsetMin is null). */
export function encodeTime(t: GoTime): Uint8Array {
  const out = new Uint8Array(15);
  const dv = new DataView(out.buffer);
  out[0] = 1;
  dv.setBigInt64(1, t.sec + UNIX_TO_INTERNAL, false);
  dv.setInt32(9, t.nsec, false);
  dv.setInt16(13, t.offsetMin === null ? -1 : t.offsetMin, false);
  return out;
}

/** Go time.UnmarshalBinary: versions 1 (15 bytes) and 2 (16 bytes). */
export function decodeTime(buf: Uint8Array): GoTime {
  if (buf.length === 0) throw internal('Time.UnmarshalBinary: no data');
  const version = buf[0];
  if (version !== 1 && version !== 2) throw internal('Time.UnmarshalBinary: unsupported version');
  const want = version === 1 ? 15 : 16;
  if (buf.length !== want) throw internal('Time.UnmarshalBinary: invalid length');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const sec = dv.getBigInt64(1, false) - UNIX_TO_INTERNAL;
  const nsec = dv.getInt32(9, false);
  const offMin = dv.getInt16(13, false);
  if (offMin === -1) return { sec, nsec, offsetMin: null };
  const offsetSec = version === 2 ? dv.getInt8(15) : 0;
  return { sec, nsec, offsetMin: offMin, ...(offsetSec ? { offsetSec } : {}) };
}

const pad = (n: number | bigint, w: number) => String(n).padStart(w, '0');

/** Go's RFC3339Nano (trailing zeros of the fraction dropped), in the time's own zone. */
export function formatRFC3339Nano(t: GoTime): string {
  return formatRFC3339(t, true);
}

/** Go's time.RFC3339 (seconds) or RFC3339Nano. */
export function formatRFC3339(t: GoTime, nano = false): string {
  const offset = t.offsetMin === null ? 0 : t.offsetMin * 60 + (t.offsetSec ?? 0);
  const local = Number(t.sec) + offset;
  const d = new Date(local * 1000);
  let s = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
  if (nano && t.nsec > 0) s += '.' + pad(t.nsec, 9).replace(/0+$/, '');
  if (t.offsetMin === null) return s + 'Z';
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(Math.trunc(offset / 60));
  return `${s}${sign}${pad(Math.floor(a / 60), 2)}:${pad(a % 60, 2)}`;
}

/** Go time.Parse(time.RFC3339, s): null when it does not parse (containerd then ignores the label). */
export function parseRFC3339(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi, se, frac, zone] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se)) + (frac ? Number(frac) * 1000 : 0);
  if (Number.isNaN(ms) || Number(mo) > 12 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(se) > 59) return null;
  if (zone === 'Z') return ms;
  const sign = zone![0] === '-' ? -1 : 1;
  const off = (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6))) * 60000;
  return ms - sign * off;
}

// ---- protobuf google.protobuf.Any ----

export interface AnyValue {
  typeUrl: string;
  value: Uint8Array;
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8');

export const utf8 = (s: string): Uint8Array => enc.encode(s);
export const str = (b: Uint8Array | null | undefined): string => (b ? dec.decode(b) : '');

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function protoBytesField(field: number, data: Uint8Array): Uint8Array {
  return concat([encodeUvarint((field << 3) | 2), encodeUvarint(data.length), data]);
}

/** gogo/protobuf's Marshal of Any: empty fields are omitted. */
export function encodeAny(a: AnyValue): Uint8Array {
  const parts: Uint8Array[] = [];
  if (a.typeUrl) parts.push(protoBytesField(1, utf8(a.typeUrl)));
  if (a.value.length) parts.push(protoBytesField(2, a.value));
  return concat(parts);
}

export interface ProtoField {
  field: number;
  wire: number;
  /** varint value (wire 0) */
  varint?: bigint;
  /** bytes (wire 2) or fixed (wire 1, 5) */
  bytes?: Uint8Array;
}

/** Walk a protobuf message's top-level fields. */
export function decodeProto(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let at = 0;
  while (at < buf.length) {
    const tag = decodeUvarint(buf, at);
    at += tag.length;
    const field = Number(tag.value >> 3n);
    const wire = Number(tag.value & 7n);
    if (field === 0) throw internal('protobuf: illegal field number 0');
    if (wire === 0) {
      const v = decodeUvarint(buf, at);
      at += v.length;
      out.push({ field, wire, varint: v.value });
    } else if (wire === 2) {
      const l = decodeUvarint(buf, at);
      at += l.length;
      const end = at + Number(l.value);
      if (end > buf.length) throw internal('protobuf: truncated field');
      out.push({ field, wire, bytes: buf.subarray(at, end) });
      at = end;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (at + n > buf.length) throw internal('protobuf: truncated field');
      out.push({ field, wire, bytes: buf.subarray(at, at + n) });
      at += n;
    } else {
      throw internal(`protobuf: unsupported wire type ${wire}`);
    }
  }
  return out;
}

export function decodeAny(buf: Uint8Array): AnyValue {
  let typeUrl = '';
  let value: Uint8Array = new Uint8Array(0);
  for (const f of decodeProto(buf)) {
    if (f.field === 1 && f.wire === 2) typeUrl = str(f.bytes);
    else if (f.field === 2 && f.wire === 2) value = Uint8Array.from(f.bytes!);
  }
  return { typeUrl, value };
}

export const OCI_SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
export const RUNC_OPTIONS_TYPE_URL = 'containerd.runc.v1.Options';
