/**
 * containerd.runc.v1.Options as protobuf (the value of the runtime options
 * Any in a container record): field 6 binary_name (string), field 9
 * systemd_cgroup (bool). ctr writes an empty message when nothing is set.
 */
import { decodeProto, protoBytesField } from '../metadata/encoding.js';

export interface RuncOptions {
  binaryName?: string;
  systemdCgroup?: boolean;
  root?: string;
}

export function encodeRuncOptions(o: RuncOptions): Uint8Array {
  const parts: Uint8Array[] = [];
  if (o.binaryName) parts.push(protoBytesField(6, new TextEncoder().encode(o.binaryName)));
  if (o.root) parts.push(protoBytesField(7, new TextEncoder().encode(o.root)));
  if (o.systemdCgroup) parts.push(Uint8Array.of(9 << 3, 1));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function decodeRuncOptions(buf: Uint8Array | undefined): RuncOptions {
  if (!buf || buf.length === 0) return {};
  const o: RuncOptions = {};
  for (const f of decodeProto(buf)) {
    if (f.field === 6 && f.bytes) o.binaryName = new TextDecoder().decode(f.bytes);
    if (f.field === 7 && f.bytes) o.root = new TextDecoder().decode(f.bytes);
    if (f.field === 9) o.systemdCgroup = f.varint !== undefined ? f.varint !== 0n : false;
  }
  return o;
}
